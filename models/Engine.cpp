// Device selection, the LLM block on its own, bundle descriptions and
// single-image prediction.

#include "models/Engine.h"
#include "models/MatrixProducts.h"

#include "core/Error.h"
#include "core/Volume.h"
#include "models/Bundle.h"
#include "models/ModelInput.h"
#include "models/Networks.h"

#include <torch/torch.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace rllm {

void setCpuThreads(int threads) {
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    // Looked up at run time: LibTorch reaches OpenBLAS through the system's
    // libblas.so.3, which may be another BLAS without this function.
    using SetThreads = void (*)(int);
    static const auto openblasSetThreads =
        reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    if (!openblasSetThreads) {
        torch::set_num_threads(threads);
    } else if (cpuGemm() == CpuGemm::OneDnn) {
        // One pool: LibTorch's OpenMP threads, which oneDNN's products use
        // too; OpenBLAS is left the attention's small products, in the
        // calling thread, so no second set of threads spins beside the first.
        openblasSetThreads(1);
        torch::set_num_threads(threads);
    } else {
        // OpenBLAS's threads and LibTorch's OpenMP ones both spin while they
        // wait: side by side on the same cores they take them from each
        // other, so OpenBLAS gets them all (docs/results.md, "Thread split").
        openblasSetThreads(threads);
        torch::set_num_threads(1);
    }
}

namespace {
// PyTorch's recipe for bit-reproducible CUDA runs. The cuBLAS workspace
// setting comes from the environment, so it is set before the first
// product (an explicit setting in the environment is kept); an
// operation with no deterministic kernel then fails with PyTorch's message
// naming it, rather than silently varying.
void requireDeterministicKernels() {
    setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
}
}  // namespace

torch::Device torchDevice(const DeviceOptions& options) {
    if (options.threads < 0) throw Error("--threads must be positive");
    setCpuThreads(options.threads);
    if (options.deterministic) requireDeterministicKernels();
    const std::string& d = options.device;
    if (d == "auto")
        return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                           : torch::Device(torch::kCPU);
    if (d == "cpu") return torch::Device(torch::kCPU);
    if (d.rfind("cuda", 0) == 0) {
        if (!torch::cuda::is_available())
            throw Error("--device " + d +
                        ": no CUDA device is available to this LibTorch; use --device cpu");
        torch::Device device(d == "cuda" ? "cuda:0" : d);
        if (device.index() >= static_cast<int>(torch::cuda::device_count()))
            throw Error("--device " + d + ": only " + std::to_string(torch::cuda::device_count()) +
                        " CUDA device(s)");
        return device;
    }
    throw Error("unknown device '" + d + "': use auto, cpu, cuda or cuda:N");
}

void placeModel(ClassifierImpl& model, const torch::Device& device, const DeviceOptions& options) {
    const std::string& p = options.llmPrecision;
    if (p != "auto" && p != "fp32" && p != "bf16")
        throw Error("--llm-precision must be auto, fp32 or bf16, not '" + p + "'");
    model.to(device);
    if (!model.booster || !model.booster->llm) return;
    const bool bf16 = p == "bf16" || (p == "auto" && device.is_cuda());
    model.booster->llm->setComputeType(bf16 ? torch::kBFloat16 : torch::kFloat32);
}

std::string resolveDevice(const DeviceOptions& options) {
    return torchDevice(options).str();
}

int cudaDeviceCount() {
    return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
}

std::vector<float> runLlmBlock(const LlmRunOptions& options, const std::vector<int64_t>& shape,
                               const std::vector<float>& input) {
    const torch::Device device = torchDevice(options.device);
    LlmWeights weights = loadLlmLayers(options.checkpoint, options.layers);
    const auto& a = weights.architecture;
    if (shape.size() != 3 || shape[2] != a.dim)
        throw Error("the input must be a float32 (B,T," + std::to_string(a.dim) +
                    ") array for this checkpoint");
    LlmBlock block(a, static_cast<int>(weights.layers.size()), parseFinalNorm(options.finalNorm));
    block->load(weights);
    block->to(device);
    torch::NoGradGuard noGrad;
    auto x = torch::from_blob(const_cast<float*>(input.data()), shape, torch::kFloat32).to(device);
    auto y = block->forward(x).to(torch::kCPU).contiguous();
    return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

std::string describeBundle(const std::string& bundlePath) {
    return loadBundle(bundlePath).description.toJson().dump(2);
}

torch::Tensor normaliseStoredBytes(const torch::Tensor& bytes, const InputNormalisation& input) {
    return (bytes.to(torch::kFloat32) * input.scale - input.mean) / input.std;
}

ModelInput prepareInput(const BundleDescription& d, const Volume& volume) {
    const int side = d.model.image_size, channels = d.model.channels;
    const bool volumetric = d.model.volumetric;
    if (volume.empty()) throw Error("the input image is empty");
    if (volumetric == volume.is2D())
        throw Error(std::string("the model takes ") + (volumetric ? "3D volumes" : "2D images") +
                    " but the input is " + (volume.is2D() ? "2D" : "3D"));
    // Grey for one-channel models (mean of RGB); RGB kept for three-channel ones.
    const auto& size = volume.size();
    const int64_t voxels = volume.geometry().voxelCount();
    const int c = volume.components();
    torch::Tensor values =
        torch::from_blob(const_cast<float*>(volume.voxels().data()), {voxels, c}, torch::kFloat32);
    if (channels == 1 && c == 3) values = values.mean(1, true);
    if (channels == 3 && c == 1) values = values.expand({voxels, 3}).contiguous();
    // Intensity: 8-bit sources exactly as the training data were (the
    // bundle's input normalisation); others min-max to the same range first.
    nlohmann::json intensity;
    const ValueRange range = volume.valueRange();
    if (volume.sourcePixelType == PixelType::UInt8 && range.min >= 0 && range.max <= 255) {
        values = normaliseStoredBytes(values, d.input);
        intensity = {{"mode", "stored bytes"}};
    } else {
        const double span = std::max(1e-6, double(range.max) - range.min);
        values = normaliseStoredBytes((values - range.min) * (255.0 / span), d.input);
        intensity = {{"mode", "min-max to [0, 255], then as stored bytes"},
                     {"min", range.min},
                     {"max", range.max}};
    }
    torch::Tensor image;
    namespace F = torch::nn::functional;
    std::vector<int64_t> target;
    if (volumetric) {
        image =
            values.view({size[2], size[1], size[0], channels}).permute({3, 0, 1, 2}).unsqueeze(0);
        target = {side, side, side};
        image = F::interpolate(
            image.contiguous(),
            F::InterpolateFuncOptions().size(target).mode(torch::kTrilinear).align_corners(false));
    } else {
        image = values.view({size[1], size[0], channels}).permute({2, 0, 1}).unsqueeze(0);
        target = {side, side};
        image = F::interpolate(
            image.contiguous(),
            F::InterpolateFuncOptions().size(target).mode(torch::kBilinear).align_corners(false));
    }
    nlohmann::json resampling = {
        {"source_size", size},
        {"target_size",
         volumetric ? std::vector<int64_t>{side, side, side} : std::vector<int64_t>{side, side, 1}},
        // Source voxels per model voxel along x, y, z; centres aligned (align_corners = false).
        {"scale",
         {double(size[0]) / side, double(size[1]) / side,
          volumetric ? double(size[2]) / side : 1.0}},
        {"interpolation", volumetric ? "trilinear" : "bilinear"},
        {"intensity", intensity},
        {"normalisation", "(x - 0.5) / 0.5"}};

    return {image, resampling};
}

}  // namespace rllm
