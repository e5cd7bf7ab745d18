#include "core/BurnedInOverlay.h"

#include "core/Error.h"
#include "core/Slice.h"

#include <algorithm>

namespace rllm {

std::array<uint8_t, 3> camOverGrey(uint8_t grey, float t, HeatColormap colormap) {
    t = std::clamp(t, 0.0f, 1.0f);
    return blend(grey, heatColourRgb(colormap, t), 0.5f * std::min(1.0f, t * 2.0f));
}

Volume burnInCam(const Volume& image, const Volume& cam, HeatColormap colormap,
                 const WindowPreset& window) {
    if (!image.geometry().sameGridAs(cam.geometry()) || cam.components() != 1)
        throw Error("the CAM is not on the image's grid: it cannot be burned in");
    const std::vector<uint8_t> shown =
        applyWindow(image.voxels().data(), image.voxels().size(), window.center, window.width);
    Volume out(image.size(), 3);
    out.geometry() = image.geometry();
    out.metadata = image.metadata;
    const int c = image.components();
    const size_t voxels = static_cast<size_t>(image.geometry().voxelCount());
    std::vector<float>& rgb = out.voxels();
    for (size_t v = 0; v < voxels; ++v) {
        int grey = shown[v * c];
        if (c == 3) grey = (shown[3 * v] + shown[3 * v + 1] + shown[3 * v + 2]) / 3;
        const auto colour = camOverGrey(static_cast<uint8_t>(grey), cam.voxels()[v], colormap);
        for (int k = 0; k < 3; ++k) rgb[3 * v + k] = colour[k];
    }
    return out;
}

}  // namespace rllm
