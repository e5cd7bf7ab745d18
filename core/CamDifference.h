#pragma once
// The difference of two models' CAMs on one case, voxel by voxel (A - B, so
// positive where A looks more). Both CAMs lie on the case's grid; two on
// different grids (a model that resampled differently) have no difference.

#include <memory>

namespace rllm {

class Volume;

// A - B on A's grid; nullptr when the grids differ (size, spacing, origin or
// direction) or either is not a one-component volume.
std::shared_ptr<Volume> camDifference(const Volume& a, const Volume& b);

}  // namespace rllm
