#include "models/BundleCheck.h"
#include "models/CamMethods.h"

#include "core/Error.h"
#include "models/Metrics.h"
#include "models/Safetensors.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace rllm {

namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

// An integer field in [low, high]; `where` is the field's path for the message.
int64_t integerField(const nlohmann::json& object, const char* key, int64_t low, int64_t high,
                     const std::string& where) {
    if (!object.is_object() || !object.contains(key))
        throw Error("the description lacks " + where + key);
    const nlohmann::json& value = object.at(key);
    if (!value.is_number_integer())
        throw Error("the description's " + where + key + " is not an integer");
    const int64_t v = value.get<int64_t>();
    if (v < low || v > high)
        throw Error("the description's " + where + key + " is " + std::to_string(v) + " (allowed " +
                    std::to_string(low) + " to " + std::to_string(high) + ")");
    return v;
}

bool booleanField(const nlohmann::json& object, const char* key, const std::string& where) {
    if (!object.contains(key) || !object.at(key).is_boolean())
        throw Error("the description's " + where + key + " is missing or not true/false");
    return object.at(key).get<bool>();
}

std::string stringField(const nlohmann::json& object, const char* key, const std::string& where) {
    if (!object.is_object() || !object.contains(key) || !object.at(key).is_string())
        throw Error("the description's " + where + key + " is missing or not text");
    return object.at(key).get<std::string>();
}

void addLinear(Shapes& s, const std::string& name, int64_t in, int64_t out, bool bias) {
    s[name + ".weight"] = {out, in};
    if (bias) s[name + ".bias"] = {out};
}

void addLayerNorm(Shapes& s, const std::string& name, int64_t width) {
    s[name + ".weight"] = {width};
    s[name + ".bias"] = {width};
}

}  // namespace

Shapes expectedBundleTensors(const nlohmann::json& d) {
    if (!d.is_object() || !d.contains("model") || !d.at("model").is_object())
        throw Error("the description lacks its model section");
    const nlohmann::json& m = d.at("model");
    const std::string at = "model.";
    // Ranges far beyond any model this tool trains (ViT-B is 768 wide, 12
    // deep) yet small enough that nothing overflows below.
    const int64_t dim = integerField(m, "dim", 1, 16384, at);
    const int64_t depth = integerField(m, "depth", 1, 256, at);
    const int64_t heads = integerField(m, "heads", 1, 1024, at);
    const int64_t ratio = integerField(m, "mlp_ratio", 1, 16, at);
    const int64_t side = integerField(m, "image_size", 1, 4096, at);
    const int64_t patch = integerField(m, "patch", 1, 4096, at);
    const int64_t channels = integerField(m, "channels", 1, 4, at);
    const int64_t classes = integerField(m, "classes", 1, 100000, at);
    const bool volumetric = booleanField(m, "volumetric", at);
    // Absent in bundles written before these options existed.
    const bool shifted = m.contains("shifted_patches") && booleanField(m, "shifted_patches", at);
    const bool locality =
        m.contains("locality_attention") && booleanField(m, "locality_attention", at);
    const bool patchNorm = !m.contains("patch_norm") || booleanField(m, "patch_norm", at);
    // Read for its type only: the head's mean adds no tensor.
    if (m.contains("mean_pool")) booleanField(m, "mean_pool", at);
    const bool convStem = m.contains("conv_stem") && booleanField(m, "conv_stem", at);
    if (dim % heads != 0)
        throw Error("the description's model.dim " + std::to_string(dim) +
                    " is not a multiple of model.heads " + std::to_string(heads));
    if (side % patch != 0)
        throw Error("the description's model.image_size " + std::to_string(side) +
                    " is not a multiple of model.patch " + std::to_string(patch));
    const int64_t grid = side / patch;
    const int64_t tokens = (volumetric ? grid * grid * grid : grid * grid) + 1;
    if (tokens > 1000000) throw Error("the description's model has more than 10^6 tokens");

    Shapes s;
    if (convStem && (volumetric || shifted))
        throw Error(
            "the description's model.conv_stem does not combine with 3D or shifted patches");
    if (volumetric || shifted) {
        const int64_t voxels = volumetric ? patch * patch * patch : patch * patch;
        const int64_t vector = (shifted ? 1 + (volumetric ? 8 : 4) : 1) * channels * voxels;
        if (patchNorm) addLayerNorm(s, "vit.patch_norm_in", vector);
        addLinear(s, "vit.patch_linear", vector, dim, true);
        addLayerNorm(s, "vit.patch_norm_out", dim);
    } else if (convStem) {
        // log2(patch) 3x3 convolutions of stride 2 up to half the width, then
        // a 1x1 convolution to the width (VitConfig::convStem).
        int halvings = 0;
        while ((int64_t(1) << halvings) < patch) ++halvings;
        if (patch < 2 || (int64_t(1) << halvings) != patch || dim % patch != 0)
            throw Error(
                "the description's convolutional stem needs model.patch a power of two "
                "that divides model.dim");
        int64_t in = channels;
        for (int i = 0; i <= halvings; ++i) {
            const bool last = i == halvings;
            const int64_t out = last ? dim : dim >> (halvings - i);
            const int64_t kernel = last ? 1 : 3;
            const std::string name = "vit.patch_stem." + std::to_string(i);
            s[name + ".weight"] = {out, in, kernel, kernel};
            s[name + ".bias"] = {out};
            in = out;
        }
    } else {
        s["vit.patch_conv.weight"] = {dim, channels, patch, patch};
        s["vit.patch_conv.bias"] = {dim};
    }
    s["vit.cls_token"] = {1, 1, dim};
    s["vit.pos_embed"] = {1, tokens, dim};
    for (int64_t i = 0; i < depth; ++i) {
        const std::string b = "vit.blocks." + std::to_string(i) + ".";
        addLayerNorm(s, b + "norm1", dim);
        addLinear(s, b + "qkv", dim, 3 * dim, true);
        addLinear(s, b + "proj", dim, dim, true);
        addLayerNorm(s, b + "norm2", dim);
        addLinear(s, b + "fc1", dim, dim * ratio, true);
        addLinear(s, b + "fc2", dim * ratio, dim, true);
        if (locality) s[b + "attn_log_scale"] = {1};
    }
    addLayerNorm(s, "vit.norm", dim);
    addLinear(s, "vit.head", dim, classes, true);

    if (!d.contains("booster") || d.at("booster").is_null()) return s;
    const nlohmann::json& b = d.at("booster");
    if (!b.is_object()) throw Error("the description's booster is not an object");
    const std::string mode = stringField(b, "mode", "booster.");
    if (mode != "in" && mode != "out" && mode != "hybrid" && mode != "none" && mode != "mlp")
        throw Error("the description's booster.mode '" + mode + "' is unknown");
    int64_t llmDim = integerField(b, "llm_dim", 1, 65536, "booster.");
    if (mode != "mlp") {
        if (!b.contains("llm") || !b.at("llm").is_object())
            throw Error("the description's booster lacks its llm section");
        const nlohmann::json& l = b.at("llm");
        if (!l.contains("architecture") || !l.at("architecture").is_object())
            throw Error("the description's booster.llm lacks its architecture");
        const nlohmann::json& a = l.at("architecture");
        const std::string where = "booster.llm.architecture.";
        const std::string type = stringField(a, "model_type", where);
        const int64_t width = integerField(a, "dim", 1, 65536, where);
        const int64_t llmHeads = integerField(a, "heads", 1, 1024, where);
        const int64_t kvHeads = integerField(a, "kv_heads", 1, 1024, where);
        const int64_t ffn = integerField(a, "ffn", 1, 1 << 20, where);
        const bool qkvBias = booleanField(a, "qkv_bias", where);
        if (!a.contains("eps") || !a.at("eps").is_number() ||
            !(a.at("eps").get<double>() > 0 && a.at("eps").get<double>() < 1))
            throw Error("the description's " + where + "eps is missing or not in (0, 1)");
        if (width % llmHeads != 0 || llmHeads % kvHeads != 0)
            throw Error("the description's LLM heads (" + std::to_string(llmHeads) + ", kv " +
                        std::to_string(kvHeads) + ") do not divide its width " +
                        std::to_string(width));
        if (!l.contains("layers") || !l.at("layers").is_array() || l.at("layers").empty() ||
            l.at("layers").size() > 256)
            throw Error("the description's booster.llm.layers is not a list of 1 to 256 layers");
        const std::string finalNorm = stringField(l, "final_norm", "booster.llm.");
        if (finalNorm != "unit" && finalNorm != "loaded" && finalNorm != "none")
            throw Error("the description's booster.llm.final_norm '" + finalNorm + "' is unknown");
        (void)type;
        llmDim = width;
        const int64_t kv = width / llmHeads * kvHeads;
        for (size_t i = 0; i < l.at("layers").size(); ++i) {
            const std::string p = "booster.llm.layers." + std::to_string(i) + ".";
            s[p + "attention_norm.weight"] = {width};
            addLinear(s, p + "wq", width, width, qkvBias);
            addLinear(s, p + "wk", width, kv, qkvBias);
            addLinear(s, p + "wv", width, kv, qkvBias);
            addLinear(s, p + "wo", width, width, false);
            s[p + "ffn_norm.weight"] = {width};
            addLinear(s, p + "w1", width, ffn, false);
            addLinear(s, p + "w2", ffn, width, false);
            addLinear(s, p + "w3", width, ffn, false);
        }
        s["booster.llm.norm.weight"] = {width};
    }
    addLinear(s, "booster.encoder", dim, llmDim, false);
    addLinear(s, "booster.decoder", llmDim, dim, false);
    return s;
}

void checkBundleDescription(const std::string& path, const nlohmann::json& d,
                            const std::map<std::string, TensorInfo>& tensors) {
    Shapes expected;
    try {
        expected = expectedBundleTensors(d);
        const int64_t classes = d.at("model").at("classes").get<int64_t>();
        if (!d.contains("class_names") || !d.at("class_names").is_array())
            throw Error("the description lacks class_names");
        for (const auto& name : d.at("class_names"))
            if (!name.is_string()) throw Error("the description's class_names are not all text");
        if (int64_t(d.at("class_names").size()) != classes)
            throw Error("the description names " + std::to_string(d.at("class_names").size()) +
                        " classes but its model has " + std::to_string(classes));
        parseTaskType(stringField(d, "task", ""));  // throws for an unknown task
        if (d.contains("explanation") && !d.at("explanation").is_null()) {
            // Its layer is checked against the model where `auto` resolves it.
            const auto& e = d.at("explanation");
            const std::string method = stringField(e, "method", "explanation.");
            if (!findCamMethod(method) || parseCamMethod(method) == CamMethod::Auto)
                throw Error("the description's explanation.method '" + method +
                            "' is not a CAM method");
            stringField(e, "layer", "explanation.");
            integerField(e, "shifts", 1, 16, "explanation.");
        }
        if (d.contains("input")) {
            const auto& input = d.at("input");
            for (const char* key : {"scale", "mean", "std"})
                if (!input.is_object() || !input.contains(key) || !input.at(key).is_number() ||
                    !std::isfinite(input.at(key).get<double>()))
                    throw Error(std::string("the description's input.") + key +
                                " is missing or not a finite number");
            if (!(input.at("std").get<double>() > 0) || input.at("scale").get<double>() == 0)
                throw Error("the description's input.std or input.scale is not positive");
        }
    } catch (const nlohmann::json::exception& e) {
        throw FileError(path, std::string("has a malformed description (") + e.what() + ").",
                        "The bundle is damaged; use the original or train again.");
    } catch (const FileError&) {
        throw;
    } catch (const Error& e) {
        throw FileError(path, std::string("has an invalid description: ") + e.what() + ".",
                        "The bundle is damaged; use the original or train again.");
    }
    for (const auto& [name, shape] : expected) {
        auto it = tensors.find(name);
        if (it == tensors.end())
            throw FileError(path, "lacks the weights '" + name + "' its description calls for.",
                            "The bundle is incomplete or damaged.");
        if (it->second.shape != shape)
            throw FileError(
                path, "weights '" + name + "' have another shape than its description implies.",
                "The bundle is damaged.");
        if (it->second.dtype != "F32" && it->second.dtype != "F16" && it->second.dtype != "BF16")
            throw FileError(path, "weights '" + name + "' are " + it->second.dtype +
                                      "; bundles hold F32, F16 or BF16.");
    }
    for (const auto& [name, info] : tensors)
        if (!expected.count(name))
            throw FileError(path, "holds weights '" + name + "' its description does not mention.",
                            "The bundle is damaged or was not written by rllm.");
}

}  // namespace rllm
