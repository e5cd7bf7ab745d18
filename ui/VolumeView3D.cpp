#include "ui/VolumeView3D.h"

#include "core/Volume.h"

#include <vtkCamera.h>
#include <vtkColorTransferFunction.h>
#include <vtkFloatArray.h>
#include <vtkImageData.h>
#include <vtkImageProperty.h>
#include <vtkImageSlice.h>
#include <vtkImageSliceMapper.h>
#include <vtkMatrix3x3.h>
#include <vtkPiecewiseFunction.h>
#include <vtkPointData.h>
#include <vtkRenderer.h>
#include <vtkSmartPointer.h>
#include <vtkSmartVolumeMapper.h>
#include <vtkVolume.h>
#include <vtkVolumeProperty.h>

#include <algorithm>

namespace rllm {

struct VolumeView3D::Scene {
    std::shared_ptr<const Volume> volume;
    vtkSmartPointer<vtkProp> prop;
};

namespace {

// Grey values for rendering: colour volumes are shown by their luminance.
vtkSmartPointer<vtkImageData> toImageData(const Volume& volume) {
    const ImageGeometry& g = volume.geometry();
    auto image = vtkSmartPointer<vtkImageData>::New();
    image->SetDimensions(static_cast<int>(g.size[0]), static_cast<int>(g.size[1]),
                         static_cast<int>(g.size[2]));
    image->SetSpacing(g.spacing.data());
    image->SetOrigin(g.origin.data());
    image->SetDirectionMatrix(g.direction.data());
    auto scalars = vtkSmartPointer<vtkFloatArray>::New();
    scalars->SetNumberOfComponents(1);
    const vtkIdType count = static_cast<vtkIdType>(g.voxelCount());
    scalars->SetNumberOfTuples(count);
    const int c = volume.components();
    const float* source = volume.voxels().data();
    for (vtkIdType i = 0; i < count; ++i) {
        float sum = 0;
        for (int k = 0; k < c; ++k) sum += source[i * c + k];
        scalars->SetValue(i, sum / static_cast<float>(c));
    }
    image->GetPointData()->SetScalars(scalars);
    return image;
}

}  // namespace

VolumeView3D::VolumeView3D(QWidget* parent) : VtkOpenGLWidget(parent), scene_(new Scene) {
    // An opaque background: with alpha 0 the widget would compose to white.
    renderer()->SetBackground(0.08, 0.09, 0.11);
    renderer()->SetBackgroundAlpha(1.0);
    setMinimumSize(200, 200);
}

VolumeView3D::~VolumeView3D() = default;

bool VolumeView3D::hasVolume() const {
    return scene_->volume != nullptr;
}

void VolumeView3D::clear() {
    if (scene_->prop) renderer()->RemoveViewProp(scene_->prop);
    scene_->prop = nullptr;
    scene_->volume.reset();
    update();
}

void VolumeView3D::setVolume(std::shared_ptr<const Volume> volume) {
    clear();
    if (!volume || volume->empty()) return;
    scene_->volume = volume;
    vtkSmartPointer<vtkImageData> image = toImageData(*volume);
    ValueRange range = volume->valueRange();
    const double lo = range.min, span = std::max(1e-6, double(range.max) - range.min);

    if (volume->is2D()) {
        auto mapper = vtkSmartPointer<vtkImageSliceMapper>::New();
        mapper->SetInputData(image);
        auto slice = vtkSmartPointer<vtkImageSlice>::New();
        slice->SetMapper(mapper);
        WindowPreset window = defaultWindow(*volume);
        slice->GetProperty()->SetColorWindow(window.width);
        slice->GetProperty()->SetColorLevel(window.center);
        scene_->prop = slice;
    } else {
        auto mapper = vtkSmartPointer<vtkSmartVolumeMapper>::New();
        mapper->SetInputData(image);
        // Opacity follows the display window (the file's first preset, else the
        // value range): nothing below it, a ramp across it, and values above it
        // (bone, the phantom's rim) kept translucent so what lies inside shows.
        const WindowPreset window = defaultWindow(*volume);
        const double low = window.center - window.width / 2,
                     high = window.center + window.width / 2;
        auto opacity = vtkSmartPointer<vtkPiecewiseFunction>::New();
        opacity->AddPoint(std::min(lo, low - 1), 0.0);
        opacity->AddPoint(low, 0.0);
        opacity->AddPoint(window.center, 0.02);
        opacity->AddPoint(high, 0.35);
        opacity->AddPoint(std::max(lo + span, high + 1), 0.08);
        auto colour = vtkSmartPointer<vtkColorTransferFunction>::New();
        colour->AddRGBPoint(low, 0.3, 0.15, 0.1);
        colour->AddRGBPoint(window.center, 0.8, 0.55, 0.4);
        colour->AddRGBPoint(high, 1.0, 0.95, 0.85);
        auto property = vtkSmartPointer<vtkVolumeProperty>::New();
        property->SetScalarOpacity(opacity);
        property->SetColor(colour);
        property->SetInterpolationTypeToLinear();
        property->ShadeOn();
        property->SetAmbient(0.3);
        property->SetDiffuse(0.7);
        auto actor = vtkSmartPointer<vtkVolume>::New();
        actor->SetMapper(mapper);
        actor->SetProperty(property);
        scene_->prop = actor;
    }
    renderer()->AddViewProp(scene_->prop);
    // Look from the patient's front (LPS: anterior is -y), head up (+z).
    vtkCamera* camera = renderer()->GetActiveCamera();
    camera->SetFocalPoint(0, 0, 0);
    camera->SetPosition(0, volume->is2D() ? 0 : -1, volume->is2D() ? -1 : 0);
    camera->SetViewUp(0, volume->is2D() ? -1 : 0, volume->is2D() ? 0 : 1);
    renderer()->ResetCamera();
    camera->Azimuth(volume->is2D() ? 0 : 30);
    camera->Elevation(volume->is2D() ? 0 : 15);
    renderer()->ResetCameraClippingRange();
    update();
}

}  // namespace rllm
