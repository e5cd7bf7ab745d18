// ROAD's noisy linear imputation as the engine computes it (models/Cam.h,
// imputeLinearly), for bench/road_peer.py to hold against pytorch-grad-cam's
// NoisyLinearImputer (the ROAD authors' code) on the same images and masks.
//
//   road-impute IMAGES.npy MASKS.npy OUT.npy
// IMAGES: float32 (B, C, H, W); MASKS: float32 (B, 1, H, W), 1 where a pixel
// is removed. Prints the solve's wall time in milliseconds.
#include "core/Error.h"
#include "core/io/Npz.h"
#include "models/Cam.h"

#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <iostream>

namespace {

torch::Tensor readFloats(const std::string& path) {
    const rllm::NpyArray a = rllm::readNpyFile(path);
    if (a.header.dtypeName() != "float32" || a.header.bigEndian)
        throw rllm::FileError(path, "is not little-endian float32.");
    std::vector<int64_t> shape(a.header.shape.begin(), a.header.shape.end());
    torch::Tensor t = torch::empty(shape, torch::kFloat32);
    std::memcpy(t.data_ptr<float>(), a.data.data(), t.numel() * 4);
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: road-impute IMAGES.npy MASKS.npy OUT.npy\n";
        return 2;
    }
    try {
        torch::set_num_threads(1);
        const torch::Tensor images = readFloats(argv[1]);
        const torch::Tensor masks = readFloats(argv[2]) > 0.5f;
        const auto start = std::chrono::steady_clock::now();
        const torch::Tensor out = rllm::imputeLinearly(images, masks).contiguous();
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
        rllm::writeNpyFloat32(
            argv[3], out.sizes().vec(),
            std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel()));
        std::cout << ms << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "road-impute: " << e.what() << "\n";
        return 1;
    }
}
