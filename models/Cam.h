#pragma once
// CAM internals shared with the tests (the public API is in models/Engine.h).

#include <torch/torch.h>

#include <string>

namespace rllm {

// The first norm of the first block: there every token still describes its own
// patch, so the map is spatially faithful in shallow and deep ViTs alike, and
// its gradient reaches the class token in baselines and boosters alike (the
// last block's *output* tokens never do in a plain ViT).
inline constexpr const char* kDefaultCamLayer = "block:0:norm1";

// One map value per token from activations A and gradients G, both (N, C):
// gradcam, gradcam++, hirescam, or eigencam (which ignores G).
torch::Tensor tokenCam(const std::string& method, const torch::Tensor& A, const torch::Tensor& G);

}  // namespace rllm
