// rllm-viewer: the desktop viewer.

#include "ui/DemoSetup.h"
#include "ui/MainWindow.h"
#include "ui/VtkRenderWidget.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include <iostream>

int main(int argc, char** argv) {
    // VTK needs an OpenGL 3.2 core context; this must precede QApplication.
    rllm::VtkRenderWidget::setDefaultSurfaceFormat();
    QApplication app(argc, argv);
    QApplication::setApplicationName("rllm-viewer");
    QApplication::setOrganizationName("R-LLM Viewer");

    QCommandLineParser parser;
    parser.setApplicationDescription(
        "R-LLM Viewer: medical images in 2D and 3D, what two classifiers look at, side by side. "
        "Not for diagnostic use.");
    parser.addHelpOption();
    parser.addPositionalArgument("path", "Image file, DICOM folder or MedMNIST .npz to open.",
                                 "[PATH]");
    QCommandLineOption demo("demo",
                            "Open the demo: synthetic 3D phantoms with a ViT baseline and an "
                            "R-LLM booster compared (made first if missing).");
    QCommandLineOption demo2d("demo-2d", "As --demo, with the 2D phantoms.");
    QCommandLineOption demoDir("demo-dir",
                               "Where the demo lives (default: $RLLM_DEMO_DIR, else "
                               "the user's application data folder).",
                               "DIR");
    QCommandLineOption model("model",
                             "Load a model bundle (repeat for more; the first two are "
                             "compared).",
                             "BUNDLE");
    QCommandLineOption screenshot(
        "screenshot", "When loading and the models are done, write the window as PNG and exit.",
        "PATH");
    QCommandLineOption report("report",
                              "When the models are done, write the comparison report (PDF or "
                              "PNG by extension) and exit.",
                              "PATH");
    parser.addOptions({demo, demo2d, demoDir, model, screenshot, report});
    parser.process(app);

    rllm::MainWindow window;
    // A first run's size; later runs open at the size the user left.
    if (!window.restoredGeometry()) window.resize(1500, 900);
    window.show();

    for (const QString& bundle : parser.values(model)) window.loadModel(bundle);
    const QStringList paths = parser.positionalArguments();
    const QString folder =
        parser.isSet(demoDir) ? parser.value(demoDir) : rllm::defaultDemoFolder();
    if (!paths.isEmpty())
        window.openPath(paths.front());
    else if (parser.isSet(demo) || parser.isSet(demo2d))
        window.openDemoWithModels(folder, !parser.isSet(demo2d));

    if (parser.isSet(screenshot) || parser.isSet(report)) {
        QTimer::singleShot(300, &app, [&] {
            window.waitUntilIdle(600000);
            QApplication::processEvents();
            bool ok = window.lastError().isEmpty();
            if (parser.isSet(report)) ok = window.saveReport(parser.value(report)) && ok;
            if (parser.isSet(screenshot))
                ok = window.saveScreenshot(parser.value(screenshot)) && ok;
            if (!ok) std::cerr << "rllm-viewer: " << window.lastError().toStdString() << "\n";
            app.exit(ok ? 0 : 1);
        });
    }
    return app.exec();
}
