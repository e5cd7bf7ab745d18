#pragma once
// A smaller copy of a large volume for drawing it whole (the 3D view): block
// means over whole blocks of voxels, on a grid that covers the same physical
// extent. Without a GPU, ray casting a 512 x 512 x 300 CT takes seconds a
// frame; the slice views always show the full resolution.

#include "core/Volume.h"

namespace rllm {

// The integer factors along x, y and z that bring `size` to at most
// `maxVoxels`: the axis with the most voxels per factor is reduced first.
std::array<int64_t, 3> displayFactors(const std::array<int64_t, 3>& size, int64_t maxVoxels);

// `volume` reduced by `factors`: each output voxel is the mean of its block
// (blocks at the far edges may be partial), its centre at the block's
// centre. Factors of 1 give a copy.
Volume downsampleByBlocks(const Volume& volume, const std::array<int64_t, 3>& factors);

}  // namespace rllm
