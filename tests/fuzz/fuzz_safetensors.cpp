// Safetensors files and the bundle description inside them.
#include "FuzzInput.h"

#include "core/Error.h"
#include "models/BundleCheck.h"
#include "models/Safetensors.h"

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace rllm;
    const std::string path = fuzz::writeInput("input.safetensors", data, size);
    try {
        SafetensorsFile file(path);
        for (const auto& [name, info] : file.tensors())
            if (info.elementCount() <= (1 << 20)) {
                try {
                    file.readFloat(name);
                } catch (const Error&) {
                }
            }
        auto it = file.metadata().find("rllm_bundle");
        if (it != file.metadata().end()) {
            nlohmann::json description = nlohmann::json::parse(it->second, nullptr, false);
            if (!description.is_discarded())
                checkBundleDescription(path, description, file.tensors());
        }
    } catch (const Error&) {
    }
    return 0;
}
