#pragma once
// One model bundle held in memory on one device, for callers that run it
// again and again on different cases (the viewer). No LibTorch header leaks
// from here.
//
// Calls are serialised on the model, so one LoadedModel may be shared between
// threads. If CUDA runs out of memory, the model moves to the CPU, the call is
// repeated there, and deviceNote() says so.

#include "models/BundleDescription.h"
#include "models/Engine.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rllm {

class Volume;
struct CamResult;

class LoadedModel {
  public:
    // Throws FileError for a bad or tampered bundle, Error for a bad device.
    LoadedModel(const std::string& bundlePath, const DeviceOptions& device);
    ~LoadedModel();
    LoadedModel(const LoadedModel&) = delete;
    LoadedModel& operator=(const LoadedModel&) = delete;

    const std::string& path() const;
    // The bundle's description: architecture, classes, task, input
    // normalisation, LLM source, training record.
    const BundleDescription& description() const;
    // The same as indented JSON (what `rllm bundle info` prints).
    const std::string& descriptionJson() const;
    const std::vector<std::string>& classNames() const;
    std::vector<std::string> camLayers() const;
    bool volumetric() const;
    bool boosted() const;

    std::string device() const;      // the device in use now, e.g. "cpu", "cuda:0"
    std::string deviceNote() const;  // why it differs from the one asked for; empty if it does not

    Prediction predict(const Volume& volume);
    // Class probabilities of several cases in one forward pass: each case is
    // prepared exactly as predict() prepares it (resampled onto the model's
    // input grid); the batched arithmetic agrees with predict() to float
    // rounding (within 1e-6), and is several times faster over a data set.
    std::vector<std::vector<float>> probabilities(const std::vector<Volume>& volumes);
    // Measures every CAM recipe on this model as `rllm cam-choose` does
    // (options.maxCases cases of options.split of the MedMNIST archive
    // `dataPath`; the model stays on its device) and returns what the choice
    // would record, or nothing when no map passed. The model is not changed:
    // pass the answer to setExplanation. Throws FileError for an archive that
    // does not fit the model, Error when options.cancel is set.
    std::optional<ExplanationChoice> chooseCam(const std::string& dataPath,
                                               const CamChoiceOptions& options,
                                               CamChoiceSummary* summary = nullptr);
    // What `auto` gives from now on, in memory only (the bundle file is not
    // touched). Waits for a running call; make it from the thread that reads
    // description().
    void setExplanation(const std::optional<ExplanationChoice>& choice);
    // Writes the model as it is now (its weights, and its description with
    // any setExplanation choice) to a new bundle at `path`, atomically, so a
    // choice made in a session outlives it. The loaded bundle itself is never
    // written: Error when `path` is that file.
    void saveCopy(const std::string& path);
    // The CAM on `volume`'s own grid (see computeCam); options.device is ignored.
    CamResult cam(const Volume& volume, const CamOptions& options);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rllm
