#pragma once
// Colour maps for heatmaps over images: the one code path the viewer's
// overlays and the command line's PNGs both use.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace rllm {

// Jet and Hot are formulas; Viridis, Inferno and Magma (perceptually
// uniform, lightness rising with the value) and Diverging (coolwarm: blue -
// light grey - red) are 256-entry tables from resources/colormaps.
enum class HeatColormap { Jet, Hot, Viridis, Inferno, Magma, Diverging };

// The colour of `t` in [0, 1] (Diverging: t in [-1, 1], blue - grey - red);
// values outside are clamped.
std::array<uint8_t, 3> heatColourRgb(HeatColormap map, double t);

// Names in enum order ("Jet", "Hot", "Viridis", "Inferno", "Magma", "Diverging").
const std::vector<std::string>& colormapNames();
// false when `name` (case-insensitive) names no map.
bool findColormap(const std::string& name, HeatColormap& map);
std::string colormapName(HeatColormap map);

// MATLAB-style "jet": dark blue (0) -> cyan -> yellow -> dark red (1).
inline std::array<uint8_t, 3> jetColour(float t) {
    return heatColourRgb(HeatColormap::Jet, t);
}

// `grey` (0..255) with `colour` blended in at `alpha` (0..1).
inline std::array<uint8_t, 3> blend(uint8_t grey, const std::array<uint8_t, 3>& colour,
                                    float alpha) {
    std::array<uint8_t, 3> out{};
    for (int i = 0; i < 3; ++i)
        out[i] = static_cast<uint8_t>(grey * (1 - alpha) + colour[i] * alpha + 0.5f);
    return out;
}

}  // namespace rllm
