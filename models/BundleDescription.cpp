#include "models/BundleDescription.h"

#include <cmath>

namespace rllm {

namespace {

// A score or loss that was not a number (a diverged epoch, an AUC of a
// one-class split) is written as JSON null; it reads back as NaN, so the
// bundle that recorded it stays readable.
double numberOrNan(const nlohmann::json& json, const char* key, double fallback) {
    if (!json.contains(key)) return fallback;
    const nlohmann::json& value = json.at(key);
    return value.is_null() ? std::nan("") : value.get<double>();
}

}  // namespace

void to_json(nlohmann::json& json, const ScoresRecord& s) {
    json = {{"acc", s.acc}, {"auc", s.auc}};
}

void from_json(const nlohmann::json& json, ScoresRecord& s) {
    s.acc = numberOrNan(json, "acc", 0);
    s.auc = numberOrNan(json, "auc", 0);
}

void to_json(nlohmann::json& json, const CurvePoint& c) {
    json = {{"epoch", c.epoch},
            {"train_loss", c.train_loss},
            {"val_acc", c.val_acc},
            {"val_auc", c.val_auc},
            {"learning_rate", c.learning_rate}};
}

void from_json(const nlohmann::json& json, CurvePoint& c) {
    c.epoch = json.value("epoch", 0);
    c.train_loss = numberOrNan(json, "train_loss", 0);
    c.val_acc = numberOrNan(json, "val_acc", 0);
    c.val_auc = numberOrNan(json, "val_auc", 0);
    c.learning_rate = numberOrNan(json, "learning_rate", 0);
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(VitSpec, arch, preset, dim, depth, heads, mlp_ratio,
                                                image_size, patch, channels, classes, volumetric,
                                                shifted_patches, locality_attention, patch_norm,
                                                mean_pool, conv_stem)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LlmBlockSpec, model_type, dim, heads, kv_heads, ffn,
                                                eps, qkv_bias, dtype)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(InputNormalisation, scale, mean, std)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DatasetRecord, file, image_size, channels)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(
    TrainingRecord, command, seed, epochs, batch_size, learning_rate, weight_decay, label_smoothing,
    augment, augmentation, mixup_alpha, cutmix_alpha, ema_decay, drop_path, elastic_voxels,
    erase_probability, sam_rho, sam_scope, drloc_weight, mim_ratio, mim_target, class_balance,
    llm_trainable, llm_learning_rate, train_cases, selected_on, best_epoch, val, test, device,
    libtorch, cpu_products, initialised_from, resumed_from, distilled_from, distill_weight,
    distill_temperature, curves)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ExplanationChoice, method, layer, shifts, data,
                                                split, cases, insertion_minus_deletion,
                                                lerf_minus_morf)

namespace {

// The optional sections: present in the JSON exactly when they hold a value.
template <typename T>
void readOptional(const nlohmann::json& json, const char* key, std::optional<T>& out) {
    if (json.contains(key) && !json.at(key).is_null()) out = json.at(key).get<T>();
}

template <typename T>
void writeOptional(nlohmann::json& json, const char* key, const std::optional<T>& value) {
    if (value) json[key] = *value;
}

}  // namespace

void to_json(nlohmann::json& json, const LlmSource& s) {
    json = {{"source", s.source},         {"format", s.format},
            {"layers", s.layers},         {"initialisation", s.initialisation},
            {"final_norm", s.final_norm}, {"architecture", s.architecture}};
    if (!s.sha256.empty()) json["sha256"] = s.sha256;
}

void from_json(const nlohmann::json& json, LlmSource& s) {
    const LlmSource defaults;
    s.source = json.value("source", defaults.source);
    s.format = json.value("format", defaults.format);
    s.layers = json.value("layers", defaults.layers);
    s.initialisation = json.value("initialisation", defaults.initialisation);
    s.final_norm = json.value("final_norm", defaults.final_norm);
    s.architecture = json.value("architecture", defaults.architecture);
    s.sha256 = json.value("sha256", defaults.sha256);
}

void to_json(nlohmann::json& json, const BoosterSpec& b) {
    json = {{"mode", b.mode}, {"llm_dim", b.llm_dim}};
    writeOptional(json, "llm", b.llm);
}

void from_json(const nlohmann::json& json, BoosterSpec& b) {
    b.mode = json.value("mode", std::string());
    b.llm_dim = json.value("llm_dim", 0);
    readOptional(json, "llm", b.llm);
}

BundleDescription BundleDescription::fromJson(const nlohmann::json& json) {
    BundleDescription d;
    d.format = json.value("format", d.format);
    d.version = json.value("version", d.version);
    d.model = json.value("model", d.model);
    readOptional(json, "booster", d.booster);
    d.task = json.value("task", d.task);
    d.class_names = json.value("class_names", d.class_names);
    readOptional(json, "dataset", d.dataset);
    d.input = json.value("input", d.input);
    readOptional(json, "training", d.training);
    readOptional(json, "explanation", d.explanation);
    return d;
}

nlohmann::json BundleDescription::toJson() const {
    nlohmann::json json = {{"format", format}, {"version", version},         {"model", model},
                           {"task", task},     {"class_names", class_names}, {"input", input}};
    writeOptional(json, "booster", booster);
    writeOptional(json, "dataset", dataset);
    writeOptional(json, "training", training);
    writeOptional(json, "explanation", explanation);
    return json;
}

}  // namespace rllm
