#include "ui/OverlayStyle.h"

#include "core/Colormap.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace rllm {

namespace {

// Piecewise-linear colour ramps through a few anchors (t = 0, 0.25, ..., 1).
QColor ramp(const std::array<std::array<int, 3>, 5>& anchors, double t) {
    t = std::clamp(t, 0.0, 1.0) * 4.0;
    const int i = std::min(3, static_cast<int>(t));
    const double f = t - i;
    auto mix = [&](int c) {
        return static_cast<int>(std::lround(anchors[i][c] * (1 - f) + anchors[i + 1][c] * f));
    };
    return QColor(mix(0), mix(1), mix(2));
}

}  // namespace

QColor heatColour(HeatColormap map, double t) {
    switch (map) {
        case HeatColormap::Jet: {
            const auto c = jetColour(static_cast<float>(t));
            return QColor(c[0], c[1], c[2]);
        }
        case HeatColormap::Hot:
            // Black-red-yellow-white, as in radiology's "hot iron".
            return ramp({{{0, 0, 0}, {150, 10, 0}, {255, 90, 0}, {255, 210, 40}, {255, 255, 255}}},
                        t);
        case HeatColormap::Viridis:
            // Perceptually ordered dark blue - teal - green - yellow (anchors read off viridis).
            return ramp(
                {{{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}}}, t);
        case HeatColormap::Diverging:
            return ramp(
                {{{40, 60, 200}, {130, 160, 240}, {245, 245, 245}, {240, 140, 110}, {200, 30, 30}}},
                (std::clamp(t, -1.0, 1.0) + 1.0) / 2.0);
    }
    return Qt::white;
}

QStringList heatColormapNames() {
    return {"Jet", "Hot", "Viridis", "Diverging"};
}

HeatColormap heatColormapFromName(const QString& name) {
    const int i = heatColormapNames().indexOf(name);
    return i < 0 ? HeatColormap::Jet : static_cast<HeatColormap>(i);
}

QString heatColormapName(HeatColormap map) {
    return heatColormapNames().value(static_cast<int>(map));
}

}  // namespace rllm
