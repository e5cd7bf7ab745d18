// The model a training run starts from; see TrainingModel.h.

#include "models/TrainingModel.h"

#include "core/Error.h"
#include "core/io/MedMnist.h"
#include "models/Bundle.h"
#include "models/Engine.h"
#include "models/LlmCheckpoint.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

namespace rllm {

namespace {

// The ViT's shape: the preset, with the image size, channels and classes of
// the data and the token options of the run.
VitConfig vitConfigFor(const TrainOptions& o, const MedMnistDataset& data) {
    const bool volumetric = o.arch == "vit3d";
    if (o.arch != "vit2d" && o.arch != "vit3d") throw Error("--arch must be vit2d or vit3d");
    if (volumetric != data.is3D())
        throw FileError(o.dataPath, std::string("holds ") + (data.is3D() ? "3D" : "2D") +
                                        " images; use --arch " + (data.is3D() ? "vit3d" : "vit2d") +
                                        ".");
    const auto size = data.imageSize();
    if (size[0] != size[1] || (volumetric && size[2] != size[0]))
        throw FileError(o.dataPath, "has non-square images, which the ViT does not take.");
    VitConfig config = VitConfig::preset(o.preset);
    if (o.depth > 0) config.depth = o.depth;
    config.imageSize = static_cast<int>(size[0]);
    config.patch = o.patch > 0 ? o.patch : std::max(1, config.imageSize / 7);
    config.channels = data.channels();
    config.classes = data.classCount();
    config.volumetric = volumetric;
    config.shiftedPatches = o.shiftedPatches;
    config.localityAttention = o.localityAttention;
    config.patchNorm = o.patchNorm;
    config.meanPool = o.meanPool;
    config.convStem = o.convStem;
    if (!config.patchNorm && !config.linearPatchEmbedding())
        throw Error(
            "--no-patch-norm applies to the linear patch embedding of 3D models and "
            "of --shifted-patches; a plain 2D ViT embeds patches by a convolution");
    return config;
}

// The LLM layers the booster takes: read from --llm, or, with none given, one
// random layer of stories260K's shape (--random-llm).
LlmWeights llmWeightsFor(const TrainOptions& o) {
    if (o.llmPath.empty() && !o.randomLlm)
        throw Error("--booster " + o.booster + " needs --llm CHECKPOINT (or --random-llm)");
    if (!o.llmPath.empty()) return loadLlmLayers(o.llmPath, o.llmLayers);
    LlmWeights weights;
    auto& a = weights.architecture;
    a.format = "none";
    a.modelType = "llama";
    a.dim = 64, a.heads = 8, a.kvHeads = 4, a.ffn = 172, a.layers = 1, a.eps = 1e-5;
    a.dtype = "F32";
    weights.source = "none (no pretrained LLM given)";
    weights.layers.resize(1);
    return weights;
}

// What the bundle says of the frozen (or fine-tuned) block.
LlmSource llmSourceOf(const TrainOptions& o, const LlmWeights& weights) {
    const auto& a = weights.architecture;
    LlmSource source;
    source.source = weights.source;
    source.format = a.format;
    for (const auto& layer : weights.layers) source.layers.push_back(layer.index);
    source.initialisation =
        o.randomLlm ? "random (seed " + std::to_string(o.seed + 7919) + ")" : "pretrained";
    if (o.llmTrainable) source.initialisation += ", then fine-tuned (not frozen)";
    source.final_norm = o.finalNorm;
    source.architecture = {a.modelType, a.dim, a.heads,   a.kvHeads,
                           a.ffn,       a.eps, a.qkvBias, a.dtype};
    return source;
}

// The booster --booster asks for (null without one), its record in `spec`.
Booster buildBooster(const TrainOptions& o, const VitConfig& config, BoosterSpec& spec) {
    const ResidualMode mode = parseResidualMode(o.booster);
    spec.mode = o.booster;
    LlmBlock llm{nullptr};
    int llmDim = config.dim;
    // The mlp ablation has no block; given --llm it takes the block's width.
    if (mode != ResidualMode::Mlp || !o.llmPath.empty()) {
        const LlmWeights weights = llmWeightsFor(o);
        llmDim = weights.architecture.dim;
        if (mode != ResidualMode::Mlp) {
            llm = LlmBlock(weights.architecture, static_cast<int>(weights.layers.size()),
                           parseFinalNorm(o.finalNorm));
            if (o.randomLlm)
                llm->randomize(o.seed + 7919);
            else
                llm->load(weights);
            spec.llm = llmSourceOf(o, weights);
        }
    }
    spec.llm_dim = llmDim;
    return Booster(config.dim, llmDim, mode, llm);
}

// --llm-trainable (RQ3): the block's weights train too, in float32.
void unfreezeLlmBlock(Classifier& model, DeviceOptions& deviceOptions) {
    if (!model->booster || !model->booster->llm)
        throw Error(
            "--llm-trainable needs a booster with an LLM block (--booster in|out|hybrid|none)");
    // The bf16 copies of the block's weights would go stale after each step.
    if (deviceOptions.llmPrecision == "bf16")
        throw Error("--llm-trainable trains the block in float32; leave out --llm-precision bf16");
    deviceOptions.llmPrecision = "fp32";
    for (auto& p : model->booster->llm->parameters()) p.set_requires_grad(true);
}

// --init: every weight from a bundle of the same architecture.
void copyWeightsFrom(const std::string& bundlePath, const BundleDescription& description,
                     Classifier& model) {
    LoadedBundle start = loadBundle(bundlePath);
    if (start.description.toJson().at("model") != description.toJson().at("model"))
        throw FileError(bundlePath, "describes another architecture than this training run.");
    torch::NoGradGuard noGrad;
    auto source = start.model->named_parameters();
    for (auto& p : model->named_parameters()) p.value().copy_(source[p.key()]);
}

}  // namespace

TrainingModel buildTrainingModel(const TrainOptions& o, const MedMnistDataset& data,
                                 DeviceOptions& deviceOptions) {
    TrainingModel built;
    const int classes = data.classCount();
    built.task = o.task.empty() ? taskTypeFor(o.dataPath, data.labelColumns(), classes)
                                : parseTaskType(o.task);
    built.config = vitConfigFor(o, data);
    BundleDescription& description = built.description;
    description.model = vitSpecOf(built.config, o.preset);
    Booster booster{nullptr};
    if (!o.booster.empty()) {
        BoosterSpec spec;
        booster = buildBooster(o, built.config, spec);
        description.booster = spec;
    }
    built.model = Classifier(built.config, booster);
    initialiseTrainable(*built.model, o.seed);
    if (o.llmTrainable) unfreezeLlmBlock(built.model, deviceOptions);
    if (!o.initFrom.empty()) copyWeightsFrom(o.initFrom, description, built.model);

    const auto size = data.imageSize();
    description.task = taskTypeName(built.task);
    description.class_names = classNamesFor(o.dataPath, classes);
    description.dataset = DatasetRecord{std::filesystem::path(o.dataPath).filename().string(),
                                        {size.begin(), size.end()},
                                        data.channels()};
    return built;
}

}  // namespace rllm
