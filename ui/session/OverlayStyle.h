#pragma once
// How a heatmap (a CAM, or the difference of two) is drawn over a slice. The
// colour maps themselves are core/Colormap.h's, shared with the command line.

#include "core/Colormap.h"

#include <QColor>
#include <QString>
#include <QStringList>

namespace rllm {

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

QStringList heatColormapNames();                         // in enum order, for combo boxes
HeatColormap heatColormapFromName(const QString& name);  // Jet when unknown
QString heatColormapName(HeatColormap map);

}  // namespace rllm
