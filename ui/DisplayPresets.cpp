#include "ui/DisplayPresets.h"

#include "core/Error.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <mutex>

// Q_INIT_RESOURCE must be used outside any namespace. The resource lives in
// a static library, whose registration the linker would otherwise drop.
static void initPresetResources() {
    Q_INIT_RESOURCE(presets);
}

namespace rllm {

void initViewerResources() {
    static std::once_flag once;
    std::call_once(once, initPresetResources);
}

}  // namespace rllm

namespace rllm {

namespace {

[[noreturn]] void invalid(const QString& where, const QString& why) {
    throw Error(("display presets: " + where + ": " + why).toStdString());
}

double number(const QJsonValue& v, const QString& where) {
    if (!v.isDouble()) invalid(where, "expected a number");
    return v.toDouble();
}

TransferPoint parsePoint(const QJsonValue& value, int channels, const QString& where) {
    const QJsonArray a = value.toArray();
    if (!value.isArray() || a.size() != 1 + channels)
        invalid(where, QString("expected [position, %1 value(s)]").arg(channels));
    TransferPoint p;
    if (a[0].isString()) {
        const QString anchor = a[0].toString();
        if (anchor == "min")
            p.anchor = TransferPoint::Anchor::DataMin;
        else if (anchor == "max")
            p.anchor = TransferPoint::Anchor::DataMax;
        else
            invalid(where, "a position is a number, \"min\" or \"max\", not \"" + anchor + "\"");
    } else {
        p.at = number(a[0], where);
    }
    for (int c = 0; c < channels; ++c) {
        p.values[size_t(c)] = number(a[c + 1], where);
        if (p.values[size_t(c)] < 0 || p.values[size_t(c)] > 1)
            invalid(where, "opacities and colours lie in [0, 1]");
    }
    return p;
}

std::vector<TransferPoint> parsePoints(const QJsonObject& preset, const char* key, int channels,
                                       const QString& where) {
    const QJsonValue v = preset.value(key);
    if (!v.isArray() || v.toArray().isEmpty())
        invalid(where, QString("needs \"%1\" points").arg(key));
    std::vector<TransferPoint> points;
    double last = -1e300;
    for (const QJsonValue& item : v.toArray()) {
        points.push_back(parsePoint(item, channels, where + "." + key));
        if (points.back().anchor == TransferPoint::Anchor::Position) {
            if (points.back().at <= last) invalid(where + "." + key, "positions must increase");
            last = points.back().at;
        }
    }
    return points;
}

}  // namespace

const TransferPreset* DisplayPresets::transfer(const QString& name) const {
    for (const TransferPreset& t : transfers)
        if (t.name == name) return &t;
    return nullptr;
}

DisplayPresets parseDisplayPresets(const QByteArray& json) {
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &error);
    if (error.error != QJsonParseError::NoError)
        invalid(QString("offset %1").arg(error.offset), error.errorString());
    const QJsonObject root = doc.object();
    if (root.value("format").toString() != "rllm-display-presets")
        invalid("format", "not an rllm-display-presets file");
    DisplayPresets presets;
    for (const QJsonValue& v : root.value("window_presets").toArray()) {
        const QJsonObject o = v.toObject();
        WindowChoice w;
        w.name = o.value("name").toString();
        const QString where = "window preset '" + w.name + "'";
        if (w.name.isEmpty()) invalid("window_presets", "every preset needs a name");
        w.fileWindow = o.value("file_window").toBool(false);
        if (!w.fileWindow) {
            w.center = number(o.value("center"), where + ".center");
            w.width = number(o.value("width"), where + ".width");
            if (!(w.width > 0)) invalid(where, "the width must be positive");
        }
        presets.windows.push_back(w);
    }
    for (const QJsonValue& v : root.value("transfer_presets").toArray()) {
        const QJsonObject o = v.toObject();
        TransferPreset t;
        t.name = o.value("name").toString();
        t.about = o.value("about").toString();
        const QString where = "transfer preset '" + t.name + "'";
        if (t.name.isEmpty()) invalid("transfer_presets", "every preset needs a name");
        const QString blend = o.value("blend").toString("composite");
        if (blend != "composite" && blend != "maximum")
            invalid(where, "blend is \"composite\" or \"maximum\"");
        t.maximumIntensity = blend == "maximum";
        const QString units = o.value("units").toString();
        if (units != "value" && units != "window")
            invalid(where, "units are \"value\" or \"window\"");
        t.windowUnits = units == "window";
        t.opacity = parsePoints(o, "opacity", 1, where);
        t.colour = parsePoints(o, "colour", 3, where);
        presets.transfers.push_back(std::move(t));
    }
    if (presets.windows.empty() || presets.transfers.empty())
        invalid("presets", "needs at least one window preset and one transfer preset");
    return presets;
}

const DisplayPresets& builtInDisplayPresets() {
    static const DisplayPresets presets = [] {
        initViewerResources();
        QFile file(":/presets/display-presets.json");
        if (!file.open(QIODevice::ReadOnly))
            throw Error("the built-in display presets are missing from the application");
        return parseDisplayPresets(file.readAll());
    }();
    return presets;
}

ResolvedTransfer resolveTransfer(const TransferPreset& preset, double dataMin, double dataMax,
                                 double windowCenter, double windowWidth) {
    auto position = [&](const TransferPoint& p) {
        return preset.windowUnits ? windowCenter + p.at * windowWidth : p.at;
    };
    // "min" and "max" stay outside the explicit points, so the order holds
    // whatever the image's range.
    auto resolve = [&](const std::vector<TransferPoint>& points) {
        double first = 0, last = 0;
        bool any = false;
        for (const TransferPoint& p : points)
            if (p.anchor == TransferPoint::Anchor::Position) {
                if (!any) first = position(p);
                last = position(p);
                any = true;
            }
        std::vector<std::pair<double, std::array<double, 3>>> out;
        for (const TransferPoint& p : points) {
            double at = position(p);
            if (p.anchor == TransferPoint::Anchor::DataMin)
                at = any ? std::min(dataMin, first - 1) : dataMin;
            else if (p.anchor == TransferPoint::Anchor::DataMax)
                at = any ? std::max(dataMax, last + 1) : dataMax;
            out.push_back({at, p.values});
        }
        return out;
    };
    ResolvedTransfer r;
    r.maximumIntensity = preset.maximumIntensity;
    for (const auto& [at, values] : resolve(preset.opacity)) r.opacity.push_back({at, values[0]});
    r.colour = resolve(preset.colour);
    return r;
}

}  // namespace rllm
