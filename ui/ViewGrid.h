#pragma once
// The main views of one image: for volumes, axial, coronal and sagittal slice
// views and the 3D view in a 2 x 2 grid, all following one crosshair (a click
// in one moves the others) and one display window; for 2D images, one slice
// view beside the 3D view.

#include "ui/SliceView.h"

#include <QWidget>

#include <array>
#include <memory>
#include <vector>

namespace rllm {

class Volume;
class VolumeView3D;

class ViewGrid : public QWidget {
    Q_OBJECT
  public:
    explicit ViewGrid(QWidget* parent = nullptr);
    ~ViewGrid() override;

    void setVolume(std::shared_ptr<const Volume> volume);
    std::shared_ptr<const Volume> volume() const { return volume_; }

    // 0: the acquisition plane (index z), 1: index y, 2: index x.
    SliceView* sliceView(int index) const { return views_[index]; }
    SliceView* primaryView() const { return views_[0]; }
    VolumeView3D* volumeView() const { return volumeView_; }

    void setCrosshair(const std::array<int64_t, 3>& voxel);
    std::array<int64_t, 3> crosshair() const { return crosshair_; }
    void setWindow(double center, double width);
    // The same overlays on every slice view.
    void setOverlays(const std::vector<SliceOverlay>& overlays);

  signals:
    void crosshairChanged(const std::array<int64_t, 3>& voxel);
    void windowChanged(double center, double width);
    void cursorInfo(const QString& text);

  private:
    void layoutFor(bool volumetric);

    std::array<SliceView*, 3> views_{};
    VolumeView3D* volumeView_ = nullptr;
    std::shared_ptr<const Volume> volume_;
    std::array<int64_t, 3> crosshair_{0, 0, 0};
};

}  // namespace rllm
