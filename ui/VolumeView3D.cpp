#include "ui/VolumeView3D.h"

#include "ui/DisplayPresets.h"

#include "core/DisplayDownsample.h"
#include "core/Volume.h"

#include <vtkActor.h>
#include <vtkCamera.h>
#include <vtkColorTransferFunction.h>
#include <vtkFloatArray.h>
#include <vtkGPUVolumeRayCastMapper.h>
#include <vtkImageData.h>
#include <vtkImageProperty.h>
#include <vtkImageSlice.h>
#include <vtkImageSliceMapper.h>
#include <vtkPiecewiseFunction.h>
#include <vtkPlaneSource.h>
#include <vtkPointData.h>
#include <vtkPolyDataMapper.h>
#include <vtkProperty.h>
#include <vtkRenderer.h>
#include <vtkSmartPointer.h>
#include <QElapsedTimer>
#include <vtkVolume.h>
#include <vtkVolumeProperty.h>

#include <QMetaObject>
#include <QPointer>
#include <QThreadPool>

#include <algorithm>
#include <map>

namespace rllm {

struct VolumeView3D::Scene {
    std::shared_ptr<const Volume> volume, cam;
    // What VTK is given: the volume and CAM themselves, or block means of
    // them when the volume has more than maxVoxels voxels.
    int64_t maxVoxels = VolumeView3D::kDefaultMaxVoxels;
    std::array<int64_t, 3> reduction{1, 1, 1};
    std::shared_ptr<const Volume> drawnVolume, drawnVolumeOf, drawnCam, drawnCamOf;
    // The reduced copies are made on a worker thread (half a second for a
    // 512 x 512 x 300 CT); a newer request makes an older one's result moot.
    quint64 reductionGeneration = 0;
    bool reductionRunning = false;
    std::shared_ptr<const Volume> reducingVolume, reducingCam;  // what the running job reduces
    OverlayStyle camStyle;
    QString preset = "Window";
    vtkSmartPointer<vtkProp> prop;
    // The prop's kind ("2d", "3d", "3d+cam", with the blend mode): while it
    // stays the same, a new image only replaces the data, so VTK keeps its
    // compiled shaders (recompiling them costs ~100 ms per frame in Mesa's
    // software renderer, long enough to stall the GUI).
    std::string kind;
    vtkSmartPointer<vtkImageData> image;
    vtkSmartPointer<vtkImageSlice> slice;
    vtkSmartPointer<vtkVolume> actor;
    vtkSmartPointer<vtkGPUVolumeRayCastMapper> volumeMapper;
    double lastFrameMs = 0;
    std::vector<FrameRecord> frames;
    QStringList pendingCauses;  // what changed since the last frame
    // One prop per kind, kept: going from a case without a CAM to one with
    // it and back (every new case does) reuses the mapper VTK has set up.
    struct Props {
        vtkSmartPointer<vtkImageData> image;
        vtkSmartPointer<vtkProp> prop;
        vtkSmartPointer<vtkImageSlice> slice;
        vtkSmartPointer<vtkVolume> actor;
        vtkSmartPointer<vtkGPUVolumeRayCastMapper> mapper;
        // The volume whose voxels `image` may share (toImageData): kept alive with it.
        std::shared_ptr<const Volume> shared;
    };
    std::map<std::string, Props> props;
    std::array<vtkSmartPointer<vtkPlaneSource>, 3> planes;
    std::array<vtkSmartPointer<vtkActor>, 3> planeActors;
    bool cameraPlaced = false;
};

namespace {

// Grey values (colour volumes by their luminance) and, when given, the CAM as
// a second component, as VTK image data. A grey volume without a CAM is shared, not
// copied (VTK reads the Volume's own voxels; the scene keeps the Volume
// alive): a 512 x 512 x 300 CT is 300 MB. With a CAM, the two are
// interleaved into one two-component array with plain pointer loops, since
// VTK's per-component accessors cost seconds at that size.
vtkSmartPointer<vtkImageData> toImageData(const Volume& volume, const Volume* cam) {
    const ImageGeometry& g = volume.geometry();
    auto image = vtkSmartPointer<vtkImageData>::New();
    image->SetDimensions(static_cast<int>(g.size[0]), static_cast<int>(g.size[1]),
                         static_cast<int>(g.size[2]));
    image->SetSpacing(g.spacing.data());
    image->SetOrigin(g.origin.data());
    image->SetDirectionMatrix(g.direction.data());
    auto scalars = vtkSmartPointer<vtkFloatArray>::New();
    const int components = cam ? 2 : 1;
    scalars->SetNumberOfComponents(components);
    const vtkIdType count = static_cast<vtkIdType>(g.voxelCount());
    const int c = volume.components();
    const float* source = volume.voxels().data();
    if (!cam && c == 1) {
        // save = 1: VTK never frees or writes memory it does not own.
        scalars->SetArray(const_cast<float*>(source), count, 1);
    } else {
        float* out = scalars->WritePointer(0, count * components);
        const float* heat = cam ? cam->voxels().data() : nullptr;
        const float scale = 1.0f / static_cast<float>(c);
        for (vtkIdType i = 0; i < count; ++i) {
            float sum = source[i * c];
            for (int k = 1; k < c; ++k) sum += source[i * c + k];
            out[i * components] = c == 1 ? sum : sum * scale;
            if (heat) out[i * components + 1] = heat[i];
        }
    }
    image->GetPointData()->SetScalars(scalars);
    return image;
}

// The image's opacity and colour for a preset (resources/presets).
void imageTransfer(const TransferPreset& preset, const Volume& volume,
                   vtkPiecewiseFunction* opacity, vtkColorTransferFunction* colour) {
    const ValueRange range = volume.valueRange();
    const WindowPreset window = defaultWindow(volume);
    const ResolvedTransfer t =
        resolveTransfer(preset, range.min, std::max(double(range.max), double(range.min) + 1e-6),
                        window.center, window.width);
    for (const auto& [at, value] : t.opacity) opacity->AddPoint(at, value);
    for (const auto& [at, rgb] : t.colour) colour->AddRGBPoint(at, rgb[0], rgb[1], rgb[2]);
}

}  // namespace

VolumeView3D::VolumeView3D(QWidget* parent) : VtkRenderWidget(parent), scene_(new Scene) {
    // An opaque background: with alpha 0 the widget would compose to white.
    renderer()->SetBackground(0.08, 0.09, 0.11);
    renderer()->SetBackgroundAlpha(1.0);
    setMinimumSize(160, 160);
    const double colours[3][3] = {{0.9, 0.3, 0.3}, {0.3, 0.9, 0.3}, {0.35, 0.5, 1.0}};
    for (int i = 0; i < 3; ++i) {
        scene_->planes[i] = vtkSmartPointer<vtkPlaneSource>::New();
        auto mapper = vtkSmartPointer<vtkPolyDataMapper>::New();
        mapper->SetInputConnection(scene_->planes[i]->GetOutputPort());
        scene_->planeActors[i] = vtkSmartPointer<vtkActor>::New();
        scene_->planeActors[i]->SetMapper(mapper);
        scene_->planeActors[i]->GetProperty()->SetRepresentationToWireframe();
        scene_->planeActors[i]->GetProperty()->SetColor(colours[i][0], colours[i][1],
                                                        colours[i][2]);
        scene_->planeActors[i]->GetProperty()->LightingOff();
        scene_->planeActors[i]->SetVisibility(false);
        renderer()->AddActor(scene_->planeActors[i]);
    }
}

VolumeView3D::~VolumeView3D() = default;

bool VolumeView3D::hasVolume() const {
    return scene_->volume != nullptr;
}
bool VolumeView3D::hasCam() const {
    return scene_->cam != nullptr;
}

QStringList VolumeView3D::transferPresets() {
    QStringList names;
    for (const TransferPreset& preset : builtInDisplayPresets().transfers) names << preset.name;
    return names;
}

QString VolumeView3D::transferPreset() const {
    return scene_->preset;
}

void VolumeView3D::setTransferPreset(const QString& name) {
    if (!transferPresets().contains(name) || name == scene_->preset) return;
    scene_->preset = name;
    rebuild(false);
}

void VolumeView3D::clear() {
    scene_->volume.reset();
    scene_->cam.reset();
    for (auto& actor : scene_->planeActors) actor->SetVisibility(false);
    rebuild();
}

void VolumeView3D::setVolume(std::shared_ptr<const Volume> volume) {
    if (!volume || volume->empty()) return clear();
    // The camera stays where the user put it while cases share one grid.
    if (!scene_->volume || !scene_->volume->geometry().sameGridAs(volume->geometry()))
        scene_->cameraPlaced = false;
    scene_->volume = volume;
    scene_->cam.reset();
    for (auto& actor : scene_->planeActors) actor->SetVisibility(false);
    rebuild();
}

void VolumeView3D::setCam(std::shared_ptr<const Volume> cam, const OverlayStyle& style) {
    if (cam && (!scene_->volume || cam->size() != scene_->volume->size())) cam.reset();
    // A new style on the same map only changes the transfer functions: the
    // voxels (a copy, for a CT hundreds of MB) are not sent again.
    const bool sameData = cam == scene_->cam;
    // Each model's answer updates the overlays; the one not shown in 3D
    // leaves this view as it is, without a new frame.
    if (sameData && style == scene_->camStyle) return;
    scene_->cam = std::move(cam);
    scene_->camStyle = style;
    // A 2D image is shown as a plain slice here; its CAM is drawn by the slice views.
    if (scene_->volume && scene_->volume->is2D()) return;
    rebuild(!sameData);
}

void VolumeView3D::setCrosshair(const std::array<int64_t, 3>& voxel) {
    const auto& volume = scene_->volume;
    if (!volume || volume->is2D()) return;
    const ImageGeometry& g = volume->geometry();
    const std::array<double, 3> last{double(g.size[0] - 1), double(g.size[1] - 1),
                                     double(g.size[2] - 1)};
    for (int axis = 0; axis < 3; ++axis) {
        // The plane through the crosshair across `axis`, corner to corner.
        const int u = (axis + 1) % 3, v = (axis + 2) % 3;
        std::array<double, 3> o{0, 0, 0}, p1{0, 0, 0}, p2{0, 0, 0};
        o[axis] = p1[axis] = p2[axis] = double(voxel[axis]);
        p1[u] = last[u];
        p2[v] = last[v];
        scene_->planes[axis]->SetOrigin(g.indexToPhysical(o).data());
        scene_->planes[axis]->SetPoint1(g.indexToPhysical(p1).data());
        scene_->planes[axis]->SetPoint2(g.indexToPhysical(p2).data());
        scene_->planeActors[axis]->SetVisibility(true);
    }
    requestRender();
}

void VolumeView3D::rebuild(bool dataChanged) {
    const auto& volume = scene_->volume;
    if (!volume) {
        if (scene_->prop) renderer()->RemoveViewProp(scene_->prop);
        scene_->prop = nullptr;
        scene_->kind.clear();
        requestRender();
        return;
    }
    const Volume* cam = volume->is2D() ? nullptr : scene_->cam.get();
    scene_->reduction = displayFactors(volume->size(), scene_->maxVoxels);
    if (scene_->reduction != std::array<int64_t, 3>{1, 1, 1} &&
        (scene_->drawnVolumeOf != volume || (cam && scene_->drawnCamOf != scene_->cam))) {
        // The view shows what it showed until the reduced copies are ready.
        startReduction();
        return;
    }
    const TransferPreset* preset = builtInDisplayPresets().transfer(scene_->preset);
    const bool mip = preset && preset->maximumIntensity;
    const std::string kind =
        volume->is2D() ? "2d" : std::string(cam ? "3d+cam" : "3d") + (mip ? " mip" : "");
    if (kind != scene_->kind) {
        if (scene_->prop) renderer()->RemoveViewProp(scene_->prop);
        Scene::Props& p = scene_->props[kind];
        if (!p.prop) {
            p.image = vtkSmartPointer<vtkImageData>::New();
            if (volume->is2D()) {
                auto mapper = vtkSmartPointer<vtkImageSliceMapper>::New();
                mapper->SetInputData(p.image);
                p.slice = vtkSmartPointer<vtkImageSlice>::New();
                p.slice->SetMapper(mapper);
                p.prop = p.slice;
            } else {
                // GPU ray casting (the OpenGL 3.2 context this widget needs has
                // it); renderFrame() adapts its ray spacing to the frame time.
                p.mapper = vtkSmartPointer<vtkGPUVolumeRayCastMapper>::New();
                p.mapper->SetInputData(p.image);
                p.mapper->AutoAdjustSampleDistancesOff();
                if (mip) p.mapper->SetBlendModeToMaximumIntensity();
                p.actor = vtkSmartPointer<vtkVolume>::New();
                p.actor->SetMapper(p.mapper);
                p.prop = p.actor;
            }
        }
        if (p.mapper && scene_->volumeMapper)
            p.mapper->SetImageSampleDistance(scene_->volumeMapper->GetImageSampleDistance());
        scene_->image = p.image;
        scene_->slice = p.slice;
        scene_->actor = p.actor;
        scene_->volumeMapper = p.mapper ? p.mapper : scene_->volumeMapper;
        scene_->prop = p.prop;
        renderer()->AddViewProp(scene_->prop);
        scene_->kind = kind;
        scene_->pendingCauses << "prop " + QString::fromStdString(kind);
        dataChanged = true;
    }
    if (dataChanged) {
        // Reduced copies (made off the GUI thread, see startReduction) or the data itself.
        const bool reduce = scene_->reduction != std::array<int64_t, 3>{1, 1, 1};
        const auto drawnVolume = reduce ? scene_->drawnVolume : volume;
        const auto drawnCam = !cam ? nullptr : reduce ? scene_->drawnCam : scene_->cam;
        scene_->image->ShallowCopy(toImageData(*drawnVolume, drawnCam.get()));
        scene_->props[scene_->kind].shared = drawnVolume;
        scene_->image->Modified();
        scene_->pendingCauses << "data";
    }
    scene_->pendingCauses << "property";
    if (volume->is2D()) {
        WindowPreset window = defaultWindow(*volume);
        scene_->slice->GetProperty()->SetColorWindow(window.width);
        scene_->slice->GetProperty()->SetColorLevel(window.center);
        // Pixels as they are, like the slice views (no smoothing between them).
        scene_->slice->GetProperty()->SetInterpolationTypeToNearest();
    } else {
        auto property = vtkSmartPointer<vtkVolumeProperty>::New();
        auto opacity = vtkSmartPointer<vtkPiecewiseFunction>::New();
        auto colour = vtkSmartPointer<vtkColorTransferFunction>::New();
        if (preset) imageTransfer(*preset, *volume, opacity, colour);
        property->SetScalarOpacity(0, opacity);
        property->SetColor(0, colour);
        if (cam) {
            // A blended transfer function: the CAM is the second, independent
            // component, coloured by its own map and faded by its own opacity.
            property->IndependentComponentsOn();
            auto camOpacity = vtkSmartPointer<vtkPiecewiseFunction>::New();
            const double t = scene_->camStyle.threshold;
            camOpacity->AddPoint(0.0, 0.0);
            camOpacity->AddPoint(std::max(0.0, t - 1e-3), 0.0);
            camOpacity->AddPoint(1.0, scene_->camStyle.opacity);
            auto camColour = vtkSmartPointer<vtkColorTransferFunction>::New();
            for (int k = 0; k <= 8; ++k) {
                const QColor c = heatColour(scene_->camStyle.colormap, k / 8.0);
                camColour->AddRGBPoint(k / 8.0, c.redF(), c.greenF(), c.blueF());
            }
            property->SetScalarOpacity(1, camOpacity);
            property->SetColor(1, camColour);
        }
        property->SetInterpolationTypeToLinear();
        if (!mip) property->ShadeOn();
        property->SetAmbient(0.3);
        property->SetDiffuse(0.7);
        scene_->actor->SetProperty(property);
    }
    if (!scene_->cameraPlaced) {
        // Look from the patient's front (LPS: anterior is -y), head up (+z).
        const bool flat = volume->is2D();
        vtkCamera* camera = renderer()->GetActiveCamera();
        camera->SetFocalPoint(0, 0, 0);
        camera->SetPosition(0, flat ? 0 : -1, flat ? -1 : 0);
        camera->SetViewUp(0, flat ? -1 : 0, flat ? 0 : 1);
        renderer()->ResetCamera();
        camera->Azimuth(flat ? 0 : 30);
        camera->Elevation(flat ? 0 : 15);
        scene_->cameraPlaced = true;
    }
    renderer()->ResetCameraClippingRange();
    requestRender();
}

void VolumeView3D::startReduction() {
    const auto volume = scene_->volume;
    const auto cam = scene_->volume->is2D() ? nullptr : scene_->cam;
    // A preset or style change while the same data is being reduced waits for that job.
    if (scene_->reductionRunning && scene_->reducingVolume == volume && scene_->reducingCam == cam)
        return;
    const quint64 generation = ++scene_->reductionGeneration;
    scene_->reductionRunning = true;
    scene_->reducingVolume = volume;
    scene_->reducingCam = cam;
    const auto factors = scene_->reduction;
    // What is already reduced is not reduced again (a new CAM on the same case).
    const auto readyVolume = scene_->drawnVolumeOf == volume ? scene_->drawnVolume : nullptr;
    QPointer<VolumeView3D> self(this);
    QThreadPool::globalInstance()->start([self, generation, volume, cam, factors, readyVolume] {
        auto drawnVolume =
            readyVolume ? readyVolume
                        : std::make_shared<const Volume>(downsampleByBlocks(*volume, factors));
        auto drawnCam =
            cam ? std::make_shared<const Volume>(downsampleByBlocks(*cam, factors)) : nullptr;
        QMetaObject::invokeMethod(
            self.data(),
            [self, generation, volume, cam, drawnVolume, drawnCam] {
                if (!self || self->scene_->reductionGeneration != generation) return;
                Scene& scene = *self->scene_;
                scene.reductionRunning = false;
                scene.reducingVolume.reset();
                scene.reducingCam.reset();
                scene.drawnVolume = drawnVolume;
                scene.drawnVolumeOf = volume;
                scene.drawnCam = drawnCam;
                scene.drawnCamOf = cam;
                // Only if the view still shows what was reduced.
                if (scene.volume == volume) self->rebuild(true);
            },
            Qt::QueuedConnection);
    });
}

bool VolumeView3D::reducing() const {
    return scene_->reductionRunning;
}

void VolumeView3D::setMaxVoxels(int64_t voxels) {
    scene_->maxVoxels = std::max<int64_t>(1, voxels);
    scene_->drawnVolumeOf.reset();
    scene_->drawnCamOf.reset();
    if (scene_->volume) rebuild(true);
}

std::array<int64_t, 3> VolumeView3D::reduction() const {
    return scene_->reduction;
}

double VolumeView3D::lastFrameMs() const {
    return scene_->lastFrameMs;
}

const std::vector<VolumeView3D::FrameRecord>& VolumeView3D::frameLog() const {
    return scene_->frames;
}

double VolumeView3D::imageSampleDistance() const {
    return scene_->volumeMapper ? scene_->volumeMapper->GetImageSampleDistance() : 1.0;
}

void VolumeView3D::renderFrame() {
    QElapsedTimer clock;
    clock.start();
    const qint64 started = clock.msecsSinceReference();
    VtkRenderWidget::renderFrame();
    scene_->lastFrameMs = clock.nsecsElapsed() / 1e6;
    scene_->pendingCauses.removeDuplicates();
    scene_->frames.push_back(
        {started, scene_->lastFrameMs, imageSampleDistance(), scene_->pendingCauses.join(", ")});
    scene_->pendingCauses.clear();
    // Keep frames short enough for a responsive GUI: this view renders on
    // the GUI thread, and without a GPU (Mesa's software renderer) a full-
    // resolution ray cast takes 100 to 300 ms. Cast fewer rays when frames
    // are slow and more when they are quick (1 = one ray per pixel, 4 at most).
    auto& mapper = scene_->volumeMapper;
    if (!mapper || !scene_->actor || scene_->prop != scene_->actor) return;
    const double spacing = mapper->GetImageSampleDistance();
    double next = spacing;
    if (scene_->lastFrameMs > 30 && spacing < 4)
        next = std::min(4.0, spacing * 1.5);
    else if (scene_->lastFrameMs < 10 && spacing > 1)
        next = std::max(1.0, spacing / 1.5);
    if (next != spacing) mapper->SetImageSampleDistance(static_cast<float>(next));
}

}  // namespace rllm
