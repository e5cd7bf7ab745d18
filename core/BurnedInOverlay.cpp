#include "core/BurnedInOverlay.h"

#include "core/Error.h"
#include "core/Slice.h"

#include <algorithm>

namespace rllm {

Volume burnInCam(const Volume& image, const Volume& cam, HeatColormap colormap,
                 const WindowPreset& window) {
    if (!image.geometry().sameGridAs(cam.geometry()) || cam.components() != 1)
        throw Error("the CAM is not on the image's grid: it cannot be burned in");
    // The whole volume through the window at once, as one long row.
    SliceImage all;
    all.width = static_cast<int>(image.voxels().size());
    all.height = 1;
    all.components = 1;
    all.values = image.voxels();
    const std::vector<uint8_t> shown = applyWindow(all, window.center, window.width);
    Volume out(image.size(), 3);
    out.geometry() = image.geometry();
    out.metadata = image.metadata;
    const int c = image.components();
    const size_t voxels = static_cast<size_t>(image.geometry().voxelCount());
    std::vector<float>& rgb = out.voxels();
    for (size_t v = 0; v < voxels; ++v) {
        int grey = shown[v * c];
        if (c == 3) grey = (shown[3 * v] + shown[3 * v + 1] + shown[3 * v + 2]) / 3;
        const float t = std::clamp(cam.voxels()[v], 0.0f, 1.0f);
        const auto colour = blend(static_cast<uint8_t>(grey), heatColourRgb(colormap, t),
                                  0.5f * std::min(1.0f, t * 2.0f));
        for (int k = 0; k < 3; ++k) rgb[3 * v + k] = colour[k];
    }
    return out;
}

}  // namespace rllm
