#pragma once
// Model bundles: one safetensors file holding every weight (the frozen LLM
// block included) and, in its metadata, a JSON description that is enough to
// rebuild the network: architecture, classes, task, input normalisation, LLM
// source with the SHA-256 of the frozen tensors, and the training record.
// Loading parses JSON and copies tensors; it never executes code.

#include "models/BundleDescription.h"
#include "models/Networks.h"

#include <string>

namespace rllm {

struct LoadedBundle {
    Classifier model{nullptr};
    BundleDescription description;
};

// The ViT a description names, and the description of a ViT: the one place
// that maps the file's fields to the network's.
VitConfig vitConfigOf(const VitSpec& spec);
VitSpec vitSpecOf(const VitConfig& config, const std::string& preset);

// The network a description asks for, with untrained weights.
Classifier buildClassifier(const BundleDescription& description);

// SHA-256 over the frozen LLM tensors (names and float32 bytes, in name order).
std::string frozenWeightsHash(Classifier& model);

// Writes the weights and `description` (with the format, version and the
// frozen weights' SHA-256 filled in), atomically.
void saveBundle(Classifier& model, BundleDescription description, const std::string& path);

// Throws FileError when the file is not a bundle, a tensor is missing or
// misshapen, or the frozen weights do not match their recorded hash.
LoadedBundle loadBundle(const std::string& path);

// Class names for the MedMNIST sets whose label meanings are known.
std::vector<std::string> classNamesFor(const std::string& datasetPath, int classCount);

}  // namespace rllm
