#pragma once
// CAM internals shared with the tests (the public API is in models/Engine.h).

#include "models/BundleDescription.h"
#include "models/Metrics.h"
#include "models/Networks.h"

#include <torch/torch.h>

#include <array>
#include <string>
#include <vector>

namespace rllm {

// The default layer (with EigenCAM, the default method in Engine.h): the first block's first norm,
// where every token still describes its own patch. The gradient methods stay available for
// class-specific questions, but on these signed, LayerNorm'd token features
// their sign is unstable: on the demo's two-block models Grad-CAM and HiResCAM
// rank the lesion first for one trained model and last for the next (deletion
// AUC above insertion AUC, pointing game 0 %), at the first and the last
// block alike, while EigenCAM here found the lesion in every demo model
// measured (docs/explanations.md has the figures and commands). Grad-CAM has
// a structural handicap on top: these tokens feed softmax attention, whose
// gradients sum to zero over the keys, so Grad-CAM's grid-averaged weights
// cancel exactly the path by which attention selects a patch.
inline constexpr const char* kDefaultCamLayer = "block:0:norm1";

// One map value per token from activations A and gradients G, both (N, C):
// gradcam, gradcam++, hirescam, or eigencam (which ignores G).
torch::Tensor tokenCam(const std::string& method, const torch::Tensor& A, const torch::Tensor& G);

// "" -> the default, "block:-1:norm1" -> "block:11:norm1", "booster:input" ->
// the last block's output; throws Error naming the valid layers otherwise.
std::string canonicalCamLayer(const std::string& layer, const BundleDescription& description);

// What a request resolves to on one model. "auto" (with no layer) is the
// recipe rllm cam-choose recorded in the bundle, where it did; otherwise it
// chooses by what found the lesions of the demo phantoms best
// (docs/explanations.md): EigenCAM at the default layer on 2D models, and on
// 3D models gradient-weighted attention rollout averaged over 3 sub-patch
// shifts per axis.
// `shifts` 0 is the recipe's: 3 for that 3D choice, else 1. With "auto" a
// layer may be given on 2D models only (rollout takes none).
struct CamRecipe {
    std::string method, layer;
    int shifts = 1;
};
CamRecipe resolveCamRecipe(const std::string& method, const std::string& layer, int shifts,
                           const BundleDescription& description);

// "rollout" (gradient-weighted attention rollout) follows every block's
// attention; its layer is always this.
inline constexpr const char* kRolloutLayer = "block:*:attn";
// The layer `method` will use: kRolloutLayer for rollout (any other layer is
// refused), else canonicalCamLayer.
std::string resolveCamLayer(const std::string& method, const std::string& layer,
                            const BundleDescription& description);

// Gradient-weighted attention rollout (Chefer, Gur and Wolf, CVPR 2021) over
// attention maps (1, heads, T, T) and their gradients: the row of
// prod_blocks (I + mean_heads relu(grad * attention)) of what the head reads,
// one value per token (the class token first). That row is the class
// token's, or with `meanPool` (VitConfig::meanPool) the mean of the patch
// tokens' rows.
torch::Tensor attentionRollout(const std::vector<torch::Tensor>& attentions,
                               const std::vector<torch::Tensor>& gradients, bool meanPool = false);
std::vector<std::string> camLayerNamesFor(const BundleDescription& description);

struct ModelCam {
    // (1, 1, g, g[, g]) normalised to [0, 1]: on the token grid (g = the
    // token grid's side) or, averaged over shifts, on the model's input grid.
    torch::Tensor grid;
    torch::Tensor probabilities;
    int target = 0;
    int64_t tokenSide = 0;  // the model's token grid side, whatever the grid above
};

// The CAM of one prepared input (1, C, S...) on the token grid.
ModelCam camOnTokens(Classifier& model, const BundleDescription& description,
                     const torch::Tensor& image, const std::string& layer,
                     const std::string& method, int requestedTarget);

// Sub-patch shift averaging. A token map upsampled from a g-wide grid peaks at
// a token centre, so it cannot say where inside a patch the evidence lies: a
// lesion smaller than two patches whose centre falls between token centres is
// "found" one token off. Here the input is also shifted by fractions of a
// patch (`shiftsPerAxis` offsets per axis, spread evenly over one patch; edges
// repeat the border voxels), each shifted input's map is upsampled onto the
// model's input grid and shifted back (the voxels a shifted input no longer
// held repeat the nearest value seen), and the maps are averaged. The target
// is the one of the unshifted input. 1: the plain token map (camOnTokens);
// K: K^2 (2D) or K^3 (3D) passes.
ModelCam camAveragedOverShifts(Classifier& model, const BundleDescription& description,
                               const torch::Tensor& image, const std::string& layer,
                               const std::string& method, int requestedTarget, int shiftsPerAxis);
// The offsets (in input voxels) camAveragedOverShifts uses along each axis.
std::vector<int64_t> shiftOffsets(int64_t patch, int shiftsPerAxis);

// A token grid (or any grid) onto a voxel grid of `size` (x, y, z), centres
// aligned like the input resampling, values clamped to [0, 1].
torch::Tensor upsampleCam(const torch::Tensor& grid, const std::array<int64_t, 3>& size,
                          bool volumetric);

struct DeletionInsertion {
    double deletion = 0, insertion = 0;
};
// Areas under the class-`target` probability while the pixels of `image`
// (1, C, S...) are removed (deletion) or revealed (insertion) in decreasing
// order of `map` (one value per pixel of the model grid), in `steps` steps.
DeletionInsertion deletionInsertion(Classifier& model, TaskType task, const torch::Tensor& image,
                                    const torch::Tensor& map, int target, int steps);

// ROAD, remove and debias (Rong et al., ICML 2022): pixels are removed by
// noisy linear imputation, each removed value the weighted mean of its
// neighbours (weights 1 / squared distance over the 8 or 26 neighbours),
// solved jointly for all removed pixels, plus Gaussian noise. The shape of
// the removed region then tells the model little by itself, which mean-value
// or blurred removal does (the model can react to the hole, not to what was
// in it). MoRF: the most relevant pixels first (lower is better); LeRF: the
// least relevant first (higher is better); a faithful map has LeRF > MoRF.
struct RoadScores {
    double morf = 0, lerf = 0;
};
RoadScores roadScores(Classifier& model, TaskType task, const torch::Tensor& image,
                      const torch::Tensor& map, int target, int steps, double noise, uint64_t seed);

// The imputation: `images` (B, C, S...) with the pixels where `removed`
// (B, 1, S...) is true replaced by the solution of the neighbour-mean
// equations (conjugate gradients, to a relative residual of 1e-5), no noise.
torch::Tensor imputeLinearly(const torch::Tensor& images, const torch::Tensor& removed);

}  // namespace rllm
