#include "models/MaskedModelling.h"

#include "models/MatrixProducts.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <tuple>
#include <cmath>

namespace rllm {

torch::Tensor drawMaskedPatches(int64_t batch, int64_t patches, double ratio) {
    const int64_t count =
        std::max<int64_t>(1, static_cast<int64_t>(std::llround(ratio * double(patches))));
    // The `count` patches with the smallest uniform keys: a uniform subset.
    const torch::Tensor keys = torch::rand({batch, patches});
    const torch::Tensor chosen = std::get<1>(keys.sort(1)).narrow(1, 0, count);
    return torch::zeros({batch, patches}, torch::kBool)
        .scatter(1, chosen, torch::ones({batch, count}, torch::kBool));
}

PixelPredictorImpl::PixelPredictorImpl(int tokenWidth, int64_t pixelsPerPatch) {
    maskToken = register_parameter("mask_token", torch::zeros({tokenWidth}));
    head = register_module("head", torch::nn::Linear(tokenWidth, pixelsPerPatch));
}

torch::Tensor PixelPredictorImpl::forward(const torch::Tensor& patchTokens) const {
    return denseLinear(patchTokens, head->weight, head->bias);
}

void initialisePixelPredictor(PixelPredictorImpl& predictor, uint64_t seed) {
    torch::NoGradGuard noGrad;
    auto generator = at::detail::createCPUGenerator(seed);
    predictor.maskToken.copy_(
        at::empty(predictor.maskToken.sizes()).normal_(0.0, 0.02, generator).clamp(-0.04, 0.04));
    const double bound = 1.0 / std::sqrt(double(predictor.head->weight.size(1)));
    for (torch::Tensor t : {predictor.head->weight, predictor.head->bias})
        t.copy_(at::empty(t.sizes()).uniform_(-bound, bound, generator));
}

torch::Tensor normalisedPatchPixels(const torch::Tensor& pixels) {
    const torch::Tensor mean = pixels.mean(-1, true);
    const torch::Tensor variance = (pixels - mean).square().mean(-1, true);
    return (pixels - mean) / (variance + 1e-6).sqrt();
}

torch::Tensor maskedReconstructionLoss(const torch::Tensor& predicted, const torch::Tensor& target,
                                       const torch::Tensor& masked) {
    const torch::Tensor weights = masked.to(predicted.device(), predicted.scalar_type());
    const torch::Tensor perPatch = (predicted - target.to(predicted.device())).abs().mean(-1);
    return (perPatch * weights).sum() / weights.sum().clamp_min(1);
}

}  // namespace rllm
