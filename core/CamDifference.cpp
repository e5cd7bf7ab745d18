#include "core/CamDifference.h"

#include "core/Volume.h"

namespace rllm {

std::shared_ptr<Volume> camDifference(const Volume& a, const Volume& b) {
    if (a.components() != 1 || b.components() != 1) return nullptr;
    if (!a.geometry().sameGridAs(b.geometry())) return nullptr;
    auto difference = std::make_shared<Volume>(a.size(), 1);
    difference->geometry() = a.geometry();
    const std::vector<float>& va = a.voxels();
    const std::vector<float>& vb = b.voxels();
    std::vector<float>& d = difference->voxels();
    for (size_t i = 0; i < d.size(); ++i) d[i] = va[i] - vb[i];
    return difference;
}

}  // namespace rllm
