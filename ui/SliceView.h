#pragma once
// A 2D view of one slice of a Volume.
//
//   wheel                 next / previous slice
//   left drag             window/level (right = wider window, down = higher level)
//   right drag            zoom (up = in)
//   middle or Shift+left  pan
//   double-click          reset zoom and pan
//
// The slice is drawn with its physical aspect ratio (pixel spacing) and
// windowed with the DICOM linear VOI function.

#include "core/Slice.h"

#include <QImage>
#include <QWidget>

#include <memory>

namespace rllm {

class Volume;

class SliceView : public QWidget {
    Q_OBJECT
  public:
    explicit SliceView(QWidget* parent = nullptr);
    ~SliceView() override;

    void setVolume(std::shared_ptr<const Volume> volume);
    void clear();
    bool hasVolume() const { return volume_ != nullptr; }

    void setAxis(SliceAxis axis);
    SliceAxis axis() const { return axis_; }
    void setSliceIndex(int64_t index);
    int64_t sliceIndex() const { return slice_; }
    int64_t sliceCount() const;
    void setWindow(double center, double width);
    double windowCenter() const { return center_; }
    double windowWidth() const { return width_; }
    double zoom() const { return zoom_; }
    void resetView();

    QSize sizeHint() const override { return {512, 512}; }

  signals:
    void sliceChanged(qint64 index);
    void windowChanged(double center, double width);
    // Voxel under the cursor, as "x y z = value", or empty when outside the image.
    void cursorInfo(const QString& text);

  protected:
    void paintEvent(QPaintEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;

  private:
    void rebuildImage();
    QRectF imageRect() const;  // where the slice lands in widget coordinates
    void reportCursor(const QPointF& position);

    std::shared_ptr<const Volume> volume_;
    SliceAxis axis_ = SliceAxis::Z;
    int64_t slice_ = 0;
    double center_ = 0, width_ = 1;
    double zoom_ = 1.0;
    QPointF pan_;
    SliceImage sliceData_;
    QImage image_;

    enum class Drag { None, Window, Zoom, Pan };
    Drag drag_ = Drag::None;
    QPointF dragStart_;
    double dragCenter_ = 0, dragWidth_ = 1, dragZoom_ = 1;
    QPointF dragPan_;
};

}  // namespace rllm
