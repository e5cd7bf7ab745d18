#pragma once
// How a heatmap (a CAM, or the difference of two) is drawn over a slice.

#include <QColor>
#include <QString>
#include <QStringList>

namespace rllm {

enum class HeatColormap { Jet, Hot, Viridis, Diverging };

struct OverlayStyle {
    HeatColormap colormap = HeatColormap::Jet;
    double opacity = 0.45;   // 0..1
    double threshold = 0.2;  // values below it (|value| for Diverging) are not drawn

    bool operator==(const OverlayStyle& other) const {
        return colormap == other.colormap && opacity == other.opacity &&
               threshold == other.threshold;
    }
    bool operator!=(const OverlayStyle& other) const { return !(*this == other); }
};

// Colour of `t` in [0, 1] (Diverging: t in [-1, 1], blue - white - red).
QColor heatColour(HeatColormap map, double t);

QStringList heatColormapNames();  // in enum order, for combo boxes
HeatColormap heatColormapFromName(const QString& name);
QString heatColormapName(HeatColormap map);

}  // namespace rllm
