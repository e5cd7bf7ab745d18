// rllm-viewer: the desktop viewer.

#include "ui/MainWindow.h"
#include "ui/VtkOpenGLWidget.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include <iostream>

int main(int argc, char** argv) {
    // VTK needs an OpenGL 3.2 core context; this must precede QApplication.
    rllm::VtkOpenGLWidget::setDefaultSurfaceFormat();
    QApplication app(argc, argv);
    QApplication::setApplicationName("rllm-viewer");
    QApplication::setOrganizationName("R-LLM Viewer");

    QCommandLineParser parser;
    parser.setApplicationDescription(
        "R-LLM Viewer: medical images in 2D and 3D. Not for diagnostic use.");
    parser.addHelpOption();
    parser.addPositionalArgument("path", "Image file, DICOM folder or MedMNIST .npz to open.",
                                 "[PATH]");
    QCommandLineOption demo("demo", "Open the embedded demo (a synthetic 3D phantom).");
    QCommandLineOption screenshot("screenshot",
                                  "Render the window, write it as PNG to PATH and exit.", "PATH");
    parser.addOption(demo);
    parser.addOption(screenshot);
    parser.process(app);

    rllm::MainWindow window;
    window.resize(1280, 760);
    window.show();

    const QStringList paths = parser.positionalArguments();
    bool opened = true;
    if (!paths.isEmpty())
        opened = window.openPath(paths.front());
    else if (parser.isSet(demo))
        window.openDemo(true);

    if (parser.isSet(screenshot)) {
        const QString target = parser.value(screenshot);
        // Let the window lay out and the views paint once before grabbing.
        QTimer::singleShot(500, &app, [&] {
            const bool saved = window.saveScreenshot(target);
            if (!saved)
                std::cerr << "rllm-viewer: " << window.lastError().toStdString() << "\n";
            else if (!opened)
                std::cerr << "rllm-viewer: " << window.lastError().toStdString() << "\n";
            app.exit(saved && opened ? 0 : 1);
        });
    }
    return app.exec();
}
