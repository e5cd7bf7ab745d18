#pragma once
// Masked image modelling (SimMIM: Xie et al. 2022, "SimMIM: a simple
// framework for masked image modeling"), internal to the models layer: a
// self-supervised way to pretrain the ViT on the training images without
// their labels (`rllm train --mim R --select last`, then `--init` the
// classification run from its bundle). Each step a share R of every case's
// patch tokens is replaced, before the position embedding, by one learnt mask
// token; a linear head reads each final patch token and predicts the pixels
// of its patch; the loss is the mean absolute error over the masked patches'
// pixels alone. To fill a masked patch in, the network must learn how the
// image goes on from its neighbours: the structure of the images, which a
// few hundred labels alone teach a ViT poorly. The mask token and the pixel
// head are discarded after training.

#include <torch/torch.h>

#include <cstdint>

namespace rllm {

// Which patches each case masks: bool (B, N), exactly max(1, round(ratio N))
// true per case, a uniformly random subset, from PyTorch's default CPU
// generator. `ratio` in (0, 1).
torch::Tensor drawMaskedPatches(int64_t batch, int64_t patches, double ratio);

// The mask token and the linear head from a final patch token to its
// patch's pixels.
class PixelPredictorImpl : public torch::nn::Module {
  public:
    // `pixelsPerPatch`: channels x patch^d (patchVectors' length without shifts).
    PixelPredictorImpl(int tokenWidth, int64_t pixelsPerPatch);
    // (B, N, width) final patch tokens -> (B, N, pixelsPerPatch).
    torch::Tensor forward(const torch::Tensor& patchTokens) const;

    torch::Tensor maskToken;  // (width)
    torch::nn::Linear head{nullptr};
};
TORCH_MODULE(PixelPredictor);

// From a generator seeded with `seed` (the default one is left where it
// was): the mask token as the ViT's other tokens (normal, std 0.02, cut at
// two standard deviations), the head as PyTorch's Linear default (uniform in
// +-1 / sqrt(fan-in)).
void initialisePixelPredictor(PixelPredictorImpl& predictor, uint64_t seed);

// Each patch's pixels less their mean, over their standard deviation
// (population variance, plus 1e-6 so a flat patch stays finite): the target
// of `--mim-target normalised` ((B, N, V) -> the same; He et al. 2022, MAE,
// found that predicting local contrast rather than raw intensity teaches
// better features).
torch::Tensor normalisedPatchPixels(const torch::Tensor& pixels);

// The mean of |predicted - target| over the values of the masked patches
// ((B, N, V) each; `masked` bool (B, N)).
torch::Tensor maskedReconstructionLoss(const torch::Tensor& predicted, const torch::Tensor& target,
                                       const torch::Tensor& masked);

}  // namespace rllm
