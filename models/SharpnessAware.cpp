#include "models/SharpnessAware.h"

#include "core/Error.h"
#include "models/Networks.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace rllm {

namespace {

double squaredNormOf(const torch::Tensor& gradient) {
    return gradient.to(torch::kDouble).pow(2).sum().item<double>();
}

}  // namespace

SharpnessAscent::SharpnessAscent(const std::vector<torch::Tensor>& weights, double rho)
    : weights_(weights) {
    torch::NoGradGuard noGrad;
    // The squared norm summed in double: thousands of float tensors, and a
    // step's gradient can be small.
    double squaredNorm = 0;
    for (const torch::Tensor& w : weights_)
        if (w.grad().defined()) squaredNorm += squaredNormOf(w.grad());
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

AscentConcentration ascentConcentration(const std::vector<torch::Tensor>& weights, double rho) {
    torch::NoGradGuard noGrad;
    std::vector<double> squared(weights.size(), 0.0);
    double total = 0;
    for (size_t i = 0; i < weights.size(); ++i)
        if (weights[i].grad().defined()) total += squared[i] = squaredNormOf(weights[i].grad());
    AscentConcentration c;
    if (!(total > 0) || !std::isfinite(total)) return c;
    c.index = size_t(std::max_element(squared.begin(), squared.end()) - squared.begin());
    const torch::Tensor& w = weights[c.index];
    c.share = squared[c.index] / total;
    c.largestMove = rho * w.grad().abs().max().item<double>() / std::sqrt(total);
    c.rms = w.detach().to(torch::kDouble).pow(2).mean().sqrt().item<double>();
    return c;
}

void checkSamScope(const std::string& scope) {
    if (scope != "all" && scope != "backbone")
        throw Error("--sam-scope must be all or backbone, not '" + scope + "'");
}

std::vector<std::pair<std::string, torch::Tensor>> ascentWeights(ClassifierImpl& model,
                                                                 const std::string& scope) {
    checkSamScope(scope);
    const std::vector<torch::Tensor> head = model.vit->head->parameters();
    const auto isHead = [&head](const torch::Tensor& t) {
        return std::any_of(head.begin(), head.end(),
                           [&t](const torch::Tensor& h) { return h.is_same(t); });
    };
    std::vector<std::pair<std::string, torch::Tensor>> result;
    for (const auto& p : model.named_parameters())
        if (p.value().requires_grad() && (scope == "all" || !isHead(p.value())))
            result.emplace_back(p.key(), p.value());
    return result;
}

}  // namespace rllm
