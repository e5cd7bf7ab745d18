#pragma once
// The 256-entry colour maps, generated at configure time from
// resources/colormaps/*.csv (see core/CMakeLists.txt). Internal to
// core/Colormap.cpp.

#include <array>

namespace rllm {

using ColourTable = std::array<std::array<float, 3>, 256>;  // sRGB, 0..1, low to high

extern const ColourTable k_viridis;
extern const ColourTable k_inferno;
extern const ColourTable k_magma;
extern const ColourTable k_coolwarm;  // diverging: blue - light grey - red

}  // namespace rllm
