// Faithfulness of a CAM: the deletion and insertion curves of the explained
// class's probability, and ROAD's curves with imputed (not blanked) pixels.
#include "core/Error.h"
#include "models/Bundle.h"
#include "models/Cam.h"
#include "models/CamMethods.h"
#include "models/CamResult.h"
#include "models/Engine.h"
#include "models/ModelInput.h"
#include "core/io/MedMnist.h"
#include "core/io/Npz.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace rllm {

DeletionInsertion deletionInsertion(Classifier& model, TaskType task, const torch::Tensor& image,
                                    const torch::Tensor& map, int target, int steps) {
    if (steps < 2) throw Error("the deletion/insertion curves need at least 2 steps");
    torch::NoGradGuard noGrad;
    torch::Tensor order = map.flatten().argsort(0, true);
    const int64_t channels = image.size(1), pixels = map.numel();
    torch::Tensor flat = image.reshape({channels, pixels});
    // "Removed" pixels take the image's mean value per channel. A blurred
    // copy (RISE's insertion start) keeps too much: on 28 px images a
    // blurred lesion is still a bright blob the model detects, and both
    // curves then stay flat whatever the map says.
    torch::Tensor removed = flat.mean(1, true).expand({channels, pixels});
    std::vector<torch::Tensor> deleted, inserted;
    for (int k = 0; k <= steps; ++k) {
        const int64_t count = pixels * k / steps;
        torch::Tensor chosen = torch::zeros({pixels}, torch::kBool).to(image.device());
        if (count > 0) chosen.index_fill_(0, order.narrow(0, 0, count), true);
        deleted.push_back(torch::where(chosen, removed, flat).reshape(image.sizes().slice(1)));
        inserted.push_back(torch::where(chosen, flat, removed).reshape(image.sizes().slice(1)));
    }
    auto area = [&](const std::vector<torch::Tensor>& batch) {
        auto logits = model->forward(torch::stack(batch));
        auto p = task == TaskType::MultiLabel ? torch::sigmoid(logits) : torch::softmax(logits, 1);
        auto curve = p.select(1, target);
        // Trapezoid rule over x in [0, 1].
        return ((curve.sum() - 0.5 * (curve[0] + curve[-1])) / steps).item<double>();
    };
    return {area(deleted), area(inserted)};
}

namespace {

// sum over the 8 (2D) or 26 (3D) neighbours j inside the grid of w_j v_j,
// w = 1 / squared distance, for v (N, 1, S...): shifted views of a
// zero-padded copy. A convolution does the same, but LibTorch's double
// convolution in 3D goes through an im2col copy 27 times the volume.
torch::Tensor neighbourSum(const torch::Tensor& v) {
    const int64_t spatial = v.dim() - 2;
    std::vector<int64_t> padding(2 * spatial, 1);
    const torch::Tensor padded = torch::constant_pad_nd(v, padding, 0);
    torch::Tensor sum = torch::zeros_like(v);
    const int count = spatial == 3 ? 27 : 9;
    for (int i = 0; i < count; ++i) {
        int offset[3] = {i % 3 - 1, i / 3 % 3 - 1, i / 9 - 1};
        int squared = 0;
        for (int a = 0; a < spatial; ++a) squared += offset[a] * offset[a];
        if (squared == 0) continue;
        torch::Tensor shifted = padded;
        for (int a = 0; a < spatial; ++a)
            shifted = shifted.narrow(2 + a, 1 + offset[a], v.size(2 + a));
        sum.add_(shifted, 1.0 / squared);
    }
    return sum;
}

}  // namespace

torch::Tensor imputeLinearly(const torch::Tensor& images, const torch::Tensor& removed) {
    torch::NoGradGuard noGrad;
    // Channels solved independently: fold them into the batch. In double
    // precision: where eps alone anchors the system it is nearly singular,
    // and float32 rounding would drift along that direction.
    const torch::Tensor x =
        images.to(torch::kFloat64).flatten(0, 1).unsqueeze(1);  // (B C, 1, S...)
    const torch::Tensor u =
        removed.to(torch::kFloat64).expand(images.sizes()).contiguous().flatten(0, 1).unsqueeze(1);
    // D_i: the weights of pixel i's neighbours inside the image. The system
    // for the removed pixels, (D + eps) x - W x = W k + eps mean, is
    // symmetric positive definite; eps anchors regions with no known
    // neighbour (everything removed) at the image's mean.
    const torch::Tensor weightSum = neighbourSum(torch::ones_like(u));
    std::vector<int64_t> spatial;
    for (int64_t d = 1; d < x.dim(); ++d) spatial.push_back(d);
    const torch::Tensor mean = x.mean(spatial, true);
    const double eps = 1e-4;
    const torch::Tensor known = x * (1 - u);
    auto apply = [&](const torch::Tensor& v) {  // M v for v zero outside the removed set
        return u * ((weightSum + eps) * v - neighbourSum(v));
    };
    const torch::Tensor b = u * (neighbourSum(known) + eps * mean);
    torch::Tensor solution = u * mean;
    torch::Tensor r = b - apply(solution), p = r.clone();
    auto dot = [&](const torch::Tensor& a, const torch::Tensor& c) {
        return (a * c).sum(spatial, true);
    };
    torch::Tensor rr = dot(r, r);
    // A relative residual of 1e-5: far below ROAD's noise (0.02 of a [-1, 1] range).
    const torch::Tensor stop = 1e-10 * dot(b, b).clamp_min(1e-30);
    const int64_t unknowns = u.sum().item<int64_t>();
    for (int64_t it = 0; it < std::min<int64_t>(unknowns + 1, 2000); ++it) {
        if ((rr <= stop).all().item<bool>()) break;
        const torch::Tensor mp = apply(p);
        const torch::Tensor alpha = rr / dot(p, mp).clamp_min(1e-30);
        solution = solution + alpha * p;
        r = r - alpha * mp;
        const torch::Tensor next = dot(r, r);
        p = r + (next / rr.clamp_min(1e-30)) * p;
        rr = next;
    }
    return (known + u * solution).reshape(images.sizes()).to(images.dtype());
}

RoadScores roadScores(Classifier& model, TaskType task, const torch::Tensor& image,
                      const torch::Tensor& map, int target, int steps, double noise,
                      uint64_t seed) {
    if (steps < 2) throw Error("the ROAD curves need at least 2 steps");
    torch::NoGradGuard noGrad;
    const torch::Tensor order = map.flatten().argsort(0, true);  // most relevant first
    const int64_t pixels = map.numel();
    std::vector<int64_t> maskShape = image.sizes().vec();
    maskShape[1] = 1;
    auto curve = [&](bool mostRelevantFirst) {
        std::vector<torch::Tensor> masks;
        for (int k = 0; k <= steps; ++k) {
            const int64_t count = pixels * k / steps;
            torch::Tensor chosen = torch::zeros({pixels}, torch::kBool).to(image.device());
            if (count > 0)
                chosen.index_fill_(
                    0, order.narrow(0, mostRelevantFirst ? 0 : pixels - count, count), true);
            masks.push_back(chosen.view(maskShape));
        }
        const torch::Tensor removed = torch::cat(masks);
        std::vector<int64_t> full = removed.sizes().vec();
        full[1] = image.size(1);
        torch::Tensor imputed = imputeLinearly(image.expand(full).contiguous(), removed);
        auto generator = at::detail::createCPUGenerator(seed + (mostRelevantFirst ? 0 : 1));
        const torch::Tensor gaussian =
            at::normal(0.0, 1.0, imputed.sizes(), generator).to(imputed.device());
        imputed = imputed + noise * gaussian * removed.to(imputed.dtype());
        auto logits = model->forward(imputed);
        auto p = task == TaskType::MultiLabel ? torch::sigmoid(logits) : torch::softmax(logits, 1);
        auto c = p.select(1, target);
        return ((c.sum() - 0.5 * (c[0] + c[-1])) / steps).item<double>();
    };
    return {curve(true), curve(false)};
}

}  // namespace rllm
