#pragma once
// Volume: the one image type of the imaging core. A 2D image is a volume of
// depth 1. Voxel values are stored as float in modality units (after any
// rescale slope/intercept), x fastest, then y, then z, with colour components
// interleaved. Geometry follows ITK/DICOM LPS: physical = origin +
// direction * (spacing .* index).

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rllm {

enum class PixelType { UInt8, Int8, UInt16, Int16, UInt32, Int32, Float32, Float64, Unknown };
std::string pixelTypeName(PixelType type);

struct WindowPreset {
    std::string name;
    double center = 0;
    double width = 1;
};

struct ImageGeometry {
    std::array<int64_t, 3> size{0, 0, 0};
    std::array<double, 3> spacing{1, 1, 1};
    std::array<double, 3> origin{0, 0, 0};
    // Row-major 3x3; column j is the physical direction of index axis j.
    std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};

    int64_t voxelCount() const { return size[0] * size[1] * size[2]; }
    std::array<double, 3> indexToPhysical(const std::array<double, 3>& index) const;
    std::array<double, 3> physicalToIndex(const std::array<double, 3>& point) const;
    // True when both describe the same grid up to `tolerance` (relative for spacing).
    bool sameGridAs(const ImageGeometry& other, double tolerance = 1e-5) const;
};

struct ValueRange {
    float min = 0;
    float max = 0;
};

class Volume {
  public:
    Volume() = default;
    // Allocates zero-filled voxels for `size` with `components` per voxel (1 grey, 3 RGB).
    Volume(const std::array<int64_t, 3>& size, int components = 1);

    const ImageGeometry& geometry() const { return geometry_; }
    ImageGeometry& geometry() { return geometry_; }
    const std::array<int64_t, 3>& size() const { return geometry_.size; }
    int components() const { return components_; }
    bool isRgb() const { return components_ == 3; }
    bool is2D() const { return geometry_.size[2] == 1; }
    bool empty() const { return voxels_.empty(); }

    std::vector<float>& voxels() { return voxels_; }
    const std::vector<float>& voxels() const { return voxels_; }
    float at(int64_t x, int64_t y, int64_t z, int c = 0) const {
        return voxels_[static_cast<size_t>(
            ((z * geometry_.size[1] + y) * geometry_.size[0] + x) * components_ + c)];
    }
    float& at(int64_t x, int64_t y, int64_t z, int c = 0) {
        return voxels_[static_cast<size_t>(
            ((z * geometry_.size[1] + y) * geometry_.size[0] + x) * components_ + c)];
    }

    // Smallest and largest stored value over all components.
    ValueRange valueRange() const;

    // Where the data came from and how it was stored there.
    PixelType sourcePixelType = PixelType::Unknown;
    std::string formatName;  // "DICOM", "NIfTI", "MedMNIST npz", ...
    std::string sourcePath;
    double rescaleSlope = 1.0;
    double rescaleIntercept = 0.0;
    std::vector<WindowPreset> windowPresets;  // from the file, in file order
    // Display fields: PatientName, PatientID, StudyDescription, SeriesDescription, Modality, ...
    std::map<std::string, std::string> metadata;
    // Set for data the project generated itself (the demo phantoms).
    bool synthetic = false;

  private:
    ImageGeometry geometry_;
    int components_ = 1;
    std::vector<float> voxels_;
};

// A window that shows the whole value range: the file's first preset if any,
// else min..max.
WindowPreset defaultWindow(const Volume& volume);

}  // namespace rllm
