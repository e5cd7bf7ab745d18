#pragma once
// The 3D view: renders a Volume with VTK (GPU ray casting through
// vtkSmartVolumeMapper, which falls back to CPU where needed). 2D images are
// shown as a textured slice in 3D space. Rotate with the left button, zoom
// with the right button or the wheel, pan with the middle button.

#include "ui/VtkOpenGLWidget.h"

#include <memory>

namespace rllm {

class Volume;

class VolumeView3D : public VtkOpenGLWidget {
    Q_OBJECT
  public:
    explicit VolumeView3D(QWidget* parent = nullptr);
    ~VolumeView3D() override;

    void setVolume(std::shared_ptr<const Volume> volume);
    void clear();
    bool hasVolume() const;

  private:
    struct Scene;
    std::unique_ptr<Scene> scene_;
};

}  // namespace rllm
