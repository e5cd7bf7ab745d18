// The viewer's real widgets under Xvfb: what is drawn, how mouse input
// changes it, the 3D view, errors, and --screenshot.

#include "TestData.h"

#include "core/Phantom.h"
#include "core/Volume.h"
#include "core/io/ItkIo.h"
#include "ui/MainWindow.h"
#include "ui/SliceView.h"
#include "ui/VolumeView3D.h"
#include "ui/VtkOpenGLWidget.h"

#include <QLabel>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace rllm;

namespace {

// How many pixels differ between two images of the same size.
int differingPixels(const QImage& a, const QImage& b) {
    if (a.size() != b.size()) return a.width() * a.height();
    const QImage x = a.convertToFormat(QImage::Format_RGB32),
                 y = b.convertToFormat(QImage::Format_RGB32);
    int count = 0;
    for (int row = 0; row < x.height(); ++row)
        for (int col = 0; col < x.width(); ++col)
            if (x.pixel(col, row) != y.pixel(col, row)) ++count;
    return count;
}

int pixelsUnlike(const QImage& image, QRgb background) {
    const QImage x = image.convertToFormat(QImage::Format_RGB32);
    int count = 0;
    for (int row = 0; row < x.height(); ++row)
        for (int col = 0; col < x.width(); ++col)
            if (qAbs(qRed(x.pixel(col, row)) - qRed(background)) > 8 ||
                qAbs(qGreen(x.pixel(col, row)) - qGreen(background)) > 8 ||
                qAbs(qBlue(x.pixel(col, row)) - qBlue(background)) > 8)
                ++count;
    return count;
}

void drag(QWidget* widget, Qt::MouseButton button, QPoint from, QPoint to) {
    QTest::mousePress(widget, button, Qt::NoModifier, from);
    for (int step = 1; step <= 5; ++step) {
        QPoint p = from + (to - from) * step / 5;
        QMouseEvent move(QEvent::MouseMove, p, widget->mapToGlobal(p), Qt::NoButton, button,
                         Qt::NoModifier);
        QApplication::sendEvent(widget, &move);
    }
    QTest::mouseRelease(widget, button, Qt::NoModifier, to);
}

void wheel(QWidget* widget, int notches) {
    const QPoint centre = widget->rect().center();
    QWheelEvent event(centre, widget->mapToGlobal(centre), QPoint(), QPoint(0, 120 * notches),
                      Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
    QApplication::sendEvent(widget, &event);
}

}  // namespace

class TestViewer : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString phantomPath_;

  private slots:
    void initTestCase() {
        // A real NIfTI file on disk, opened the way a user opens one.
        Phantom phantom = makePhantom3D(40, 5);
        phantomPath_ = dir_.filePath("phantom.nii.gz");
        writeNifti(phantom.image, phantomPath_.toStdString());
    }

    void openingAFileDrawsIt() {
        MainWindow window;
        window.resize(1000, 600);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        const QImage empty = window.sliceView()->grab().toImage();
        QVERIFY(window.openPath(phantomPath_));
        QVERIFY(window.lastError().isEmpty());
        QCOMPARE(window.sliceView()->sliceCount(), int64_t(40));
        const QImage drawn = window.sliceView()->grab().toImage();
        // The body's tissue is drawn grey somewhere in the middle of the view.
        const QColor centre = drawn.pixelColor(drawn.rect().center());
        QVERIFY2(centre.red() > 60 && centre.red() < 230, qPrintable(centre.name()));
        QVERIFY(differingPixels(empty, drawn) > drawn.width() * drawn.height() / 10);
    }

    void wheelAndWindowDragChangeTheDrawnPixels() {
        MainWindow window;
        window.resize(1000, 600);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(window.openPath(phantomPath_));
        SliceView* view = window.sliceView();
        const QImage before = view->grab().toImage();
        const int64_t slice = view->sliceIndex();
        wheel(view, 3);
        QCOMPARE(view->sliceIndex(), slice + 3);
        const QImage scrolled = view->grab().toImage();
        QVERIFY(differingPixels(before, scrolled) > 100);  // noise differs slice to slice

        const double width = view->windowWidth(), centre = view->windowCenter();
        drag(view, Qt::LeftButton, {200, 200}, {320, 260});
        QVERIFY(view->windowWidth() > width);
        QVERIFY(view->windowCenter() > centre);
        const QImage windowed = view->grab().toImage();
        QVERIFY(differingPixels(scrolled, windowed) > 1000);

        const double zoom = view->zoom();
        drag(view, Qt::RightButton, {200, 300}, {200, 200});
        QVERIFY(view->zoom() > zoom);
    }

    void threeDViewRendersTheVolume() {
        MainWindow window;
        window.resize(1000, 600);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        VolumeView3D* view = window.volumeView();
        const QImage blank = view->grabFramebuffer();
        const QRgb background = blank.pixel(blank.width() / 2, blank.height() / 2);
        QVERIFY(window.openPath(phantomPath_));
        QTRY_VERIFY(pixelsUnlike(view->grabFramebuffer(), background) > 1000);
        // Rotating with the mouse changes the picture.
        const QImage front = view->grabFramebuffer();
        drag(view, Qt::LeftButton, view->rect().center(), view->rect().center() + QPoint(80, 0));
        QTRY_VERIFY(differingPixels(front, view->grabFramebuffer()) > 500);
        // Wheel zooms in: more of the view is covered.
        const int coveredBefore = pixelsUnlike(view->grabFramebuffer(), background);
        wheel(view, 3);
        QTRY_VERIFY(pixelsUnlike(view->grabFramebuffer(), background) > coveredBefore);
    }

    void badFilesShowAnErrorAndKeepTheImage() {
        MainWindow window;
        window.resize(1000, 600);
        window.show();
        QVERIFY(window.openPath(phantomPath_));
        const auto loaded = window.volume();
        const QString broken = test::truncatedCopy(phantomPath_, dir_.path(), 0.4);
        QVERIFY(!window.openPath(broken));
        QVERIFY(window.lastError().contains("truncated_phantom.nii.gz"));
        auto* banner = window.findChild<QLabel*>("errorBanner");
        QVERIFY(banner && banner->isVisible());
        QVERIFY(banner->text().contains("truncated_phantom.nii.gz"));
        QCOMPARE(window.volume(), loaded);  // the previous image stays
        QVERIFY(!window.openPath(dir_.filePath("nothing-here.dcm")));
        // A good file afterwards clears the error.
        QVERIFY(window.openPath(phantomPath_));
        QVERIFY(!banner->isVisible());
    }

    void demoIsLabelledSynthetic() {
        MainWindow window;
        window.show();
        window.openDemo(true);
        QVERIFY(window.volume()->synthetic);
        auto* label = window.findChild<QLabel*>("syntheticBanner");
        QVERIFY(label && label->isVisible() && label->text().contains("SYNTHETIC"));
        window.openPath(phantomPath_);
        QVERIFY(!label->isVisible());
    }

    void screenshotOptionWritesAPng() {
        const QString target = dir_.filePath("shot.png");
        QProcess process;
        process.start(test::binary("rllm-viewer"), {"--demo", "--screenshot", target});
        QVERIFY(process.waitForFinished(120000));
        QCOMPARE(process.exitCode(), 0);
        QImage shot(target);
        QVERIFY(!shot.isNull());
        QVERIFY(shot.width() >= 800 && shot.height() >= 500);
        // A bad path: exit status 1, message, no crash.
        QProcess bad;
        bad.start(test::binary("rllm-viewer"),
                  {dir_.filePath("missing.nii.gz"), "--screenshot", dir_.filePath("b.png")});
        QVERIFY(bad.waitForFinished(120000));
        QCOMPARE(bad.exitStatus(), QProcess::NormalExit);
        QCOMPARE(bad.exitCode(), 1);
        QVERIFY(bad.readAllStandardError().contains("missing.nii.gz"));
    }
};

int main(int argc, char** argv) {
    VtkOpenGLWidget::setDefaultSurfaceFormat();
    QApplication app(argc, argv);
    TestViewer test;
    return QTest::qExec(&test, argc, argv);
}
#include "test_viewer.moc"
