#pragma once
// Cutting 2D slices out of a Volume and mapping them to 8-bit display values.

#include <array>
#include <cstdint>
#include <vector>

namespace rllm {

class Volume;

// The index axis that is held fixed: Z gives the acquisition plane
// (axial for an axial CT), Y and X the two orthogonal reformats.
enum class SliceAxis { X, Y, Z };

struct SliceImage {
    int width = 0;
    int height = 0;
    int components = 1;
    std::vector<float> values;  // row-major, components interleaved
    double pixelWidth = 1.0;    // physical size of a pixel, for the display aspect ratio
    double pixelHeight = 1.0;
};

int64_t sliceCount(const Volume& volume, SliceAxis axis);

// Slice `index` across `axis`. For X and Y the volume's z axis runs upwards
// (row 0 is the last slice) so that head-first axial stacks show head up.
// Throws rllm::Error when index is out of range.
SliceImage extractSlice(const Volume& volume, SliceAxis axis, int64_t index);

// The voxel shown at (column, row) of slice `index` across `axis`.
std::array<int64_t, 3> sliceToVoxel(const Volume& volume, SliceAxis axis, int64_t index, int column,
                                    int row);

// The DICOM linear VOI function (PS3.3 C.11.2.1.2) onto 0..255, applied to
// every component. width <= 0 is treated as the smallest positive width.
std::vector<uint8_t> applyWindow(const SliceImage& slice, double center, double width);

}  // namespace rllm
