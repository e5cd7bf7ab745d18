#include "core/Slice.h"

#include "core/Error.h"
#include "core/Volume.h"

#include <algorithm>
#include <cmath>

namespace rllm {

namespace {

// DICOM patient axes (LPS): 0 = towards the patient's left, 1 = posterior,
// 2 = superior.
enum PatientAxis { kLeft = 0, kPosterior = 1, kSuperior = 2 };

std::array<double, 3> indexDirection(const ImageGeometry& g, int axis) {
    return {g.direction[0 * 3 + axis], g.direction[1 * 3 + axis], g.direction[2 * 3 + axis]};
}

// indexAxisOf[p]: the index axis that runs closest to patient axis p. Chosen
// as one permutation for the whole volume (the one with the largest summed
// |cosine|), so the three planes never share an index axis, even at 45°.
std::array<int, 3> indexAxisOfPatientAxis(const ImageGeometry& g) {
    std::array<int, 3> permutation{0, 1, 2}, best = permutation;
    double bestScore = -1;
    do {
        double score = 0;
        for (int p = 0; p < 3; ++p) score += std::abs(g.direction[p * 3 + permutation[p]]);
        if (score > bestScore + 1e-12) {
            bestScore = score;
            best = permutation;
        }
    } while (std::next_permutation(permutation.begin(), permutation.end()));
    return best;
}

struct PlaneConvention {
    int normal;        // patient axis across the plane
    int right;         // patient axis that points to the screen's right ...
    double rightSign;  // ... in this sense (+1: towards L / P / S)
    int down;
    double downSign;
};

PlaneConvention conventionOf(PatientPlane plane) {
    switch (plane) {
        case PatientPlane::Axial:  // right on the left: screen right = L; anterior up: down = P
            return {kSuperior, kLeft, +1, kPosterior, +1};
        case PatientPlane::Coronal:  // screen right = L; superior up: down = I
            return {kPosterior, kLeft, +1, kSuperior, -1};
        case PatientPlane::Sagittal:  // anterior on the left: screen right = P; down = I
            return {kLeft, kPosterior, +1, kSuperior, -1};
    }
    return {kSuperior, kLeft, +1, kPosterior, +1};
}

std::array<double, 3> cross(const std::array<double, 3>& a, const std::array<double, 3>& b) {
    return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}

std::string letterOf(const std::array<double, 3>& d) {
    int axis = 0;
    for (int i = 1; i < 3; ++i)
        if (std::abs(d[i]) > std::abs(d[axis])) axis = i;
    static const char* positive[] = {"L", "P", "S"};
    static const char* negative[] = {"R", "A", "I"};
    return d[axis] >= 0 ? positive[axis] : negative[axis];
}

std::array<double, 3> screenDirection(const ImageGeometry& g, int axis, bool reversed) {
    auto d = indexDirection(g, axis);
    if (reversed)
        for (double& v : d) v = -v;
    return d;
}

}  // namespace

std::string planeName(PatientPlane plane) {
    switch (plane) {
        case PatientPlane::Axial:
            return "Axial";
        case PatientPlane::Coronal:
            return "Coronal";
        case PatientPlane::Sagittal:
            return "Sagittal";
    }
    return "Axial";
}

SliceLayout sliceLayout(const ImageGeometry& geometry, PatientPlane plane) {
    const std::array<int, 3> indexAxisOf = indexAxisOfPatientAxis(geometry);
    const PlaneConvention convention = conventionOf(plane);
    SliceLayout layout;
    layout.plane = plane;
    layout.normalAxis = indexAxisOf[convention.normal];
    layout.columnAxis = indexAxisOf[convention.right];
    layout.rowAxis = indexAxisOf[convention.down];
    layout.columnReversed =
        convention.rightSign * geometry.direction[convention.right * 3 + layout.columnAxis] < 0;
    layout.rowReversed =
        convention.downSign * geometry.direction[convention.down * 3 + layout.rowAxis] < 0;

    // The slices' normal is across the two in-plane axes (not the third
    // index axis, which a gantry tilt shears).
    auto normal = cross(indexDirection(geometry, layout.columnAxis),
                        indexDirection(geometry, layout.rowAxis));
    const double length =
        std::sqrt(normal[0] * normal[0] + normal[1] * normal[1] + normal[2] * normal[2]);
    if (length > 0) {
        const double cosine = std::min(1.0, std::abs(normal[convention.normal]) / length);
        layout.obliqueDegrees = std::acos(cosine) * 180.0 / M_PI;
    }
    return layout;
}

PatientPlane acquisitionPlane(const ImageGeometry& geometry) {
    const std::array<int, 3> indexAxisOf = indexAxisOfPatientAxis(geometry);
    if (indexAxisOf[kPosterior] == 2) return PatientPlane::Coronal;
    if (indexAxisOf[kLeft] == 2) return PatientPlane::Sagittal;
    return PatientPlane::Axial;
}

int64_t sliceCount(const Volume& volume, const SliceLayout& layout) {
    return volume.size()[layout.normalAxis];
}

SliceImage extractSlice(const Volume& volume, const SliceLayout& layout, int64_t index) {
    const auto& size = volume.size();
    const auto& spacing = volume.geometry().spacing;
    if (index < 0 || index >= sliceCount(volume, layout))
        throw Error("slice " + std::to_string(index) + " is outside 0.." +
                    std::to_string(sliceCount(volume, layout) - 1));
    SliceImage slice;
    slice.components = volume.components();
    slice.width = static_cast<int>(size[layout.columnAxis]);
    slice.height = static_cast<int>(size[layout.rowAxis]);
    slice.pixelWidth = spacing[layout.columnAxis];
    slice.pixelHeight = spacing[layout.rowAxis];
    const int c = volume.components();
    slice.values.resize(static_cast<size_t>(slice.width) * slice.height * c);
    float* out = slice.values.data();
    for (int row = 0; row < slice.height; ++row) {
        for (int col = 0; col < slice.width; ++col) {
            const auto [x, y, z] = sliceToVoxel(size, layout, index, col, row);
            for (int k = 0; k < c; ++k) *out++ = volume.at(x, y, z, k);
        }
    }
    return slice;
}

std::array<int64_t, 3> sliceToVoxel(const std::array<int64_t, 3>& size, const SliceLayout& layout,
                                    int64_t index, int column, int row) {
    std::array<int64_t, 3> voxel{};
    voxel[layout.normalAxis] = index;
    voxel[layout.columnAxis] =
        layout.columnReversed ? size[layout.columnAxis] - 1 - column : column;
    voxel[layout.rowAxis] = layout.rowReversed ? size[layout.rowAxis] - 1 - row : row;
    return voxel;
}

std::array<int64_t, 2> voxelToSlicePixel(const std::array<int64_t, 3>& size,
                                         const SliceLayout& layout,
                                         const std::array<int64_t, 3>& voxel) {
    const int64_t column = voxel[layout.columnAxis], row = voxel[layout.rowAxis];
    return {layout.columnReversed ? size[layout.columnAxis] - 1 - column : column,
            layout.rowReversed ? size[layout.rowAxis] - 1 - row : row};
}

std::array<std::string, 4> edgeLetters(const ImageGeometry& geometry, const SliceLayout& layout) {
    const auto right = screenDirection(geometry, layout.columnAxis, layout.columnReversed);
    const auto down = screenDirection(geometry, layout.rowAxis, layout.rowReversed);
    const std::array<double, 3> left{-right[0], -right[1], -right[2]};
    const std::array<double, 3> up{-down[0], -down[1], -down[2]};
    return {letterOf(left), letterOf(right), letterOf(up), letterOf(down)};
}

std::vector<uint8_t> applyWindow(const SliceImage& slice, double center, double width) {
    return applyWindow(slice.values.data(), slice.values.size(), center, width);
}

std::vector<uint8_t> applyWindow(const float* values, size_t count, double center, double width) {
    // PS3.3 C.11.2.1.2.1: y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, clamped.
    width = std::max(width, 1e-6);
    const double scale = width > 1.0 ? 1.0 / (width - 1.0) : 1.0 / width;
    const double shift = width > 1.0 ? center - 0.5 : center;
    std::vector<uint8_t> display(count);
    for (size_t i = 0; i < count; ++i) {
        double v = ((values[i] - shift) * scale + 0.5) * 255.0;
        display[i] = static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
    }
    return display;
}

}  // namespace rllm
