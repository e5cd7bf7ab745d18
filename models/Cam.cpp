// Grad-CAM, Grad-CAM++, HiResCAM and EigenCAM on ViT tokens.

#include "core/Error.h"
#include "models/Bundle.h"
#include "models/CamMethods.h"
#include "models/CamResult.h"
#include "models/Engine.h"
#include "models/Cam.h"
#include "models/ModelInput.h"
#include "core/io/MedMnist.h"
#include "core/io/Npz.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace rllm {

std::string canonicalCamLayer(const std::string& layer, const nlohmann::json& d) {
    const int depth = d["model"]["depth"];
    const bool hasLlm = d.contains("booster") && d["booster"].contains("llm");
    std::string name = layer.empty() ? kDefaultCamLayer : layer;
    if (name == "booster:input") {
        if (!d.contains("booster")) throw Error("layer 'booster:input': this model has no booster");
        return "block:" + std::to_string(depth - 1);
    }
    if (name == "booster:llm") {
        if (!hasLlm) throw Error("layer 'booster:llm': this model has no LLM block");
        return name;
    }
    if (name.rfind("block:", 0) == 0) {
        std::string rest = name.substr(6), suffix;
        if (auto colon = rest.find(':'); colon != std::string::npos) {
            suffix = rest.substr(colon);
            rest = rest.substr(0, colon);
        }
        if (!suffix.empty() && suffix != ":norm1")
            throw Error("unknown layer '" + layer + "': block layers are block:I or block:I:norm1");
        int index = 0;
        try {
            size_t used = 0;
            index = std::stoi(rest, &used);
            if (used != rest.size()) throw std::invalid_argument(rest);
        } catch (const std::exception&) {
            throw Error("unknown layer '" + layer + "': the block number must be an integer");
        }
        if (index < 0) index += depth;
        if (index < 0 || index >= depth)
            throw Error("layer '" + layer + "': the model has blocks 0.." +
                        std::to_string(depth - 1));
        return "block:" + std::to_string(index) + suffix;
    }
    throw Error("unknown layer '" + layer +
                "': use block:I, block:I:norm1, booster:input or booster:llm");
}

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
    auto svd = torch::linalg::svd(centred, false, c10::nullopt);
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

std::string resolveCamLayer(const std::string& method, const std::string& layer,
                            const nlohmann::json& d) {
    if (parseCamMethod(method) != CamMethod::Rollout) return canonicalCamLayer(layer, d);
    if (!layer.empty() && layer != kRolloutLayer)
        throw Error("layer '" + layer +
                    "': rollout follows the attention of every block; leave the layer out");
    return kRolloutLayer;
}

CamRecipe resolveCamRecipe(const std::string& method, const std::string& layer, int shifts,
                           const nlohmann::json& d) {
    if (shifts < 0) throw Error("--shifts must be at least 1 (0: the method's default)");
    parseCamMethod(method);  // an unknown method is refused before anything runs
    CamRecipe r;
    r.method = method;
    if (parseCamMethod(method) == CamMethod::Auto) {
        const bool volumetric = d["model"]["volumetric"];
        if (volumetric && !layer.empty())
            throw Error("layer '" + layer +
                        "': on 3D models the automatic choice is attention rollout, which takes "
                        "no layer; name a method (e.g. --method eigencam) to choose a layer");
        r.method = camMethodInfo(volumetric ? CamMethod::Rollout : CamMethod::EigenCam).key;
        r.shifts = shifts > 0 ? shifts : volumetric ? 3 : 1;
    } else {
        r.shifts = shifts > 0 ? shifts : 1;
    }
    r.layer = resolveCamLayer(r.method, layer, d);
    return r;
}

std::vector<std::string> camLayerNamesFor(const nlohmann::json& d) {
    std::vector<std::string> names;
    const int depth = d["model"]["depth"];
    for (int i = 0; i < depth; ++i) {
        names.push_back("block:" + std::to_string(i) + ":norm1");
        names.push_back("block:" + std::to_string(i));
    }
    if (d.contains("booster")) names.push_back("booster:input");
    if (d.contains("booster") && d["booster"].contains("llm")) names.push_back("booster:llm");
    return names;
}

std::vector<std::string> camLayerNames(const std::string& bundlePath) {
    return camLayerNamesFor(loadBundle(bundlePath).description);
}

torch::Tensor attentionRollout(const std::vector<torch::Tensor>& attentions,
                               const std::vector<torch::Tensor>& gradients) {
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
    return relevance[0];  // what the class token draws from each token
}

ModelCam camOnTokens(Classifier& model, const nlohmann::json& d, const torch::Tensor& image,
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
    const std::string lastBlock = "block:" + std::to_string(int(d["model"]["depth"]) - 1);
    const bool readsTail =
        rollout || layer == "booster:llm" || (!model->llmIsLastMixer() && layer == lastBlock);
    auto logits = model->forward(image, tap, readsTail ? TailTokens::All : TailTokens::ClassToken);
    const TaskType task = parseTaskType(d["task"]);
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
    const auto& m = d["model"];
    const int64_t g = int64_t(m["image_size"]) / int64_t(m["patch"]);
    out.tokenSide = g;
    if (rollout) {
        // Only the gradients at the attention maps: no weight gradients are
        // computed or left behind in the model.
        const auto gradients =
            torch::autograd::grad({logits[0][out.target]}, attentions, {}, false, false, true);
        torch::Tensor map = attentionRollout(attentions, gradients).slice(0, 1);
        out.grid = m["volumetric"].get<bool>() ? map.view({1, 1, g, g, g}) : map.view({1, 1, g, g});
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
    out.grid = m["volumetric"].get<bool>() ? map.view({1, 1, g, g, g}) : map.view({1, 1, g, g});
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

ModelCam camAveragedOverShifts(Classifier& model, const nlohmann::json& d,
                               const torch::Tensor& image, const std::string& layer,
                               const std::string& method, int requestedTarget, int shiftsPerAxis) {
    const auto& m = d["model"];
    const std::vector<int64_t> offsets = shiftOffsets(m["patch"].get<int64_t>(), shiftsPerAxis);
    ModelCam plain = camOnTokens(model, d, image, layer, method, requestedTarget);
    if (shiftsPerAxis == 1) return plain;
    const bool volumetric = m["volumetric"];
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

CamEvalSummary evaluateCams(const std::string& bundlePath, const std::string& dataPath,
                            const CamEvalOptions& o) {
    const torch::Device device = torchDevice(o.device);
    LoadedBundle bundle = loadBundle(bundlePath);
    const auto& d = bundle.description;
    const CamRecipe recipe = resolveCamRecipe(o.method, o.layer, o.shifts, d);
    const std::string& layer = recipe.layer;
    if (o.steps < 2) throw Error("--steps must be at least 2");
    MedMnistDataset data(dataPath);
    const auto& m = d["model"];
    const bool volumetric = m["volumetric"];
    const int64_t side = m["image_size"];
    if (data.imageSize()[0] != side || data.is3D() != volumetric ||
        data.channels() != m["channels"].get<int>())
        throw FileError(dataPath, "does not match the bundle's input.");
    NpzArchive archive(dataPath);
    const bool hasMasks = archive.contains(o.split + "_masks");
    NpyArray masks;
    if (hasMasks) masks = archive.readArray(o.split + "_masks");
    const std::vector<uint8_t>& raw = data.rawImages(o.split);
    int64_t n = data.count(o.split);
    if (o.maxCases > 0) n = std::min(n, o.maxCases);
    const int channels = data.channels();
    const int64_t voxels = volumetric ? side * side * side : side * side;
    std::vector<int64_t> shape = volumetric ? std::vector<int64_t>{1, 1, side, side, side}
                                            : std::vector<int64_t>{1, side, side, channels};
    bundle.model->to(device);
    bundle.model->eval();
    const TaskType task = parseTaskType(d["task"]);

    CamEvalSummary s;
    s.layer = layer;
    s.method = recipe.method;
    s.shifts = recipe.shifts;
    int64_t hits = 0, reachable = 0;
    // Where a map that peaks at one token peaks after upsampling, per token.
    std::vector<int64_t> tokenPeaks;
    for (int64_t i = 0; i < n; ++i) {
        torch::Tensor bytes = torch::from_blob(
            const_cast<uint8_t*>(raw.data() + i * voxels * channels), shape, torch::kUInt8);
        torch::Tensor image = bytes.to(torch::kFloat32);
        if (!volumetric) image = image.permute({0, 3, 1, 2});
        image = ((image / 255.0 - 0.5) / 0.5).contiguous().to(device);
        ModelCam cam =
            camAveragedOverShifts(bundle.model, d, image, layer, recipe.method, -1, recipe.shifts);
        torch::Tensor map =
            upsampleCam(cam.grid, {side, side, volumetric ? side : 1}, volumetric).flatten();
        const DeletionInsertion curves =
            deletionInsertion(bundle.model, task, image, map, cam.target, o.steps);
        s.deletionAuc += curves.deletion;
        s.insertionAuc += curves.insertion;
        if (hasMasks) {
            const uint8_t* mask = masks.data.data() + i * voxels;
            bool any = false;
            for (int64_t v = 0; v < voxels && !any; ++v) any = mask[v] != 0;
            if (any) {
                ++s.pointingCases;
                hits += mask[map.argmax().item<int64_t>()] != 0;
                if (recipe.shifts > 1) {
                    ++reachable;  // averaged over shifts, a map can peak at any voxel
                } else {
                    if (tokenPeaks.empty()) {
                        const torch::Tensor grid = cam.grid.to(torch::kCPU);
                        for (int64_t t = 0; t < grid.numel(); ++t) {
                            torch::Tensor oneHot = torch::zeros_like(grid).flatten();
                            oneHot[t] = 1;
                            tokenPeaks.push_back(upsampleCam(oneHot.view_as(grid),
                                                             {side, side, volumetric ? side : 1},
                                                             volumetric)
                                                     .argmax()
                                                     .item<int64_t>());
                        }
                    }
                    reachable += std::any_of(tokenPeaks.begin(), tokenPeaks.end(),
                                             [&](int64_t v) { return mask[v] != 0; });
                }
            }
        }
    }
    s.cases = n;
    s.deletionAuc /= std::max<int64_t>(1, n);
    s.insertionAuc /= std::max<int64_t>(1, n);
    s.pointingGame =
        hasMasks && s.pointingCases > 0 ? double(hits) / s.pointingCases : std::nan("");
    s.pointingCeiling =
        hasMasks && s.pointingCases > 0 ? double(reachable) / s.pointingCases : std::nan("");
    return s;
}

}  // namespace rllm
