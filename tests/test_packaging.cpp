// The Debian package as a user gets it: `cpack -G DEB` from this build, its
// control fields and contents, its desktop file and AppStream metadata
// validated by Debian's own tools, and the packaged binaries run from the
// unpacked package (not from the build tree): `rllm --help`, and
// `rllm-viewer --screenshot` on a real NIfTI file.

#include "TestData.h"

#include "core/Phantom.h"
#include "core/io/ItkIo.h"

#include <QDir>
#include <QImage>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <unistd.h>

namespace {

struct Run {
    int status = -1;
    QByteArray out;
};

Run run(const QString& program, const QStringList& args, const QString& directory = {},
        int timeoutMs = 300000) {
    QProcess process;
    process.setProcessChannelMode(QProcess::MergedChannels);
    if (!directory.isEmpty()) process.setWorkingDirectory(directory);
    process.start(program, args);
    Run r;
    if (!process.waitForFinished(timeoutMs)) {
        process.kill();
        process.waitForFinished();
        r.out = "timed out: " + process.readAll();
        return r;
    }
    r.status = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    r.out = process.readAll();
    return r;
}

bool have(const char* tool) {
    return !QStandardPaths::findExecutable(tool).isEmpty();
}

}  // namespace

class TestPackaging : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString deb_;

  private slots:
    void initTestCase() {
        if (!have("cpack") || !have("dpkg-deb"))
            QSKIP("cpack or dpkg-deb is missing (scripts/install-deps installs them)");
        const Run made = run("cpack", {"-G", "DEB", "-B", dir_.filePath("out")}, RLLM_BUILD_DIR);
        QVERIFY2(made.status == 0, made.out.constData());
        const QStringList debs = QDir(dir_.filePath("out")).entryList({"*.deb"}, QDir::Files);
        QCOMPARE(debs.size(), 1);
        deb_ = dir_.filePath("out/" + debs.front());
    }

    void controlFieldsNameWhatItNeeds() {
        const Run fields = run("dpkg-deb", {"-f", deb_, "Package", "Version", "Depends"});
        QCOMPARE(fields.status, 0);
        for (const char* expected :
             {"Package: rllm-viewer", "libqt6widgets6", "libtorch", "libdcmtk", "libvtk9",
              "libinsighttoolkit5", "qt6-qpa-plugins", "libqt6svg6", "libopenblas0-pthread"})
            QVERIFY2(fields.out.contains(expected), expected);
#ifdef RLLM_EXPECT_JEMALLOC
        QVERIFY2(fields.out.contains("libjemalloc2"), "rllm links jemalloc");
#endif
    }

    void itHoldsTheProgramsAndWhatADesktopNeeds() {
        const Run contents = run("dpkg-deb", {"-c", deb_});
        QCOMPARE(contents.status, 0);
        for (const char* path :
             {"./usr/bin/rllm\n", "./usr/bin/rllm-viewer\n",
              "./usr/share/applications/rllm-viewer.desktop\n",
              "./usr/share/icons/hicolor/scalable/apps/rllm-viewer.svg\n",
              "./usr/share/metainfo/io.github.rllm_viewer.rllm_viewer.metainfo.xml\n"})
            QVERIFY2(contents.out.contains(path), path);
    }

    void desktopFileAndMetadataAreValid() {
        const QString root = unpack();
        if (!have("desktop-file-validate") || !have("appstreamcli"))
            QSKIP("desktop-file-validate or appstreamcli is missing (scripts/install-deps)");
        const Run desktop =
            run("desktop-file-validate", {root + "/usr/share/applications/rllm-viewer.desktop"});
        QVERIFY2(desktop.status == 0 && desktop.out.trimmed().isEmpty(), desktop.out.constData());
        const Run metadata =
            run("appstreamcli",
                {"validate", "--no-net",
                 root + "/usr/share/metainfo/io.github.rllm_viewer.rllm_viewer.metainfo.xml"});
        QVERIFY2(metadata.status == 0, metadata.out.constData());
        QVERIFY(QFile(root + "/usr/share/icons/hicolor/scalable/apps/rllm-viewer.svg")
                    .open(QIODevice::ReadOnly));
    }

    void aptCanInstallIt() {
        if (geteuid() != 0 || !have("apt-get")) QSKIP("needs root and apt-get to simulate");
        const Run simulated = run("apt-get", {"install", "--simulate", deb_});
        QVERIFY2(simulated.status == 0 && simulated.out.contains("Inst rllm-viewer"),
                 simulated.out.constData());
    }

    void thePackagedProgramsRun() {
        const QString root = unpack();
        const Run help = run(root + "/usr/bin/rllm", {"--help"});
        QVERIFY2(help.status == 0, help.out.constData());
        if (qEnvironmentVariableIsEmpty("DISPLAY") &&
            qEnvironmentVariable("QT_QPA_PLATFORM") != "offscreen")
            QSKIP("no display for rllm-viewer (the suite runs under xvfb-run)");
        const QString image = dir_.filePath("phantom.nii.gz");
        rllm::writeNifti(rllm::makePhantom3D(32, 3).image, image.toStdString());
        const QString shot = dir_.filePath("shot.png");
        const Run viewer =
            run(root + "/usr/bin/rllm-viewer", {"--screenshot", shot, image}, {}, 300000);
        QVERIFY2(viewer.status == 0, viewer.out.constData());
        const QImage picture(shot);
        QVERIFY2(picture.width() >= 800 && picture.height() >= 500,
                 qPrintable(QString("%1 x %2").arg(picture.width()).arg(picture.height())));
    }

  private:
    // The package unpacked once into a folder of its own.
    QString unpack() {
        const QString root = dir_.filePath("root");
        if (!QDir(root).exists()) {
            const Run extracted = run("dpkg-deb", {"-x", deb_, root});
            if (extracted.status != 0) qWarning("%s", extracted.out.constData());
        }
        return root;
    }
};

QTEST_GUILESS_MAIN(TestPackaging)
#include "test_packaging.moc"
