#include "models/Bundle.h"

#include "core/Error.h"
#include "models/BundleCheck.h"
#include "models/Safetensors.h"
#include "models/Sha256.h"

#include <algorithm>
#include <filesystem>

namespace rllm {

namespace {

const char* kMetadataKey = "rllm_bundle";

std::map<std::string, torch::Tensor> namedTensors(Classifier& model) {
    std::map<std::string, torch::Tensor> tensors;
    for (const auto& p : model->named_parameters()) tensors[p.key()] = p.value();
    for (const auto& b : model->named_buffers()) tensors[b.key()] = b.value();
    return tensors;
}

bool isFrozen(const std::string& name) {
    return name.rfind("booster.llm.", 0) == 0;
}

}  // namespace

VitConfig vitConfigOf(const VitSpec& m) {
    VitConfig c;
    c.dim = m.dim;
    c.depth = m.depth;
    c.heads = m.heads;
    c.mlpRatio = m.mlp_ratio;
    c.imageSize = m.image_size;
    c.patch = m.patch;
    c.channels = m.channels;
    c.classes = m.classes;
    c.volumetric = m.volumetric;
    c.shiftedPatches = m.shifted_patches;
    c.localityAttention = m.locality_attention;
    c.patchNorm = m.patch_norm;
    c.meanPool = m.mean_pool;
    c.convStem = m.conv_stem;
    return c;
}

VitSpec vitSpecOf(const VitConfig& c, const std::string& preset) {
    VitSpec m;
    m.arch = c.volumetric ? "vit3d" : "vit2d";
    m.preset = preset;
    m.dim = c.dim;
    m.depth = c.depth;
    m.heads = c.heads;
    m.mlp_ratio = c.mlpRatio;
    m.image_size = c.imageSize;
    m.patch = c.patch;
    m.channels = c.channels;
    m.classes = c.classes;
    m.volumetric = c.volumetric;
    m.shifted_patches = c.shiftedPatches;
    m.locality_attention = c.localityAttention;
    m.patch_norm = c.patchNorm;
    m.mean_pool = c.meanPool;
    m.conv_stem = c.convStem;
    return m;
}

Classifier buildClassifier(const BundleDescription& d) {
    const VitConfig c = vitConfigOf(d.model);
    Booster booster{nullptr};
    if (d.booster) {
        const BoosterSpec& b = *d.booster;
        const ResidualMode mode = parseResidualMode(b.mode);
        LlmBlock llm{nullptr};
        int llmDim = b.llm_dim;
        if (mode != ResidualMode::Mlp) {
            if (!b.llm) throw Error("the bundle description's booster lacks its llm section");
            const LlmBlockSpec& a = b.llm->architecture;
            LlmArchitecture arch;
            arch.modelType = a.model_type;
            arch.dim = a.dim;
            arch.heads = a.heads;
            arch.kvHeads = a.kv_heads;
            arch.ffn = a.ffn;
            arch.eps = a.eps;
            arch.qkvBias = a.qkv_bias;
            llm = LlmBlock(arch, static_cast<int>(b.llm->layers.size()),
                           parseFinalNorm(b.llm->final_norm));
            llmDim = arch.dim;
        }
        booster = Booster(c.dim, llmDim, mode, llm);
    }
    return Classifier(c, booster);
}

std::string frozenWeightsHash(Classifier& model) {
    Sha256 sha;
    for (const auto& [name, tensor] : namedTensors(model)) {
        if (!isFrozen(name)) continue;
        torch::Tensor cpu = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
        sha.update(name.data(), name.size());
        sha.update(cpu.data_ptr<float>(), static_cast<size_t>(cpu.numel()) * 4);
    }
    return sha.hexDigest();
}

void saveBundle(Classifier& model, BundleDescription description, const std::string& path) {
    description.format = "rllm-bundle";
    description.version = 1;
    if (description.hasLlm()) description.booster->llm->sha256 = frozenWeightsHash(model);
    std::vector<NamedTensor> tensors;
    for (const auto& [name, tensor] : namedTensors(model)) {
        torch::Tensor cpu = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
        NamedTensor t;
        t.name = name;
        t.shape = cpu.sizes().vec();
        t.values.assign(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
        tensors.push_back(std::move(t));
    }
    writeSafetensors(path, tensors, {{kMetadataKey, description.toJson().dump()}});
}

LoadedBundle loadBundle(const std::string& path) {
    SafetensorsFile file(path);
    auto it = file.metadata().find(kMetadataKey);
    if (it == file.metadata().end())
        throw FileError(path, "is a safetensors file but not an R-LLM bundle (no description).",
                        "Bundles are written by 'rllm train'.");
    nlohmann::json json;
    try {
        json = nlohmann::json::parse(it->second);
    } catch (const std::exception& e) {
        throw FileError(path, std::string("has an unreadable description (") + e.what() + ").");
    }
    // Everything the network is built from, checked against the file's
    // tensors before a single module is allocated.
    checkBundleDescription(path, json, file.tensors());
    LoadedBundle bundle;
    try {
        bundle.description = BundleDescription::fromJson(json);
        bundle.model = buildClassifier(bundle.description);
    } catch (const std::exception& e) {
        throw FileError(path, e.what());
    }
    torch::NoGradGuard noGrad;
    for (auto& [name, tensor] : namedTensors(bundle.model)) {
        if (!file.contains(name))
            throw FileError(path, "lacks the weights '" + name + "'; it is incomplete.");
        const TensorInfo& info = file.info(name);
        if (info.shape != tensor.sizes().vec())
            throw FileError(path,
                            "weights '" + name + "' have the wrong shape for the described model.");
        std::vector<float> values = file.readFloat(name);
        tensor.copy_(torch::from_blob(values.data(), tensor.sizes(), torch::kFloat32));
    }
    if (bundle.description.hasLlm()) {
        const std::string recorded = bundle.description.booster->llm->sha256;
        const std::string actual = frozenWeightsHash(bundle.model);
        if (recorded != actual)
            throw FileError(path,
                            "holds frozen LLM weights whose SHA-256 (" + actual.substr(0, 12) +
                                "...) differs from the one recorded (" + recorded.substr(0, 12) +
                                "...): the bundle was altered or damaged.",
                            "Use the original bundle or train again.");
    }
    bundle.model->eval();
    return bundle;
}

std::vector<std::string> classNamesFor(const std::string& datasetPath, int classCount) {
    std::string name = std::filesystem::path(datasetPath).filename().string();
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    // Label meanings from MedMNIST's info.py.
    const std::vector<std::pair<std::string, std::vector<std::string>>> known = {
        {"breastmnist", {"malignant", "normal, benign"}},
        {"pneumoniamnist", {"normal", "pneumonia"}},
        {"adrenalmnist3d", {"normal", "hyperplasia"}},
        {"phantom", {"no lesion", "lesion"}},
    };
    for (const auto& [prefix, names] : known)
        if (name.rfind(prefix, 0) == 0 && static_cast<int>(names.size()) == classCount)
            return names;
    std::vector<std::string> names;
    for (int i = 0; i < classCount; ++i) names.push_back("class " + std::to_string(i));
    return names;
}

}  // namespace rllm
