#include "ui/session/OverlayStyle.h"

namespace rllm {

QColor heatColour(HeatColormap map, double t) {
    const auto c = heatColourRgb(map, t);
    return QColor(c[0], c[1], c[2]);
}

QStringList heatColormapNames() {
    QStringList names;
    for (const std::string& name : colormapNames()) names << QString::fromStdString(name);
    return names;
}

HeatColormap heatColormapFromName(const QString& name) {
    HeatColormap map = HeatColormap::Jet;
    findColormap(name.toStdString(), map);
    return map;
}

QString heatColormapName(HeatColormap map) {
    return QString::fromStdString(colormapName(map));
}

}  // namespace rllm
