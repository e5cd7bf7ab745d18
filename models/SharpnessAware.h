#pragma once
// Sharpness-aware minimisation (SAM; Foret et al. 2021, "Sharpness-Aware
// Minimization for Efficiently Improving Generalization"). A step takes the
// gradient not at the weights w but at the worst nearby point of a ball of
// radius rho, to first order w + rho g / ||g||: a minimum whose neighbourhood
// is flat as well as low. Chen et al. 2022 ("When Vision Transformers
// Outperform ResNets without Pretraining or Strong Data Augmentations")
// found that it lifts ViTs trained from scratch past ResNets of their size. Costs a second forward and backward pass per step.

#include <torch/types.h>

#include <vector>

namespace rllm {

// Moves the weights to the ascent point and back again. Weights without a
// gradient (a frozen LLM block, a layer the batch did not reach) stay put,
// and the norm is taken over the ones that have one, all of them together.
class SharpnessAscent {
  public:
    // Saves every weight, then moves each one with a gradient by
    // rho g / ||g||. With no gradient anywhere, or a zero one, nothing moves.
    SharpnessAscent(const std::vector<torch::Tensor>& weights, double rho);
    // Puts back the saved weights, bit for bit (w + e - e need not be w in
    // floating point), keeping the gradients taken at the ascent point.
    void restore();

    // The distance moved: rho, or 0 where there was no gradient.
    double distance() const { return distance_; }

  private:
    std::vector<torch::Tensor> weights_, saved_;
    double distance_ = 0;
};

}  // namespace rllm
