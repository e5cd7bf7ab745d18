#include "models/SharpnessAware.h"

#include <torch/torch.h>

#include <cmath>

namespace rllm {

SharpnessAscent::SharpnessAscent(const std::vector<torch::Tensor>& weights, double rho)
    : weights_(weights) {
    torch::NoGradGuard noGrad;
    // The squared norm summed in double: thousands of float tensors, and a
    // step's gradient can be small.
    double squaredNorm = 0;
    for (const torch::Tensor& w : weights_)
        if (w.grad().defined())
            squaredNorm += w.grad().to(torch::kDouble).pow(2).sum().item<double>();
    saved_.reserve(weights_.size());
    for (const torch::Tensor& w : weights_) saved_.push_back(w.detach().clone());
    const double norm = std::sqrt(squaredNorm);
    if (!(norm > 0) || !std::isfinite(norm) || rho <= 0) return;
    const double scale = rho / norm;
    for (torch::Tensor& w : weights_)
        if (w.grad().defined()) w.add_(w.grad(), scale);
    distance_ = rho;
}

void SharpnessAscent::restore() {
    torch::NoGradGuard noGrad;
    for (size_t i = 0; i < weights_.size(); ++i) weights_[i].copy_(saved_[i]);
}

}  // namespace rllm
