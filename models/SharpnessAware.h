#pragma once
// Sharpness-aware minimisation (SAM; Foret et al. 2021, "Sharpness-Aware
// Minimization for Efficiently Improving Generalization"). A step takes the
// gradient not at the weights w but at the worst nearby point of a ball of
// radius rho, to first order w + rho g / ||g||: a minimum whose neighbourhood
// is flat as well as low. Chen et al. 2022 ("When Vision Transformers
// Outperform ResNets without Pretraining or Strong Data Augmentations")
// found that it lifts ViTs trained from scratch past ResNets of their size.
// Costs a second forward and backward pass per step.

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace rllm {

class ClassifierImpl;

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

// Throws rllm::Error unless `scope` is one --sam-scope takes: all or backbone.
void checkSamScope(const std::string& scope);

// The weights the ascent moves, named, in the model's order: every
// trainable one (scope "all"), or every one but the classifier head's
// ("backbone"). A frozen LLM block is in neither. Checks the scope first.
std::vector<std::pair<std::string, torch::Tensor>> ascentWeights(ClassifierImpl& model,
                                                                 const std::string& scope);

// Where an ascent would go, read from the gradients in place before it: the
// weight tensor with the largest share of ||g||^2 and how far the ascent of
// radius rho would move its largest entry. A move several times the tensor's
// own root mean square is no longer a small step around w: the ascent point
// is then a different model, and its gradient says more about that tensor
// than about the flatness SAM looks for. All zero where no weight has a
// gradient.
struct AscentConcentration {
    size_t index = 0;        // into the weights given
    double share = 0;        // of ||g||^2, in [0, 1]
    double largestMove = 0;  // rho max|g_i| / ||g|| over the tensor's entries
    double rms = 0;          // the tensor's root mean square before the move
};
AscentConcentration ascentConcentration(const std::vector<torch::Tensor>& weights, double rho);

}  // namespace rllm
