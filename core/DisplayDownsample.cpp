#include "core/DisplayDownsample.h"

#include <algorithm>

namespace rllm {

std::array<int64_t, 3> displayFactors(const std::array<int64_t, 3>& size, int64_t maxVoxels) {
    std::array<int64_t, 3> f{1, 1, 1};
    auto reduced = [&](int axis) { return (size[axis] + f[axis] - 1) / f[axis]; };
    auto count = [&] { return reduced(0) * reduced(1) * reduced(2); };
    while (count() > std::max<int64_t>(1, maxVoxels)) {
        int axis = 0;
        for (int a = 1; a < 3; ++a)
            if (reduced(a) > reduced(axis)) axis = a;
        if (reduced(axis) <= 1) break;
        ++f[axis];
    }
    return f;
}

Volume downsampleByBlocks(const Volume& volume, const std::array<int64_t, 3>& factors) {
    const ImageGeometry& g = volume.geometry();
    std::array<int64_t, 3> size;
    for (int a = 0; a < 3; ++a) size[a] = (g.size[a] + factors[a] - 1) / factors[a];
    const int c = volume.components();
    Volume out(size, c);
    ImageGeometry& o = out.geometry();
    o.direction = g.direction;
    // A block of f voxels is centred (f - 1) / 2 old voxels past its first one.
    std::array<double, 3> firstCentre;
    for (int a = 0; a < 3; ++a) {
        o.spacing[a] = g.spacing[a] * static_cast<double>(factors[a]);
        firstCentre[a] = (static_cast<double>(std::min(factors[a], g.size[a])) - 1.0) / 2.0;
    }
    o.origin = g.indexToPhysical(firstCentre);
    std::vector<double> sums(static_cast<size_t>(size[0]) * c);
    std::vector<int64_t> counts(static_cast<size_t>(size[0]));
    const float* in = volume.voxels().data();
    float* result = out.voxels().data();
    for (int64_t z = 0; z < size[2]; ++z)
        for (int64_t y = 0; y < size[1]; ++y) {
            // One output row at a time: its blocks' sums over the input rows they cover.
            std::fill(sums.begin(), sums.end(), 0.0);
            std::fill(counts.begin(), counts.end(), 0);
            for (int64_t zz = z * factors[2]; zz < std::min(g.size[2], (z + 1) * factors[2]); ++zz)
                for (int64_t yy = y * factors[1]; yy < std::min(g.size[1], (y + 1) * factors[1]);
                     ++yy) {
                    const float* row = in + ((zz * g.size[1] + yy) * g.size[0]) * c;
                    for (int64_t x = 0; x < g.size[0]; ++x) {
                        const size_t block = static_cast<size_t>(x / factors[0]);
                        for (int k = 0; k < c; ++k) sums[block * c + k] += row[x * c + k];
                        ++counts[block];
                    }
                }
            float* target = result + ((z * size[1] + y) * size[0]) * c;
            for (int64_t x = 0; x < size[0]; ++x)
                for (int k = 0; k < c; ++k)
                    target[x * c + k] = static_cast<float>(sums[x * c + k] / counts[x]);
        }
    out.sourcePixelType = volume.sourcePixelType;
    out.formatName = volume.formatName;
    out.sourcePath = volume.sourcePath;
    out.rescaleSlope = volume.rescaleSlope;
    out.rescaleIntercept = volume.rescaleIntercept;
    out.windowPresets = volume.windowPresets;
    out.metadata = volume.metadata;
    out.synthetic = volume.synthetic;
    return out;
}

}  // namespace rllm
