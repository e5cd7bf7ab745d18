// vtk_glew.h must come before any Qt OpenGL header.
#include <vtk_glew.h>

#include "ui/VtkOpenGLWidget.h"

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
#include <QOpenGLContext>
#include <QOpenGLExtraFunctions>
#include <QSurfaceFormat>
#include <QWheelEvent>

namespace rllm {

struct VtkOpenGLWidget::Private {
    vtkNew<vtkGenericOpenGLRenderWindow> window;
    vtkNew<vtkGenericRenderWindowInteractor> interactor;
    vtkNew<vtkRenderer> renderer;
    vtkNew<vtkInteractorStyleTrackballCamera> style;
    vtkNew<vtkCallbackCommand> windowCallback;
    vtkNew<vtkCallbackCommand> renderRequest;
    bool initialized = false;
};

namespace {

// VTK asks the host to make its context current or to say whether it is.
void onWindowEvent(vtkObject*, unsigned long eventId, void* clientData, void* callData) {
    auto* widget = static_cast<VtkOpenGLWidget*>(clientData);
    if (eventId == vtkCommand::WindowMakeCurrentEvent) {
        // QOpenGLWidget::makeCurrent() also binds the widget's framebuffer,
        // behind the back of VTK's GL state cache; VTK asks for this in the
        // middle of building its own framebuffers, so only switch context
        // when another one is current.
        if (QOpenGLContext::currentContext() != widget->context()) widget->makeCurrent();
    } else if (eventId == vtkCommand::WindowIsCurrentEvent) {
        *static_cast<bool*>(callData) =
            widget->context() && QOpenGLContext::currentContext() == widget->context();
    }
}

// The interactor wants a new frame (camera moved): let Qt schedule paintGL.
void onRenderRequest(vtkObject*, unsigned long, void* clientData, void*) {
    static_cast<VtkOpenGLWidget*>(clientData)->update();
}

}  // namespace

VtkOpenGLWidget::VtkOpenGLWidget(QWidget* parent) : QOpenGLWidget(parent), d(new Private) {
    setFocusPolicy(Qt::StrongFocus);
    setMouseTracking(false);
    d->window->AddRenderer(d->renderer);
    d->window->SetReadyForRendering(false);
    d->window->SetFrameBlitModeToNoBlit();
    d->window->SetOwnContext(false);
    // Multisampled framebuffers cannot be blitted between sizes and fail on Mesa.
    d->window->SetMultiSamples(0);
    d->window->SetStencilCapable(0);
    d->windowCallback->SetCallback(onWindowEvent);
    d->windowCallback->SetClientData(this);
    d->window->AddObserver(vtkCommand::WindowMakeCurrentEvent, d->windowCallback);
    d->window->AddObserver(vtkCommand::WindowIsCurrentEvent, d->windowCallback);

    d->interactor->SetRenderWindow(d->window);
    d->interactor->SetInteractorStyle(d->style);
    // Rendering happens in paintGL only, where Qt's context is current.
    d->interactor->EnableRenderOff();
    d->renderRequest->SetCallback(onRenderRequest);
    d->renderRequest->SetClientData(this);
    d->interactor->AddObserver(vtkCommand::RenderEvent, d->renderRequest);
}

VtkOpenGLWidget::~VtkOpenGLWidget() {
    // VTK releases its GPU resources in the widget's context.
    makeCurrent();
    d->window->Finalize();
    doneCurrent();
}

vtkRenderer* VtkOpenGLWidget::renderer() const {
    return d->renderer;
}
vtkGenericOpenGLRenderWindow* VtkOpenGLWidget::renderWindow() const {
    return d->window;
}

void VtkOpenGLWidget::setDefaultSurfaceFormat() {
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

void VtkOpenGLWidget::initializeGL() {
    d->window->SetIsCurrent(true);
    d->window->OpenGLInitContext();
    d->window->SetReadyForRendering(true);
    // Only now: initializing the interactor starts the render window, which
    // needs the context that exists from here on.
    d->interactor->Initialize();
    d->initialized = true;
}

void VtkOpenGLWidget::resizeGL(int width, int height) {
    const qreal ratio = devicePixelRatioF();
    const int w = static_cast<int>(width * ratio), h = static_cast<int>(height * ratio);
    d->window->SetSize(w, h);
    d->interactor->UpdateSize(w, h);
}

void VtkOpenGLWidget::paintGL() {
    if (!d->initialized) return;
    const qreal ratio = devicePixelRatioF();
    const int w = static_cast<int>(width() * ratio), h = static_cast<int>(height() * ratio);
    d->window->SetSize(w, h);
    // Qt bound its own framebuffer and changed GL state since VTK last ran;
    // VTK caches GL state, so make it re-read the real state first.
    d->window->GetState()->Reset();
    d->window->Render();

    // Copy VTK's finished frame into the widget's framebuffer. The source
    // size is what VTK last rendered, which can lag a resize by a frame.
    QOpenGLExtraFunctions* gl = context()->extraFunctions();
    gl->glBindFramebuffer(GL_DRAW_FRAMEBUFFER, defaultFramebufferObject());
    const GLenum colourAttachment = GL_COLOR_ATTACHMENT0;
    gl->glDrawBuffers(1, &colourAttachment);
    d->window->GetState()->vtkglDisable(GL_SCISSOR_TEST);
    gl->glDisable(GL_SCISSOR_TEST);
    const int* rendered = d->window->GetRenderFramebuffer()->GetLastSize();
    d->window->BlitDisplayFramebuffer(0, 0, 0, rendered[0], rendered[1], 0, 0, w, h,
                                      GL_COLOR_BUFFER_BIT, GL_LINEAR);

    // Force alpha to opaque: Mesa composes a translucent widget framebuffer to white.
    GLboolean mask[4];
    gl->glGetBooleanv(GL_COLOR_WRITEMASK, mask);
    gl->glColorMask(GL_FALSE, GL_FALSE, GL_FALSE, GL_TRUE);
    gl->glClearColor(0.0f, 0.0f, 0.0f, 1.0f);
    gl->glViewport(0, 0, w, h);
    gl->glClear(GL_COLOR_BUFFER_BIT);
    gl->glColorMask(mask[0], mask[1], mask[2], mask[3]);
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

void VtkOpenGLWidget::mousePressEvent(QMouseEvent* event) {
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

void VtkOpenGLWidget::mouseReleaseEvent(QMouseEvent* event) {
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

void VtkOpenGLWidget::mouseMoveEvent(QMouseEvent* event) {
    setEventPosition(d->interactor, this, event->position(), event->modifiers());
    d->interactor->InvokeEvent(vtkCommand::MouseMoveEvent);
    event->accept();
}

void VtkOpenGLWidget::wheelEvent(QWheelEvent* event) {
    setEventPosition(d->interactor, this, event->position(), event->modifiers());
    const int steps = event->angleDelta().y() / 120;
    for (int i = 0; i < std::abs(steps); ++i)
        d->interactor->InvokeEvent(steps > 0 ? vtkCommand::MouseWheelForwardEvent
                                             : vtkCommand::MouseWheelBackwardEvent);
    event->accept();
}

void VtkOpenGLWidget::keyPressEvent(QKeyEvent* event) {
    // 'r' resets the camera, as in every VTK viewer; other keys are not forwarded
    // because VTK's defaults (e.g. 'q' quits, 'w' wireframe) do not suit a viewer.
    if (event->key() == Qt::Key_R) {
        d->renderer->ResetCamera();
        update();
        event->accept();
        return;
    }
    QOpenGLWidget::keyPressEvent(event);
}

}  // namespace rllm
