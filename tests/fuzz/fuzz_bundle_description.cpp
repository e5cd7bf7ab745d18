// A bundle's JSON description, checked against the tensors it implies (so
// the check passes and every later field is reached) and against none.
#include "core/Error.h"
#include "models/BundleCheck.h"
#include "models/Safetensors.h"

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace rllm;
    const nlohmann::json description = nlohmann::json::parse(data, data + size, nullptr, false);
    if (description.is_discarded()) return 0;
    try {
        checkBundleDescription("fuzz", description, {});
    } catch (const Error&) {
    }
    try {
        std::map<std::string, TensorInfo> tensors;
        for (const auto& [name, shape] : expectedBundleTensors(description)) {
            TensorInfo info;
            info.dtype = "F32";
            info.shape = shape;
            tensors[name] = info;
        }
        checkBundleDescription("fuzz", description, tensors);
    } catch (const Error&) {
    }
    return 0;
}
