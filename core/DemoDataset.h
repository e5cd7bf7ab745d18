#pragma once
// The embedded demo's data: synthetic phantoms (see Phantom.h), half with a
// lesion and half without, saved in MedMNIST's .npz layout (train/val/test
// _images as uint8 and _labels: 1 lesion, 0 none) plus the lesion masks as
// <split>_masks, so explanations can be scored against where the lesion is.

#include <cstdint>
#include <string>

namespace rllm {

struct DemoDatasetOptions {
    int size = 28;
    bool volumetric = false;
    int train = 400, val = 100, test = 100;
    double lesionRadius = 0.14;  // fraction of the side
    uint32_t seed = 7;
};

void writeDemoDataset(const std::string& path, const DemoDatasetOptions& options);

// Phantom units to the stored uint8: a window from -250 to 450 (air 0, tissue ~106, lesion 171 at
// its centre to 128 at its edge).
uint8_t phantomToByte(float value);

}  // namespace rllm
