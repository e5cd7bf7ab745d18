#pragma once
// The model a training run starts from (`rllm train`): the ViT's shape read
// off the data, the booster with its LLM block, the starting weights, and
// what the bundle will record of them. Apart from the training loop
// (Training.cpp), which takes the model as this builds it.

#include "models/BundleDescription.h"
#include "models/Metrics.h"
#include "models/Networks.h"

namespace rllm {

class MedMnistDataset;
struct DeviceOptions;
struct TrainOptions;

struct TrainingModel {
    VitConfig config;
    TaskType task = TaskType::Binary;
    // The model, booster, task, class names and data set filled in; the
    // training record is the loop's.
    BundleDescription description;
    Classifier model{nullptr};
};

// Builds the classifier `o` asks for on `data` from the seed o.seed (random
// weights, or --init's). Throws rllm::Error for options that do not fit the
// data or each other. With --llm-trainable it sets
// deviceOptions.llmPrecision to fp32: the block then trains in float32.
TrainingModel buildTrainingModel(const TrainOptions& o, const MedMnistDataset& data,
                                 DeviceOptions& deviceOptions);

}  // namespace rllm
