// Training and evaluation on MedMNIST archives.

#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/MedMnist.h"
#include "models/Bundle.h"
#include "models/CamEvaluation.h"
#include "models/DataParallel.h"
#include "models/DeviceFallback.h"
#include "models/Distillation.h"
#include "models/Engine.h"
#include "models/MatrixProducts.h"
#include "models/MaskedModelling.h"
#include "models/ModelInput.h"
#include "models/MultiTensorAdamW.h"
#include "models/RelativeLocalisation.h"
#include "models/Safetensors.h"
#include "models/SharpnessAware.h"
#include "models/TrainingModel.h"
#include "models/TrainingRecipe.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

namespace rllm {

namespace {

using Clock = std::chrono::steady_clock;

struct SplitData {
    torch::Tensor images;   // uint8 (N, C, H, W) or (N, 1, D, H, W)
    torch::Tensor targets;  // int64 (N) or float (N, L) for multi-label
    std::vector<std::vector<int>> labels;
};

SplitData loadSplit(const MedMnistDataset& data, const std::string& split, TaskType task,
                    int64_t limit) {
    const auto size = data.imageSize();  // (W, H, D)
    int64_t n = data.count(split);
    if (limit > 0) n = std::min(n, limit);
    const std::vector<uint8_t>& raw = data.rawImages(split);
    const int64_t perCase = size[0] * size[1] * size[2] * data.channels();
    torch::Tensor all =
        torch::from_blob(const_cast<uint8_t*>(raw.data()), {n, perCase}, torch::kUInt8).clone();
    SplitData out;
    if (data.is3D())
        out.images = all.view({n, 1, size[2], size[1], size[0]});
    else if (data.channels() == 3)
        out.images = all.view({n, size[1], size[0], 3}).permute({0, 3, 1, 2}).contiguous();
    else
        out.images = all.view({n, 1, size[1], size[0]});
    for (int64_t i = 0; i < n; ++i) out.labels.push_back(data.labels(split, i));
    if (task == TaskType::MultiLabel) {
        const int64_t L = data.labelColumns();
        out.targets = torch::zeros({n, L});
        for (int64_t i = 0; i < n; ++i)
            for (int64_t c = 0; c < L; ++c) out.targets[i][c] = float(out.labels[i][c]);
    } else {
        out.targets = torch::empty({n}, torch::kInt64);
        for (int64_t i = 0; i < n; ++i) out.targets[i] = int64_t(out.labels[i][0]);
    }
    return out;
}

// The model's class probabilities for each case. With `averageFlips` they are
// the mean over the case and its mirror images along every subset of the
// spatial axes (4 in 2D, 8 in 3D): test-time augmentation by the flips the
// training augmentation draws.
std::vector<std::vector<float>> predictScores(Classifier& model, const torch::Tensor& images,
                                              const InputNormalisation& input, TaskType task,
                                              torch::Device device, bool averageFlips = false,
                                              int64_t batch = 128) {
    torch::NoGradGuard noGrad;
    model->eval();
    const auto probabilities = [task](const torch::Tensor& logits) {
        return task == TaskType::MultiLabel ? torch::sigmoid(logits) : torch::softmax(logits, 1);
    };
    std::vector<std::vector<float>> scores;
    for (int64_t start = 0; start < images.size(0); start += batch) {
        auto x = normaliseStoredBytes(
                     images.narrow(0, start, std::min(batch, images.size(0) - start)), input)
                     .to(device);
        auto p = probabilities(model->forward(x));
        if (averageFlips) {
            const int64_t spatial = x.dim() - 2;  // after the case and channel axes
            for (int64_t subset = 1; subset < (int64_t(1) << spatial); ++subset) {
                std::vector<int64_t> axes;
                for (int64_t a = 0; a < spatial; ++a)
                    if (subset & (int64_t(1) << a)) axes.push_back(2 + a);
                p = p + probabilities(model->forward(torch::flip(x, axes)));
            }
            p = p / double(int64_t(1) << spatial);
        }
        p = p.to(torch::kCPU).contiguous();
        for (int64_t i = 0; i < p.size(0); ++i)
            scores.emplace_back(p[i].data_ptr<float>(), p[i].data_ptr<float>() + p.size(1));
    }
    return scores;
}

// predictScores over the ranks of a data-parallel run: each takes its shard
// of the cases and every rank gets all scores, in case order.
std::vector<std::vector<float>> predictScoresOnRanks(Classifier& model, const torch::Tensor& images,
                                                     const InputNormalisation& input, TaskType task,
                                                     torch::Device device, int64_t columns,
                                                     DataParallelGroup* group) {
    if (!group) return predictScores(model, images, input, task, device);
    const int64_t n = images.size(0);
    const RankShard mine = shardOf(n, group->rank(), group->size());
    return group->gatherShards(
        predictScores(model, images.narrow(0, mine.start, mine.count), input, task, device), n,
        columns);
}

std::string clock(double seconds) {
    const int s = static_cast<int>(seconds + 0.5);
    std::ostringstream out;
    out << s / 60 << ":" << std::setw(2) << std::setfill('0') << s % 60;
    return out.str();
}

void writeCurves(const std::string& path, const std::vector<EpochRecord>& curves) {
    writeAtomically(path, [&](const std::string& temporary) {
        std::ofstream out(temporary);
        out << "epoch,train_loss,val_acc,val_auc,learning_rate,images_per_second,seconds,"
               "val_one_class\n";
        for (const EpochRecord& r : curves)
            out << r.epoch << "," << r.trainLoss << "," << r.valAcc << "," << r.valAuc << ","
                << r.learningRate << "," << r.imagesPerSecond << "," << r.seconds << ","
                << (r.valOneClass ? 1 : 0) << "\n";
        if (!out) throw FileError(path, "could not be written.");
    });
}

nlohmann::json metricsJson(const ScoreMetrics& m) {
    return {{"acc", m.acc}, {"auc", m.auc}};
}

// Modules that train beside the classifier without being part of it:
// --drloc's MLP and --mim's mask token and pixel head (each null when off).
// They take the ViT's learning rate and weight decay, are summed across
// workers, and are kept in the checkpoint under their name; the bundle
// holds the classifier alone.
struct AuxiliaryModules {
    RelativeLocaliser localiser{nullptr};
    PixelPredictor pixels{nullptr};

    // The ones that are on, by the name their checkpoint tensors start with.
    std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> named() const {
        std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> on;
        if (localiser) on.emplace_back("localiser", localiser.ptr());
        if (pixels) on.emplace_back("pixels", pixels.ptr());
        return on;
    }
};

// ---- Checkpoints: everything needed to continue a run exactly ----------------

constexpr const char* kCheckpointKey = "rllm_checkpoint";

struct TrainingState {
    int epoch = 0;  // epochs done
    int64_t step = 0;
    double bestAuc = -1;
    int bestEpoch = 0;
    ScoreMetrics bestVal;
    bool bestPredictsOneClass = false;  // the best epoch gave every validation case one class
    std::vector<EpochRecord> curves;
    std::map<std::string, torch::Tensor> best;      // the best-on-validation weights so far
    std::map<std::string, torch::Tensor> averages;  // --ema: the moving averages
};

// What must not change between a run and its continuation.
nlohmann::json checkpointOptions(const TrainOptions& o, const BundleDescription& description,
                                 int64_t trainCases) {
    const nlohmann::json json = description.toJson();
    nlohmann::json options = {
        {"data", std::filesystem::path(o.dataPath).filename().string()},
        {"model", json.at("model")},
        {"booster", json.contains("booster") ? json.at("booster") : nlohmann::json()},
        {"epochs", o.epochs},
        {"batch_size", o.batchSize},
        {"learning_rate", o.learningRate},
        {"weight_decay", o.weightDecay},
        {"label_smoothing", o.labelSmoothing},
        {"warmup_epochs", o.warmupEpochs},
        {"augment", o.augmentation},
        {"mixup", o.mixupAlpha},
        {"cutmix", o.cutmixAlpha},
        {"class_balance", o.classBalance},
        {"ema", o.emaDecay},
        {"drop_path", o.dropPath},
        {"elastic", o.elasticVoxels},
        {"erase", o.eraseProbability},
        {"sam", o.samRho},
        {"select", EpochSelection::parse(o.selection).text()},  // mean:05 is mean:5
        {"llm_trainable", o.llmTrainable},
        {"llm_learning_rate", o.llmLearningRate},
        {"seed", o.seed},
        {"train_cases", trainCases},
        {"task", o.task}};
    // Only when not the default, so checkpoints of earlier runs resume as before.
    if (o.samScope != "all") options["sam_scope"] = o.samScope;
    if (o.localisationWeight > 0) options["drloc"] = o.localisationWeight;
    if (o.maskedRatio > 0) options["mim"] = o.maskedRatio;
    if (o.maskedTarget != "pixels") options["mim_target"] = o.maskedTarget;
    // Only when on, so checkpoints of runs without it resume as before.
    if (!o.distillFrom.empty()) {
        nlohmann::json teachers = nlohmann::json::array();
        for (const std::string& path : o.distillFrom)
            teachers.push_back(std::filesystem::path(path).filename().string());
        options["distill"] = {{"teachers", teachers},
                              {"weight", o.distillWeight},
                              {"temperature", o.distillTemperature}};
    }
    return options;
}

void moveOptimizerState(const std::vector<torch::Tensor>& trainable, torch::optim::AdamW& optimizer,
                        const torch::Device& device) {
    for (const auto& p : trainable)
        if (auto* s = adamWState(optimizer, p)) {
            s->exp_avg(s->exp_avg().to(device));
            s->exp_avg_sq(s->exp_avg_sq().to(device));
        }
}

// The auxiliary modules' weights and moments are part of the run's state,
// though not of the bundle.
void writeCheckpoint(const std::string& path, const nlohmann::json& options,
                     const TrainingState& state, Classifier& model,
                     const AuxiliaryModules& auxiliary, torch::optim::AdamW& optimizer,
                     const WeightAverage& ema) {
    std::vector<NamedTensor> tensors;
    auto add = [&](const std::string& name, const torch::Tensor& t) {
        torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
        tensors.push_back(
            {name, c.sizes().vec(),
             std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel())});
    };
    // Frozen weights are not stored: the run rebuilds them (loaded or seeded)
    // and the options compare their SHA-256.
    nlohmann::json steps = nlohmann::json::object();
    for (const auto& p : model->named_parameters()) {
        if (!p.value().requires_grad()) continue;
        add("model." + p.key(), p.value());
        add("best." + p.key(), state.best.at(p.key()));
        if (auto* s = adamWState(optimizer, p.value())) {
            add("adamw." + p.key() + ".exp_avg", s->exp_avg());
            add("adamw." + p.key() + ".exp_avg_sq", s->exp_avg_sq());
            steps[p.key()] = s->step();
        }
    }
    for (const auto& [module, weights] : auxiliary.named())
        for (const auto& p : weights->named_parameters()) {
            const std::string name = module + "." + p.key();
            add(name, p.value());
            if (auto* s = adamWState(optimizer, p.value())) {
                add("adamw." + name + ".exp_avg", s->exp_avg());
                add("adamw." + name + ".exp_avg_sq", s->exp_avg_sq());
                steps[name] = s->step();
            }
        }
    for (const auto& [name, average] : ema.averages()) add("ema." + name, average);
    {
        auto generator = at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(generator.mutex());
        add("rng.cpu", generator.get_state());  // bytes 0..255, exact as float32
    }
    nlohmann::json curves = nlohmann::json::array();
    for (const EpochRecord& r : state.curves)
        curves.push_back({r.epoch, r.trainLoss, r.valAcc, r.valAuc, r.learningRate,
                          r.imagesPerSecond, r.seconds, r.valOneClass});
    const nlohmann::json meta = {{"format", "rllm-train-checkpoint"},
                                 {"options", options},
                                 {"epoch", state.epoch},
                                 {"step", state.step},
                                 {"best_auc", state.bestAuc},
                                 {"best_epoch", state.bestEpoch},
                                 {"best_val", metricsJson(state.bestVal)},
                                 {"best_one_class", state.bestPredictsOneClass},
                                 {"adamw_steps", steps},
                                 {"curves", curves}};
    writeSafetensors(path, tensors, {{kCheckpointKey, meta.dump()}});
}

TrainingState readCheckpoint(const std::string& path, const nlohmann::json& options,
                             Classifier& model, const AuxiliaryModules& auxiliary,
                             torch::optim::AdamW& optimizer) {
    SafetensorsFile file(path);
    auto found = file.metadata().find(kCheckpointKey);
    if (found == file.metadata().end())
        throw FileError(path, "is not a training checkpoint (BUNDLE.checkpoint.safetensors).");
    nlohmann::json meta;
    try {
        meta = nlohmann::json::parse(found->second);
    } catch (const std::exception&) {
        throw FileError(path, "has a damaged checkpoint description.");
    }
    nlohmann::json saved = meta["options"];
    // A checkpoint written before an option existed ran without it.
    if (saved.is_object()) {
        for (const char* key : {"drop_path", "elastic", "erase", "sam"})
            if (!saved.contains(key)) saved[key] = 0.0;
        if (!saved.contains("select")) saved["select"] = "best";
        if (saved.contains("model") && saved["model"].is_object()) {
            for (const char* key :
                 {"shifted_patches", "locality_attention", "mean_pool", "conv_stem"})
                if (!saved["model"].contains(key)) saved["model"][key] = false;
            if (!saved["model"].contains("patch_norm")) saved["model"]["patch_norm"] = true;
        }
    }
    std::string differing;
    for (const auto& item : options.items())
        if (!saved.contains(item.key()) || saved[item.key()] != item.value())
            differing += (differing.empty() ? "" : ", ") + item.key();
    // A setting the run had and the resumed command lacks (--distill, which
    // is written only when on) differs too.
    for (const auto& item : saved.items())
        if (!options.contains(item.key()))
            differing += (differing.empty() ? "" : ", ") + item.key();
    if (!differing.empty())
        throw FileError(path, "was written by a run with other settings (" + differing +
                                  "); resume with the command that started it.");
    auto load = [&](const std::string& name, const torch::Tensor& like) {
        if (!file.contains(name)) throw FileError(path, "lacks the tensor " + name + ".");
        if (file.info(name).shape != like.sizes().vec())
            throw FileError(path, "has the tensor " + name + " in another shape.");
        std::vector<float> values = file.readFloat(name);
        return torch::from_blob(values.data(), like.sizes(), torch::kFloat32).clone();
    };
    TrainingState state;
    state.epoch = meta.value("epoch", 0);
    state.step = meta.value("step", int64_t(0));
    state.bestAuc = meta.value("best_auc", -1.0);
    state.bestEpoch = meta.value("best_epoch", 0);
    state.bestVal = {meta["best_val"].value("acc", 0.0), meta["best_val"].value("auc", 0.0)};
    state.bestPredictsOneClass = meta.value("best_one_class", false);
    for (const auto& r : meta["curves"])  // checkpoints from before the flag have 7 fields
        state.curves.push_back({r[0].get<int>(), r[1].get<double>(), r[2].get<double>(),
                                r[3].get<double>(), r[4].get<double>(), r[5].get<double>(),
                                r[6].get<double>(), r.size() > 7 && r[7].get<bool>()});
    torch::NoGradGuard noGrad;
    const nlohmann::json& steps = meta["adamw_steps"];
    for (auto& p : model->named_parameters()) {
        if (!p.value().requires_grad()) {
            state.best[p.key()] = p.value().detach().clone();
            continue;
        }
        p.value().copy_(load("model." + p.key(), p.value()));
        state.best[p.key()] = load("best." + p.key(), p.value());
        if (options.value("ema", 0.0) > 0)
            state.averages[p.key()] = load("ema." + p.key(), p.value());
        if (steps.contains(p.key())) {
            setAdamWState(optimizer, p.value(), steps[p.key()].get<int64_t>(),
                          load("adamw." + p.key() + ".exp_avg", p.value()),
                          load("adamw." + p.key() + ".exp_avg_sq", p.value()));
        }
    }
    for (const auto& [module, weights] : auxiliary.named())
        for (auto& p : weights->named_parameters()) {
            const std::string name = module + "." + p.key();
            p.value().copy_(load(name, p.value()));
            if (steps.contains(name))
                setAdamWState(optimizer, p.value(), steps[name].get<int64_t>(),
                              load("adamw." + name + ".exp_avg", p.value()),
                              load("adamw." + name + ".exp_avg_sq", p.value()));
        }
    if (!file.contains("rng.cpu")) throw FileError(path, "lacks the random state.");
    std::vector<float> bytes = file.readFloat("rng.cpu");
    torch::Tensor rng = torch::empty({int64_t(bytes.size())}, torch::kUInt8);
    std::transform(bytes.begin(), bytes.end(), rng.data_ptr<uint8_t>(),
                   [](float b) { return static_cast<uint8_t>(b); });
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(rng);
    return state;
}

// train --choose-cam: the bundle just written is the run's own output, so
// the choice is recorded in it (written again, atomically) rather than in a
// copy as `rllm cam-choose` does with a bundle it is given.
void chooseCamForTrainedBundle(Classifier& model, const BundleDescription& description,
                               const TrainOptions& o, TrainSummary& summary, std::ostream& out) {
    out << "Choosing the CAM recipe `auto` gives on this model (first " << o.chooseCamCases
        << " validation cases)...\n";
    LoadedBundle bundle{model, description};
    CamChoiceOptions choice;
    choice.maxCases = o.chooseCamCases;
    choice.device = o.device;
    try {
        summary.camChoice = std::make_shared<const CamChoiceSummary>(
            chooseCamRecipe(bundle, CamEvalCases(o.dataPath, "val"), choice));
    } catch (const std::exception& error) {
        throw Error(o.outPath + " is written, but choosing its CAM recipe failed: " + error.what() +
                    " (rllm cam-choose can try again)");
    }
    if (summary.camChoice->chosen < 0) return;  // no faithful map: `auto` keeps the rule
    placeModel(*model, torch::kCPU, DeviceOptions{});
    saveBundle(model, bundle.description, o.outPath);
}

// The options checked before any data is read (the draws check theirs
// again, per step).
void checkTrainOptions(const TrainOptions& o) {
    if (o.dataPath.empty() || o.outPath.empty()) throw Error("training needs --data and --out");
    if (o.epochs <= 0 || o.batchSize <= 0) throw Error("--epochs and --batch must be positive");
    if (!(o.dropPath >= 0 && o.dropPath < 1)) throw Error("--drop-path must be in [0, 1)");
    if (!(o.elasticVoxels >= 0)) throw Error("--elastic must be a displacement >= 0 (voxels)");
    if (!(o.eraseProbability >= 0 && o.eraseProbability <= 1))
        throw Error("--erase must be a probability in [0, 1]");
    if (!(o.samRho >= 0)) throw Error("--sam must be a radius >= 0 (0: off)");
    if (!(o.localisationWeight >= 0)) throw Error("--drloc must be a weight >= 0 (0: off)");
    if (!(o.maskedRatio >= 0 && o.maskedRatio < 1))
        throw Error("--mim must be the share of patches masked, in (0, 1) (0: off)");
    if (o.maskedRatio > 0 && EpochSelection::parse(o.selection).rule != EpochSelection::Rule::Last)
        throw Error(
            "--mim trains without labels, so no validation AUC can choose its epoch: "
            "add --select last");
    if (o.maskedTarget != "pixels" && o.maskedTarget != "normalised")
        throw Error("--mim-target must be pixels or normalised, not '" + o.maskedTarget + "'");
    if (o.maskedTarget != "pixels" && !(o.maskedRatio > 0)) throw Error("--mim-target needs --mim");
    if (o.maskedRatio > 0 && !o.distillFrom.empty())
        throw Error(
            "--mim trains without labels and --distill teaches the classifier: "
            "give one of them");
    checkSamScope(o.samScope);
    if (!(o.learningRate >= 0) || !(o.llmLearningRate >= 0))
        throw Error("--lr and --llm-lr must be >= 0");
    if (!o.distillFrom.empty() && !(o.distillWeight >= 0 && o.distillWeight <= 1))
        throw Error("--distill-weight must be in [0, 1]");
    if (!o.distillFrom.empty() && !(o.distillTemperature > 0))
        throw Error("--distill-temperature must be > 0");
    if (o.mixupAlpha < 0 || o.cutmixAlpha < 0) throw Error("--mixup and --cutmix must be >= 0");
}

// A data-parallel worker's device: workers on one machine share its cores,
// and each takes its own GPU.
DeviceOptions workerDeviceOptions(DeviceOptions options, const DistributedOptions& dist) {
    if (dist.worldSize <= 1) return options;
    if (options.threads == 0)
        options.threads = std::max(
            1, static_cast<int>(std::thread::hardware_concurrency()) / dist.localWorldSize);
    if (options.device == "cuda" || (options.device == "auto" && cudaDeviceCount() > 0))
        options.device = "cuda:" + std::to_string(dist.localRank);
    return options;
}

// The trainable weights in a fixed order (the all-reduce's), and AdamW over
// them in two groups with their own learning rates: the ViT and adapters,
// and the LLM block when it is fine-tuned (RQ3).
struct Optimisation {
    std::vector<torch::Tensor> trainable;
    std::vector<std::pair<std::string, torch::Tensor>> namedTrainable;
    // The ones SAM's ascent moves (--sam-scope), with their names for its trace.
    std::vector<std::pair<std::string, torch::Tensor>> namedAscent;
    std::vector<torch::Tensor> ascent;
    std::vector<double> baseRates;  // one per group
    std::unique_ptr<torch::optim::AdamW> optimizer;
};

// The auxiliary modules join the ViT's group after the model's weights.
// They are trained and reduced across workers with them, but are left out
// of `namedTrainable`: they are not averaged, kept or saved.
Optimisation optimisationFor(Classifier& model, const AuxiliaryModules& auxiliary,
                             const TrainOptions& o) {
    Optimisation result;
    std::vector<torch::Tensor> backbone, llmBlock;
    for (auto& p : model->named_parameters()) {
        if (!p.value().requires_grad()) continue;
        result.trainable.push_back(p.value());
        result.namedTrainable.emplace_back(p.key(), p.value());
        (p.key().rfind("booster.llm.", 0) == 0 ? llmBlock : backbone).push_back(p.value());
    }
    for (const auto& named : auxiliary.named())
        for (auto& p : named.second->parameters()) {
            result.trainable.push_back(p);
            backbone.push_back(p);
        }
    const auto adamW = [&o](double rate) {
        return std::make_unique<torch::optim::AdamWOptions>(
            torch::optim::AdamWOptions(rate).weight_decay(o.weightDecay));
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    result.baseRates = {o.learningRate};
    groups.emplace_back(backbone, adamW(o.learningRate));
    if (!llmBlock.empty()) {
        result.baseRates.push_back(o.llmLearningRate);
        groups.emplace_back(llmBlock, adamW(o.llmLearningRate));
    }
    result.optimizer = std::make_unique<torch::optim::AdamW>(
        std::move(groups), torch::optim::AdamWOptions(o.learningRate).weight_decay(o.weightDecay));
    result.namedAscent = ascentWeights(*model, o.samScope);
    for (const auto& p : result.namedAscent) result.ascent.push_back(p.second);
    return result;
}

// The factor of every group's base rate at `step` (--lr 0 included): a
// linear warm-up, then cosine decay to zero.
double scheduleFactor(int64_t step, int64_t warmupSteps, int64_t totalSteps) {
    if (step < warmupSteps) return double(step + 1) / warmupSteps;
    return 0.5 * (1 + std::cos(M_PI * double(step - warmupSteps) /
                               std::max<int64_t>(1, totalSteps - warmupSteps)));
}

void setLearningRates(torch::optim::AdamW& optimizer, const std::vector<double>& baseRates,
                      double factor) {
    for (size_t g = 0; g < optimizer.param_groups().size(); ++g)
        static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[g].options())
            .lr(baseRates[g] * factor);
}

// Not an error (the average still works), but an --ema the run never reaches
// does not decide anything: say so rather than let two settings look like
// two experiments.
void noteUnreachedEma(double decay, int64_t totalSteps, std::ostream& out) {
    if (decay <= 0 || firstStepAtFullDecay(decay) <= totalSteps - 1) return;
    std::ostringstream note;
    note << "Note: --ema " << decay << " is never reached in this run's " << totalSteps
         << " steps: the average's decay, min(D, (1 + t) / (10 + t)) at step t, stays under"
         << " it until step " << firstStepAtFullDecay(decay) << ". Any --ema at or above"
         << " the last step's decay, " << std::setprecision(8)
         << averageDecayAt(decay, totalSteps - 1) << ", gives this same run.\n";
    out << note.str();
}

// What one optimiser step needs besides the batch.
struct StepContext {
    const TrainOptions& o;
    Classifier& model;
    const SplitData& train;
    const InputNormalisation& input;
    torch::Device device;
    bool volumetric;
    int depth;  // the ViT's blocks, for the drop-path draw
    TaskType task;
    Augmentation augmentation;
    std::vector<int64_t> spatialSize;
    torch::Tensor classWeights;  // undefined unless --class-balance loss
    const TeacherEnsemble& teachers;
    AuxiliaryModules auxiliary;
    DataParallelGroup* group;
};

// What one worker's share of a step gave: its summed loss and its cases.
struct ShareLoss {
    double sum = 0;
    int64_t cases = 0;
};

// A step's random draws, made for the whole global batch on every worker, so
// that the step is the same at any number of them; made once per step, so
// that SAM's second pass sees the same images as its first.
struct StepDraws {
    AugmentDraw augmentation;
    MixDraw mix;
    torch::Tensor branchScales;  // drop path; undefined when off
    torch::Tensor elastic;       // undefined when off
    EraseDraw erase;
    LocalisationPairs localisation;  // empty unless --drloc
    torch::Tensor maskedPatches;     // undefined unless --mim
};

StepDraws drawStep(const StepContext& c, int64_t batch) {
    const TrainOptions& o = c.o;
    // In this order: it is the order of the generator's draws.
    StepDraws d;
    d.augmentation = drawAugmentation(batch, c.volumetric, c.augmentation);
    d.mix = drawMix(batch, c.spatialSize, o.mixupAlpha, o.cutmixAlpha);
    d.branchScales = drawDropPath(batch, c.depth, o.dropPath);
    d.elastic = drawElastic(batch, c.volumetric, o.elasticVoxels);
    d.erase = drawErase(batch, c.volumetric, o.eraseProbability);
    if (c.auxiliary.localiser)
        d.localisation = drawLocalisationPairs(batch, c.model->vit->config.patchCount(),
                                               kLocalisationPairsPerCase);
    if (c.auxiliary.pixels)
        d.maskedPatches =
            drawMaskedPatches(batch, c.model->vit->config.patchCount(), o.maskedRatio);
    return d;
}

// What --mim's pixel head learns to predict for each patch of `images`:
// its pixels (never the shifted copies), or those normalised per patch.
torch::Tensor reconstructionTarget(const torch::Tensor& images, const VitConfig& config,
                                   const TrainOptions& o) {
    const torch::Tensor pixels = patchVectors(images, config.patch, config.volumetric, false);
    return o.maskedTarget == "normalised" ? normalisedPatchPixels(pixels) : pixels;
}

// The forward and backward pass of this worker's share of one global batch
// (the cases `batchOrder` lists), with the step's draws.
ShareLoss forwardAndBackward(const StepContext& c, const torch::Tensor& batchOrder,
                             const StepDraws& d, int epoch) {
    const TrainOptions& o = c.o;
    const int64_t batch = batchOrder.size(0);
    const MixDraw& mix = d.mix;
    const RankShard mine =
        c.group ? shardOf(batch, c.group->rank(), c.group->size()) : RankShard{0, batch};
    if (mine.count == 0) return {};
    try {
        auto casesAt = [&](const torch::Tensor& positions) {
            auto index = batchOrder.index_select(0, positions);
            auto images =
                normaliseStoredBytes(c.train.images.index_select(0, index), c.input).to(c.device);
            images =
                augment(images, c.volumetric, c.augmentation, d.augmentation.select(positions));
            if (d.elastic.defined())
                images =
                    deformElastic(images, d.elastic.index_select(0, positions), o.elasticVoxels);
            images = eraseBoxes(images, d.erase.select(positions), o.eraseProbability);
            return std::make_pair(images, c.train.targets.index_select(0, index).to(c.device));
        };
        const auto positions = torch::arange(mine.start, mine.start + mine.count, torch::kInt64);
        auto [x, y] = casesAt(positions);
        torch::Tensor partnerY;
        if (mix.kind != MixDraw::Kind::None) {
            // Partners come from the whole global batch, so the mix is the
            // same at any number of workers.
            auto [partnerX, py] = casesAt(mix.partner.index_select(0, positions));
            x = mixImages(x, partnerX, mix);
            partnerY = py;
        }
        // This share's part of the global batch's mean loss: summed over the
        // workers, the gradients are those of the whole batch.
        const AuxiliaryModules& auxiliary = c.auxiliary;
        torch::Tensor patchTokens;
        TrainingPass pass;
        if (d.branchScales.defined()) pass.branchScales = d.branchScales.index_select(0, positions);
        torch::Tensor masked;
        if (auxiliary.pixels) {
            masked = d.maskedPatches.index_select(0, positions);
            pass.maskedPatches = masked;
            pass.maskToken = auxiliary.pixels->maskToken;
        }
        if (auxiliary.localiser || auxiliary.pixels) pass.patchTokens = &patchTokens;
        const auto logits = c.model->forwardTraining(x, pass);
        const VitConfig& config = c.model->vit->config;
        // --mim pretrains without labels: the loss is the masked patches'
        // reconstruction alone (the head stays frozen, trainClassifier).
        auto loss = auxiliary.pixels
                        ? maskedReconstructionLoss(auxiliary.pixels->forward(patchTokens),
                                                   reconstructionTarget(x, config, o), masked)
                        : classificationLoss(c.task, logits, y, o.labelSmoothing, c.classWeights,
                                             partnerY, mix.lambda);
        // The teachers see the same augmented, mixed images.
        if (!c.teachers.empty())
            loss = (1 - o.distillWeight) * loss +
                   o.distillWeight *
                       distillationLoss(logits, c.teachers.probabilities(x, o.distillTemperature),
                                        o.distillTemperature);
        // Positions on the patch grid do not depend on the image, so a mixed
        // image's pairs keep their offsets.
        if (auxiliary.localiser) {
            const LocalisationPairs pairs = d.localisation.select(positions);
            loss = loss + o.localisationWeight *
                              relativeLocalisationLoss(
                                  auxiliary.localiser->forward(patchTokens, pairs),
                                  gridOffsets(pairs, config.gridSide(), c.volumetric ? 3 : 2));
        }
        loss = loss * (double(mine.count) / double(batch));
        loss.backward();
        return {loss.item<double>() * batch, mine.count};
    } catch (const c10::Error& e) {
        if (!c.device.is_cuda() || !isCudaOutOfMemory(e)) throw;
        throw Error("CUDA ran out of memory on " + c.device.str() + " with " +
                    std::to_string(mine.count) +
                    " images per step: spread the batch over more workers (each takes a share), "
                    "start again with a smaller --batch, or use --device cpu." +
                    (epoch > 1 ? " Epoch " + std::to_string(epoch - 1) +
                                     "'s checkpoint stays: --resume continues it at any number "
                                     "of workers."
                               : ""));
    }
}

// Whether the epoch just validated, the last of `curves`, replaces the one
// kept so far (`keptEpoch`, 0 for none): chosen on validation, never on test
// (replacesBestEpoch, Metrics.h), each judged on its window (one epoch unless
// --select mean:K; `judged` is the new epoch's). --select last keeps every
// epoch in turn; so does mean:K until the K-th, the first it may keep.
bool replacesKeptEpoch(const EpochSelection& selection, const std::vector<EpochRecord>& curves,
                       int keptEpoch, int epochs, EpochValidation& judged) {
    std::vector<EpochValidation> history;
    for (const EpochRecord& c : curves) history.push_back({{c.valAcc, c.valAuc}, c.valOneClass});
    const int epoch = curves.back().epoch;
    judged = judgedValidation(history, epoch, selection.window);
    if (selection.rule == EpochSelection::Rule::Last) return true;
    const bool heldInPlace = keptEpoch == 0 || !selection.canKeep(keptEpoch, epochs);
    return heldInPlace ||
           (selection.canKeep(epoch, epochs) &&
            replacesBestEpoch(judged, judgedValidation(history, keptEpoch, selection.window)));
}

// The mark after an epoch's line when it is the one kept so far.
std::string keptMark(const EpochSelection& selection, int epoch, int keptEpoch, int epochs,
                     const EpochValidation& judged) {
    if (epoch != keptEpoch || selection.rule == EpochSelection::Rule::Last ||
        !selection.canKeep(epoch, epochs))
        return "";
    std::ostringstream mark;
    mark << "  *best";
    if (selection.rule == EpochSelection::Rule::Mean)
        mark << " (mean AUC of " << selection.window << " epochs " << std::fixed
             << std::setprecision(3) << judged.metrics.auc << ")";
    return mark.str();
}

void printProgressBar(std::ostream& out, int epoch, int epochs, int64_t step, int64_t firstStep,
                      int64_t totalSteps, Clock::time_point started, double meanLoss) {
    const double done = double(step + 1) / totalSteps;
    const double doneHere =
        double(step + 1 - firstStep) / std::max<int64_t>(1, totalSteps - firstStep);
    const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    const int filled = static_cast<int>(done * 24);
    out << "\rEpoch " << epoch << "/" << epochs << " [" << std::string(filled, '=')
        << std::string(24 - filled, ' ') << "] " << std::setw(3) << int(done * 100) << "%  loss "
        << std::fixed << std::setprecision(4) << meanLoss << "  ETA "
        << clock(elapsed / doneHere - elapsed) << "   " << std::flush;
}

void printEpochLine(std::ostream& out, bool overProgressBar, const EpochRecord& r, int epochs,
                    double secondsLeft, const std::string& mark) {
    out << (overProgressBar ? "\r" : "") << "Epoch " << r.epoch << "/" << epochs << "  loss "
        << std::fixed << std::setprecision(4) << r.trainLoss << "  val ACC " << std::setprecision(3)
        << r.valAcc << " AUC " << r.valAuc << "  " << std::setprecision(0) << r.imagesPerSecond
        << " img/s  ETA " << clock(secondsLeft) << (r.valOneClass ? "  one class for all" : "")
        << mark << "          \n"
        << std::flush;
}

// RLLM_SAM_TRACE: at each epoch's first step, where SAM's ascent goes (the
// tensor with the largest share of ||g||^2, and how far its largest entry
// moves against the tensor's own size): docs/training.md says what it found.
void printAscentConcentration(std::ostream& out, int epoch,
                              const std::vector<std::pair<std::string, torch::Tensor>>& named,
                              const AscentConcentration& c) {
    if (c.share == 0) return;
    out << "\rSAM ascent, epoch " << epoch << ": " << named[c.index].first << " takes "
        << std::fixed << std::setprecision(1) << 100 * c.share
        << " % of ||g||^2; its entries move up to " << std::setprecision(4) << c.largestMove
        << " (its rms " << c.rms << ")\n"
        << std::flush;
}

// What the bundle records of how it was trained.
TrainingRecord trainingRecordOf(const TrainOptions& o, const EpochSelection& selection,
                                Augmentation augmentation, ClassBalance balance, int64_t trainCases,
                                const TrainSummary& summary, const torch::Device& device) {
    TrainingRecord record;
    record.command = o.commandLine;
    record.seed = o.seed;
    record.epochs = o.epochs;
    record.batch_size = o.batchSize;
    record.learning_rate = o.learningRate;
    record.weight_decay = o.weightDecay;
    record.label_smoothing = o.labelSmoothing;
    record.augment = augmentation != Augmentation::Off;
    record.augmentation = augmentationName(augmentation);
    record.mixup_alpha = o.mixupAlpha;
    record.cutmix_alpha = o.cutmixAlpha;
    record.class_balance = classBalanceName(balance);
    record.ema_decay = o.emaDecay;
    record.drop_path = o.dropPath;
    record.elastic_voxels = o.elasticVoxels;
    record.erase_probability = o.eraseProbability;
    record.sam_rho = o.samRho;
    record.sam_scope = o.samScope;
    record.drloc_weight = o.localisationWeight;
    record.mim_ratio = o.maskedRatio;
    record.mim_target = o.maskedRatio > 0 ? o.maskedTarget : "";
    record.llm_trainable = o.llmTrainable;
    record.llm_learning_rate = o.llmTrainable ? o.llmLearningRate : 0.0;
    record.train_cases = trainCases;
    const std::string weights = o.emaDecay > 0 ? " of the weights' moving average" : "";
    if (selection.rule == EpochSelection::Rule::Last)
        record.selected_on =
            "the last epoch" + (o.emaDecay > 0 ? " (the weights' moving average)" : std::string());
    else if (selection.rule == EpochSelection::Rule::Mean)
        record.selected_on = "validation AUC" + weights + " averaged over the epoch and the " +
                             std::to_string(selection.window - 1) +
                             " before it (ties: validation ACC averaged likewise)";
    else
        record.selected_on = "validation AUC" + weights + " (ties: validation ACC)";
    record.best_epoch = summary.bestEpoch;
    record.val = {summary.bestVal.acc, summary.bestVal.auc};
    record.test = {summary.test.acc, summary.test.auc};
    record.device = summary.device;
    record.libtorch = TORCH_VERSION;
    if (device.is_cpu()) record.cpu_products = cpuGemmName(cpuGemm());
    record.initialised_from = o.initFrom;
    record.resumed_from = o.resumeFrom;
    for (const std::string& path : o.distillFrom)
        record.distilled_from.push_back(std::filesystem::path(path).filename().string());
    if (!o.distillFrom.empty()) {
        record.distill_weight = o.distillWeight;
        record.distill_temperature = o.distillTemperature;
    }
    for (const EpochRecord& r : summary.curves)
        record.curves.push_back({r.epoch, r.trainLoss, r.valAcc, r.valAuc, r.learningRate});
    return record;
}

}  // namespace

TrainSummary trainClassifier(const TrainOptions& o, std::ostream& progress) {
    // Training needs autograd whatever mode the caller runs in.
    torch::AutoGradMode gradients(true);
    checkTrainOptions(o);
    const EpochSelection selection = EpochSelection::parse(o.selection);
    const DistributedOptions& dist = o.distributed;
    DeviceOptions deviceOptions = workerDeviceOptions(o.device, dist);
    const torch::Device device = torchDevice(deviceOptions);
    if (dist.worldSize > 1 && dist.backend == "nccl" && !device.is_cuda())
        throw Error("--dist-backend nccl reduces CUDA tensors, and this run trains on " +
                    device.str() + "; use --device cuda, or --dist-backend gloo on the CPU");
    const std::shared_ptr<DataParallelGroup> group = joinDataParallelGroup(dist);
    const bool leader = isLeader(group.get());
    // Only rank 0 reports progress; the others stay quiet unless they fail.
    std::ostream quiet(nullptr);
    std::ostream& out = leader ? progress : quiet;
    torch::manual_seed(o.seed);

    MedMnistDataset data(o.dataPath);
    TrainingModel built = buildTrainingModel(o, data, deviceOptions);
    Classifier& model = built.model;
    const VitConfig& config = built.config;
    const TaskType task = built.task;
    BundleDescription& description = built.description;
    // MedMNIST's usual transform, [0, 255] -> [-1, 1]; the default of InputNormalisation.
    const InputNormalisation& input = description.input;
    // Loaded before the splits are read: a bundle that cannot teach stops the run at once.
    const TeacherEnsemble teachers =
        o.distillFrom.empty()
            ? TeacherEnsemble()
            : TeacherEnsemble(o.distillFrom, description, task, device, deviceOptions);

    SplitData train = loadSplit(data, "train", task, o.maxTrainCases);
    SplitData val = loadSplit(data, "val", task, 0);
    SplitData test = loadSplit(data, "test", task, 0);

    // The auxiliary modules, each from its own seed (so that no other draw moves).
    AuxiliaryModules auxiliary;
    if (o.localisationWeight > 0) {
        auxiliary.localiser = RelativeLocaliser(config.dim, config.volumetric ? 3 : 2);
        initialiseLocaliser(*auxiliary.localiser, o.seed ^ 0x6c6f63616c697365ULL);
    }
    if (o.maskedRatio > 0) {
        // The head predicts the patch's own pixels, never the shifted copies
        // that --shifted-patches adds to the tokeniser's input.
        VitConfig unshifted = config;
        unshifted.shiftedPatches = false;
        auxiliary.pixels = PixelPredictor(config.dim, unshifted.patchVectorLength());
        initialisePixelPredictor(*auxiliary.pixels, o.seed ^ 0x6d61736b65646d69ULL);
        // Nothing teaches the classifier head without labels: it stays at its
        // initialisation rather than decaying towards zero.
        for (auto& p : model->vit->head->parameters()) p.set_requires_grad(false);
    }
    Optimisation optimisation = optimisationFor(model, auxiliary, o);
    torch::optim::AdamW& optimizer = *optimisation.optimizer;
    const Augmentation augmentation = parseAugmentation(o.augmentation);
    const ClassBalance balance = parseClassBalance(o.classBalance);
    if (balance != ClassBalance::None && task == TaskType::MultiLabel)
        throw Error("--class-balance weighs single-label classes; " + o.dataPath +
                    " is multi-label: leave it out");
    const nlohmann::json runOptions = checkpointOptions(o, description, train.images.size(0));

    const int64_t n = train.images.size(0);
    const int64_t stepsPerEpoch = (n + o.batchSize - 1) / o.batchSize;
    const int64_t totalSteps = stepsPerEpoch * o.epochs;
    const int warmupEpochs = o.warmupEpochs >= 0 ? o.warmupEpochs : std::max(1, o.epochs / 10);
    const int64_t warmupSteps = std::min<int64_t>(totalSteps, warmupEpochs * stepsPerEpoch);
    noteUnreachedEma(o.emaDecay, totalSteps, out);

    TrainSummary summary;
    summary.device = device.str();
    summary.bundlePath = leader ? o.outPath : "";
    summary.rank = dist.rank;
    summary.workers = dist.worldSize;
    const int64_t columns = config.classes;
    TrainingState state;
    if (!o.resumeFrom.empty())
        state = readCheckpoint(o.resumeFrom, runOptions, model, auxiliary, optimizer);
    placeModel(*model, device, deviceOptions);
    for (const auto& named : auxiliary.named()) named.second->to(device);
    moveOptimizerState(optimisation.trainable, optimizer, device);
    // Every rank built the same weights from the same seed and files; rank
    // 0's are made everyone's all the same, as PyTorch's DDP does.
    if (group) group->broadcastFromLeader(optimisation.trainable);
    // After the broadcast, so the averages start from rank 0's weights.
    WeightAverage ema(optimisation.namedTrainable, o.emaDecay);
    for (const auto& [name, average] : state.averages) ema.setAverage(name, average);
    // The images' spatial axes, after the case and channel axes.
    const std::vector<int64_t> spatialSize(train.images.sizes().begin() + 2,
                                           train.images.sizes().end());
    const StepContext stepContext{o,
                                  model,
                                  train,
                                  input,
                                  device,
                                  config.volumetric,
                                  config.depth,
                                  task,
                                  augmentation,
                                  spatialSize,
                                  balance == ClassBalance::Loss
                                      ? balancedClassWeights(train.targets, config.classes)
                                      : torch::Tensor(),
                                  teachers,
                                  auxiliary,
                                  group.get()};
    summary.curves = state.curves;
    summary.bestEpoch = state.bestEpoch;
    summary.bestVal = state.bestVal;
    // A resumed run's estimates count only what this process has done:
    // its clock started at the resume, not at epoch 1.
    const auto started = Clock::now();
    const int firstEpoch = state.epoch;
    const int64_t firstStep = state.step;
    int64_t stepIndex = state.step;
    const std::string checkpointPath = o.outPath + ".checkpoint.safetensors";
    const bool traceSam = std::getenv("RLLM_SAM_TRACE") != nullptr;
    for (int epoch = state.epoch + 1; epoch <= o.epochs; ++epoch) {
        const auto epochStart = Clock::now();
        model->train();
        auto order = balance == ClassBalance::Sampler
                         ? balancedEpochOrder(train.targets, config.classes)
                         : torch::randperm(n, torch::kInt64);
        double lossSum = 0;
        double lr = o.learningRate;
        for (int64_t s = 0; s < stepsPerEpoch; ++s, ++stepIndex) {
            if (o.cancel && o.cancel->load()) throw Cancelled();
            const double factor = scheduleFactor(stepIndex, warmupSteps, totalSteps);
            lr = o.learningRate * factor;
            setLearningRates(optimizer, optimisation.baseRates, factor);
            // The global batch; with several workers each takes a contiguous share.
            const int64_t batch = std::min<int64_t>(o.batchSize, n - s * o.batchSize);
            const torch::Tensor batchOrder = order.narrow(0, s * o.batchSize, batch);
            const StepDraws draws = drawStep(stepContext, batch);
            optimizer.zero_grad();
            const ShareLoss share = forwardAndBackward(stepContext, batchOrder, draws, epoch);
            if (group) group->sumGradients(optimisation.trainable);
            if (o.samRho > 0) {
                if (traceSam && s == 0)
                    printAscentConcentration(out, epoch, optimisation.namedAscent,
                                             ascentConcentration(optimisation.ascent, o.samRho));
                // The whole batch's gradient decides the ascent (summed over
                // the workers first), so every worker moves the same way.
                SharpnessAscent ascent(optimisation.ascent, o.samRho);
                optimizer.zero_grad();
                forwardAndBackward(stepContext, batchOrder, draws, epoch);
                if (group) group->sumGradients(optimisation.trainable);
                ascent.restore();
            }
            stepAdamW(optimizer);
            ema.update(stepIndex);
            lossSum += share.sum;
            if (o.progressBar)
                printProgressBar(out, epoch, o.epochs, stepIndex, firstStep, totalSteps, started,
                                 share.sum / double(std::max<int64_t>(1, share.cases)));
        }
        if (group) lossSum = group->sum(lossSum);
        const double seconds = std::chrono::duration<double>(Clock::now() - epochStart).count();
        ema.swapIn();  // validated, and kept if best, with the averaged weights
        const std::vector<std::vector<float>> valScores =
            predictScoresOnRanks(model, val.images, input, task, device, columns, group.get());
        ScoreMetrics v = evaluateScores(task, valScores, val.labels);
        const bool oneClass = predictsOneClass(task, valScores, val.labels);
        summary.curves.push_back(
            EpochRecord{epoch, lossSum / n, v.acc, v.auc, lr, n / seconds, seconds, oneClass});
        EpochValidation judged;
        if (replacesKeptEpoch(selection, summary.curves, summary.bestEpoch, o.epochs, judged)) {
            state.bestPredictsOneClass = oneClass;
            state.bestAuc = v.auc;
            summary.bestEpoch = epoch;
            summary.bestVal = v;
            state.best.clear();
            for (const auto& p : model->named_parameters())
                state.best[p.key()] = p.value().detach().clone();
        }
        ema.swapIn();  // the live weights back, to train on
        const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
        printEpochLine(out, o.progressBar, summary.curves.back(), o.epochs,
                       elapsed / (epoch - firstEpoch) * (o.epochs - epoch),
                       keptMark(selection, epoch, summary.bestEpoch, o.epochs, judged));
        state.epoch = epoch;
        state.step = stepIndex;
        state.bestEpoch = summary.bestEpoch;
        state.bestVal = summary.bestVal;
        state.curves = summary.curves;
        if (leader)
            writeCheckpoint(checkpointPath, runOptions, state, model, auxiliary, optimizer, ema);
        if (o.stopAfter > 0 && epoch >= o.stopAfter && epoch < o.epochs) {
            if (group) group->barrier();  // the checkpoint is written when every worker returns
            out << "Stopped after epoch " << epoch << "; continue with --resume " << checkpointPath
                << "\n";
            summary.bundlePath.clear();
            return summary;
        }
    }
    if (state.best.empty())
        throw Error("nothing to train: the checkpoint has finished every epoch");
    {
        torch::NoGradGuard noGrad;
        for (auto& p : model->named_parameters()) p.value().copy_(state.best.at(p.key()));
    }
    const auto testScores =
        predictScoresOnRanks(model, test.images, input, task, device, columns, group.get());
    summary.test = evaluateScores(task, testScores, test.labels);
    if (task != TaskType::MultiLabel) {
        summary.testPredictedPerClass.assign(columns, 0);
        for (const auto& row : testScores)
            ++summary.testPredictedPerClass[std::max_element(row.begin(), row.end()) - row.begin()];
    }
    if (!leader) {
        group->barrier();  // returns once rank 0 has written the bundle
        return summary;
    }
    description.training =
        trainingRecordOf(o, selection, augmentation, balance, n, summary, device);
    placeModel(*model, torch::kCPU, DeviceOptions{});
    saveBundle(model, description, o.outPath);
    writeCurves(o.logPath.empty() ? o.outPath + ".curves.csv" : o.logPath, summary.curves);
    // The bundle holds the result; the checkpoint was only for resuming.
    std::error_code ignored;
    std::filesystem::remove(checkpointPath, ignored);
    if (group) group->barrier();
    // The choice runs on rank 0 alone, after the others have been released,
    // and on the saved weights: a failure here leaves the trained bundle.
    if (o.chooseCam) chooseCamForTrainedBundle(model, description, o, summary, out);
    return summary;
}

EvalSummary evaluateBundle(const std::string& bundlePath, const std::string& dataPath,
                           const std::string& split, const DeviceOptions& deviceOptions,
                           bool averageFlips) {
    const torch::Device device = torchDevice(deviceOptions);
    LoadedBundle bundle = loadBundle(bundlePath);
    MedMnistDataset data(dataPath);
    const VitSpec& m = bundle.description.model;
    if (data.imageSize()[0] != m.image_size || data.channels() != m.channels ||
        data.is3D() != m.volumetric)
        throw FileError(dataPath, "does not match the bundle's input (" +
                                      std::to_string(m.image_size) + " px, " +
                                      (m.volumetric ? "3D" : "2D") + ").");
    if (data.classCount() != m.classes)
        throw FileError(dataPath, "has another number of classes than the bundle.");
    const TaskType task = parseTaskType(bundle.description.task);
    SplitData s = loadSplit(data, split, task, 0);
    placeModel(*bundle.model, device, deviceOptions);
    EvalSummary summary;
    summary.scores =
        predictScores(bundle.model, s.images, bundle.description.input, task, device, averageFlips);
    summary.metrics = evaluateScores(task, summary.scores, s.labels);
    summary.cases = s.images.size(0);
    summary.split = split;
    summary.task = taskTypeName(task);
    summary.device = device.str();
    return summary;
}

}  // namespace rllm
