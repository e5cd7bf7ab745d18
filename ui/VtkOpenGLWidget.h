#pragma once
// A Qt 6 QOpenGLWidget that hosts a VTK render window.
//
// Debian's VTK ships its Qt widget built against Qt 5, which cannot be linked
// into a Qt 6 program, so this widget does the same job: VTK renders into its
// own framebuffer inside Qt's OpenGL context, and paintGL() blits the result
// into the widget's framebuffer. Mouse, wheel and key events go to a VTK
// interactor (trackball camera: left rotates, right or wheel zooms, middle pans).
// VTK headers stay in the .cpp; users reach VTK through renderer().

#include <QOpenGLWidget>

#include <memory>

class vtkRenderer;
class vtkGenericOpenGLRenderWindow;

namespace rllm {

class VtkOpenGLWidget : public QOpenGLWidget {
    Q_OBJECT
  public:
    explicit VtkOpenGLWidget(QWidget* parent = nullptr);
    ~VtkOpenGLWidget() override;

    vtkRenderer* renderer() const;
    vtkGenericOpenGLRenderWindow* renderWindow() const;

    // The surface format VTK needs; set it as Qt's default before QApplication exists.
    static void setDefaultSurfaceFormat();

  protected:
    void initializeGL() override;
    void resizeGL(int width, int height) override;
    void paintGL() override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;

  private:
    struct Private;
    std::unique_ptr<Private> d;
};

}  // namespace rllm
