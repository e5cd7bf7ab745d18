#pragma once
// The parts of the training recipe that make a ViT learn from small, often
// imbalanced medical data sets (internal to the models layer; Training.cpp
// runs them): augmentation, mixup/cutmix, class balance, the loss and an
// exponential moving average of the weights. Each piece is a function of its
// inputs and of random numbers drawn beforehand, so a data-parallel run can
// draw them once for the global batch and every worker takes its own rows.

#include "models/Metrics.h"

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace rllm {

// ---- Augmentation -------------------------------------------------------------

enum class Augmentation { Off, Light, Strong };
Augmentation parseAugmentation(const std::string& name);  // off | light | strong
std::string augmentationName(Augmentation a);

// The random numbers of one batch's augmentation, all uniform in [0, 1),
// drawn on the CPU for the whole (global) batch in a fixed order.
struct AugmentDraw {
    std::vector<torch::Tensor> flips;  // per axis, (B)
    torch::Tensor affine;              // (B, 7): rotation angles (3), scale, shifts (3)
    torch::Tensor intensity;           // (B, 2): brightness, contrast (strong only)

    AugmentDraw select(const torch::Tensor& positions) const;  // int64 rows, any order
};

AugmentDraw drawAugmentation(int64_t batch, bool volumetric, Augmentation strength);

// `x`: normalised images (B, C, H, W) or volumes (B, C, D, H, W) in [-1, 1].
//   light:  flips on every axis; in 2D rotations up to 10 degrees and shifts
//           up to a 14th of the side (the first recipe).
//   strong: flips on every axis; a random affine map (rotation up to 15
//           degrees about each axis, scale 0.85-1.15, shifts up to an 8th of
//           the side) in 2D and 3D alike; brightness +-0.1 and contrast
//           0.8-1.2 about the image's mean.
torch::Tensor augment(torch::Tensor x, bool volumetric, Augmentation strength,
                      const AugmentDraw& draw);

// ---- Elastic deformation ----------------------------------------------------------

// A smooth random displacement field: one random displacement per control
// point on a kElasticControlPoints-per-axis lattice spanning the image, up
// to `voxels` voxels along every axis, interpolated (bi/trilinearly)
// between them. It bends shapes without the size changes of a scaling, for
// sets where shape is the signal (AdrenalMNIST3D's masks).
constexpr int64_t kElasticControlPoints = 4;

// (B, axes, P, P[, P]) uniform in [0, 1); channel k moves grid axis k
// (x = width, y = height, z = depth); lattice dims (z,) y, x as the image's.
// Undefined when `voxels` is 0 (off), so runs without it draw nothing more.
torch::Tensor drawElastic(int64_t batch, bool volumetric, double voxels);

// `x` (B, C, H, W) or (B, C, D, H, W) resampled at voxel + displacement
// (bilinear, border values outside); `draw` holds rows of drawElastic.
torch::Tensor deformElastic(const torch::Tensor& x, const torch::Tensor& draw, double voxels);

// ---- Random erasing --------------------------------------------------------------

// Random erasing (Zhong et al. 2020; DeiT's recipe for ViTs on little data
// erases with probability 0.25): a case is erased with probability
// `probability`, one box of 2 % to a third of the image replaced by noise
// uniform over the normalised range [-1, 1], so the network cannot lean on
// any one region. The box's aspect ratios lie within 0.3-3.3 between any two
// axes. Applied after the augmentation and the elastic field and before
// mixing, as a per-image transform is.
struct EraseDraw {
    torch::Tensor box;    // (B, 2 + 2 axes) uniform: erase?, area, per axis aspect, per axis start
    torch::Tensor seeds;  // int64 (B): each erased box's noise comes from its own generator

    EraseDraw select(const torch::Tensor& positions) const;  // int64 rows, any order
};

// Undefined members when `probability` is 0 (off), so runs without it draw
// nothing more and repeat to the bit.
EraseDraw drawErase(int64_t batch, bool volumetric, double probability);

// The box one row of EraseDraw::box gives in an image of `spatialSize`
// ([D,] H, W): per axis the first voxel and the length; empty when the row
// does not erase.
struct EraseBox {
    std::vector<int64_t> start, length;
    bool empty() const { return start.empty(); }
};
EraseBox eraseBoxOf(const torch::Tensor& boxRow, const std::vector<int64_t>& spatialSize,
                    double probability);

// `x` (B, C, H, W) or (B, C, D, H, W) with each row's box (all channels)
// replaced by its noise; `draw` holds the rows' draws.
torch::Tensor eraseBoxes(const torch::Tensor& x, const EraseDraw& draw, double probability);

// ---- Mixup and cutmix ------------------------------------------------------------

// Each case i is mixed with case partner[i] of the same global batch:
// mixup blends whole images with weight lambda; cutmix pastes a box of the
// partner covering 1 - lambda of the image (lambda is then recomputed from
// the box as clipped to the image). Drawn once per batch.
struct MixDraw {
    enum class Kind { None, Mixup, Cutmix } kind = Kind::None;
    double lambda = 1;               // the weight of the case itself
    torch::Tensor partner;           // int64 (B): positions within the global batch
    std::vector<int64_t> boxStart;   // cutmix: per spatial axis, in voxels
    std::vector<int64_t> boxLength;  // cutmix: per spatial axis, in voxels
};

// mixupAlpha/cutmixAlpha: Beta(alpha, alpha) parameters, 0 turns one off;
// with both on, each batch takes one of them with equal probability.
MixDraw drawMix(int64_t batch, const std::vector<int64_t>& spatialSize, double mixupAlpha,
                double cutmixAlpha);

// Mixes `x` (this worker's rows) with `partners` (the images of its rows'
// partners, in the same order).
torch::Tensor mixImages(const torch::Tensor& x, const torch::Tensor& partners, const MixDraw& mix);

// ---- Class balance and the loss ----------------------------------------------------

enum class ClassBalance { None, Loss, Sampler };
ClassBalance parseClassBalance(const std::string& name);  // none | loss | sampler
std::string classBalanceName(ClassBalance b);

// N / (K n_c) for each class c with n_c > 0 training cases (0 for absent
// classes): a balanced data set gets all ones; the mean weight over the
// training cases is K_present / K.
torch::Tensor balancedClassWeights(const torch::Tensor& targets, int classes);

// An epoch's order for class-balanced sampling: n draws with replacement,
// case i with probability proportional to 1 / n_{class(i)}, so every class
// is drawn equally often on average.
torch::Tensor balancedEpochOrder(const torch::Tensor& targets, int classes);

// The per-case loss averaged over the batch: label-smoothed cross entropy
// (single-label tasks) or binary cross entropy (multi-label), each case
// weighted by its class's weight when `classWeights` is defined (the mean
// is then taken over the weights, as PyTorch's CrossEntropyLoss does).
// With a mix, the loss is lambda * loss(targets) + (1 - lambda) *
// loss(partnerTargets); for multi-label the targets are blended instead.
torch::Tensor classificationLoss(TaskType task, const torch::Tensor& logits,
                                 const torch::Tensor& targets, double smoothing,
                                 const torch::Tensor& classWeights = {},
                                 const torch::Tensor& partnerTargets = {}, double lambda = 1);

// ---- Stochastic depth ---------------------------------------------------------------

// Each case's scale for each ViT block's attention and MLP branch, (B, depth,
// 2): a branch of block l is dropped (0) with probability p_l = rate * l /
// (depth - 1), rising linearly from 0 at the first block (as timm's ViT),
// and otherwise scaled by 1 / (1 - p_l) so its expected value is unchanged.
// Undefined when `rate` is 0. Drawn on the CPU for the whole global batch.
torch::Tensor drawDropPath(int64_t batch, int depth, double rate);

// ---- An exponential moving average of the weights ----------------------------------

// The moving average's decay at optimiser step t (counted from 0): the
// requested D, held back early in training by min(D, (1 + t) / (10 + t)) so
// the average is not stuck near the random start.
double averageDecayAt(double decay, int64_t step);
// The first step at which that decay reaches D: (10 D - 1) / (1 - D),
// rounded up (1790 for 0.995). A run shorter than this never averages
// with D itself, so any D at or above the last step's decay gives the same
// run (rllm train says so).
int64_t firstStepAtFullDecay(double decay);

// average <- d average + (1 - d) weights after every optimizer step, with the
// usual warm-up d_t = min(decay, (1 + t) / (10 + t)) so the first, random
// weights fade fast. Validation, the best-model choice and the bundle use
// the average.
class WeightAverage {
  public:
    WeightAverage() = default;
    WeightAverage(const std::vector<std::pair<std::string, torch::Tensor>>& parameters,
                  double decay);
    bool enabled() const { return decay_ > 0; }
    void update(int64_t step);
    // Swaps averaged and live values in place (call twice to swap back).
    void swapIn();
    const std::map<std::string, torch::Tensor>& averages() const { return averages_; }
    void setAverage(const std::string& name, const torch::Tensor& value);

  private:
    double decay_ = 0;
    std::vector<std::pair<std::string, torch::Tensor>> live_;
    std::map<std::string, torch::Tensor> averages_;
};

}  // namespace rllm
