#pragma once
// An OpenGL context made current on a surface no one sees: what
// VtkRenderWidget gives VTK to draw with.
//
// A class of its own because VTK's OpenGL loader (GLEW, through vtk_glew.h)
// and Qt's OpenGL headers do not belong in one source file: Qt warns that its
// GL declarations and GLEW's clash. VtkRenderWidget.cpp includes VTK's, this
// class's .cpp Qt's, and this header neither.

#include <QSurfaceFormat>

#include <memory>

class QOffscreenSurface;
class QOpenGLContext;

namespace rllm {

class OffscreenGlContext {
  public:
    OffscreenGlContext();
    ~OffscreenGlContext();
    OffscreenGlContext(const OffscreenGlContext&) = delete;
    OffscreenGlContext& operator=(const OffscreenGlContext&) = delete;

    // Creates the surface and the context in Qt's default surface format;
    // false where the display offers no OpenGL context at all.
    bool create();
    bool isCreated() const;
    // The format the context got, which may be below the one asked for.
    QSurfaceFormat format() const;

    bool isCurrent() const;
    bool makeCurrent();
    void doneCurrent();

  private:
    std::unique_ptr<QOffscreenSurface> surface_;
    std::unique_ptr<QOpenGLContext> context_;
};

}  // namespace rllm
