#pragma once
// A Qt 6 widget that shows what a VTK render window draws.
//
// Debian's VTK ships its Qt widget built against Qt 5, which cannot be linked
// into a Qt 6 program, so this widget does the same job its own way: VTK
// renders into framebuffers of an OpenGL context the widget keeps on an
// offscreen surface, the finished frame is read back into a QImage, and
// paintEvent() draws that image like any other widget.
//
// Why not a QOpenGLWidget: one QOpenGLWidget anywhere in a window makes Qt
// compose the whole window through OpenGL on every update of any widget in
// it. With a software renderer (Mesa, no GPU) that composition alone costs
// about 50 ms per update and stalls the GUI while results stream in. Here
// the frame is read back only when the 3D scene changed.
//
// Mouse, wheel and key events go to a VTK interactor (trackball camera: left
// rotates, right or wheel zooms, middle pans). VTK headers stay in the .cpp;
// users reach VTK through renderer().

#include <QImage>
#include <QWidget>

#include <memory>

class vtkObject;
class vtkRenderer;
class vtkGenericOpenGLRenderWindow;

namespace rllm {

class VtkRenderWidget : public QWidget {
    Q_OBJECT
  public:
    explicit VtkRenderWidget(QWidget* parent = nullptr);
    ~VtkRenderWidget() override;

    vtkRenderer* renderer() const;
    vtkGenericOpenGLRenderWindow* renderWindow() const;

    // The surface format VTK needs; set it as Qt's default before QApplication exists.
    static void setDefaultSurfaceFormat();

    // Asks for a new frame: the scene changed. The frame is rendered at the
    // next paint, once however many requests came before it.
    void requestRender();

    // Renders the frame asked for now instead of in a later turn of the event
    // loop (e.g. before the window is grabbed for a screenshot).
    void renderPendingFrame();

    // The latest frame in device pixels, rendered first if one was asked for.
    QImage grabFrame();

    // Empty while rendering works; otherwise why it does not (shown in the view).
    QString renderError() const;

  protected:
    // Renders the scene into the read-back image; the context is current.
    // Subclasses wrap it (e.g. to time frames).
    virtual void renderFrame();

    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;

  private:
    static void onWindowEvent(vtkObject* caller, unsigned long eventId, void* clientData,
                              void* callData);
    bool makeContextCurrent();
    QSize deviceSize() const;
    void renderIfNeeded();
    struct Private;
    std::unique_ptr<Private> d;
};

}  // namespace rllm
