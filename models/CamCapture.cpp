// The CAM methods on ViT tokens (Grad-CAM, Grad-CAM++, HiResCAM, EigenCAM,
// gradient-weighted attention rollout), the capture of tokens and attention
// in a forward pass, sub-patch shift averaging, and upsampling onto the input.
#include "core/Error.h"
#include "models/Bundle.h"
#include "models/Cam.h"
#include "models/CamMethods.h"
#include "models/CamResult.h"
#include "models/Engine.h"
#include "models/ModelInput.h"
#include "core/io/MedMnist.h"
#include "core/io/Npz.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace rllm {

namespace {

// Chattopadhay et al. 2018, with exp(score) folded in as pytorch-grad-cam does.
torch::Tensor gradCamPlusPlus(const torch::Tensor& A, const torch::Tensor& G) {
    auto g2 = G.pow(2), g3 = G.pow(3);
    auto denominator = 2 * g2 + A.sum(0, true) * g3;
    auto alpha = g2 / torch::where(denominator != 0, denominator, torch::ones_like(denominator));
    auto weights = (alpha * torch::relu(G)).sum(0);
    return torch::relu(torch::matmul(A, weights));
}

// The first principal component of the tokens (no gradient). Centred: after
// LayerNorm the mean token would otherwise dominate and give a flat map.
// SVD's sign is arbitrary; the most extreme token is made positive, so the
// map shows the tokens that stand out most.
torch::Tensor eigenCam(const torch::Tensor& A) {
    auto centred = A - A.mean(0, true);
    auto svd = torch::linalg_svd(centred, /*full_matrices=*/false);
    auto projection = torch::matmul(centred, std::get<2>(svd)[0]);
    if (projection.max().item<double>() < -projection.min().item<double>())
        projection = -projection;
    return torch::relu(projection);
}

}  // namespace

torch::Tensor tokenCam(const std::string& method, const torch::Tensor& A, const torch::Tensor& G) {
    switch (parseCamMethod(method)) {
        case CamMethod::GradCam:
            // One weight per channel: the gradient averaged over the grid.
            return torch::relu(torch::matmul(A, G.mean(0)));
        case CamMethod::HiResCam:
            return torch::relu((G * A).sum(1));
        case CamMethod::GradCamPlusPlus:
            return gradCamPlusPlus(A, G);
        case CamMethod::EigenCam:
            return eigenCam(A);
        case CamMethod::Auto:
        case CamMethod::Rollout:
            break;
    }
    throw Error("CAM method '" + method + "' does not work on one layer's tokens");
}

torch::Tensor attentionRollout(const std::vector<torch::Tensor>& attentions,
                               const std::vector<torch::Tensor>& gradients, bool meanPool) {
    if (attentions.empty()) throw Error("rollout: the model has no attention to follow");
    if (gradients.size() != attentions.size())
        throw Error("rollout: one gradient per attention map is needed");
    torch::Tensor relevance;
    for (size_t i = 0; i < attentions.size(); ++i) {
        const torch::Tensor& a = attentions[i];
        if (!gradients[i].defined()) throw Error("rollout: an attention map got no gradient");
        // Chefer et al. 2021: the positive part of gradient x attention, averaged over heads.
        torch::Tensor weighted = torch::relu(gradients[i][0] * a[0]).mean(0).detach();  // (T, T)
        if (!relevance.defined()) relevance = torch::eye(weighted.size(0), weighted.options());
        // The residual connection carries each token's own relevance forward.
        relevance = relevance + torch::matmul(weighted, relevance);
    }
    // What the token(s) the head reads draw from each token.
    return meanPool ? relevance.narrow(0, 1, relevance.size(0) - 1).mean(0) : relevance[0];
}

ModelCam camOnTokens(Classifier& model, const BundleDescription& d, const torch::Tensor& image,
                     const std::string& layer, const std::string& method, int requestedTarget) {
    const CamMethodInfo& info = camMethodInfo(parseCamMethod(method));
    const bool rollout = info.method == CamMethod::Rollout;
    torch::Tensor captured;
    std::vector<torch::Tensor> attentions;  // rollout: every block's, in order
    TokenTap tap = [&](const std::string& name, const torch::Tensor& tokens) {
        const bool attention = name.size() > 5 && name.compare(name.size() - 5, 5, ":attn") == 0;
        if (rollout ? !attention : name != layer) return tokens;
        if (rollout)
            attentions.push_back(tokens);
        else
            captured = tokens;
        return tokens;
    };
    // Taps on the last token-mixing layer's output need all its rows (Networks.h, TailTokens).
    const std::string lastBlock = "block:" + std::to_string(d.model.depth - 1);
    const bool readsTail =
        rollout || layer == "booster:llm" || (!model->llmIsLastMixer() && layer == lastBlock);
    auto logits = model->forward(image, tap, readsTail ? TailTokens::All : TailTokens::ClassToken);
    const TaskType task = parseTaskType(d.task);
    ModelCam out;
    out.probabilities =
        (task == TaskType::MultiLabel ? torch::sigmoid(logits) : torch::softmax(logits, 1))[0]
            .detach();
    const int classes = static_cast<int>(logits.size(1));
    out.target = requestedTarget >= 0
                     ? requestedTarget
                     : static_cast<int>(out.probabilities.argmax().item<int64_t>());
    if (out.target >= classes)
        throw Error("--target " + std::to_string(out.target) + ": the model has classes 0.." +
                    std::to_string(classes - 1));
    const VitSpec& m = d.model;
    const int64_t g = m.image_size / m.patch;
    out.tokenSide = g;
    if (rollout) {
        // Only the gradients at the attention maps: no weight gradients are
        // computed or left behind in the model.
        const auto gradients =
            torch::autograd::grad({logits[0][out.target]}, attentions, {}, false, false, true);
        torch::Tensor map = attentionRollout(attentions, gradients, m.mean_pool).slice(0, 1);
        out.grid = m.volumetric ? map.view({1, 1, g, g, g}) : map.view({1, 1, g, g});
        const double peak = map.max().item<double>();
        if (peak > 0) out.grid = out.grid / peak;
        return out;
    }
    if (!captured.defined())
        throw Error("layer '" + layer + "' was not reached in the forward pass");
    const bool needsGradient = info.usesGradient;
    torch::Tensor gradients;
    if (needsGradient) {
        if (!captured.requires_grad())
            throw Error("layer '" + layer + "' does not depend on trainable weights; no gradient");
        // Only the gradient at the chosen layer: no weight gradients are
        // computed or left behind in the model.
        gradients =
            torch::autograd::grad({logits[0][out.target]}, {captured}, {}, false, false, true)[0];
        if (!gradients.defined() || gradients.slice(1, 1).abs().max().item<double>() == 0)
            throw Error(
                "the gradient of class " + std::to_string(out.target) + " at layer '" + layer +
                "' is zero on every patch token (in a ViT the last block's output tokens never "
                "reach the class token); choose another layer, e.g. block:-1:norm1");
        gradients = gradients[0].slice(0, 1).detach();  // drop the class token
    }
    auto activations = captured[0].slice(0, 1).detach();
    torch::Tensor map = tokenCam(method, activations, needsGradient ? gradients : activations);
    out.grid = m.volumetric ? map.view({1, 1, g, g, g}) : map.view({1, 1, g, g});
    const double peak = map.max().item<double>();
    if (peak > 0) out.grid = out.grid / peak;
    return out;
}

std::vector<int64_t> shiftOffsets(int64_t patch, int shiftsPerAxis) {
    if (shiftsPerAxis < 1) throw Error("--shifts must be at least 1");
    if (shiftsPerAxis > patch)
        throw Error("--shifts " + std::to_string(shiftsPerAxis) + ": at most the patch size (" +
                    std::to_string(patch) + ") offsets per axis");
    std::vector<int64_t> offsets;
    for (int j = 0; j < shiftsPerAxis; ++j)
        offsets.push_back(
            std::lround((j - (shiftsPerAxis - 1) / 2.0) * double(patch) / shiftsPerAxis));
    return offsets;
}

namespace {

// `t` moved by `offset` voxels along `dim` (towards higher indices when
// positive); the voxels uncovered repeat the border's value.
torch::Tensor shiftAlong(const torch::Tensor& t, int64_t dim, int64_t offset) {
    if (offset == 0) return t;
    const int64_t size = t.size(dim), n = std::min(std::abs(offset), size);
    std::vector<int64_t> fillShape = t.sizes().vec();
    fillShape[dim] = n;
    auto fill = [&](int64_t borderIndex) {
        return t.narrow(dim, borderIndex, 1).expand(fillShape).contiguous();
    };
    if (offset > 0) return torch::cat({fill(0), t.narrow(dim, 0, size - n)}, dim);
    return torch::cat({t.narrow(dim, n, size - n), fill(size - 1)}, dim);
}

}  // namespace

ModelCam camAveragedOverShifts(Classifier& model, const BundleDescription& d,
                               const torch::Tensor& image, const std::string& layer,
                               const std::string& method, int requestedTarget, int shiftsPerAxis) {
    const VitSpec& m = d.model;
    const std::vector<int64_t> offsets = shiftOffsets(m.patch, shiftsPerAxis);
    ModelCam plain = camOnTokens(model, d, image, layer, method, requestedTarget);
    if (shiftsPerAxis == 1) return plain;
    const bool volumetric = m.volumetric;
    const int64_t side = image.size(-1);
    const std::array<int64_t, 3> inputSize{side, side, volumetric ? side : 1};
    const int spatialDims = volumetric ? 3 : 2;
    torch::Tensor sum;
    std::vector<size_t> index(spatialDims, 0);  // one offset index per spatial axis
    while (true) {
        bool unshifted = true;
        for (size_t i : index) unshifted = unshifted && offsets[i] == 0;
        torch::Tensor shiftedImage = image;
        for (int a = 0; a < spatialDims; ++a)
            shiftedImage = shiftAlong(shiftedImage, 2 + a, offsets[index[a]]);
        const ModelCam cam =
            unshifted ? plain : camOnTokens(model, d, shiftedImage, layer, method, plain.target);
        torch::Tensor map = upsampleCam(cam.grid, inputSize, volumetric);
        // Voxels the shifted input no longer held repeat the nearest value seen.
        for (int a = 0; a < spatialDims; ++a) map = shiftAlong(map, 2 + a, -offsets[index[a]]);
        sum = sum.defined() ? sum + map : map;
        int a = 0;  // the next combination of offsets, like an odometer
        while (a < spatialDims && ++index[a] == offsets.size()) index[a++] = 0;
        if (a == spatialDims) break;
    }
    const double peak = sum.max().item<double>();
    plain.grid = peak > 0 ? sum / peak : sum;
    return plain;
}

torch::Tensor upsampleCam(const torch::Tensor& grid, const std::array<int64_t, 3>& size,
                          bool volumetric) {
    namespace F = torch::nn::functional;
    auto options = F::InterpolateFuncOptions().align_corners(false);
    if (volumetric)
        options.size(std::vector<int64_t>{size[2], size[1], size[0]}).mode(torch::kTrilinear);
    else
        options.size(std::vector<int64_t>{size[1], size[0]}).mode(torch::kBilinear);
    return F::interpolate(grid, options).clamp(0, 1);
}

}  // namespace rllm
