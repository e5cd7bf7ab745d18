// A bundle in memory: prediction and CAMs case after case, with the CUDA
// out-of-memory fallback to the CPU. predictVolume and computeCam are the
// one-shot forms of the same calls.

#include "models/LoadedModel.h"

#include "core/Error.h"
#include "core/Volume.h"
#include "models/Bundle.h"
#include "models/Cam.h"
#include "models/CamEvaluation.h"
#include "models/CamResult.h"
#include "models/DeviceFallback.h"
#include "models/ModelInput.h"

#include <torch/torch.h>

#include <filesystem>
#include <mutex>

namespace rllm {

struct LoadedModel::Impl {
    std::string path, descriptionText, note;
    DeviceOptions options;
    LoadedBundle bundle;
    std::vector<std::string> classNames;
    torch::Device device{torch::kCPU};
    TaskType task = TaskType::Binary;
    // `work` is held while the model runs; `state` only while the device name
    // and note are read or changed, so asking which device is in use never
    // waits for a running job (the viewer asks from its GUI thread).
    std::mutex work;
    mutable std::mutex state;
    std::string deviceName;

    void moveTo(const torch::Device& to, const std::string& why) {
        device = to;
        placeModel(*bundle.model, device, options);
        std::lock_guard<std::mutex> lock(state);
        deviceName = device.str();
        note = why;
    }

    // Runs `job` on the model's device; on CUDA out of memory, once more on the CPU.
    template <class Job>
    auto run(Job&& job) {
        std::lock_guard<std::mutex> lock(work);
        return runFallingBackToCpu(
            device.is_cuda(), device.str(), job,
            [&](const std::string& why) { moveTo(torch::Device(torch::kCPU), why); });
    }
};

LoadedModel::LoadedModel(const std::string& bundlePath, const DeviceOptions& device)
    : impl_(std::make_unique<Impl>()) {
    impl_->path = bundlePath;
    impl_->bundle = loadBundle(bundlePath);
    const auto& d = impl_->bundle.description;
    impl_->descriptionText = d.toJson().dump(2);
    impl_->classNames = d.class_names;
    impl_->task = parseTaskType(d.task);
    impl_->bundle.model->eval();
    impl_->options = device;
    const torch::Device wanted = torchDevice(device);
    try {
        impl_->moveTo(wanted, "");
    } catch (const c10::Error& e) {
        if (!wanted.is_cuda() || !isCudaOutOfMemory(e)) throw Error(e.what_without_backtrace());
        impl_->moveTo(torch::Device(torch::kCPU),
                      "the model did not fit on " + wanted.str() + "; running on the CPU");
    }
}

LoadedModel::~LoadedModel() = default;

const std::string& LoadedModel::path() const {
    return impl_->path;
}
const std::string& LoadedModel::descriptionJson() const {
    return impl_->descriptionText;
}
const BundleDescription& LoadedModel::description() const {
    return impl_->bundle.description;
}
const std::vector<std::string>& LoadedModel::classNames() const {
    return impl_->classNames;
}
std::vector<std::string> LoadedModel::camLayers() const {
    return camLayerNamesFor(impl_->bundle.description);
}
bool LoadedModel::volumetric() const {
    return impl_->bundle.description.model.volumetric;
}
bool LoadedModel::boosted() const {
    return impl_->bundle.description.boosted();
}

std::optional<ExplanationChoice> LoadedModel::chooseCam(const std::string& dataPath,
                                                        const CamChoiceOptions& options,
                                                        CamChoiceSummary* summary) {
    const CamEvalCases cases(dataPath, options.split);
    std::lock_guard<std::mutex> lock(impl_->work);
    CamChoiceOptions here = options;
    here.device = impl_->options;
    here.device.device = impl_->device.str();  // where the model is now: it stays there
    CamChoiceSummary measured = measureCamRecipes(impl_->bundle, cases, here);
    std::optional<ExplanationChoice> choice = explanationOf(measured, cases);
    if (summary) *summary = std::move(measured);
    return choice;
}

void LoadedModel::setExplanation(const std::optional<ExplanationChoice>& choice) {
    std::lock_guard<std::mutex> lock(impl_->work);
    impl_->bundle.description.explanation = choice;
    impl_->descriptionText = impl_->bundle.description.toJson().dump(2);
}

void LoadedModel::saveCopy(const std::string& path) {
    std::error_code ignored;  // a path that does not exist yet is not the bundle
    if (path.empty() || std::filesystem::equivalent(impl_->path, path, ignored))
        throw Error("the loaded bundle " + impl_->path +
                    " is never written; save the copy under another name");
    std::lock_guard<std::mutex> lock(impl_->work);
    saveBundle(impl_->bundle.model, impl_->bundle.description, path);
}

std::string LoadedModel::device() const {
    std::lock_guard<std::mutex> lock(impl_->state);
    return impl_->deviceName;
}
std::string LoadedModel::deviceNote() const {
    std::lock_guard<std::mutex> lock(impl_->state);
    return impl_->note;
}

Prediction LoadedModel::predict(const Volume& volume) {
    const auto& d = impl_->bundle.description;
    ModelInput input = prepareInput(d, volume);
    return impl_->run([&] {
        torch::NoGradGuard noGrad;
        auto logits = impl_->bundle.model->forward(input.image.to(impl_->device));
        auto p = (impl_->task == TaskType::MultiLabel ? torch::sigmoid(logits)
                                                      : torch::softmax(logits, 1))
                     .to(torch::kCPU)[0]
                     .contiguous();
        Prediction out;
        out.classNames = impl_->classNames;
        out.probabilities.assign(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
        out.predicted = static_cast<int>(p.argmax().item<int64_t>());
        out.task = taskTypeName(impl_->task);
        out.resamplingJson = input.resampling.dump();
        out.device = impl_->device.str();
        return out;
    });
}

std::vector<std::vector<float>> LoadedModel::probabilities(const std::vector<Volume>& volumes) {
    if (volumes.empty()) return {};
    const auto& d = impl_->bundle.description;
    std::vector<torch::Tensor> inputs;
    for (const Volume& volume : volumes) inputs.push_back(prepareInput(d, volume).image);
    const torch::Tensor batch = torch::cat(inputs, 0);
    return impl_->run([&] {
        torch::NoGradGuard noGrad;
        auto logits = impl_->bundle.model->forward(batch.to(impl_->device));
        auto p = (impl_->task == TaskType::MultiLabel ? torch::sigmoid(logits)
                                                      : torch::softmax(logits, 1))
                     .to(torch::kCPU)
                     .contiguous();
        std::vector<std::vector<float>> out;
        for (int64_t i = 0; i < p.size(0); ++i)
            out.emplace_back(p[i].data_ptr<float>(), p[i].data_ptr<float>() + p.size(1));
        return out;
    });
}

CamResult LoadedModel::cam(const Volume& volume, const CamOptions& options) {
    const auto& d = impl_->bundle.description;
    const CamRecipe recipe = resolveCamRecipe(options.method, options.layer, options.shifts, d);
    const std::string& layer = recipe.layer;
    ModelInput input = prepareInput(d, volume);
    const bool volumetric = this->volumetric();
    return impl_->run([&] {
        // Gradient CAMs need autograd whatever mode the caller runs in.
        torch::AutoGradMode gradients(true);
        Classifier& model = impl_->bundle.model;
        torch::Tensor image = input.image.to(impl_->device);
        ModelCam cam = camAveragedOverShifts(model, d, image, layer, recipe.method, options.target,
                                             recipe.shifts);
        torch::Tensor onSource =
            upsampleCam(cam.grid, volume.size(), volumetric).to(torch::kCPU).contiguous();

        CamResult result;
        result.cam = Volume(volume.size(), 1);
        result.cam.geometry() = volume.geometry();
        std::copy(onSource.data_ptr<float>(), onSource.data_ptr<float>() + onSource.numel(),
                  result.cam.voxels().begin());
        result.cam.sourcePixelType = PixelType::Float32;
        result.cam.formatName = "CAM";
        result.cam.metadata["CamMethod"] = recipe.method;
        result.cam.metadata["CamShifts"] = std::to_string(recipe.shifts);
        result.cam.metadata["CamLayer"] = layer;
        result.cam.metadata["CamTarget"] = std::to_string(cam.target);
        result.method = recipe.method;
        result.shifts = recipe.shifts;
        result.layer = layer;
        result.target = cam.target;
        result.classNames = impl_->classNames;
        auto p = cam.probabilities.to(torch::kCPU).contiguous();
        result.probabilities.assign(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
        const int64_t g = cam.tokenSide;
        result.grid = volumetric ? std::vector<int64_t>{g, g, g} : std::vector<int64_t>{g, g};
        result.resamplingJson = input.resampling.dump();
        result.device = impl_->device.str();
        if (options.faithfulnessSteps > 0) {
            // Scored on the model's own grid, where the model sees the pixels.
            const int64_t side = image.size(-1);
            torch::Tensor map =
                upsampleCam(cam.grid, {side, side, volumetric ? side : 1}, volumetric);
            const DeletionInsertion curves = deletionInsertion(
                model, impl_->task, image, map, cam.target, options.faithfulnessSteps);
            result.deletionAuc = curves.deletion;
            result.insertionAuc = curves.insertion;
        }
        return result;
    });
}

Prediction predictVolume(const std::string& bundlePath, const Volume& volume,
                         const DeviceOptions& device) {
    return LoadedModel(bundlePath, device).predict(volume);
}

CamResult computeCam(const std::string& bundlePath, const Volume& volume,
                     const CamOptions& options) {
    return LoadedModel(bundlePath, options.device).cam(volume, options);
}

}  // namespace rllm
