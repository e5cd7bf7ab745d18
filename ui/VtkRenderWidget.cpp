// VTK's OpenGL declarations (GLEW); no Qt OpenGL header may follow
// (OffscreenGlContext keeps those in its own source file).
#include <vtk_glew.h>

#include "ui/VtkRenderWidget.h"

#include "ui/OffscreenGlContext.h"

#include <vtkCallbackCommand.h>
#include <vtkCommand.h>
#include <vtkGenericOpenGLRenderWindow.h>
#include <vtkGenericRenderWindowInteractor.h>
#include <vtkInteractorStyleTrackballCamera.h>
#include <vtkNew.h>
#include <vtkOpenGLFramebufferObject.h>
#include <vtkOpenGLState.h>
#include <vtkRenderWindowInteractor.h>
#include <vtkRenderer.h>

#include <QMouseEvent>
#include <QPainter>
#include <QSurfaceFormat>
#include <QTimer>
#include <QWheelEvent>

namespace rllm {

struct VtkRenderWidget::Private {
    vtkNew<vtkGenericOpenGLRenderWindow> window;
    vtkNew<vtkGenericRenderWindowInteractor> interactor;
    vtkNew<vtkRenderer> renderer;
    vtkNew<vtkInteractorStyleTrackballCamera> style;
    vtkNew<vtkCallbackCommand> windowCallback;
    vtkNew<vtkCallbackCommand> renderRequest;

    // The context VTK draws with; created at the first frame.
    OffscreenGlContext context;
    QImage frame;
    // Frames are rendered in their own turn of the event loop (see requestRender).
    QTimer renderTimer;
    bool initialized = false;
    bool frameRequested = true;
    QString error;
};

// VTK asks the host to make its context current or to say whether it is.
void VtkRenderWidget::onWindowEvent(vtkObject*, unsigned long eventId, void* clientData,
                                    void* callData) {
    auto* d = static_cast<Private*>(clientData);
    if (eventId == vtkCommand::WindowMakeCurrentEvent) {
        d->context.makeCurrent();
    } else if (eventId == vtkCommand::WindowIsCurrentEvent) {
        *static_cast<bool*>(callData) = d->context.isCurrent();
    }
}

namespace {

// The interactor wants a new frame (the camera moved).
void onRenderRequest(vtkObject*, unsigned long, void* clientData, void*) {
    static_cast<VtkRenderWidget*>(clientData)->requestRender();
}

}  // namespace

VtkRenderWidget::VtkRenderWidget(QWidget* parent) : QWidget(parent), d(new Private) {
    setFocusPolicy(Qt::StrongFocus);
    setMouseTracking(false);
    // The frame covers the whole widget: Qt need not paint a background under it.
    setAttribute(Qt::WA_OpaquePaintEvent);
    d->window->AddRenderer(d->renderer);
    d->window->SetReadyForRendering(false);
    d->window->SetFrameBlitModeToNoBlit();
    d->window->SetOwnContext(false);
    // Multisampled framebuffers cannot be blitted between sizes and fail on Mesa.
    d->window->SetMultiSamples(0);
    d->window->SetStencilCapable(0);
    d->windowCallback->SetCallback(onWindowEvent);
    d->windowCallback->SetClientData(d.get());
    d->window->AddObserver(vtkCommand::WindowMakeCurrentEvent, d->windowCallback);
    d->window->AddObserver(vtkCommand::WindowIsCurrentEvent, d->windowCallback);

    d->interactor->SetRenderWindow(d->window);
    d->interactor->SetInteractorStyle(d->style);
    // The interactor asks for frames through requestRender(), like everyone else.
    d->interactor->EnableRenderOff();
    d->renderRequest->SetCallback(onRenderRequest);
    d->renderRequest->SetClientData(this);
    d->interactor->AddObserver(vtkCommand::RenderEvent, d->renderRequest);

    d->renderTimer.setSingleShot(true);
    d->renderTimer.setInterval(0);
    connect(&d->renderTimer, &QTimer::timeout, this, [this] {
        if (!isVisible()) return;
        renderIfNeeded();
        update();
    });
}

VtkRenderWidget::~VtkRenderWidget() {
    // VTK releases its GPU resources in its own context.
    if (d->initialized && makeContextCurrent()) {
        d->window->Finalize();
        d->context.doneCurrent();
    }
}

vtkRenderer* VtkRenderWidget::renderer() const {
    return d->renderer;
}
vtkGenericOpenGLRenderWindow* VtkRenderWidget::renderWindow() const {
    return d->window;
}

QString VtkRenderWidget::renderError() const {
    return d->error;
}

void VtkRenderWidget::setDefaultSurfaceFormat() {
    QSurfaceFormat format;
    format.setRenderableType(QSurfaceFormat::OpenGL);
    format.setVersion(3, 2);
    format.setProfile(QSurfaceFormat::CoreProfile);
    format.setDepthBufferSize(24);
    format.setStencilBufferSize(8);
    format.setAlphaBufferSize(8);
    format.setSamples(0);
    QSurfaceFormat::setDefaultFormat(format);
}

bool VtkRenderWidget::makeContextCurrent() {
    if (!d->error.isEmpty()) return false;
    if (!d->context.isCreated()) {
        if (!d->context.create()) {
            d->error =
                tr("The 3D view needs OpenGL 3.2, and no OpenGL context could be "
                   "created on this display. The 2D views work without it.");
            return false;
        }
        const QSurfaceFormat got = d->context.format();
        if (got.majorVersion() * 10 + got.minorVersion() < 32) {
            d->error = tr("The 3D view needs OpenGL 3.2; this display offers %1.%2. Update "
                          "the graphics driver. The 2D views work without it.")
                           .arg(got.majorVersion())
                           .arg(got.minorVersion());
            return false;
        }
    }
    if (!d->context.makeCurrent()) {
        d->error = tr("The 3D view's OpenGL context could not be made current.");
        return false;
    }
    if (!d->initialized) {
        d->window->SetIsCurrent(true);
        d->window->OpenGLInitContext();
        d->window->SetReadyForRendering(true);
        // Only now: initializing the interactor starts the render window,
        // which needs the context that exists from here on.
        d->interactor->Initialize();
        d->initialized = true;
    }
    return true;
}

// A frame is not rendered inside the paint pass that redraws the rest of the
// window: when a result arrives, the slice views and panels show it at once,
// and the 3D frame (the one slow thing, tens of ms in a software renderer)
// follows in a later turn of the event loop, so input is handled in between.
// Requests that come in the meantime are merged into that one frame.
void VtkRenderWidget::requestRender() {
    d->frameRequested = true;
    if (isVisible()) d->renderTimer.start();
}

QSize VtkRenderWidget::deviceSize() const {
    const qreal ratio = devicePixelRatioF();
    return QSize(std::max(1, int(width() * ratio)), std::max(1, int(height() * ratio)));
}

void VtkRenderWidget::renderIfNeeded() {
    if (!d->frameRequested && d->frame.size() == deviceSize()) return;
    if (!makeContextCurrent()) return;
    renderFrame();
    d->frameRequested = false;
    d->context.doneCurrent();
}

void VtkRenderWidget::renderFrame() {
    const int w = deviceSize().width(), h = deviceSize().height();
    d->window->SetSize(w, h);
    d->interactor->UpdateSize(w, h);
    d->window->Render();

    // Read VTK's finished frame back, bottom row first as OpenGL stores it.
    // Its size is what VTK last rendered, which can lag a resize by a frame.
    vtkOpenGLFramebufferObject* display = d->window->GetDisplayFramebuffer();
    const int* rendered = display->GetLastSize();
    QImage image(rendered[0], rendered[1], QImage::Format_RGBA8888);
    display->Bind(GL_READ_FRAMEBUFFER);
    display->ActivateReadBuffer(0);
    d->window->GetState()->vtkglPixelStorei(GL_PACK_ALIGNMENT, 4);
    glReadPixels(0, 0, rendered[0], rendered[1], GL_RGBA, GL_UNSIGNED_BYTE, image.bits());
    // Shown opaque: VTK leaves alpha < 1 where the volume is translucent, and
    // the view shows the frame over nothing.
    image = image.mirrored().convertToFormat(QImage::Format_RGB32);
    image.setDevicePixelRatio(devicePixelRatioF());
    d->frame = std::move(image);
}

void VtkRenderWidget::renderPendingFrame() {
    renderIfNeeded();
}

QImage VtkRenderWidget::grabFrame() {
    renderIfNeeded();
    return d->frame;
}

void VtkRenderWidget::paintEvent(QPaintEvent*) {
    // The first frame is rendered right away; later ones are drawn as they
    // were (scaled, after a resize) until the scheduled frame replaces them.
    // (A new device pixel ratio, e.g. on another screen, needs a new frame too.)
    if (d->frame.size() != deviceSize()) d->frameRequested = true;
    if (d->frame.isNull())
        renderIfNeeded();
    else if (d->frameRequested && !d->renderTimer.isActive())
        d->renderTimer.start();
    QPainter painter(this);
    if (!d->error.isEmpty() || d->frame.isNull()) {
        painter.fillRect(rect(), QColor(20, 20, 24));
        painter.setPen(QColor(220, 220, 220));
        painter.drawText(rect().adjusted(12, 12, -12, -12), Qt::AlignCenter | Qt::TextWordWrap,
                         d->error);
        return;
    }
    painter.drawImage(QRectF(rect()), d->frame);
}

void VtkRenderWidget::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    requestRender();
}

namespace {

void setEventPosition(vtkGenericRenderWindowInteractor* interactor, QWidget* widget,
                      const QPointF& position, Qt::KeyboardModifiers modifiers, int repeat = 0) {
    const qreal ratio = widget->devicePixelRatioF();
    const int x = static_cast<int>(position.x() * ratio);
    // VTK's y axis points up.
    const int y = static_cast<int>((widget->height() - position.y() - 1) * ratio);
    interactor->SetEventInformation(x, y, modifiers & Qt::ControlModifier ? 1 : 0,
                                    modifiers & Qt::ShiftModifier ? 1 : 0, 0, repeat);
}

}  // namespace

void VtkRenderWidget::mousePressEvent(QMouseEvent* event) {
    setEventPosition(d->interactor, this, event->position(), event->modifiers());
    switch (event->button()) {
        case Qt::LeftButton:
            d->interactor->InvokeEvent(vtkCommand::LeftButtonPressEvent);
            break;
        case Qt::RightButton:
            d->interactor->InvokeEvent(vtkCommand::RightButtonPressEvent);
            break;
        case Qt::MiddleButton:
            d->interactor->InvokeEvent(vtkCommand::MiddleButtonPressEvent);
            break;
        default:
            break;
    }
    event->accept();
}

void VtkRenderWidget::mouseReleaseEvent(QMouseEvent* event) {
    setEventPosition(d->interactor, this, event->position(), event->modifiers());
    switch (event->button()) {
        case Qt::LeftButton:
            d->interactor->InvokeEvent(vtkCommand::LeftButtonReleaseEvent);
            break;
        case Qt::RightButton:
            d->interactor->InvokeEvent(vtkCommand::RightButtonReleaseEvent);
            break;
        case Qt::MiddleButton:
            d->interactor->InvokeEvent(vtkCommand::MiddleButtonReleaseEvent);
            break;
        default:
            break;
    }
    event->accept();
}

void VtkRenderWidget::mouseMoveEvent(QMouseEvent* event) {
    setEventPosition(d->interactor, this, event->position(), event->modifiers());
    d->interactor->InvokeEvent(vtkCommand::MouseMoveEvent);
    event->accept();
}

void VtkRenderWidget::wheelEvent(QWheelEvent* event) {
    setEventPosition(d->interactor, this, event->position(), event->modifiers());
    const int steps = event->angleDelta().y() / 120;
    for (int i = 0; i < std::abs(steps); ++i)
        d->interactor->InvokeEvent(steps > 0 ? vtkCommand::MouseWheelForwardEvent
                                             : vtkCommand::MouseWheelBackwardEvent);
    event->accept();
}

void VtkRenderWidget::keyPressEvent(QKeyEvent* event) {
    // 'r' resets the camera, as in every VTK viewer; other keys are not forwarded
    // because VTK's defaults (e.g. 'q' quits, 'w' wireframe) do not suit a viewer.
    if (event->key() == Qt::Key_R) {
        d->renderer->ResetCamera();
        requestRender();
        event->accept();
        return;
    }
    QWidget::keyPressEvent(event);
}

}  // namespace rllm
