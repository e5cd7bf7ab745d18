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

Classifier buildClassifier(const nlohmann::json& d) {
    try {
        const auto& m = d.at("model");
        VitConfig c;
        c.dim = m.at("dim");
        c.depth = m.at("depth");
        c.heads = m.at("heads");
        c.mlpRatio = m.at("mlp_ratio");
        c.imageSize = m.at("image_size");
        c.patch = m.at("patch");
        c.channels = m.at("channels");
        c.classes = m.at("classes");
        c.volumetric = m.at("volumetric");
        Booster booster{nullptr};
        if (d.contains("booster") && !d.at("booster").is_null()) {
            const auto& b = d.at("booster");
            const ResidualMode mode = parseResidualMode(b.at("mode"));
            LlmBlock llm{nullptr};
            int llmDim = b.at("llm_dim");
            if (mode != ResidualMode::Mlp) {
                const auto& l = b.at("llm");
                const auto& a = l.at("architecture");
                LlmArchitecture arch;
                arch.modelType = a.at("model_type");
                arch.dim = a.at("dim");
                arch.heads = a.at("heads");
                arch.kvHeads = a.at("kv_heads");
                arch.ffn = a.at("ffn");
                arch.eps = a.at("eps");
                arch.qkvBias = a.at("qkv_bias");
                llm = LlmBlock(arch, static_cast<int>(l.at("layers").size()),
                               parseFinalNorm(l.at("final_norm")));
                llmDim = arch.dim;
            }
            booster = Booster(c.dim, llmDim, mode, llm);
        }
        return Classifier(c, booster);
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("the bundle description is incomplete (") + e.what() + ")");
    }
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

void saveBundle(Classifier& model, nlohmann::json description, const std::string& path) {
    description["format"] = "rllm-bundle";
    description["version"] = 1;
    if (description.contains("booster") && description["booster"].contains("llm"))
        description["booster"]["llm"]["sha256"] = frozenWeightsHash(model);
    std::vector<NamedTensor> tensors;
    for (const auto& [name, tensor] : namedTensors(model)) {
        torch::Tensor cpu = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
        NamedTensor t;
        t.name = name;
        t.shape = cpu.sizes().vec();
        t.values.assign(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
        tensors.push_back(std::move(t));
    }
    writeSafetensors(path, tensors, {{kMetadataKey, description.dump()}});
}

LoadedBundle loadBundle(const std::string& path) {
    SafetensorsFile file(path);
    auto it = file.metadata().find(kMetadataKey);
    if (it == file.metadata().end())
        throw FileError(path, "is a safetensors file but not an R-LLM bundle (no description).",
                        "Bundles are written by 'rllm train'.");
    LoadedBundle bundle;
    try {
        bundle.description = nlohmann::json::parse(it->second);
    } catch (const std::exception& e) {
        throw FileError(path, std::string("has an unreadable description (") + e.what() + ").");
    }
    // Everything the network is built from, checked against the file's
    // tensors before a single module is allocated.
    checkBundleDescription(path, bundle.description, file.tensors());
    try {
        bundle.model = buildClassifier(bundle.description);
    } catch (const Error& e) {
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
    const auto& d = bundle.description;
    if (d.contains("booster") && d["booster"].contains("llm")) {
        const std::string recorded = d["booster"]["llm"].value("sha256", "");
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
