#pragma once
// Display presets as data: the window presets of the View menu and the 3D
// view's transfer functions, read from resources/presets/display-presets.json
// (a Qt resource; resources/README.md describes the format).

#include <QByteArray>
#include <QString>

#include <array>
#include <utility>
#include <vector>

namespace rllm {

// Registers the viewer's compiled-in resources (presets.qrc: the display
// presets and the application icon) once.
void initViewerResources();

struct WindowChoice {
    QString name;
    bool fileWindow = false;  // the file's own window (or its value range)
    double center = 0, width = 0;
};

// One point of a transfer function: at an image value, a display-window
// position (centre + at * width), or the image's smallest / largest value.
struct TransferPoint {
    enum class Anchor { Position, DataMin, DataMax };
    Anchor anchor = Anchor::Position;
    double at = 0;
    std::array<double, 3> values{};  // opacity in [0]; or r, g, b
};

struct TransferPreset {
    QString name, about;
    bool maximumIntensity = false;  // "blend": "maximum"
    bool windowUnits = false;       // "units": "window"
    std::vector<TransferPoint> opacity, colour;
};

struct DisplayPresets {
    std::vector<WindowChoice> windows;
    std::vector<TransferPreset> transfers;
    const TransferPreset* transfer(const QString& name) const;
};

// Throws rllm::Error saying what is wrong (and where) when `json` is not a
// valid presets file.
DisplayPresets parseDisplayPresets(const QByteArray& json);

// The presets compiled into the application.
const DisplayPresets& builtInDisplayPresets();

// A transfer preset made concrete for one image: points at image values,
// in increasing order.
struct ResolvedTransfer {
    bool maximumIntensity = false;
    std::vector<std::pair<double, double>> opacity;
    std::vector<std::pair<double, std::array<double, 3>>> colour;
};
ResolvedTransfer resolveTransfer(const TransferPreset& preset, double dataMin, double dataMax,
                                 double windowCenter, double windowWidth);

}  // namespace rllm
