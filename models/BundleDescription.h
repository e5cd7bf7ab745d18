#pragma once
// What a bundle says about itself, as one typed struct: the network to build,
// the frozen LLM block and where it came from, how inputs are normalised, the
// task and class names, and the training record. It is written into the
// bundle's metadata and read back by one pair of functions (nlohmann-json's
// type macros for the parts, so the members carry the file's key names); the
// JSON is checked field by field (BundleCheck) before it becomes a struct.
// No LibTorch here: the viewer shows it as it is.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rllm {

// The ViT: width, depth, heads, patch and input size, classes.
struct VitSpec {
    std::string arch = "vit2d";  // vit2d | vit3d
    std::string preset = "tiny";
    int dim = 0, depth = 0, heads = 0, mlp_ratio = 4;
    int image_size = 0, patch = 0, channels = 1, classes = 0;
    bool volumetric = false;
    // Options for small data sets (VitConfig); false in bundles from before them.
    bool shifted_patches = false, locality_attention = false;
    // LayerNorm on each patch vector before the Linear (VitConfig::patchNorm);
    // true in bundles from before the option.
    bool patch_norm = true;
    // The head reads the mean of the patch tokens (VitConfig::meanPool);
    // false in bundles from before the option.
    bool mean_pool = false;
    // 2D patches embedded by a convolutional stem (VitConfig::convStem);
    // false in bundles from before the option.
    bool conv_stem = false;
};

// The frozen transformer block's shape (LLaMA family).
struct LlmBlockSpec {
    std::string model_type = "llama";
    int dim = 0, heads = 0, kv_heads = 0, ffn = 0;
    double eps = 1e-5;
    bool qkv_bias = false;
    std::string dtype;  // the checkpoint's storage type
};

// Where the frozen block came from, and the hash that ties the bundle's
// frozen weights to it.
struct LlmSource {
    std::string source;          // the checkpoint's file name, or why there is none
    std::string format;          // llama2.c | huggingface | none
    std::vector<int> layers;     // which of its layers, in order
    std::string initialisation;  // "pretrained" or "random (seed N)"
    std::string final_norm = "unit";
    LlmBlockSpec architecture;
    std::string sha256;  // of the frozen tensors (Bundle.cpp)
};

struct BoosterSpec {
    std::string mode;  // in | out | hybrid | none | mlp
    int llm_dim = 0;
    std::optional<LlmSource> llm;  // absent for the MLP control
};

// How stored 8-bit values become the network's input: (x * scale - mean) / std.
struct InputNormalisation {
    double scale = 1.0 / 255.0, mean = 0.5, std = 0.5;
};

struct DatasetRecord {
    std::string file;
    std::vector<int64_t> image_size;
    int channels = 1;
};

struct ScoresRecord {
    double acc = 0, auc = 0;
};

struct CurvePoint {
    int epoch = 0;
    double train_loss = 0, val_acc = 0, val_auc = 0, learning_rate = 0;
};

// How the weights were trained and what they scored.
struct TrainingRecord {
    std::string command;
    uint64_t seed = 0;
    int epochs = 0, batch_size = 0;
    double learning_rate = 0, weight_decay = 0, label_smoothing = 0;
    bool augment = false;
    std::string augmentation;  // off | light | strong; empty in bundles from before the choice
    double mixup_alpha = 0, cutmix_alpha = 0, ema_decay = 0;
    double drop_path = 0;          // stochastic depth: the last block's drop probability
    double elastic_voxels = 0;     // elastic deformation's largest displacement (0: off)
    double erase_probability = 0;  // random erasing's probability per case (0: off)
    double sam_rho = 0;            // sharpness-aware minimisation's radius (0: off)
    double drloc_weight = 0;       // dense relative localisation's loss weight (0: off)
    double mim_ratio = 0;          // masked image modelling's share of masked patches (0: off)
    std::string sam_scope;         // all | backbone; empty in bundles from before the choice
    std::string mim_target;        // pixels | normalised with --mim; empty without it
    std::string class_balance;
    bool llm_trainable = false;
    double llm_learning_rate = 0;
    int64_t train_cases = 0;
    std::string selected_on;
    int best_epoch = 0;
    ScoresRecord val, test;
    std::string device, initialised_from, resumed_from;
    // What computed the run, so that it can be repeated to the bit: the
    // LibTorch version, and on the CPU the library of its matrix products
    // (onednn | blas, MatrixProducts.h: the two sum in different orders).
    // Empty in bundles from before 2026-12-05; cpu_products empty on a GPU.
    std::string libtorch, cpu_products;
    // Knowledge distillation: the teachers' file names (empty: none), the
    // distillation loss's weight and temperature.
    std::vector<std::string> distilled_from;
    double distill_weight = 0, distill_temperature = 0;
    std::vector<CurvePoint> curves;
};

// The map `auto` gives on this model: the CAM recipe that ranked pixels most
// faithfully on real cases (rllm cam-choose; docs/explanations.md), and what
// it scored there. Absent: `auto` takes the rule measured on the phantoms.
struct ExplanationChoice {
    std::string method, layer;  // a method key other than auto; its layer as resolved
    int shifts = 1;
    std::string data, split;  // the archive's file name and the split measured
    int64_t cases = 0;
    // Both above zero, or the map would not have been chosen.
    double insertion_minus_deletion = 0, lerf_minus_morf = 0;
};

struct BundleDescription {
    std::string format = "rllm-bundle";
    int version = 1;
    VitSpec model;
    std::optional<BoosterSpec> booster;  // absent: the ViT baseline
    std::string task;                    // MedMNIST's task names (Metrics.h)
    std::vector<std::string> class_names;
    std::optional<DatasetRecord> dataset;
    InputNormalisation input;
    std::optional<TrainingRecord> training;
    std::optional<ExplanationChoice> explanation;

    bool boosted() const { return booster.has_value(); }
    bool hasLlm() const { return booster && booster->llm; }

    // Fields missing from `json` keep their defaults; check the JSON with
    // checkBundleDescription first where it comes from a file.
    static BundleDescription fromJson(const nlohmann::json& json);
    nlohmann::json toJson() const;
};

}  // namespace rllm
