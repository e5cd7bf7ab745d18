#pragma once
// How a Volume becomes a model input (internal to the models layer): grey or
// RGB as the model wants, intensity scaled as in training, resampled onto the
// model's square/cubic grid with centres aligned. The record says exactly how,
// so a CAM on the model grid maps back onto the source voxels.

#include "models/BundleDescription.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace rllm {

class Volume;
struct DeviceOptions;

// The LibTorch device for the user's --device/--threads (Engine.cpp).
torch::Device torchDevice(const DeviceOptions& options);

class ClassifierImpl;
// Moves `model` to `device` and sets its frozen block's compute type from
// options.llmPrecision for that device (Engine.cpp). Every move goes through here.
void placeModel(ClassifierImpl& model, const torch::Device& device, const DeviceOptions& options);

struct ModelInput {
    torch::Tensor image;  // (1, C, S, S) or (1, C, S, S, S), normalised
    nlohmann::json resampling;
};

ModelInput prepareInput(const BundleDescription& description, const Volume& volume);

// Stored 8-bit values (any shape) as the network's input, the one
// normalisation training, evaluation and the viewer share.
torch::Tensor normaliseStoredBytes(const torch::Tensor& bytes, const InputNormalisation& input);

}  // namespace rllm
