#include "core/Colormap.h"

#include <algorithm>
#include <cmath>

namespace rllm {

std::array<uint8_t, 3> jetColour(float t) {
    t = std::clamp(t, 0.0f, 1.0f);
    auto channel = [&](float centre) {
        // Each channel is a trapezoid of width 1.5 around its centre.
        const float v = 1.5f - 4.0f * std::abs(t - centre);
        return static_cast<uint8_t>(std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f);
    };
    return {channel(0.75f), channel(0.5f), channel(0.25f)};
}

}  // namespace rllm
