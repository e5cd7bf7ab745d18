#pragma once
// Dense relative localisation (Liu et al. 2021, "Efficient training of visual
// transformers with small datasets", NeurIPS), internal to the models layer:
// an auxiliary task used in training only. For pairs of patches drawn at
// random, a small MLP reads the two final patch tokens and predicts how far
// apart the patches lie on the patch grid; its L1 error joins the
// classification loss with a weight (`rllm train --drloc W`). A ViT trained
// from scratch on a few hundred images has no reason of its own to keep in
// its tokens where they came from; this task asks for it, which the authors
// found regularises ViTs on small data sets. The MLP is discarded after
// training: the bundle holds the classifier alone.

#include <torch/torch.h>

#include <cstdint>

namespace rllm {

// Pairs of patches, as indices into the patch grid in row-major order (the
// order of the ViT's patch tokens).
struct LocalisationPairs {
    torch::Tensor first, second;  // int64 (B, M)

    bool empty() const { return !first.defined(); }
    // The rows of the cases at `positions` (int64), as a worker's share.
    LocalisationPairs select(const torch::Tensor& positions) const;
};

// How many pairs each case contributes per step. With 7 x 7 patches there are
// 2401 ordered pairs, so a 64-pair sample differs from step to step; the MLP
// on them and the last block's every row together halve the rate of a
// BreastMNIST step (docs/training.md).
constexpr int64_t kLocalisationPairsPerCase = 64;

// `pairsPerCase` pairs per case of `batch`, each patch drawn uniformly from
// the `patches` (independently, so a pair may be one patch twice: offset
// zero), from PyTorch's default CPU generator.
LocalisationPairs drawLocalisationPairs(int64_t batch, int64_t patches, int64_t pairsPerCase);

// The true offsets of the pairs on a grid of `gridSide` patches per axis
// (`spatialAxes` 2 or 3): (second - first) along each axis (in 3D depth,
// then row, then column; in 2D row, then column), divided by the grid side
// so that each lies in (-1, 1). Float (B, M, spatialAxes).
torch::Tensor gridOffsets(const LocalisationPairs& pairs, int gridSide, int spatialAxes);

// The MLP: the two tokens of a pair side by side (2 x width), two hidden
// layers with ReLUs, and one output per grid axis.
class RelativeLocaliserImpl : public torch::nn::Module {
  public:
    RelativeLocaliserImpl(int tokenWidth, int spatialAxes, int hidden = 256);
    // `patchTokens` (B, N, width) without the class token; the predicted
    // offsets of `pairs`, (B, M, spatialAxes).
    torch::Tensor forward(const torch::Tensor& patchTokens, const LocalisationPairs& pairs) const;

    torch::nn::Linear hidden1{nullptr}, hidden2{nullptr}, out{nullptr};
};
TORCH_MODULE(RelativeLocaliser);

// PyTorch's default for a Linear layer, drawn from a generator seeded with
// `seed` rather than the default one (so that turning the task on does not
// move any other random draw of the run): weights and biases uniform in
// +-1 / sqrt(fan-in).
void initialiseLocaliser(RelativeLocaliserImpl& localiser, uint64_t seed);

// The mean absolute error over cases, pairs and axes.
torch::Tensor relativeLocalisationLoss(const torch::Tensor& predicted,
                                       const torch::Tensor& offsets);

}  // namespace rllm
