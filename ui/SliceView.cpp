#include "ui/SliceView.h"

#include "core/Volume.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace rllm {

SliceView::SliceView(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(200, 200);
    setAttribute(Qt::WA_OpaquePaintEvent);
}

SliceView::~SliceView() = default;

void SliceView::setVolume(std::shared_ptr<const Volume> volume) {
    volume_ = std::move(volume);
    if (!volume_) {
        clear();
        return;
    }
    WindowPreset window = defaultWindow(*volume_);
    center_ = window.center;
    width_ = window.width;
    slice_ = sliceCount() / 2;
    zoom_ = 1.0;
    pan_ = {};
    rebuildImage();
    emit sliceChanged(slice_);
    emit windowChanged(center_, width_);
}

void SliceView::clear() {
    volume_.reset();
    image_ = QImage();
    sliceData_ = {};
    update();
}

int64_t SliceView::sliceCount() const {
    return volume_ ? rllm::sliceCount(*volume_, axis_) : 0;
}

void SliceView::setAxis(SliceAxis axis) {
    axis_ = axis;
    if (!volume_) return;
    slice_ = sliceCount() / 2;
    rebuildImage();
    emit sliceChanged(slice_);
}

void SliceView::setSliceIndex(int64_t index) {
    if (!volume_) return;
    index = std::clamp<int64_t>(index, 0, sliceCount() - 1);
    if (index == slice_ && !image_.isNull()) return;
    slice_ = index;
    rebuildImage();
    emit sliceChanged(slice_);
}

void SliceView::setWindow(double center, double width) {
    center_ = center;
    width_ = std::max(width, 1e-3);
    if (volume_) rebuildImage();
    emit windowChanged(center_, width_);
}

void SliceView::resetView() {
    zoom_ = 1.0;
    pan_ = {};
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
    update();
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

void SliceView::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    painter.fillRect(rect(), Qt::black);
    if (image_.isNull()) {
        painter.setPen(QColor(150, 150, 150));
        painter.drawText(rect(), Qt::AlignCenter,
                         tr("No image loaded\nFile > Open, or drop a file here"));
        return;
    }
    painter.setRenderHint(QPainter::SmoothPixmapTransform, zoom_ < 1.0);
    painter.drawImage(imageRect(), image_);
    painter.setPen(QColor(230, 230, 120));
    const QString overlay = tr("Slice %1 / %2\nW %3  L %4")
                                .arg(slice_ + 1)
                                .arg(sliceCount())
                                .arg(width_, 0, 'g', 5)
                                .arg(center_, 0, 'g', 5);
    painter.drawText(rect().adjusted(6, 4, -6, -4), Qt::AlignLeft | Qt::AlignTop, overlay);
}

void SliceView::wheelEvent(QWheelEvent* event) {
    const int steps = event->angleDelta().y() / 120;
    if (steps == 0 || !volume_) return;
    if (event->modifiers() & Qt::ControlModifier) {
        zoom_ = std::clamp(zoom_ * std::pow(1.15, steps), 0.1, 40.0);
        update();
    } else {
        setSliceIndex(slice_ + steps);
    }
    event->accept();
}

void SliceView::mousePressEvent(QMouseEvent* event) {
    if (!volume_) return;
    dragStart_ = event->position();
    dragCenter_ = center_;
    dragWidth_ = width_;
    dragZoom_ = zoom_;
    dragPan_ = pan_;
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
    switch (drag_) {
        case Drag::Window: {
            // A full widget-width drag changes the window by its own size once over.
            const double sensitivity = std::max(dragWidth_, 1.0) / std::max(width(), 1);
            setWindow(dragCenter_ + delta.y() * sensitivity, dragWidth_ + delta.x() * sensitivity);
            break;
        }
        case Drag::Zoom:
            zoom_ = std::clamp(dragZoom_ * std::pow(1.01, -delta.y()), 0.1, 40.0);
            update();
            break;
        case Drag::Pan:
            pan_ = dragPan_ + delta;
            update();
            break;
        case Drag::None:
            break;
    }
    reportCursor(event->position());
}

void SliceView::mouseReleaseEvent(QMouseEvent*) {
    drag_ = Drag::None;
}

void SliceView::mouseDoubleClickEvent(QMouseEvent*) {
    resetView();
}

void SliceView::reportCursor(const QPointF& position) {
    const QRectF area = imageRect();
    if (!volume_ || !area.contains(position)) {
        emit cursorInfo({});
        return;
    }
    const int col =
        std::clamp(static_cast<int>((position.x() - area.left()) / area.width() * sliceData_.width),
                   0, sliceData_.width - 1);
    const int row = std::clamp(
        static_cast<int>((position.y() - area.top()) / area.height() * sliceData_.height), 0,
        sliceData_.height - 1);
    const auto [x, y, z] = sliceToVoxel(*volume_, axis_, slice_, col, row);
    QString value;
    for (int c = 0; c < volume_->components(); ++c)
        value += (c ? " " : "") + QString::number(volume_->at(x, y, z, c), 'g', 6);
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
