// npz archives and .npy headers, as MedMNIST files are read.
#include "FuzzInput.h"

#include "core/Error.h"
#include "core/io/MedMnist.h"
#include "core/io/Npz.h"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace rllm;
    if (size > 0 && data[0] == 'N') {  // a bare .npy header
        std::vector<uint8_t> bytes(data + 1, data + size);
        size_t offset = 0;
        try {
            parseNpyHeader(bytes, offset, "fuzz");
        } catch (const Error&) {
        }
        return 0;
    }
    const std::string path = fuzz::writeInput("input.npz", data, size);
    try {
        NpzArchive archive(path);
        for (const std::string& name : archive.names()) {
            try {
                archive.readHeader(name);
                archive.readArray(name);
            } catch (const Error&) {
            }
        }
        MedMnistDataset dataset(path);
        dataset.image("test", 0);
    } catch (const Error&) {
    }
    return 0;
}
