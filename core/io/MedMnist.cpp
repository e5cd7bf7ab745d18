#include "core/io/MedMnist.h"

#include "core/Error.h"
#include "core/io/Npz.h"

#include <algorithm>

namespace rllm {

const std::vector<std::string>& MedMnistDataset::splitNames() {
    static const std::vector<std::string> names{"train", "val", "test"};
    return names;
}

MedMnistDataset::MedMnistDataset(const std::string& path)
    : archive_(std::make_unique<NpzArchive>(path)) {
    const std::string advice = "A MedMNIST file holds train/val/test _images and _labels arrays.";
    bool first = true;
    for (const std::string& split : splitNames()) {
        for (const char* suffix : {"_images", "_labels"})
            if (!archive_->contains(split + suffix))
                throw FileError(path, "has no '" + split + suffix + "' array.", advice);
        NpyHeader images = archive_->readHeader(split + "_images");
        NpyHeader labels = archive_->readHeader(split + "_labels");
        if (images.kind != 'u' || images.itemSize != 1)
            throw FileError(path, "'" + split + "_images' is " + images.dtypeName() +
                                      "; MedMNIST images are uint8.");
        if (images.shape.size() < 3 || images.shape.size() > 4)
            throw FileError(path, "'" + split + "_images' has " +
                                      std::to_string(images.shape.size()) +
                                      " dimensions; expected (N,H,W), (N,H,W,3) or (N,D,H,W).");
        if (labels.shape.empty() || labels.shape.size() > 2 || labels.shape[0] != images.shape[0])
            throw FileError(path, "'" + split + "_labels' does not have one row per image.");
        if (labels.kind == 'f')
            throw FileError(path, "'" + split + "_labels' holds floats; labels must be integers.");

        const auto& s = images.shape;
        bool rgb = s.size() == 4 && s[3] == 3;
        bool volume = s.size() == 4 && !rgb;
        std::array<int64_t, 3> size = volume ? std::array<int64_t, 3>{s[3], s[2], s[1]}
                                             : std::array<int64_t, 3>{s[2], s[1], 1};
        int columns = labels.shape.size() == 2 ? static_cast<int>(labels.shape[1]) : 1;
        if (first) {
            imageSize_ = size;
            channels_ = rgb ? 3 : 1;
            is3D_ = volume;
            labelColumns_ = columns;
            first = false;
        } else if (size != imageSize_ || (rgb ? 3 : 1) != channels_ || columns != labelColumns_) {
            throw FileError(path, "its splits disagree in image shape or label columns.");
        }
        counts_[split] = s[0];
    }
}

MedMnistDataset::~MedMnistDataset() = default;

const std::string& MedMnistDataset::path() const {
    return archive_->path();
}

int64_t MedMnistDataset::count(const std::string& split) const {
    auto it = counts_.find(split);
    if (it == counts_.end()) throw Error("unknown split '" + split + "': use train, val or test.");
    return it->second;
}

void MedMnistDataset::checkCase(const std::string& split, int64_t index) const {
    int64_t n = count(split);
    if (index < 0 || index >= n)
        throw Error("'" + path() + "': case " + std::to_string(index) + " is outside the " + split +
                    " split (0.." + std::to_string(n - 1) + ").");
}

const NpyArray& MedMnistDataset::images(const std::string& split) const {
    auto& slot = loaded_[split + "_images"];
    if (!slot) slot = std::make_unique<NpyArray>(archive_->readArray(split + "_images"));
    return *slot;
}

const NpyArray& MedMnistDataset::labelArray(const std::string& split) const {
    auto& slot = loaded_[split + "_labels"];
    if (!slot) slot = std::make_unique<NpyArray>(archive_->readArray(split + "_labels"));
    return *slot;
}

std::vector<int> MedMnistDataset::labels(const std::string& split, int64_t index) const {
    checkCase(split, index);
    const NpyArray& array = labelArray(split);
    std::vector<int> result(labelColumns_);
    for (int c = 0; c < labelColumns_; ++c)
        result[c] = static_cast<int>(array.valueAt(index * labelColumns_ + c));
    return result;
}

std::vector<int64_t> MedMnistDataset::labelCounts(const std::string& split) const {
    const NpyArray& array = labelArray(split);
    const int64_t n = count(split);
    std::vector<int64_t> counts;
    if (labelColumns_ == 1) {
        for (int64_t i = 0; i < n; ++i) {
            double v = array.valueAt(i);
            if (v < 0 || v > 10000)
                throw FileError(path(), "label " + std::to_string(v) + " of " + split + " case " +
                                            std::to_string(i) + " is not a class index.");
            size_t label = static_cast<size_t>(v);
            if (counts.size() <= label) counts.resize(label + 1, 0);
            ++counts[label];
        }
    } else {
        counts.assign(labelColumns_, 0);
        for (int64_t i = 0; i < n; ++i)
            for (int c = 0; c < labelColumns_; ++c)
                if (array.valueAt(i * labelColumns_ + c) != 0) ++counts[c];
    }
    return counts;
}

const std::vector<uint8_t>& MedMnistDataset::rawImages(const std::string& split) const {
    count(split);  // validates the name
    return images(split).data;
}

int MedMnistDataset::classCount() const {
    if (labelColumns_ > 1) return labelColumns_;
    size_t classes = 0;
    for (const std::string& split : splitNames())
        classes = std::max(classes, labelCounts(split).size());
    return static_cast<int>(std::max<size_t>(classes, 2));
}

Volume MedMnistDataset::image(const std::string& split, int64_t index) const {
    checkCase(split, index);
    const NpyArray& array = images(split);
    Volume volume(imageSize_, channels_);
    const size_t perCase = volume.voxels().size();
    const uint8_t* source = array.data.data() + static_cast<size_t>(index) * perCase;
    std::copy(source, source + perCase, volume.voxels().begin());
    volume.sourcePixelType = PixelType::UInt8;
    volume.formatName = "MedMNIST npz";
    volume.sourcePath = path();
    volume.windowPresets = {{"Full 8-bit range", 127.5, 256}};
    volume.metadata["Split"] = split;
    volume.metadata["Index"] = std::to_string(index);
    std::string labelText;
    for (int label : labels(split, index))
        labelText += (labelText.empty() ? "" : ",") + std::to_string(label);
    volume.metadata["Labels"] = labelText;
    return volume;
}

}  // namespace rllm
