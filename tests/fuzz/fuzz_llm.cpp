// LLM checkpoints: llama2.c and GGUF files (told apart by GGUF's magic
// bytes, as the loader does), and Hugging Face folders (config.json, the
// safetensors index, one shard), split from one input at "\n--\n".
#include "FuzzInput.h"

#include "core/Error.h"
#include "models/LlmCheckpoint.h"

#include <filesystem>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace rllm;
    if (size == 0) return 0;
    try {
        if (data[0] == 'L') {
            const std::string path = fuzz::writeInput("model.bin", data + 1, size - 1);
            inspectLlm(path);
            loadLlmLayers(path, {-1});
            return 0;
        }
        const std::string folder = fuzz::scratchFolder() + "/hf";
        std::filesystem::remove_all(folder);
        std::filesystem::create_directories(folder);
        const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
        const char* names[] = {"hf/config.json", "hf/model.safetensors.index.json",
                               "hf/model.safetensors"};
        size_t start = 0;
        for (int part = 0; part < 3 && start <= text.size(); ++part) {
            size_t end = text.find("\n--\n", start);
            if (end == std::string::npos || part == 2) end = text.size();
            if (end > start || part == 0)
                fuzz::writeInput(names[part], reinterpret_cast<const uint8_t*>(text.data()) + start,
                                 end - start);
            start = end + 4;
        }
        inspectLlm(folder);
        loadLlmLayers(folder, {0});
    } catch (const Error&) {
    }
    return 0;
}
