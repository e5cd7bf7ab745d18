#pragma once
// A 2D view of one patient plane of a Volume (axial, coronal or sagittal, laid
// out as radiologists expect whatever the acquisition: core/Slice.h), with
// heatmap overlays, a crosshair and orientation letters.
//
//   left click            move the crosshair there (linked views follow)
//   left drag             window/level (right = wider window, down = higher level)
//   wheel                 next / previous slice
//   right drag, Ctrl+wheel  zoom (up = in)
//   middle or Shift+left  pan
//   double-click          reset zoom and pan
//
// The slice is drawn with its physical aspect ratio (pixel spacing) and
// windowed with the DICOM linear VOI function. Overlays are volumes on the
// same voxel grid (a CAM, or the difference of two), blended on top.

#include "core/Slice.h"
#include "ui/session/OverlayStyle.h"

#include <QImage>
#include <QWidget>

#include <array>
#include <memory>
#include <vector>

namespace rllm {

class Volume;

struct SliceOverlay {
    std::shared_ptr<const Volume> map;  // same size as the image; values 0..1 (-1..1 Diverging)
    OverlayStyle style;
};

class SliceView : public QWidget {
    Q_OBJECT
  public:
    explicit SliceView(QWidget* parent = nullptr);
    ~SliceView() override;

    // A new image: window from the file, middle slice, zoom reset.
    void setVolume(std::shared_ptr<const Volume> volume);
    void clear();
    bool hasVolume() const { return volume_ != nullptr; }
    std::shared_ptr<const Volume> volume() const { return volume_; }

    // The patient plane shown. A single-slice image always shows its own plane.
    void setPlane(PatientPlane plane);
    PatientPlane plane() const { return plane_; }
    const SliceLayout& layout() const { return layout_; }
    // The index axis held fixed: the slice index is the voxel index along it.
    int normalAxis() const { return layout_.normalAxis; }
    void setSliceIndex(int64_t index);
    int64_t sliceIndex() const { return slice_; }
    int64_t sliceCount() const;
    void setWindow(double center, double width);
    double windowCenter() const { return center_; }
    double windowWidth() const { return width_; }
    void setZoomPan(double zoom, QPointF pan);
    double zoom() const { return zoom_; }
    QPointF pan() const { return pan_; }
    void resetView();

    void setOverlays(std::vector<SliceOverlay> overlays);
    const std::vector<SliceOverlay>& overlays() const { return overlays_; }

    // The crosshair at voxel (x, y, z): this view shows the slice through it.
    void setCrosshair(const std::array<int64_t, 3>& voxel);
    std::array<int64_t, 3> crosshair() const { return crosshair_; }
    void setCrosshairVisible(bool visible);

    // "Axial", "Coronal" or "Sagittal", with "(oblique 39°)" when the slices
    // are tilted from that plane; "Image" for a single-slice image.
    QString planeName() const;
    // The text drawn at the top left: plane, slice and window, broken into
    // lines that fit the view's width.
    QStringList infoLines() const;
    // Where the orientation letters are drawn (left, right, top, bottom), in
    // widget pixels: outside the image where the view has room, and never
    // across the crosshair.
    std::array<QRectF, 4> edgeLabelRects() const;
    // Shown instead of the image, e.g. "no difference: needs two CAMs"; the
    // view keeps following its volume. Empty: show the image.
    void setNotice(const QString& notice);
    QString notice() const { return notice_; }
    // Orientation letters at the left, right, top and bottom edges (e.g. R, L, A, P).
    std::array<QString, 4> edgeLabels() const;
    // Where voxel (x, y, z) of the current slice is drawn, in widget pixels.
    QPointF widgetPosition(const std::array<int64_t, 3>& voxel) const;
    // The voxel drawn at a widget position; false outside the image.
    bool voxelAt(const QPointF& position, std::array<int64_t, 3>& voxel) const;

    QSize sizeHint() const override { return {400, 400}; }

  signals:
    void sliceChanged(qint64 index);
    void windowChanged(double center, double width);
    void zoomPanChanged(double zoom, QPointF pan);
    void crosshairRequested(const std::array<int64_t, 3>& voxel);
    // Voxel under the cursor, as "voxel (x, y, z) = value at (...) mm", or empty outside.
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
    void rebuildOverlay();
    QRectF imageRect() const;  // where the slice lands in widget coordinates
    bool pixelAt(const QPointF& position, int& column, int& row) const;
    void reportCursor(const QPointF& position);
    void updateLayout();

    std::shared_ptr<const Volume> volume_;
    std::vector<SliceOverlay> overlays_;
    PatientPlane plane_ = PatientPlane::Axial;
    SliceLayout layout_;
    QString notice_;
    int64_t slice_ = 0;
    double center_ = 0, width_ = 1;
    double zoom_ = 1.0;
    QPointF pan_;
    std::array<int64_t, 3> crosshair_{0, 0, 0};
    bool crosshairVisible_ = true;
    SliceImage sliceData_;
    QImage image_, overlayImage_;

    enum class Drag { None, Window, Zoom, Pan };
    Drag drag_ = Drag::None;
    bool moved_ = false;
    QPointF dragStart_;
    double dragCenter_ = 0, dragWidth_ = 1, dragZoom_ = 1;
    QPointF dragPan_;
};

}  // namespace rllm
