#pragma once
// The engine's public face: what the command line (and later the viewer)
// asks of the models layer, in plain C++ types. No LibTorch header leaks
// from here, so callers compile fast and Qt code can include it.

#include "models/LlmCheckpoint.h"
#include "models/Metrics.h"

#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace rllm {

class Volume;

struct DeviceOptions {
    std::string device = "auto";  // auto | cpu | cuda | cuda:N
    int threads = 0;              // CPU threads for LibTorch; 0 keeps its default
};
// Applies the thread count and returns the device that will be used, e.g. "cpu", "cuda:0".
std::string resolveDevice(const DeviceOptions& options);

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
    bool augment = true;
    uint64_t seed = 0;
    int64_t maxTrainCases = 0;  // 0: all
    std::string task;           // empty: MedMNIST's flag for the file
    std::string logPath;        // CSV of the curves; empty: beside the bundle
    std::string resumeFrom;     // a bundle whose weights start the training
    std::string commandLine;    // recorded in the bundle
    bool progressBar = false;   // redraw one line (for terminals) instead of a line per epoch
    DeviceOptions device;
};

struct EpochRecord {
    int epoch = 0;
    double trainLoss = 0, valAcc = 0, valAuc = 0, learningRate = 0, imagesPerSecond = 0,
           seconds = 0;
};

struct TrainSummary {
    std::vector<EpochRecord> curves;
    int bestEpoch = 0;
    ScoreMetrics bestVal, test;
    std::string bundlePath, device;
};

// Trains end to end and writes the best-on-validation model as a bundle.
// Progress goes to `progress` (a bar when it is a terminal).
TrainSummary trainClassifier(const TrainOptions& options, std::ostream& progress);

struct EvalSummary {
    ScoreMetrics metrics;
    int64_t cases = 0;
    std::string split, task, device;
};
EvalSummary evaluateBundle(const std::string& bundlePath, const std::string& dataPath,
                           const std::string& split, const DeviceOptions& device);

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

}  // namespace rllm
