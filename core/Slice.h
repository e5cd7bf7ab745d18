#pragma once
// Cutting 2D slices out of a Volume the way radiologists look at them, and
// mapping them to 8-bit display values.
//
// A view shows one patient plane. Which index axes it cuts along, and which
// way they run on the screen, follows from the volume's direction matrix, so
// a coronal or sagittal acquisition looks the same on screen as an axial one:
//   axial     anterior up, the patient's right on the screen's left
//   coronal   superior up, the patient's right on the screen's left
//   sagittal  superior up, anterior on the screen's left
// Nothing is resampled: each index axis is matched to the patient axis it is
// closest to, and an oblique plane is shown as acquired, with its angle
// reported so the view can say so.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace rllm {

class Volume;
struct ImageGeometry;

enum class PatientPlane { Axial, Coronal, Sagittal };
std::string planeName(PatientPlane plane);

// Where a patient plane of a volume lands on the screen.
struct SliceLayout {
    PatientPlane plane = PatientPlane::Axial;
    int normalAxis = 2;           // the index axis held fixed: slice k is index k along it
    int columnAxis = 0;           // the index axis along the screen's columns (left to right)
    int rowAxis = 1;              // the index axis along the screen's rows (top to bottom)
    bool columnReversed = false;  // column 0 shows the axis' last index
    bool rowReversed = false;
    // Angle between the slices' normal and the plane's patient axis (0 for a
    // slice exactly axial, coronal or sagittal).
    double obliqueDegrees = 0;
};

// Index axes further than this from their patient plane are called oblique.
constexpr double kObliqueThresholdDegrees = 1.0;

SliceLayout sliceLayout(const ImageGeometry& geometry, PatientPlane plane);

// The plane a single-slice image was acquired in (the one across its z axis).
PatientPlane acquisitionPlane(const ImageGeometry& geometry);

struct SliceImage {
    int width = 0;
    int height = 0;
    int components = 1;
    std::vector<float> values;  // row-major, components interleaved
    double pixelWidth = 1.0;    // physical size of a pixel, for the display aspect ratio
    double pixelHeight = 1.0;
};

int64_t sliceCount(const Volume& volume, const SliceLayout& layout);

// Slice `index` (along layout.normalAxis) laid out as `layout` says.
// Throws rllm::Error when index is out of range.
SliceImage extractSlice(const Volume& volume, const SliceLayout& layout, int64_t index);

// The voxel shown at (column, row) of slice `index`.
std::array<int64_t, 3> sliceToVoxel(const std::array<int64_t, 3>& size, const SliceLayout& layout,
                                    int64_t index, int column, int row);
// The (column, row) at which `voxel` is shown (its index along the normal is ignored).
std::array<int64_t, 2> voxelToSlicePixel(const std::array<int64_t, 3>& size,
                                         const SliceLayout& layout,
                                         const std::array<int64_t, 3>& voxel);

// The patient directions at the left, right, top and bottom edges of the
// view (DICOM letters R/L, A/P, S/I of the closest patient axis).
std::array<std::string, 4> edgeLetters(const ImageGeometry& geometry, const SliceLayout& layout);

// The DICOM linear VOI function (PS3.3 C.11.2.1.2) onto 0..255, applied to
// every component. width <= 0 is treated as the smallest positive width.
std::vector<uint8_t> applyWindow(const SliceImage& slice, double center, double width);
// The same for `count` values anywhere (a whole volume: no slice copied first).
std::vector<uint8_t> applyWindow(const float* values, size_t count, double center, double width);

}  // namespace rllm
