#include "core/Volume.h"

#include "core/Error.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rllm {

std::string pixelTypeName(PixelType type) {
    switch (type) {
        case PixelType::UInt8:
            return "uint8";
        case PixelType::Int8:
            return "int8";
        case PixelType::UInt16:
            return "uint16";
        case PixelType::Int16:
            return "int16";
        case PixelType::UInt32:
            return "uint32";
        case PixelType::Int32:
            return "int32";
        case PixelType::Float32:
            return "float32";
        case PixelType::Float64:
            return "float64";
        case PixelType::Unknown:
            break;
    }
    return "unknown";
}

std::array<double, 3> ImageGeometry::indexToPhysical(const std::array<double, 3>& index) const {
    std::array<double, 3> point = origin;
    for (int row = 0; row < 3; ++row)
        for (int col = 0; col < 3; ++col)
            point[row] += direction[row * 3 + col] * spacing[col] * index[col];
    return point;
}

std::array<double, 3> ImageGeometry::physicalToIndex(const std::array<double, 3>& point) const {
    // The direction matrix is orthonormal for every format we read, so its
    // inverse is its transpose.
    std::array<double, 3> offset{point[0] - origin[0], point[1] - origin[1], point[2] - origin[2]};
    std::array<double, 3> index{0, 0, 0};
    for (int col = 0; col < 3; ++col) {
        double projected = 0;
        for (int row = 0; row < 3; ++row) projected += direction[row * 3 + col] * offset[row];
        index[col] = projected / spacing[col];
    }
    return index;
}

bool ImageGeometry::sameGridAs(const ImageGeometry& other, double tolerance) const {
    if (size != other.size) return false;
    for (int i = 0; i < 3; ++i) {
        if (std::abs(spacing[i] - other.spacing[i]) > tolerance * std::max(1.0, spacing[i]))
            return false;
        if (std::abs(origin[i] - other.origin[i]) > tolerance * std::max(1.0, std::abs(origin[i])))
            return false;
    }
    for (int i = 0; i < 9; ++i)
        if (std::abs(direction[i] - other.direction[i]) > tolerance) return false;
    return true;
}

Volume::Volume(const std::array<int64_t, 3>& size, int components) : components_(components) {
    for (int64_t extent : size)
        if (extent <= 0) throw Error("Volume: every dimension must be at least 1");
    if (components != 1 && components != 3) throw Error("Volume: 1 or 3 components supported");
    geometry_.size = size;
    voxels_.assign(static_cast<size_t>(geometry_.voxelCount() * components), 0.0f);
}

ValueRange Volume::valueRange() const {
    if (voxels_.empty()) return {};
    auto [lo, hi] = std::minmax_element(voxels_.begin(), voxels_.end());
    return {*lo, *hi};
}

WindowPreset defaultWindow(const Volume& volume) {
    if (!volume.windowPresets.empty()) return volume.windowPresets.front();
    ValueRange range = volume.valueRange();
    double width = std::max(1e-6, static_cast<double>(range.max) - range.min);
    return {"Full range", range.min + width / 2.0, width};
}

}  // namespace rllm
