#pragma once
// A MedMNIST .npz file as a dataset: three splits (train, val, test), each an
// images array (N,H,W), (N,H,W,3) or (N,D,H,W) of uint8 and a labels array
// (N,L). Image arrays are decompressed on first use of a split and kept.

#include "core/Volume.h"

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rllm {

class NpzArchive;
struct NpyArray;

class MedMnistDataset {
  public:
    // Opens the archive and checks its six arrays (names, dtypes, shapes,
    // matching counts) without decompressing the images.
    explicit MedMnistDataset(const std::string& path);
    ~MedMnistDataset();

    static const std::vector<std::string>& splitNames();  // train, val, test

    const std::string& path() const;
    int64_t count(const std::string& split) const;
    bool is3D() const { return is3D_; }
    int channels() const { return channels_; }
    // Image extent as (width, height, depth); depth is 1 for 2D sets.
    std::array<int64_t, 3> imageSize() const { return imageSize_; }
    // Columns of the label array: 1 for binary / multi-class / ordinal, >1 for multi-label.
    int labelColumns() const { return labelColumns_; }
    // Single-column labels: how many cases carry each value 0..max.
    // Multi-label: how many cases are positive for each column.
    std::vector<int64_t> labelCounts(const std::string& split) const;

    // Case `index` of `split` as a Volume (uint8 source values, unit spacing),
    // with its split, index and labels in the metadata.
    Volume image(const std::string& split, int64_t index) const;
    std::vector<int> labels(const std::string& split, int64_t index) const;
    // All images of a split as stored: uint8, case after case, each laid out
    // (H,W), (H,W,3) or (D,H,W). Decompressed on first use, then kept.
    const std::vector<uint8_t>& rawImages(const std::string& split) const;
    // Largest single-column label + 1 over all splits (2 for binary sets),
    // or the label column count for multi-label sets.
    int classCount() const;

  private:
    void checkCase(const std::string& split, int64_t index) const;
    const NpyArray& images(const std::string& split) const;
    const NpyArray& labelArray(const std::string& split) const;

    std::unique_ptr<NpzArchive> archive_;
    std::map<std::string, int64_t> counts_;
    std::array<int64_t, 3> imageSize_{0, 0, 1};
    int channels_ = 1;
    bool is3D_ = false;
    int labelColumns_ = 1;
    mutable std::map<std::string, std::unique_ptr<NpyArray>> loaded_;
};

}  // namespace rllm
