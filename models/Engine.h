#pragma once
// The engine's public face: what the command line (and later the viewer)
// asks of the models layer, in plain C++ types. No LibTorch header leaks
// from here, so callers compile fast and Qt code can include it.

#include "models/LlmCheckpoint.h"
#include "models/Metrics.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace rllm {

class Volume;

struct DeviceOptions {
    std::string device = "auto";  // auto | cpu | cuda | cuda:N
    int threads = 0;              // CPU threads for the models; 0: one per core
    // The frozen LLM block's matrix products and attention: auto (bf16 on
    // CUDA, fp32 on the CPU), fp32 or bf16. Norms, residuals, adapters and
    // the weights themselves stay float32 (models/Networks.h).
    std::string llmPrecision = "auto";
    // Same seed, same data, same weights to the bit on CUDA too: PyTorch's
    // deterministic kernels (attention's backward, index_add, cuBLAS with a
    // fixed workspace). Slower; the CPU's kernels are deterministic anyway.
    bool deterministic = false;
};
// Gives the models `threads` CPU threads (0: one per core), to one pool of
// them: both OpenBLAS's and LibTorch's OpenMP threads spin while they wait,
// and side by side they took cores from each other (docs/results.md, "Thread
// split"). With oneDNN for the dense layers (MatrixProducts.h) LibTorch's pool,
// which oneDNN shares, gets them and OpenBLAS one; with OpenBLAS for them
// (Debian's LibTorch, RLLM_CPU_GEMM=blas) OpenBLAS gets them and LibTorch
// one. Without OpenBLAS, LibTorch gets them.
void setCpuThreads(int threads);
// Applies the thread count and returns the device that will be used, e.g. "cpu", "cuda:0".
std::string resolveDevice(const DeviceOptions& options);
// CUDA devices this LibTorch can use (0 without CUDA).
int cudaDeviceCount();

// ---- LLM block -------------------------------------------------------------

struct LlmRunOptions {
    std::string checkpoint;
    std::vector<int> layers{-1};
    std::string finalNorm = "unit";  // unit | loaded | none
    DeviceOptions device;
};
// Runs the chosen layers (then the final norm) on a float32 (B,T,D) array.
std::vector<float> runLlmBlock(const LlmRunOptions& options, const std::vector<int64_t>& shape,
                               const std::vector<float>& input);

// ---- Training and evaluation --------------------------------------------------

// One worker of a data-parallel run (models/DataParallel.h): set from the
// variables PyTorch's launchers give each worker (torchrun, srun, a
// Kubernetes job) or by `rllm train --nproc N`. worldSize 1: no group.
struct DistributedOptions {
    int rank = 0;
    int worldSize = 1;
    int localRank = 0;       // the GPU of this worker on its machine (cuda:localRank)
    int localWorldSize = 1;  // workers on this machine: they share its CPU cores
    std::string masterAddr = "127.0.0.1";
    int masterPort = 29500;
    // The rendezvous, or any collective, waiting longer than this fails the run.
    int timeoutSeconds = 300;
    // How CUDA tensors are reduced: "auto" through NCCL where this LibTorch
    // has it (GPU to GPU), "gloo" through a CPU copy and Gloo, "nccl" NCCL or
    // an error. CPU tensors always go through Gloo (PyTorch's
    // "cpu:gloo,cuda:nccl").
    std::string backend = "auto";
};

class DataParallelGroup;  // models/DataParallel.h
// Joins the group of workers `options` describes (the rendezvous at
// MASTER_ADDR:MASTER_PORT); nullptr for a single worker. Throws Error when
// the group does not form within the time-out.
std::shared_ptr<DataParallelGroup> joinDataParallelGroup(const DistributedOptions& options);
// Whether this process reports for the group (rank 0, or no group).
bool isLeader(const DataParallelGroup* group);

struct TrainOptions {
    std::string dataPath;
    std::string outPath;
    std::string arch = "vit2d";  // vit2d | vit3d
    std::string preset = "tiny";
    int depth = 0;        // 0: the preset's; fewer blocks make small experiments quick
    int patch = 0;        // 0: image size / 7 (4 for 28 px)
    std::string booster;  // empty: baseline; else in | out | hybrid | none | mlp
    std::string llmPath;
    std::vector<int> llmLayers{-1};
    std::string finalNorm = "unit";
    bool randomLlm = false;  // frozen block of the checkpoint's shape, randomly initialised
    int epochs = 30;
    int batchSize = 64;
    double learningRate = 1e-3;
    double weightDecay = 0.05;
    double labelSmoothing = 0.1;
    int warmupEpochs = -1;  // -1: a tenth of the epochs
    // The recipe (models/TrainingRecipe.h, docs/training.md):
    std::string augmentation = "light";      // off | light | strong
    double mixupAlpha = 0, cutmixAlpha = 0;  // Beta(alpha, alpha) parameters; 0: off
    std::string classBalance = "none";       // none | loss (weighted) | sampler (resampled)
    double emaDecay = 0;  // > 0: an exponential moving average of the weights is validated and kept
    double dropPath = 0;  // stochastic depth: the last block's drop probability (0: off)
    // Elastic deformation: the largest displacement in voxels (0: off).
    double elasticVoxels = 0;
    // Random erasing: the probability that a case has a box replaced by noise (0: off).
    double eraseProbability = 0;
    // Sharpness-aware minimisation: the ascent's radius rho (0: off;
    // models/SharpnessAware.h). Each step then costs two passes.
    double samRho = 0;
    // Which weights the ascent moves: "all" trainable ones, or "backbone",
    // every one but the classifier head's. The head can take nearly all of
    // ||g||^2 (docs/training.md), and then the ascent point is a different
    // head on the same tokens rather than a nearby backbone.
    std::string samScope = "all";
    // Which epoch's weights the bundle keeps: "best" (highest validation AUC;
    // ties: ACC) or "last" (the schedule's end, whatever a small validation
    // split says; with --ema, the average). Validation is reported either way.
    std::string selection = "best";
    // Shifted patch tokens and locality self-attention (VitConfig).
    bool shiftedPatches = false, localityAttention = false;
    // LayerNorm on each patch vector before the Linear (VitConfig::patchNorm).
    bool patchNorm = true;
    // The head reads the mean of the patch tokens (VitConfig::meanPool).
    bool meanPool = false;
    // 2D patches become tokens through a small convolutional stem (VitConfig::convStem).
    bool convStem = false;
    // Dense relative localisation (models/RelativeLocalisation.h): the
    // weight of its L1 loss beside the classification loss (0: off).
    double localisationWeight = 0;
    // Masked image modelling (models/MaskedModelling.h): the share of each
    // case's patches masked (0: off). Pretraining without labels: the loss is
    // the masked pixels' reconstruction alone; needs --select last.
    double maskedRatio = 0;
    // What the masked patches' pixels are predicted as: "pixels" (their
    // values) or "normalised" (normalisedPatchPixels).
    std::string maskedTarget = "pixels";
    // RQ3: the LLM block is fine-tuned with its own learning rate instead of frozen.
    bool llmTrainable = false;
    double llmLearningRate = 1e-4;
    uint64_t seed = 0;
    int64_t maxTrainCases = 0;  // 0: all
    std::string task;           // empty: MedMNIST's flag for the file
    std::string logPath;        // CSV of the curves; empty: beside the bundle
    std::string initFrom;       // a bundle whose weights start the training (nothing else)
    // Knowledge distillation (models/Distillation.h): trained bundles whose
    // mean class probabilities at `distillTemperature` the run also learns
    // from; the loss is (1 - w) * the label loss + w * the distillation loss.
    std::vector<std::string> distillFrom;
    double distillWeight = 0.5, distillTemperature = 2;
    // A training checkpoint (BUNDLE.checkpoint.safetensors, written after
    // every epoch) to continue exactly where it stopped: weights, AdamW
    // moments and step counts, the schedule position, the best weights so far,
    // the curves and the CPU random state. Its options must match these.
    std::string resumeFrom;
    int stopAfter = 0;         // > 0: stop after this epoch, leaving only the checkpoint
    std::string commandLine;   // recorded in the bundle
    bool progressBar = false;  // redraw one line (for terminals) instead of a line per epoch
    DeviceOptions device;
    // Several processes train one model: each takes its share of every
    // batch (--batch is the global batch), the gradients are summed, rank 0
    // writes the checkpoints and the bundle.
    DistributedOptions distributed;
    // After the bundle is written, choose what `auto` shows on this model
    // (chooseCamRecipe on the first chooseCamCases validation cases) and
    // write the bundle again with the choice recorded.
    bool chooseCam = false;
    int64_t chooseCamCases = 32;
    // Set from another thread (a Cancel button): training stops before its
    // next batch and throws Cancelled. No bundle is written; the checkpoint
    // of the last finished epoch stays, so the run can be resumed.
    const std::atomic<bool>* cancel = nullptr;
};

struct EpochRecord {
    int epoch = 0;
    double trainLoss = 0, valAcc = 0, valAuc = 0, learningRate = 0, imagesPerSecond = 0,
           seconds = 0;
    // The epoch's model gave every validation case one class (predictsOneClass):
    // its AUC may rank well, but its ACC is a class prior.
    bool valOneClass = false;
};

struct CamChoiceSummary;

struct TrainSummary {
    std::vector<EpochRecord> curves;
    int bestEpoch = 0;
    ScoreMetrics bestVal, test;
    // Single-label tasks: how many test cases the chosen model assigns to
    // each class. One non-zero entry means it ignores its input.
    std::vector<int64_t> testPredictedPerClass;
    std::string bundlePath, device;  // bundlePath: empty on ranks other than 0
    int rank = 0, workers = 1;
    // With chooseCam, on rank 0: every candidate and the one chosen.
    std::shared_ptr<const CamChoiceSummary> camChoice;
};

// Trains end to end and writes the best-on-validation model as a bundle.
// Progress goes to `progress` (a bar when it is a terminal).
TrainSummary trainClassifier(const TrainOptions& options, std::ostream& progress);

struct EvalSummary {
    ScoreMetrics metrics;
    std::vector<std::vector<float>> scores;  // each case's class probabilities, in case order
    int64_t cases = 0;
    std::string split, task, device;
};
// With `averageFlips`, each case's probabilities are averaged over its
// mirror images along every subset of the spatial axes (test-time flips).
EvalSummary evaluateBundle(const std::string& bundlePath, const std::string& dataPath,
                           const std::string& split, const DeviceOptions& device,
                           bool averageFlips = false);

// ---- Bundles and prediction -------------------------------------------------------

// The bundle's description (architecture, classes, task, LLM source, training
// record) as JSON text. Throws FileError for a bad or tampered bundle.
std::string describeBundle(const std::string& bundlePath);

struct Prediction {
    std::vector<std::string> classNames;
    std::vector<float> probabilities;
    int predicted = 0;
    std::string task;
    std::string resamplingJson;  // how the input was mapped onto the model's input grid
    std::string device;
};
Prediction predictVolume(const std::string& bundlePath, const Volume& volume,
                         const DeviceOptions& device);

// ---- Explanations ------------------------------------------------------------------

struct CamOptions {
    // A key of models/CamMethods.h (auto, eigencam, gradcam, ...). auto:
    // EigenCAM on 2D models, rollout averaged over 3 shifts on 3D models
    // (models/Cam.h, resolveCamRecipe, says why).
    std::string method = "auto";
    // Token layer: "block:I:norm1" (block I's first norm; I may be negative),
    // "block:I" (its output), "booster:input" (the input of F_E, i.e. the last
    // block's output), "booster:llm" (the LLM block's output). Empty: the
    // default, "block:0:norm1" (see models/Cam.h for why). In a plain ViT the
    // last block's output tokens never reach the class token, so gradient
    // methods refuse that layer.
    std::string layer;
    int target = -1;  // class to explain; -1: the predicted one
    // Sub-patch shifts per axis, averaged (models/Cam.h, camAveragedOverShifts):
    // 1 is the plain token map; K costs K^2 (2D) or K^3 (3D) passes; 0: the
    // method's default (3 for auto on 3D models, else 1).
    int shifts = 0;
    int faithfulnessSteps = 0;  // > 0: also the deletion/insertion AUC in that many steps
    DeviceOptions device;
};

struct CamResult;  // models/CamResult.h (it holds a Volume)

// The CAM of `volume` on its own voxel grid: the token map goes back through
// the recorded input resampling (bilinear in 2D, trilinear in 3D) onto the
// source's size, spacing, origin and direction, normalised to [0, 1].
CamResult computeCam(const std::string& bundlePath, const Volume& volume,
                     const CamOptions& options);

// The layer names computeCam accepts for this bundle, e.g. block:0 ... booster:llm.
std::vector<std::string> camLayerNames(const std::string& bundlePath);

struct CamEvalOptions {
    std::string method = "auto";  // as CamOptions
    std::string layer;            // as CamOptions
    int shifts = 0;               // as CamOptions
    std::string split = "test";
    int steps = 20;  // deletion/insertion steps
    // ROAD steps (0: none; `rllm cam-eval` asks for 10). Each step solves the
    // imputation for every removal level: ~10 ms a case in 2D at 28 px, about
    // a second in 3D at 28^3 on 2 cores.
    int roadSteps = 0;
    double roadNoise = 0.02;  // sd of ROAD's noise on imputed pixels (inputs span [-1, 1])
    int64_t maxCases = 0;     // 0: the whole split
    DeviceOptions device;
    // Several workers share the cases and add up their sums; every worker
    // returns the whole split's summary.
    DistributedOptions distributed;
    // Set from another thread: the evaluation stops at the next case with
    // Error (the viewer's cancel).
    const std::atomic<bool>* cancel = nullptr;
};

struct CamEvalSummary {
    // Mean area under the class-probability curve while the most-attended
    // pixels are removed (deletion: lower is better) or revealed (insertion:
    // higher is better), in `steps` equal steps; removed pixels take the
    // image's mean value.
    double deletionAuc = 0, insertionAuc = 0;
    // ROAD (Cam.h, roadScores): mean areas with the pixels removed by noisy
    // linear imputation, most relevant first (MoRF, lower is better) and
    // least relevant first (LeRF, higher is better), in `steps` steps.
    double roadMorfAuc = 0, roadLerfAuc = 0;
    // Share of cases with a lesion mask whose CAM maximum lies inside the mask;
    // NaN when the archive has no <split>_masks array.
    double pointingGame = 0;
    // The most any map on this model's token grid could score: the share of
    // those cases whose mask holds a voxel where a map peaking at a single
    // token peaks once upsampled (about the token centres). A coarse grid
    // caps the pointing game below 1 whatever the method. Maps averaged over
    // shifts can peak at any voxel: then it is 1 for every non-empty mask.
    double pointingCeiling = 0;
    int64_t cases = 0, pointingCases = 0;
    std::string layer, method;  // as used ("auto" resolved)
    int shifts = 1;
};
CamEvalSummary evaluateCams(const std::string& bundlePath, const std::string& dataPath,
                            const CamEvalOptions& options);

// Choosing what `auto` shows on one model (docs/explanations.md): every CAM
// method at every layer, and rollout, measured by evaluateCams on real cases;
// a map is faithful when its insertion AUC is above its deletion AUC and, with
// ROAD, its LeRF above its MoRF. The faithful map with the largest sum of the
// two margins is recorded in a copy of the bundle (BundleDescription::
// explanation) and is what `auto` gives from then on, in the viewer too.
struct CamChoiceOptions {
    std::string split = "val";  // the choice belongs to the model: never made on test
    int64_t maxCases = 32;      // 0: the whole split
    int steps = 20, roadSteps = 10;
    DeviceOptions device;
    const std::atomic<bool>* cancel = nullptr;  // as CamEvalOptions::cancel
    // Called after each candidate map is measured (measured of total).
    std::function<void(int measured, int total)> progress;
};

struct CamCandidate {
    std::string method, layer;
    int shifts = 1;
    CamEvalSummary scores;
    std::string unavailable;  // why this model cannot give the map; empty when measured
    double insertionMinusDeletion() const { return scores.insertionAuc - scores.deletionAuc; }
    // 0 without ROAD (roadSteps 0).
    double lerfMinusMorf() const;
    bool faithful() const;
};

struct CamChoiceSummary {
    std::vector<CamCandidate> candidates;  // the rule `auto` had before first
    int chosen = -1;                       // -1: no map passed, nothing was written
};

// Writes `outPath` (never `bundlePath`, which is only read) when a map passes.
CamChoiceSummary chooseCamRecipe(const std::string& bundlePath, const std::string& dataPath,
                                 const std::string& outPath, const CamChoiceOptions& options);

// ---- The embedded demo -------------------------------------------------------------

struct DemoOptions {
    std::string outDir;
    std::string llmPath;  // empty: the boosters' frozen block is random (and says so)
    int epochs2d = 15, epochs3d = 20;
    bool include2d = true, include3d = true;
    bool progressBar = false;
    DeviceOptions device;
    const std::atomic<bool>* cancel = nullptr;  // as TrainOptions::cancel
};

struct DemoSummary {
    std::vector<std::string> datasets, bundles;
    std::string llmNote;
};

// Writes the synthetic phantom datasets (2D and 3D, lesion masks included)
// and trains a ViT baseline and an R-LLM booster on each.
DemoSummary makeDemo(const DemoOptions& options, std::ostream& progress);

}  // namespace rllm
