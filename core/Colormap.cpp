#include "core/Colormap.h"

#include "core/ColormapTables.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace rllm {

namespace {

using Rgb = std::array<uint8_t, 3>;

// Piecewise-linear ramps through five anchors (t = 0, 0.25, ..., 1).
Rgb ramp(const std::array<std::array<int, 3>, 5>& anchors, double t) {
    t = std::clamp(t, 0.0, 1.0) * 4.0;
    const int i = std::min(3, static_cast<int>(t));
    const double f = t - i;
    Rgb out{};
    for (int c = 0; c < 3; ++c)
        out[size_t(c)] = static_cast<uint8_t>(std::lround(anchors[size_t(i)][size_t(c)] * (1 - f) +
                                                          anchors[size_t(i) + 1][size_t(c)] * f));
    return out;
}

// A 256-entry table at t in [0, 1], interpolated between neighbouring entries.
Rgb lookup(const ColourTable& table, double t) {
    const double at = std::clamp(t, 0.0, 1.0) * 255.0;
    const int i = std::min(254, static_cast<int>(at));
    const double f = at - i;
    Rgb out{};
    for (size_t c = 0; c < 3; ++c)
        out[c] = static_cast<uint8_t>(
            std::lround((table[size_t(i)][c] * (1 - f) + table[size_t(i) + 1][c] * f) * 255.0));
    return out;
}

Rgb jet(double t) {
    t = std::clamp(t, 0.0, 1.0);
    auto channel = [&](double centre) {
        // Each channel is a trapezoid of width 1.5 around its centre.
        const double v = 1.5 - 4.0 * std::abs(t - centre);
        return static_cast<uint8_t>(std::clamp(v, 0.0, 1.0) * 255.0 + 0.5);
    };
    return {channel(0.75), channel(0.5), channel(0.25)};
}

}  // namespace

Rgb heatColourRgb(HeatColormap map, double t) {
    switch (map) {
        case HeatColormap::Jet:
            return jet(t);
        case HeatColormap::Hot:
            // Black-red-yellow-white, as in radiology's "hot iron".
            return ramp({{{0, 0, 0}, {150, 10, 0}, {255, 90, 0}, {255, 210, 40}, {255, 255, 255}}},
                        t);
        case HeatColormap::Viridis:
            return lookup(k_viridis, t);
        case HeatColormap::Inferno:
            return lookup(k_inferno, t);
        case HeatColormap::Magma:
            return lookup(k_magma, t);
        case HeatColormap::Diverging:
            return lookup(k_coolwarm, (std::clamp(t, -1.0, 1.0) + 1.0) / 2.0);
    }
    return {255, 255, 255};
}

const std::vector<std::string>& colormapNames() {
    static const std::vector<std::string> names = {"Jet",     "Hot",   "Viridis",
                                                   "Inferno", "Magma", "Diverging"};
    return names;
}

bool findColormap(const std::string& name, HeatColormap& map) {
    auto lower = [](std::string s) {
        std::transform(s.begin(), s.end(), s.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return s;
    };
    const auto& names = colormapNames();
    for (size_t i = 0; i < names.size(); ++i)
        if (lower(names[i]) == lower(name)) {
            map = static_cast<HeatColormap>(i);
            return true;
        }
    return false;
}

std::string colormapName(HeatColormap map) {
    return colormapNames().at(static_cast<size_t>(map));
}

}  // namespace rllm
