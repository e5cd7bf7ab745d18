#include "ui/SliceView.h"

#include "core/Volume.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace rllm {

namespace {

// Margin between the text drawn over a view and the view's edge.
constexpr int kTextMargin = 6;

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
    updateLayout();
    const auto& s = volume_->size();
    crosshair_ = {s[0] / 2, s[1] / 2, s[2] / 2};
    slice_ = crosshair_[normalAxis()];
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
    return volume_ ? rllm::sliceCount(*volume_, layout_) : 0;
}

void SliceView::updateLayout() {
    if (!volume_) return;
    const auto& g = volume_->geometry();
    layout_ = sliceLayout(g, volume_->is2D() ? acquisitionPlane(g) : plane_);
}

void SliceView::setPlane(PatientPlane plane) {
    plane_ = plane;
    if (!volume_) return;
    updateLayout();
    slice_ = std::clamp<int64_t>(crosshair_[normalAxis()], 0, sliceCount() - 1);
    rebuildImage();
    emit sliceChanged(slice_);
}

void SliceView::setSliceIndex(int64_t index) {
    if (!volume_) return;
    index = std::clamp<int64_t>(index, 0, sliceCount() - 1);
    if (index == slice_ && !image_.isNull()) return;
    slice_ = index;
    crosshair_[normalAxis()] = index;
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
    if (crosshair_[normalAxis()] != slice_) {
        slice_ = crosshair_[normalAxis()];
        rebuildImage();
        emit sliceChanged(slice_);
    }
    update();
}

void SliceView::setCrosshairVisible(bool visible) {
    crosshairVisible_ = visible;
    update();
}

void SliceView::setNotice(const QString& notice) {
    if (notice == notice_) return;
    notice_ = notice;
    update();
}

void SliceView::rebuildImage() {
    sliceData_ = extractSlice(*volume_, layout_, slice_);
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
        // The image's layout, so the map lands on the pixels it belongs to.
        const SliceImage values = extractSlice(*overlay.map, layout_, slice_);
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
    const QString name = layout_.plane == PatientPlane::Axial     ? tr("Axial")
                         : layout_.plane == PatientPlane::Coronal ? tr("Coronal")
                                                                  : tr("Sagittal");
    if (layout_.obliqueDegrees <= kObliqueThresholdDegrees) return name;
    return tr("%1 (oblique %2°)").arg(name).arg(std::lround(layout_.obliqueDegrees));
}

std::array<QString, 4> SliceView::edgeLabels() const {
    if (!volume_) return {};
    const auto letters = edgeLetters(volume_->geometry(), layout_);
    return {QString::fromStdString(letters[0]), QString::fromStdString(letters[1]),
            QString::fromStdString(letters[2]), QString::fromStdString(letters[3])};
}

QStringList SliceView::infoLines() const {
    if (!volume_) return {};
    const QString plane = planeName();
    const QString slice = tr("%1 / %2").arg(slice_ + 1).arg(sliceCount());
    const QString window = tr("W %1  L %2").arg(width_, 0, 'g', 5).arg(center_, 0, 'g', 5);
    const QFontMetrics metrics(font());
    const int room = width() - 2 * kTextMargin;
    auto fits = [&](const QString& line) { return metrics.horizontalAdvance(line) <= room; };
    // One line for plane and slice where it fits, else one each; anything
    // still too wide is elided rather than cut off by the view's edge.
    QStringList lines;
    const QString together = plane + "  " + slice;
    if (fits(together)) {
        lines = {together, window};
    } else {
        // "Axial (oblique 39°)" may still be too wide: the tilt gets its own line.
        const int bracket = plane.indexOf(" (");
        if (!fits(plane) && bracket > 0)
            lines = {plane.left(bracket), plane.mid(bracket + 1), slice, window};
        else
            lines = {plane, slice, window};
    }
    for (QString& line : lines)
        if (!fits(line)) line = metrics.elidedText(line, Qt::ElideRight, std::max(room, 0));
    return lines;
}

std::array<QRectF, 4> SliceView::edgeLabelRects() const {
    std::array<QRectF, 4> rects;
    if (!volume_) return rects;
    const auto labels = edgeLabels();
    const QFontMetrics metrics(font());
    const QRectF area = imageRect();
    const QRectF view = QRectF(rect()).adjusted(4, 4, -4, -4);
    const double h = metrics.height();
    auto size = [&](const QString& text) { return QSizeF(metrics.horizontalAdvance(text) + 4, h); };
    // Beside the image when the view has a margin there, else inside its edge.
    const QSizeF leftSize = size(labels[0]), rightSize = size(labels[1]);
    const double leftX = area.left() - leftSize.width() - 2 >= view.left()
                             ? area.left() - leftSize.width() - 2
                             : view.left();
    const double rightX = area.right() + 2 + rightSize.width() <= view.right()
                              ? area.right() + 2
                              : view.right() - rightSize.width();
    double y = std::clamp(area.center().y(), view.top() + h, view.bottom() - h) - h / 2;
    // The crosshair's horizontal line: keep the side letters just above it
    // (below when there is no room above) rather than drawn across it.
    if (crosshairVisible_ && !volume_->is2D()) {
        const double lineY = widgetPosition(crosshair_).y();
        if (lineY > y - 2 && lineY < y + h + 2)
            y = lineY - h - 3 >= view.top() ? lineY - h - 3 : lineY + 3;
    }
    rects[0] = QRectF(QPointF(leftX, y), leftSize);
    rects[1] = QRectF(QPointF(rightX, y), rightSize);
    const QSizeF topSize = size(labels[2]), bottomSize = size(labels[3]);
    double x = std::clamp(area.center().x(), view.left() + topSize.width(),
                          view.right() - topSize.width()) -
               topSize.width() / 2;
    if (crosshairVisible_ && !volume_->is2D()) {
        const double lineX = widgetPosition(crosshair_).x();
        if (lineX > x - 2 && lineX < x + topSize.width() + 2) x = lineX + 3;
    }
    const double topY = area.top() - h - 2 >= view.top() ? area.top() - h - 2 : view.top();
    const double bottomY =
        area.bottom() + 2 + h <= view.bottom() ? area.bottom() + 2 : view.bottom() - h;
    rects[2] = QRectF(QPointF(x, topY), topSize);
    rects[3] = QRectF(QPointF(x, bottomY), bottomSize);
    return rects;
}

bool SliceView::pixelAt(const QPointF& position, int& column, int& row) const {
    const QRectF area = imageRect();
    if (!volume_ || !notice_.isEmpty() || !area.contains(position)) return false;
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
    voxel = sliceToVoxel(volume_->size(), layout_, slice_, column, row);
    return true;
}

QPointF SliceView::widgetPosition(const std::array<int64_t, 3>& voxel) const {
    if (!volume_) return {};
    const auto [column, row] = voxelToSlicePixel(volume_->size(), layout_, voxel);
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
    if (!notice_.isEmpty()) {
        painter.setPen(QColor(150, 150, 150));
        painter.drawText(rect().adjusted(kTextMargin, kTextMargin, -kTextMargin, -kTextMargin),
                         Qt::AlignCenter | Qt::TextWordWrap, notice_);
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
    painter.drawText(rect().adjusted(kTextMargin, 4, -kTextMargin, -4),
                     Qt::AlignLeft | Qt::AlignTop, infoLines().join('\n'));
    const auto labels = edgeLabels();
    const auto places = edgeLabelRects();
    for (int i = 0; i < 4; ++i) {
        // A dark backing keeps the letter readable over bright tissue.
        painter.fillRect(places[i], QColor(0, 0, 0, 140));
        painter.setPen(QColor(255, 200, 80));
        painter.drawText(places[i], Qt::AlignCenter, labels[i]);
    }
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
