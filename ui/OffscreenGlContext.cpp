#include "ui/OffscreenGlContext.h"

#include <QOffscreenSurface>
#include <QOpenGLContext>

namespace rllm {

OffscreenGlContext::OffscreenGlContext() = default;

OffscreenGlContext::~OffscreenGlContext() = default;

bool OffscreenGlContext::create() {
    const QSurfaceFormat format = QSurfaceFormat::defaultFormat();
    surface_ = std::make_unique<QOffscreenSurface>();
    surface_->setFormat(format);
    surface_->create();
    context_ = std::make_unique<QOpenGLContext>();
    context_->setFormat(format);
    return surface_->isValid() && context_->create();
}

bool OffscreenGlContext::isCreated() const {
    return context_ && context_->isValid();
}

QSurfaceFormat OffscreenGlContext::format() const {
    return context_ ? context_->format() : QSurfaceFormat();
}

bool OffscreenGlContext::isCurrent() const {
    return context_ && QOpenGLContext::currentContext() == context_.get();
}

bool OffscreenGlContext::makeCurrent() {
    if (!isCreated()) return false;
    return isCurrent() || context_->makeCurrent(surface_.get());
}

void OffscreenGlContext::doneCurrent() {
    if (context_) context_->doneCurrent();
}

}  // namespace rllm
