#include "models/RelativeLocalisation.h"

#include "models/MatrixProducts.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace rllm {

LocalisationPairs LocalisationPairs::select(const torch::Tensor& positions) const {
    if (empty()) return {};
    return {first.index_select(0, positions), second.index_select(0, positions)};
}

LocalisationPairs drawLocalisationPairs(int64_t batch, int64_t patches, int64_t pairsPerCase) {
    LocalisationPairs pairs;
    pairs.first = torch::randint(patches, {batch, pairsPerCase}, torch::kInt64);
    pairs.second = torch::randint(patches, {batch, pairsPerCase}, torch::kInt64);
    return pairs;
}

torch::Tensor gridOffsets(const LocalisationPairs& pairs, int gridSide, int spatialAxes) {
    // A row-major index i has coordinate (i / side^(d-1-a)) % side on axis a.
    std::vector<torch::Tensor> axes;
    int64_t stride = 1;
    for (int a = 1; a < spatialAxes; ++a) stride *= gridSide;
    for (int a = 0; a < spatialAxes; ++a, stride /= gridSide) {
        const auto coordinate = [&](const torch::Tensor& index) {
            return torch::remainder(torch::div(index, stride, "floor"), gridSide);
        };
        axes.push_back(coordinate(pairs.second) - coordinate(pairs.first));
    }
    return torch::stack(axes, -1).to(torch::kFloat32) / double(gridSide);
}

RelativeLocaliserImpl::RelativeLocaliserImpl(int tokenWidth, int spatialAxes, int hidden) {
    hidden1 = register_module("hidden1", torch::nn::Linear(2 * tokenWidth, hidden));
    hidden2 = register_module("hidden2", torch::nn::Linear(hidden, hidden));
    out = register_module("out", torch::nn::Linear(hidden, spatialAxes));
}

torch::Tensor RelativeLocaliserImpl::forward(const torch::Tensor& patchTokens,
                                             const LocalisationPairs& pairs) const {
    const int64_t width = patchTokens.size(2);
    const auto tokensOf = [&](const torch::Tensor& index) {  // (B, M) -> (B, M, width)
        return patchTokens.gather(1, index.to(patchTokens.device())
                                         .unsqueeze(-1)
                                         .expand({index.size(0), index.size(1), width}));
    };
    const torch::Tensor both = torch::cat({tokensOf(pairs.first), tokensOf(pairs.second)}, -1);
    const auto dense = [](const torch::nn::Linear& layer, const torch::Tensor& x) {
        return denseLinear(x, layer->weight, layer->bias);
    };
    torch::Tensor h = torch::relu(dense(hidden1, both));
    h = torch::relu(dense(hidden2, h));
    return dense(out, h);
}

void initialiseLocaliser(RelativeLocaliserImpl& localiser, uint64_t seed) {
    torch::NoGradGuard noGrad;
    auto generator = at::detail::createCPUGenerator(seed);
    for (torch::nn::Linear layer : {localiser.hidden1, localiser.hidden2, localiser.out}) {
        const double bound = 1.0 / std::sqrt(double(layer->weight.size(1)));
        for (torch::Tensor t : {layer->weight, layer->bias})
            t.copy_(at::empty(t.sizes()).uniform_(-bound, bound, generator));
    }
}

torch::Tensor relativeLocalisationLoss(const torch::Tensor& predicted,
                                       const torch::Tensor& offsets) {
    return (predicted - offsets.to(predicted.device())).abs().mean();
}

}  // namespace rllm
