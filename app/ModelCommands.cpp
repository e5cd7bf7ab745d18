// rllm llm, train, eval, predict: the model commands. They reach the models
// layer through models/Engine.h only (no LibTorch headers here).

#include "app/CliSupport.h"
#include "app/Commands.h"
#include "app/ModelCliSupport.h"
#include "app/Workers.h"
#include "core/Error.h"
#include "core/io/MedMnist.h"
#include "core/io/Npz.h"
#include "models/Engine.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unistd.h>

using nlohmann::json;

namespace rllm::cli {
namespace {

std::vector<int> parseLayers(const std::string& text) {
    std::vector<int> layers;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        try {
            size_t used = 0;
            layers.push_back(std::stoi(item, &used));
            if (used != item.size()) throw std::invalid_argument(item);
        } catch (const std::exception&) {
            throw UsageError(
                "--layer takes layer numbers separated by commas (negative counts from the end), "
                "not '" +
                text + "'");
        }
    }
    return layers;
}

std::string joinArgs(const char* command, const std::vector<std::string>& args) {
    std::string line = std::string("rllm ") + command;
    for (const std::string& a : args) line += " " + a;
    return line;
}

const char* kLlmUsage = R"(Usage: rllm llm info CHECKPOINT [--json]
       rllm llm run CHECKPOINT --input X.npy --out Y.npy [--layer N[,M...]]
                    [--final-norm unit|loaded|none] [--device D] [--threads T]

CHECKPOINT: a llama2.c .bin file, or a Hugging Face folder (config.json and
*.safetensors; LLaMA, Mistral, Qwen2). 'run' applies the chosen layers
(default: the last) and then the final RMSNorm to a float32 (B,T,D) array.
)";

}  // namespace

int runLlm(const std::vector<std::string>& args) {
    ParsedArgs parsed = parseArgs(args, {"json", "help"},
                                  {"layer", "input", "out", "final-norm", "device", "threads"});
    if (parsed.has("help")) {
        std::cout << kLlmUsage;
        return kOk;
    }
    if (parsed.positional.size() != 2)
        throw UsageError(std::string("expected info|run CHECKPOINT\n") + kLlmUsage);
    const std::string& verb = parsed.positional[0];
    const std::string& checkpoint = parsed.positional[1];
    if (verb == "info") {
        LlmArchitecture a = inspectLlm(checkpoint);
        json j{{"format", a.format}, {"architecture", a.modelType},
               {"layers", a.layers}, {"dim", a.dim},
               {"heads", a.heads},   {"kv_heads", a.kvHeads},
               {"ffn", a.ffn},       {"vocab", a.vocab},
               {"rms_eps", a.eps},   {"qkv_bias", a.qkvBias},
               {"dtype", a.dtype}};
        if (parsed.has("json")) {
            std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        } else {
            std::cout << "Checkpoint:   " << checkpoint << "\nFormat:       " << a.format
                      << "\nArchitecture: " << a.modelType << "\nLayers:       " << a.layers
                      << "\nDim:          " << a.dim << "\nHeads:        " << a.heads
                      << " (kv heads " << a.kvHeads << ")\nFFN size:     " << a.ffn
                      << "\nVocabulary:   " << a.vocab << "\nRMSNorm eps:  " << a.eps
                      << "\nWeights:      " << a.dtype << "\n";
        }
        return kOk;
    }
    if (verb != "run") throw UsageError("unknown llm verb '" + verb + "': use info or run");
    if (!parsed.has("input") || !parsed.has("out"))
        throw UsageError("llm run needs --input and --out");
    NpyArray input = readNpyFile(parsed.get("input"));
    if (input.header.kind != 'f' || input.header.itemSize != 4 || input.header.bigEndian)
        throw FileError(parsed.get("input"), "must hold little-endian float32 values.");
    std::vector<float> values(static_cast<size_t>(input.header.elementCount()));
    std::memcpy(values.data(), input.data.data(), values.size() * 4);
    LlmRunOptions options;
    options.checkpoint = checkpoint;
    if (parsed.has("layer")) options.layers = parseLayers(parsed.get("layer"));
    options.finalNorm = parsed.get("final-norm", "unit");
    options.device = deviceOptions(parsed);
    std::vector<float> output = runLlmBlock(options, input.header.shape, values);
    writeNpyFloat32(parsed.get("out"), input.header.shape, output);
    return kOk;
}

namespace {
const char* kTrainUsage = R"(Usage: rllm train --data X.npz --out BUNDLE [options]

  --arch vit2d|vit3d        (default: from the data)
  --preset tiny|small|base|WxH  ViT width and heads (default tiny: 192x3; small 384x6,
                            base 768x12, or W wide with H heads); --depth N sets the block count
  --patch P                 patch size (default: image size / 7)
  --booster in|out|hybrid|none|mlp   add the R-LLM booster (default: plain ViT baseline)
  --llm CHECKPOINT          frozen LLM block source (llama2.c .bin or Hugging Face folder)
  --layer N[,M...]          its layers (default -1, the last)
  --final-norm unit|loaded|none      the LLM's final RMSNorm (default unit, as the reference code)
  --random-llm              a frozen block of the checkpoint's shape with random weights
  --llm-trainable           fine-tune the LLM block instead of freezing it (RQ3),
                            with its own --llm-lr LR (1e-4), under the same schedule
  --epochs E (30) --batch B (64) --lr LR (1e-3) --weight-decay W (0.05)
  --label-smoothing S (0.1) --warmup-epochs W (epochs/10)
The recipe (docs/training.md has what each one measured):
  --augment off|light|strong   light (default): flips, and in 2D small rotations
                            and shifts; strong: flips and a random affine map in
                            2D and 3D, brightness and contrast (--no-augment: off)
  --mixup A, --cutmix A     mix pairs of cases, lambda ~ Beta(A, A) (0: off; both:
                            one of them per batch)
  --class-balance none|loss|sampler   weigh each class's loss by N / (K n_c), or
                            draw cases so every class is seen equally often
  --ema D                   keep a moving average of the weights (decay D per
                            step, e.g. 0.999); it is validated, chosen and saved
  --drop-path R             stochastic depth: each case skips a block's attention
                            or MLP branch with a probability rising from 0 at the
                            first block to R at the last (0: off)
  --elastic V               bend each training image by a smooth random field,
                            up to V voxels (pixels) along every axis (0: off)
  --erase P                 random erasing: with probability P a box of 2-33 %
                            of the image becomes noise (0: off; DeiT uses 0.25)
  --sam RHO                 sharpness-aware minimisation: each step's gradient is
                            taken at the worst point within RHO of the weights
                            (two passes a step; 0: off; 0.05 is SAM's usual radius)
  --sam-scope all|backbone  which weights the ascent moves: all (default), or all
                            but the classifier head's
  --drloc W                 dense relative localisation: a small MLP learns, from
                            pairs of final patch tokens, how far apart their
                            patches lie; its L1 loss is added with weight W
                            (Liu et al. 2021; the MLP is for training only; 0: off)
  --mim R                   masked image modelling (SimMIM): pretrain without labels
                            by predicting the pixels of a share R of the patches,
                            masked; needs --select last; then --init a
                            classification run from its bundle (0: off)
  --mim-target pixels|normalised  what --mim predicts: the pixels (default), or
                            each patch's pixels less their mean over their sd (MAE)
  --select best|last|mean:K keep the epoch with the best validation AUC (default),
                            the last epoch's weights (validation still reported), or
                            the epoch whose validation AUC averaged with the K-1
                            epochs before it is best (small validation splits)
  --shifted-patches         shifted patch tokens: each patch also sees the image
                            moved by half a patch towards every diagonal corner
  --locality-attention      locality self-attention: a learnt temperature, and
                            no token attends to itself (both from Lee et al. 2021)
  --mean-pool               the head reads the mean of the patch tokens instead of
                            the class token (global average pooling)
  --conv-stem               2D: patches become tokens through 3x3 convolutions of
                            stride 2 with ReLUs and a 1x1 one, instead of one
                            strided convolution (Xiao et al. 2021); not with
                            --shifted-patches
  --no-patch-norm           3D (and shifted patches): no LayerNorm on each patch
                            vector before its Linear, which makes every patch inside
                            or outside a uniform region the same token (binary masks)
  --seed S (0)  --max-train N (use the first N training cases)
  --task binary|multi-class|multi-label|ordinal   (default: MedMNIST's flag for the file)
  --log CURVES.csv          (default: BUNDLE.curves.csv)
  --init BUNDLE             start from that bundle's weights (same architecture), nothing else
  --distill B1[,B2...]      also learn from trained bundles' mean class probabilities on the
                            same augmented images (knowledge distillation; any architecture
                            trained on this data set): loss = (1 - W) label loss + W T^2
                            KL(teachers || student at T), --distill-weight W (0.5)
                            --distill-temperature T (2)
  --resume CHECKPOINT       continue a run exactly where it stopped, from the
                            BUNDLE.checkpoint.safetensors it writes after every epoch
                            (same command; removed once the bundle is written)
  --stop-after E            stop after epoch E, leaving the checkpoint to resume from
  --device auto|cpu|cuda[:N]  --threads T
  --llm-precision auto|fp32|bf16   the frozen block's products (auto: bf16 on CUDA)
  --deterministic           on CUDA, PyTorch's deterministic kernels only, so the
                            same command repeats to the bit (slower; runs on the
                            CPU repeat without it)
  --choose-cam              then choose what the `auto` CAM shows on this model,
                            as rllm cam-choose does on the first 32 validation
                            cases, and record it in the bundle

Data-parallel training (docs/distributed.md):
  --nproc N                 start N workers on this machine
  --worker-timeout S        a worker waiting longer than S s for the others fails the run (300)
  --dist-backend auto|gloo|nccl  how the gradients of a model on CUDA are summed:
                            auto NCCL where this build has it (PyTorch's wheel),
                            gloo through the CPU; on the CPU always Gloo
  A worker started by torchrun, srun or a job system is configured by RANK,
  WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT. --batch
  is the global batch: the result is that of one process with the same batch
  and seed. Rank 0 writes the checkpoints and the bundle; --resume works at
  any number of workers.

The model with the best validation AUC is kept (never chosen on test; an epoch
that gives every validation case one class never wins over one that separates
them; --select last keeps the last epoch's, --select mean:K the best K-epoch
mean); the bundle records the command,
curves, validation and test metrics.
)";
// The training options a parsed `rllm train` command line gives; refuses
// options that contradict each other (ranges are checked by trainClassifier,
// before any data is read).
TrainOptions trainOptionsFrom(const ParsedArgs& p, const std::vector<std::string>& args,
                              const DistributedOptions& distributed) {
    auto number = [&](const std::string& name, double fallback) {
        if (!p.has(name)) return fallback;
        try {
            return std::stod(p.get(name));
        } catch (const std::exception&) {
            throw UsageError("--" + name + " needs a number");
        }
    };
    TrainOptions o;
    o.dataPath = p.get("data");
    o.outPath = p.get("out");
    // Without --arch, the archive says (opened only then).
    o.arch = p.get("arch");
    if (o.arch.empty()) o.arch = MedMnistDataset(o.dataPath).is3D() ? "vit3d" : "vit2d";
    o.preset = p.get("preset", "tiny");
    o.depth = static_cast<int>(p.getInt("depth", 0));
    o.patch = static_cast<int>(p.getInt("patch", 0));
    o.booster = p.get("booster");
    o.llmPath = p.get("llm");
    if (p.has("layer")) o.llmLayers = parseLayers(p.get("layer"));
    o.finalNorm = p.get("final-norm", "unit");
    o.randomLlm = p.has("random-llm");
    o.epochs = static_cast<int>(p.getInt("epochs", 30));
    o.batchSize = static_cast<int>(p.getInt("batch", 64));
    o.learningRate = number("lr", 1e-3);
    o.weightDecay = number("weight-decay", 0.05);
    o.labelSmoothing = number("label-smoothing", 0.1);
    o.warmupEpochs = static_cast<int>(p.getInt("warmup-epochs", -1));
    if (p.has("no-augment") && p.has("augment"))
        throw UsageError("give --augment or --no-augment, not both");
    o.augmentation = p.has("no-augment") ? "off" : p.get("augment", "light");
    o.mixupAlpha = number("mixup", 0);
    o.cutmixAlpha = number("cutmix", 0);
    o.classBalance = p.get("class-balance", "none");
    o.emaDecay = number("ema", 0);
    o.dropPath = number("drop-path", 0);
    o.elasticVoxels = number("elastic", 0);
    o.eraseProbability = number("erase", 0);
    o.samRho = number("sam", 0);
    o.samScope = p.get("sam-scope", "all");
    o.localisationWeight = number("drloc", 0);
    o.maskedRatio = number("mim", 0);
    o.maskedTarget = p.get("mim-target", "pixels");
    if (p.has("sam-scope") && !p.has("sam")) throw UsageError("--sam-scope needs --sam");
    o.selection = p.get("select", "best");
    o.shiftedPatches = p.has("shifted-patches");
    o.localityAttention = p.has("locality-attention");
    o.patchNorm = !p.has("no-patch-norm");
    o.meanPool = p.has("mean-pool");
    o.convStem = p.has("conv-stem");
    o.llmTrainable = p.has("llm-trainable");
    o.llmLearningRate = number("llm-lr", 1e-4);
    if (p.has("llm-lr") && !o.llmTrainable) throw UsageError("--llm-lr needs --llm-trainable");
    o.seed = static_cast<uint64_t>(p.getInt("seed", 0));
    o.maxTrainCases = p.getInt("max-train", 0);
    o.task = p.get("task");
    o.logPath = p.get("log");
    o.resumeFrom = p.get("resume");
    o.initFrom = p.get("init");
    o.stopAfter = static_cast<int>(p.getInt("stop-after", 0));
    if (p.has("distill")) {
        std::stringstream list(p.get("distill"));
        for (std::string path; std::getline(list, path, ',');)
            if (!path.empty()) o.distillFrom.push_back(path);
        if (o.distillFrom.empty()) throw UsageError("--distill needs one or more bundles");
    }
    if ((p.has("distill-weight") || p.has("distill-temperature")) && o.distillFrom.empty())
        throw UsageError("--distill-weight and --distill-temperature need --distill");
    o.distillWeight = number("distill-weight", 0.5);
    o.distillTemperature = number("distill-temperature", 2);
    if (!o.resumeFrom.empty() && !o.initFrom.empty())
        throw UsageError("--resume continues a run; --init starts a new one: give one of them");
    o.commandLine = joinArgs("train", args);
    o.progressBar = isatty(STDERR_FILENO);
    o.device = deviceOptions(p);
    o.distributed = distributed;
    o.chooseCam = p.has("choose-cam");
    if (o.booster.empty() && (!o.llmPath.empty() || o.randomLlm))
        throw UsageError("--llm and --random-llm need --booster");
    return o;
}

// The CAM recipe a run chose for `auto` (train --choose-cam), or null when it
// did not choose or no recipe beat chance.
const CamCandidate* chosenCam(const TrainSummary& s) {
    return s.camChoice && s.camChoice->chosen >= 0 ? &s.camChoice->candidates[s.camChoice->chosen]
                                                   : nullptr;
}

// What `rllm train --json` prints for a finished run.
json trainResultJson(const TrainSummary& s) {
    json j{{"bundle", s.bundlePath},
           {"device", s.device},
           {"workers", s.workers},
           {"best_epoch", s.bestEpoch},
           {"val", {{"acc", s.bestVal.acc}, {"auc", s.bestVal.auc}}},
           {"test", {{"acc", s.test.acc}, {"auc", s.test.auc}}}};
    if (!s.testPredictedPerClass.empty())
        j["test"]["predicted_per_class"] = s.testPredictedPerClass;
    if (const CamCandidate* chosen = chosenCam(s))
        j["cam_choice"] = {{"method", chosen->method},
                           {"layer", chosen->layer},
                           {"shifts", chosen->shifts},
                           {"cases", chosen->scores.cases},
                           {"insertion_minus_deletion", chosen->insertionMinusDeletion()},
                           {"lerf_minus_morf", chosen->lerfMinusMorf()}};
    else if (s.camChoice)
        j["cam_choice"] = nullptr;
    return j;
}

// On stderr, whatever the output format: a model that gives every test case
// one class, and a CAM choice that found no faithful map.
void warnAboutTrainResult(const TrainSummary& s, const TrainOptions& o) {
    if (o.maskedRatio > 0) {
        // Its head was never trained: whatever it predicts says nothing.
        std::cerr << "Note: --mim pretrains without labels, so the validation and test figures "
                     "are those of the untrained head; start a classification run from this "
                     "bundle with --init.\n";
        return;
    }
    const auto predicted =
        std::count_if(s.testPredictedPerClass.begin(), s.testPredictedPerClass.end(),
                      [](int64_t count) { return count > 0; });
    if (s.testPredictedPerClass.size() > 1 && predicted == 1)
        std::cerr << "Warning: the chosen model predicts one class for every test case; its "
                     "ACC is the class prior. Train with --class-balance loss (or sampler) on "
                     "imbalanced data.\n";
    if (s.camChoice && !chosenCam(s))
        std::cerr << "No CAM recipe ranked the pixels better than chance on the validation "
                     "cases; auto keeps its default on this model.\n";
}

void printTrainResult(const TrainSummary& s, const TrainOptions& o) {
    // Under --select last the kept epoch was never compared with the others.
    const bool keptLast = EpochSelection::parse(o.selection).rule == EpochSelection::Rule::Last;
    std::cout << std::fixed << std::setprecision(4)
              << (keptLast ? "Kept the last epoch, " : "Best epoch ") << s.bestEpoch
              << " (validation AUC " << s.bestVal.auc << ", ACC " << s.bestVal.acc << "); test AUC "
              << s.test.auc << ", ACC " << s.test.acc << "\nBundle: " << s.bundlePath << "\n";
    if (const CamCandidate* chosen = chosenCam(s))
        std::cout << "auto is " << chosen->method << " at " << chosen->layer << " (insertion - "
                  << "deletion " << chosen->insertionMinusDeletion() << ", LeRF - MoRF "
                  << chosen->lerfMinusMorf() << " on " << chosen->scores.cases
                  << " validation cases)\n";
}

}  // namespace

int runTrain(const std::vector<std::string>& args) {
    ParsedArgs p = parseArgs(args,
                             {"help", "random-llm", "no-augment", "json", "llm-trainable",
                              "shifted-patches", "mean-pool", "conv-stem", "locality-attention",
                              "no-patch-norm", "choose-cam", "deterministic"},
                             {"data",
                              "out",
                              "arch",
                              "preset",
                              "depth",
                              "patch",
                              "booster",
                              "llm",
                              "layer",
                              "final-norm",
                              "epochs",
                              "batch",
                              "lr",
                              "weight-decay",
                              "label-smoothing",
                              "warmup-epochs",
                              "augment",
                              "mixup",
                              "cutmix",
                              "class-balance",
                              "ema",
                              "drop-path",
                              "elastic",
                              "erase",
                              "sam",
                              "sam-scope",
                              "drloc",
                              "mim",
                              "mim-target",
                              "select",
                              "llm-lr",
                              "seed",
                              "max-train",
                              "task",
                              "log",
                              "resume",
                              "init",
                              "distill",
                              "distill-weight",
                              "distill-temperature",
                              "stop-after",
                              "device",
                              "threads",
                              "llm-precision",
                              "nproc",
                              "worker-timeout",
                              "dist-backend"});
    if (p.has("help")) {
        std::cout << kTrainUsage;
        return kOk;
    }
    if (!p.positional.empty() || !p.has("data") || !p.has("out"))
        throw UsageError(std::string("train needs --data and --out\n") + kTrainUsage);
    const std::string backend = p.get("dist-backend", "auto");
    if (backend != "auto" && backend != "gloo" && backend != "nccl")
        throw UsageError("--dist-backend must be auto, gloo or nccl");
    DistributedOptions distributed;
    if (auto status = startWorkersIfAsked("train", p, args, distributed)) return *status;
    distributed.backend = backend;
    const TrainOptions o = trainOptionsFrom(p, args, distributed);
    // Not an error: a user may mean it. But the rate is not scaled with the
    // batch, and on BreastMNIST batch 32 at the default rate lost 0.11 AUC
    // (docs/training.md), so say it before a run is spent on it.
    if (p.has("batch") && !p.has("lr") && o.batchSize != 64 && distributed.rank == 0)
        std::cerr << "Note: --batch " << o.batchSize << " with the default learning rate "
                  << o.learningRate
                  << ", which was tuned for batch 64; rllm does not scale it with the batch. "
                     "Give --lr to choose the rate for this batch.\n";
    TrainSummary s = trainClassifier(o, std::cerr);
    if (s.rank != 0) return kOk;  // rank 0 reports for the group
    if (s.bundlePath.empty()) {   // --stop-after: only the checkpoint was written
        std::cout << "Stopped after epoch " << s.curves.size() << "; resume with --resume "
                  << o.outPath << ".checkpoint.safetensors\n";
        return kOk;
    }
    warnAboutTrainResult(s, o);
    if (p.has("json")) {
        std::cout << trainResultJson(s).dump(2, ' ', false,
                                             nlohmann::json::error_handler_t::replace)
                  << "\n";
        return kOk;
    }
    printTrainResult(s, o);
    return kOk;
}

int runEval(const std::vector<std::string>& args) {
    ParsedArgs p = parseArgs(args, {"help", "json", "flips"},
                             {"data", "split", "device", "threads", "llm-precision"});
    const char* usage =
        "Usage: rllm eval BUNDLE --data X.npz [--split val|test] [--flips] [--json] [--device D] "
        "[--llm-precision P] [--threads T]\n"
        "ACC and AUC as MedMNIST's Evaluator computes them (JSON keys acc, auc).\n"
        "--flips: each case's probabilities averaged over its mirror images along every\n"
        "subset of the axes (4 in 2D, 8 in 3D; test-time augmentation).\n";
    if (p.has("help")) {
        std::cout << usage;
        return kOk;
    }
    if (p.positional.size() != 1 || !p.has("data"))
        throw UsageError(std::string("expected BUNDLE and --data\n") + usage);
    const std::string split = splitOption(p);
    EvalSummary s =
        evaluateBundle(p.positional[0], p.get("data"), split, deviceOptions(p), p.has("flips"));
    if (p.has("json"))
        std::cout << json{{"acc", s.metrics.acc},   {"auc", s.metrics.auc}, {"split", s.split},
                          {"cases", s.cases},       {"task", s.task},       {"device", s.device},
                          {"flips", p.has("flips")}}
                         .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                  << "\n";
    else
        std::cout << std::fixed << std::setprecision(4) << s.split << " (" << s.cases << " cases, "
                  << s.task << "): ACC " << s.metrics.acc << "  AUC " << s.metrics.auc << "\n";
    return kOk;
}

int runPredict(const std::vector<std::string>& args) {
    ParsedArgs p =
        parseArgs(args, {"help", "json"},
                  {"split", "index", "series", "volume", "device", "threads", "llm-precision"});
    const char* usage =
        "Usage: rllm predict BUNDLE INPUT [--split S --index I] [--series UID] [--json] "
        "[--llm-precision P] [--device "
        "D]\n"
        "INPUT: any image the viewer opens, or a MedMNIST .npz with --split/--index (default test "
        "0).\n";
    if (p.has("help")) {
        std::cout << usage;
        return kOk;
    }
    if (p.positional.size() != 2)
        throw UsageError(std::string("expected BUNDLE and INPUT\n") + usage);
    const std::string& input = p.positional[1];
    Volume volume = readInputVolume(p, input);
    Prediction r = predictVolume(p.positional[0], volume, deviceOptions(p));
    json classes = json::array();
    for (size_t i = 0; i < r.probabilities.size(); ++i)
        classes.push_back({{"class", r.classNames[i]}, {"probability", r.probabilities[i]}});
    if (p.has("json")) {
        std::cout << json{{"input", input},
                          {"predicted", r.classNames[r.predicted]},
                          {"predicted_index", r.predicted},
                          {"probabilities", classes},
                          {"task", r.task},
                          {"device", r.device},
                          {"resampling", json::parse(r.resamplingJson)}}
                         .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                  << "\n";
    } else {
        std::cout << "Predicted: " << r.classNames[r.predicted] << "\n";
        for (size_t i = 0; i < r.probabilities.size(); ++i)
            std::cout << "  " << std::left << std::setw(20) << r.classNames[i] << std::fixed
                      << std::setprecision(4) << r.probabilities[i] << "\n";
        std::cout << "Not for diagnostic use.\n";
    }
    return kOk;
}

int runBundle(const std::vector<std::string>& args) {
    ParsedArgs p = parseArgs(args, {"help"}, {});
    if (p.has("help") || p.positional.size() != 2 || p.positional[0] != "info") {
        std::cout << "Usage: rllm bundle info BUNDLE\nPrints the bundle's description (JSON): "
                     "architecture, "
                     "classes, task, LLM source and hash, training record.\n";
        return p.has("help") ? kOk : kUsageError;
    }
    std::cout << describeBundle(p.positional[1]) << "\n";
    return kOk;
}

}  // namespace rllm::cli
