#include "core/Slice.h"

#include "core/Error.h"
#include "core/Volume.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace rllm {

int64_t sliceCount(const Volume& volume, SliceAxis axis) {
    return volume.size()[static_cast<int>(axis)];
}

SliceImage extractSlice(const Volume& volume, SliceAxis axis, int64_t index) {
    const auto& size = volume.size();
    const auto& spacing = volume.geometry().spacing;
    if (index < 0 || index >= sliceCount(volume, axis))
        throw Error("slice " + std::to_string(index) + " is outside 0.." +
                    std::to_string(sliceCount(volume, axis) - 1));
    SliceImage slice;
    slice.components = volume.components();
    const int c = volume.components();
    switch (axis) {
        case SliceAxis::Z:
            slice.width = static_cast<int>(size[0]);
            slice.height = static_cast<int>(size[1]);
            slice.pixelWidth = spacing[0];
            slice.pixelHeight = spacing[1];
            break;
        case SliceAxis::Y:
            slice.width = static_cast<int>(size[0]);
            slice.height = static_cast<int>(size[2]);
            slice.pixelWidth = spacing[0];
            slice.pixelHeight = spacing[2];
            break;
        case SliceAxis::X:
            slice.width = static_cast<int>(size[1]);
            slice.height = static_cast<int>(size[2]);
            slice.pixelWidth = spacing[1];
            slice.pixelHeight = spacing[2];
            break;
    }
    slice.values.resize(static_cast<size_t>(slice.width) * slice.height * c);
    float* out = slice.values.data();
    for (int row = 0; row < slice.height; ++row) {
        for (int col = 0; col < slice.width; ++col) {
            const auto [x, y, z] = sliceToVoxel(volume, axis, index, col, row);
            for (int k = 0; k < c; ++k) *out++ = volume.at(x, y, z, k);
        }
    }
    return slice;
}

std::array<int64_t, 3> sliceToVoxel(const Volume& volume, SliceAxis axis, int64_t index, int column,
                                    int row) {
    const int64_t lastZ = volume.size()[2] - 1;
    switch (axis) {
        case SliceAxis::Z:
            return {column, row, index};
        case SliceAxis::Y:
            return {column, index, lastZ - row};
        case SliceAxis::X:
            return {index, column, lastZ - row};
    }
    return {0, 0, 0};
}

std::vector<uint8_t> applyWindow(const SliceImage& slice, double center, double width) {
    // PS3.3 C.11.2.1.2.1: y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, clamped.
    width = std::max(width, 1e-6);
    const double scale = width > 1.0 ? 1.0 / (width - 1.0) : 1.0 / width;
    const double shift = width > 1.0 ? center - 0.5 : center;
    std::vector<uint8_t> display(slice.values.size());
    for (size_t i = 0; i < slice.values.size(); ++i) {
        double v = ((slice.values[i] - shift) * scale + 0.5) * 255.0;
        display[i] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
    }
    return display;
}

}  // namespace rllm
