#pragma once
// Checks a bundle's description completely against the tensors its file
// holds, before any LibTorch module is built: every number the networks are
// built from is an integer in a sane range and consistent with the others
// (heads divide the width, patches divide the image, class names match the
// class count), and the exact set of tensor names and shapes the described
// network has is the set the file holds. So a bundle can never make the
// loader allocate more than the file holds, divide by zero or index past a
// list. No LibTorch here: tests/fuzz reaches it directly.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rllm {

struct TensorInfo;

// The tensors (name -> shape) of the network `description` describes.
// Throws Error naming the field when the description is incomplete or absurd.
std::map<std::string, std::vector<int64_t>> expectedBundleTensors(
    const nlohmann::json& description);

// expectedBundleTensors, then the same names and shapes as `tensors`, the
// task, class names and input normalisation. Throws FileError naming `path`.
void checkBundleDescription(const std::string& path, const nlohmann::json& description,
                            const std::map<std::string, TensorInfo>& tensors);

}  // namespace rllm
