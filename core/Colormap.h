#pragma once
// Colour maps for heatmaps over images.

#include <array>
#include <cstdint>

namespace rllm {

// MATLAB-style "jet": dark blue (0) -> cyan -> yellow -> dark red (1).
std::array<uint8_t, 3> jetColour(float t);

// `grey` (0..255) with `colour` blended in at `alpha` (0..1).
inline std::array<uint8_t, 3> blend(uint8_t grey, const std::array<uint8_t, 3>& colour,
                                    float alpha) {
    std::array<uint8_t, 3> out{};
    for (int i = 0; i < 3; ++i)
        out[i] = static_cast<uint8_t>(grey * (1 - alpha) + colour[i] * alpha + 0.5f);
    return out;
}

}  // namespace rllm
