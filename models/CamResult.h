#pragma once
// The result of computeCam (models/Engine.h), kept apart because it holds a
// core Volume.

#include "core/Volume.h"

#include <cmath>
#include <string>
#include <vector>

namespace rllm {

struct CamResult {
    Volume cam;                 // on the input's voxel grid and geometry, values in [0, 1]
    std::string method, layer;  // the method and layer actually used ("auto" and defaults resolved)
    int shifts = 1;             // sub-patch shifts per axis averaged (models/Cam.h)
    int target = 0;             // the class explained
    std::vector<std::string> classNames;
    std::vector<float> probabilities;
    std::vector<int64_t> grid;   // token grid (x, y[, z])
    std::string resamplingJson;  // how the input was mapped onto the model grid
    std::string device;
    // Deletion and insertion AUC of this map (CamOptions::faithfulnessSteps);
    // NaN when not asked for.
    double deletionAuc = std::nan(""), insertionAuc = std::nan("");
};

}  // namespace rllm
