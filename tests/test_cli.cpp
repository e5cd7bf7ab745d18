// The rllm command line as a user runs it: output, JSON and exit statuses.

#include "TestData.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace {

struct Run {
    int status = -1;
    QByteArray out, err;
};

Run runRllm(const QStringList& args) {
    QProcess process;
    process.start(rllm::test::binary("rllm"), args);
    process.waitForFinished(120000);
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
            process.readAllStandardOutput(), process.readAllStandardError()};
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT
  private slots:
    void usageAndHelp() {
        QCOMPARE(runRllm({}).status, 2);
        QCOMPARE(runRllm({"frobnicate"}).status, 2);
        Run help = runRllm({"--help"});
        QCOMPARE(help.status, 0);
        QVERIFY(help.out.contains("info"));
        Run infoHelp = runRllm({"info", "--help"});
        QCOMPARE(infoHelp.status, 0);
        QVERIFY(infoHelp.out.contains("--json"));
        QCOMPARE(runRllm({"info"}).status, 2);
        QCOMPARE(runRllm({"info", "a", "b"}).status, 2);
        QCOMPARE(runRllm({"info", "x", "--bogus"}).status, 2);
    }

    void npzInfoAsJson() {
        const QString path = rllm::test::sharedFile("medmnist/breastmnist.npz");
        RLLM_REQUIRE_FILE(path);
        Run run = runRllm({"info", path, "--json"});
        QCOMPARE(run.status, 0);
        const QJsonObject j = QJsonDocument::fromJson(run.out).object();
        QCOMPARE(j["format"].toString(), QString("MedMNIST npz"));
        QCOMPARE(j["splits"]["train"]["count"].toInt(), 546);
        QCOMPARE(j["splits"]["test"]["label_counts"].toArray(), (QJsonArray{42, 114}));
        QCOMPARE(j["image_size"].toArray(), (QJsonArray{28, 28, 1}));
        Run one = runRllm({"info", path, "--split", "val", "--index", "77", "--json"});
        QCOMPARE(one.status, 0);
        QCOMPARE(
            QJsonDocument::fromJson(one.out).object()["case"].toObject()["pixel_type"].toString(),
            QString("uint8"));
        QCOMPARE(runRllm({"info", path, "--split", "val", "--index", "78"}).status, 1);
        QCOMPARE(runRllm({"info", path, "--index", "seven"}).status, 2);
    }

    void dicomInfoTextAndJson() {
        const QString path = rllm::test::pydicomFile("CT_small.dcm");
        RLLM_REQUIRE_FILE(path);
        Run text = runRllm({"info", path});
        QCOMPARE(text.status, 0);
        QVERIFY(text.out.contains("128 x 128 x 1"));
        QVERIFY(text.out.contains("int16"));
        Run json = runRllm({"info", path, "--json"});
        const QJsonObject j = QJsonDocument::fromJson(json.out).object();
        QCOMPARE(j["size"].toArray(), (QJsonArray{128, 128, 1}));
        QCOMPARE(j["metadata"]["Modality"].toString(), QString("CT"));
        QVERIFY(std::abs(j["spacing"][0].toDouble() - 0.661468) < 1e-6);
        // A folder lists its series.
        QTemporaryDir dir;
        QFile::copy(path, dir.filePath("a.dcm"));
        Run folder = runRllm({"info", dir.path(), "--json"});
        QCOMPARE(folder.status, 0);
        QCOMPARE(QJsonDocument::fromJson(folder.out).object()["series"].toArray().size(), 1);
    }

    void badInputExitsOneAndNamesTheFile() {
        QTemporaryDir dir;
        rllm::test::writeAll(dir.filePath("broken.nii.gz"), "not really gzip");
        for (const QString& path : {dir.filePath("broken.nii.gz"), dir.filePath("missing.dcm"),
                                    dir.filePath("broken.nii.gz") + ".npz"}) {
            if (path.endsWith(".npz")) rllm::test::writeAll(path, "junk");
            Run run = runRllm({"info", path});
            QCOMPARE(run.status, 1);
            QVERIFY2(run.err.contains(QFileInfo(path).fileName().toUtf8()), run.err.constData());
        }
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
