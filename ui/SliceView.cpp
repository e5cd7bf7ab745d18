#include "ui/SliceView.h"

#include "core/Volume.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace rllm {

namespace {

// The LPS letter a physical direction points to most (DICOM patient axes:
// +x Left, +y Posterior, +z Superior).
QString patientLetter(const std::array<double, 3>& d) {
    int axis = 0;
    for (int i = 1; i < 3; ++i)
        if (std::abs(d[i]) > std::abs(d[axis])) axis = i;
    static const char* positive[] = {"L", "P", "S"};
    static const char* negative[] = {"R", "A", "I"};
    return d[axis] >= 0 ? positive[axis] : negative[axis];
}

std::array<double, 3> physicalStep(const Volume& v, const std::array<int64_t, 3>& from,
                                   const std::array<int64_t, 3>& to) {
    const auto& g = v.geometry();
    auto a = g.indexToPhysical({double(from[0]), double(from[1]), double(from[2])});
    auto b = g.indexToPhysical({double(to[0]), double(to[1]), double(to[2])});
    return {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
}

}  // namespace

SliceView::SliceView(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(120, 120);
    setAttribute(Qt::WA_OpaquePaintEvent);
}

SliceView::~SliceView() = default;

void SliceView::setVolume(std::shared_ptr<const Volume> volume) {
    volume_ = std::move(volume);
    overlays_.clear();
    if (!volume_) {
        clear();
        return;
    }
    WindowPreset window = defaultWindow(*volume_);
    center_ = window.center;
    width_ = window.width;
    const auto& s = volume_->size();
    crosshair_ = {s[0] / 2, s[1] / 2, s[2] / 2};
    slice_ = crosshair_[axisIndex()];
    zoom_ = 1.0;
    pan_ = {};
    rebuildImage();
    emit sliceChanged(slice_);
    emit windowChanged(center_, width_);
}

void SliceView::clear() {
    volume_.reset();
    overlays_.clear();
    image_ = QImage();
    overlayImage_ = QImage();
    sliceData_ = {};
    update();
}

int64_t SliceView::sliceCount() const {
    return volume_ ? rllm::sliceCount(*volume_, axis_) : 0;
}

void SliceView::setAxis(SliceAxis axis) {
    axis_ = axis;
    if (!volume_) return;
    slice_ = std::clamp<int64_t>(crosshair_[axisIndex()], 0, sliceCount() - 1);
    rebuildImage();
    emit sliceChanged(slice_);
}

void SliceView::setSliceIndex(int64_t index) {
    if (!volume_) return;
    index = std::clamp<int64_t>(index, 0, sliceCount() - 1);
    if (index == slice_ && !image_.isNull()) return;
    slice_ = index;
    crosshair_[axisIndex()] = index;
    rebuildImage();
    emit sliceChanged(slice_);
}

void SliceView::setWindow(double center, double width) {
    width = std::max(width, 1e-3);
    if (center == center_ && width == width_) return;
    center_ = center;
    width_ = width;
    if (volume_) rebuildImage();
    emit windowChanged(center_, width_);
}

void SliceView::setZoomPan(double zoom, QPointF pan) {
    zoom = std::clamp(zoom, 0.1, 40.0);
    if (zoom == zoom_ && pan == pan_) return;
    zoom_ = zoom;
    pan_ = pan;
    update();
    emit zoomPanChanged(zoom_, pan_);
}

void SliceView::resetView() {
    setZoomPan(1.0, {});
}

void SliceView::setOverlays(std::vector<SliceOverlay> overlays) {
    overlays_.clear();
    for (auto& o : overlays)
        if (o.map && volume_ && o.map->size() == volume_->size()) overlays_.push_back(o);
    rebuildOverlay();
    update();
}

void SliceView::setCrosshair(const std::array<int64_t, 3>& voxel) {
    if (!volume_) return;
    const auto& s = volume_->size();
    for (int i = 0; i < 3; ++i) crosshair_[i] = std::clamp<int64_t>(voxel[i], 0, s[i] - 1);
    if (crosshair_[axisIndex()] != slice_) {
        slice_ = crosshair_[axisIndex()];
        rebuildImage();
        emit sliceChanged(slice_);
    }
    update();
}

void SliceView::setCrosshairVisible(bool visible) {
    crosshairVisible_ = visible;
    update();
}

void SliceView::rebuildImage() {
    sliceData_ = extractSlice(*volume_, axis_, slice_);
    std::vector<uint8_t> display = applyWindow(sliceData_, center_, width_);
    const int w = sliceData_.width, h = sliceData_.height;
    if (sliceData_.components == 3) {
        image_ = QImage(w, h, QImage::Format_RGB888);
        for (int y = 0; y < h; ++y)
            std::copy_n(display.data() + static_cast<size_t>(y) * w * 3, w * 3, image_.scanLine(y));
    } else {
        image_ = QImage(w, h, QImage::Format_Grayscale8);
        for (int y = 0; y < h; ++y)
            std::copy_n(display.data() + static_cast<size_t>(y) * w, w, image_.scanLine(y));
    }
    rebuildOverlay();
    update();
}

void SliceView::rebuildOverlay() {
    overlayImage_ = QImage();
    if (!volume_ || overlays_.empty()) return;
    const int w = sliceData_.width, h = sliceData_.height;
    overlayImage_ = QImage(w, h, QImage::Format_ARGB32_Premultiplied);
    overlayImage_.fill(Qt::transparent);
    QPainter painter(&overlayImage_);
    for (const SliceOverlay& overlay : overlays_) {
        const SliceImage values = extractSlice(*overlay.map, axis_, slice_);
        const OverlayStyle& style = overlay.style;
        QImage layer(w, h, QImage::Format_ARGB32);
        for (int y = 0; y < h; ++y) {
            auto* line = reinterpret_cast<QRgb*>(layer.scanLine(y));
            for (int x = 0; x < w; ++x) {
                const double v = values.values[static_cast<size_t>(y) * w + x];
                const double magnitude =
                    style.colormap == HeatColormap::Diverging ? std::abs(v) : v;
                if (!(magnitude >= style.threshold) || magnitude <= 0) {
                    line[x] = qRgba(0, 0, 0, 0);
                    continue;
                }
                const QColor c = heatColour(style.colormap, v);
                line[x] = qRgba(c.red(), c.green(), c.blue(),
                                static_cast<int>(std::lround(255 * style.opacity)));
            }
        }
        painter.drawImage(0, 0, layer);
    }
}

QRectF SliceView::imageRect() const {
    if (image_.isNull()) return {};
    const double physicalWidth = sliceData_.width * sliceData_.pixelWidth;
    const double physicalHeight = sliceData_.height * sliceData_.pixelHeight;
    const double fit = std::min(width() / physicalWidth, height() / physicalHeight) * zoom_;
    const QSizeF size(physicalWidth * fit, physicalHeight * fit);
    const QPointF topLeft(rect().center().x() + 0.5 - size.width() / 2 + pan_.x(),
                          rect().center().y() + 0.5 - size.height() / 2 + pan_.y());
    return {topLeft, size};
}

QString SliceView::planeName() const {
    if (!volume_) return {};
    if (volume_->is2D()) return tr("Image");
    std::array<int64_t, 3> a{0, 0, 0}, b{0, 0, 0};
    b[axisIndex()] = 1;
    const auto normal = physicalStep(*volume_, a, b);
    const QString letter = patientLetter(normal);
    if (letter == "S" || letter == "I") return tr("Axial");
    if (letter == "A" || letter == "P") return tr("Coronal");
    return tr("Sagittal");
}

std::array<QString, 4> SliceView::edgeLabels() const {
    if (!volume_) return {};
    const auto origin = sliceToVoxel(*volume_, axis_, slice_, 0, 0);
    const int columnStep = sliceData_.width > 1 ? 1 : 0, rowStep = sliceData_.height > 1 ? 1 : 0;
    const auto right =
        physicalStep(*volume_, origin, sliceToVoxel(*volume_, axis_, slice_, columnStep, 0));
    const auto down =
        physicalStep(*volume_, origin, sliceToVoxel(*volume_, axis_, slice_, 0, rowStep));
    auto negate = [](std::array<double, 3> d) {
        return std::array<double, 3>{-d[0], -d[1], -d[2]};
    };
    return {patientLetter(negate(right)), patientLetter(right), patientLetter(negate(down)),
            patientLetter(down)};
}

bool SliceView::pixelAt(const QPointF& position, int& column, int& row) const {
    const QRectF area = imageRect();
    if (!volume_ || !area.contains(position)) return false;
    column =
        std::clamp(static_cast<int>((position.x() - area.left()) / area.width() * sliceData_.width),
                   0, sliceData_.width - 1);
    row = std::clamp(
        static_cast<int>((position.y() - area.top()) / area.height() * sliceData_.height), 0,
        sliceData_.height - 1);
    return true;
}

bool SliceView::voxelAt(const QPointF& position, std::array<int64_t, 3>& voxel) const {
    int column = 0, row = 0;
    if (!pixelAt(position, column, row)) return false;
    voxel = sliceToVoxel(*volume_, axis_, slice_, column, row);
    return true;
}

QPointF SliceView::widgetPosition(const std::array<int64_t, 3>& voxel) const {
    if (!volume_) return {};
    // The inverse of sliceToVoxel: find the in-plane axes from two probes.
    const auto origin = sliceToVoxel(*volume_, axis_, slice_, 0, 0);
    const auto right = sliceToVoxel(*volume_, axis_, slice_, std::min(1, sliceData_.width - 1), 0);
    const auto down = sliceToVoxel(*volume_, axis_, slice_, 0, std::min(1, sliceData_.height - 1));
    double column = 0, row = 0;
    for (int i = 0; i < 3; ++i) {
        if (right[i] != origin[i]) column = double(voxel[i] - origin[i]) / (right[i] - origin[i]);
        if (down[i] != origin[i]) row = double(voxel[i] - origin[i]) / (down[i] - origin[i]);
    }
    const QRectF area = imageRect();
    return {area.left() + (column + 0.5) / sliceData_.width * area.width(),
            area.top() + (row + 0.5) / sliceData_.height * area.height()};
}

void SliceView::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    painter.fillRect(rect(), Qt::black);
    if (image_.isNull()) {
        painter.setPen(QColor(150, 150, 150));
        painter.drawText(rect(), Qt::AlignCenter,
                         tr("No image loaded\nFile > Open, or drop a file here"));
        return;
    }
    const QRectF area = imageRect();
    painter.setRenderHint(QPainter::SmoothPixmapTransform, zoom_ < 1.0);
    painter.drawImage(area, image_);
    if (!overlayImage_.isNull()) painter.drawImage(area, overlayImage_);

    if (crosshairVisible_ && !volume_->is2D()) {
        const QPointF centre = widgetPosition(crosshair_);
        painter.setPen(QPen(QColor(60, 220, 90, 200), 1));
        painter.drawLine(QPointF(area.left(), centre.y()), QPointF(area.right(), centre.y()));
        painter.drawLine(QPointF(centre.x(), area.top()), QPointF(centre.x(), area.bottom()));
    }

    painter.setPen(QColor(230, 230, 120));
    const QString info = tr("%1  %2 / %3\nW %4  L %5")
                             .arg(planeName())
                             .arg(slice_ + 1)
                             .arg(sliceCount())
                             .arg(width_, 0, 'g', 5)
                             .arg(center_, 0, 'g', 5);
    painter.drawText(rect().adjusted(6, 4, -6, -4), Qt::AlignLeft | Qt::AlignTop, info);
    const auto labels = edgeLabels();
    painter.setPen(QColor(255, 200, 80));
    const QRect r = rect().adjusted(4, 4, -4, -4);
    painter.drawText(r, Qt::AlignLeft | Qt::AlignVCenter, labels[0]);
    painter.drawText(r, Qt::AlignRight | Qt::AlignVCenter, labels[1]);
    painter.drawText(r, Qt::AlignHCenter | Qt::AlignTop, labels[2]);
    painter.drawText(r, Qt::AlignHCenter | Qt::AlignBottom, labels[3]);
}

void SliceView::wheelEvent(QWheelEvent* event) {
    const int steps = event->angleDelta().y() / 120;
    if (steps == 0 || !volume_) return;
    if (event->modifiers() & Qt::ControlModifier)
        setZoomPan(zoom_ * std::pow(1.15, steps), pan_);
    else
        setSliceIndex(slice_ + steps);
    event->accept();
}

void SliceView::mousePressEvent(QMouseEvent* event) {
    if (!volume_) return;
    dragStart_ = event->position();
    dragCenter_ = center_;
    dragWidth_ = width_;
    dragZoom_ = zoom_;
    dragPan_ = pan_;
    moved_ = false;
    if (event->button() == Qt::MiddleButton ||
        (event->button() == Qt::LeftButton && (event->modifiers() & Qt::ShiftModifier)))
        drag_ = Drag::Pan;
    else if (event->button() == Qt::LeftButton)
        drag_ = Drag::Window;
    else if (event->button() == Qt::RightButton)
        drag_ = Drag::Zoom;
    event->accept();
}

void SliceView::mouseMoveEvent(QMouseEvent* event) {
    const QPointF delta = event->position() - dragStart_;
    if (drag_ != Drag::None && delta.manhattanLength() > 3) moved_ = true;
    switch (drag_) {
        case Drag::Window: {
            if (!moved_) break;
            // A full widget-width drag changes the window by its own size once over.
            const double sensitivity = std::max(dragWidth_, 1.0) / std::max(width(), 1);
            setWindow(dragCenter_ + delta.y() * sensitivity, dragWidth_ + delta.x() * sensitivity);
            break;
        }
        case Drag::Zoom:
            setZoomPan(dragZoom_ * std::pow(1.01, -delta.y()), pan_);
            break;
        case Drag::Pan:
            setZoomPan(zoom_, dragPan_ + delta);
            break;
        case Drag::None:
            break;
    }
    reportCursor(event->position());
}

void SliceView::mouseReleaseEvent(QMouseEvent* event) {
    // A click without a drag places the crosshair.
    std::array<int64_t, 3> voxel{};
    if (drag_ == Drag::Window && !moved_ && voxelAt(event->position(), voxel)) {
        setCrosshair(voxel);
        emit crosshairRequested(voxel);
    }
    drag_ = Drag::None;
}

void SliceView::mouseDoubleClickEvent(QMouseEvent*) {
    resetView();
}

void SliceView::reportCursor(const QPointF& position) {
    std::array<int64_t, 3> voxel{};
    if (!voxelAt(position, voxel)) {
        emit cursorInfo({});
        return;
    }
    const auto [x, y, z] = voxel;
    QString value;
    for (int c = 0; c < volume_->components(); ++c)
        value += (c ? " " : "") + QString::number(volume_->at(x, y, z, c), 'g', 6);
    for (const SliceOverlay& overlay : overlays_)
        value += tr("  [map %1]").arg(overlay.map->at(x, y, z), 0, 'f', 2);
    auto p = volume_->geometry().indexToPhysical({double(x), double(y), double(z)});
    emit cursorInfo(tr("voxel (%1, %2, %3) = %4   at (%5, %6, %7) mm")
                        .arg(x)
                        .arg(y)
                        .arg(z)
                        .arg(value)
                        .arg(p[0], 0, 'f', 1)
                        .arg(p[1], 0, 'f', 1)
                        .arg(p[2], 0, 'f', 1));
}

}  // namespace rllm
