#pragma once
// The 3D view: renders a Volume with VTK (GPU ray casting, with fewer rays
// per pixel while frames are slow, e.g. without a GPU), the crosshair's
// three planes as outlines, and optionally a CAM fused into the rendering as a
// second, independently coloured component. 2D images are shown as a textured
// slice. Rotate with the left button, zoom with the right button or the
// wheel, pan with the middle button.

#include "ui/session/OverlayStyle.h"
#include "ui/VtkRenderWidget.h"

#include <QStringList>

#include <array>
#include <memory>
#include <vector>

namespace rllm {

class Volume;

class VolumeView3D : public VtkRenderWidget {
    Q_OBJECT
  public:
    explicit VolumeView3D(QWidget* parent = nullptr);
    ~VolumeView3D() override;

    void setVolume(std::shared_ptr<const Volume> volume);
    void clear();
    bool hasVolume() const;

    // Transfer-function presets for the image (see transferPresets()).
    static QStringList transferPresets();
    void setTransferPreset(const QString& name);
    QString transferPreset() const;

    // The CAM (same grid as the image) fused into the rendering; null removes it.
    void setCam(std::shared_ptr<const Volume> cam, const OverlayStyle& style);
    bool hasCam() const;

    void setCrosshair(const std::array<int64_t, 3>& voxel);

    // The most voxels the 3D view draws: a larger volume (and its CAM) is
    // drawn from block means (core/DisplayDownsample), so software rendering
    // stays interactive. The slice views always show every voxel.
    static constexpr int64_t kDefaultMaxVoxels = int64_t(1) << 24;
    void setMaxVoxels(int64_t voxels);
    // The factors along x, y and z the shown volume is reduced by (1, 1, 1: not).
    std::array<int64_t, 3> reduction() const;
    // True while the reduced copies are being made (the view still shows the last ones).
    bool reducing() const;

    // How long the last frame took to render, and the ray spacing on screen
    // (1 = one ray per pixel) the view has settled on to keep frames short.
    double lastFrameMs() const;
    double imageSampleDistance() const;

    // Every frame rendered so far: when it started (QElapsedTimer's
    // monotonic clock, msecsSinceReference) and how long it took. For the
    // benchmark that attributes event-loop gaps to frames.
    struct FrameRecord {
        qint64 startedMs;
        double ms;
        double sampleDistance;  // pixels per ray
        QString cause;          // what changed since the last frame, e.g. "data, property"
    };
    const std::vector<FrameRecord>& frameLog() const;

  protected:
    void renderFrame() override;

  private:
    // Updates the prop for the current volume, CAM and preset; the voxels are
    // copied to VTK again only when `dataChanged`.
    void rebuild(bool dataChanged = true);
    void startReduction();
    struct Scene;
    std::unique_ptr<Scene> scene_;
};

}  // namespace rllm
