// The rllm command line as a user runs it: output, JSON and exit statuses.

#include "TestData.h"
#include "models/CamMethods.h"

#include <QFile>
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

Run runRllm(const QStringList& args,
            const QProcessEnvironment& environment = QProcessEnvironment::systemEnvironment()) {
    QProcess process;
    process.setProcessEnvironment(environment);
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
#ifdef RLLM_HAVE_MEDICAL_IO
        QCOMPARE(runRllm({"info", "x", "--volume", "0"}).status, 2);  // volumes count from 1
        QCOMPARE(runRllm({"convert", "only-one-path"}).status, 2);
        QCOMPARE(runRllm({"convert", "x", "y.nii", "--volume", "-3"}).status, 2);
#endif
    }

    // RLLM_MALLOC (core/ProcessHeap.h): either policy runs the command; any
    // other value is a usage error naming it, before the command runs.
    void heapPolicyComesFromTheEnvironment() {
        auto environment = QProcessEnvironment::systemEnvironment();
        for (const char* policy : {"keep", "system", ""}) {
            environment.insert("RLLM_MALLOC", policy);
            QCOMPARE(runRllm({"info", "--help"}, environment).status, 0);
        }
        // The help names the malloc rllm runs on: jemalloc where it is linked.
        const Run help = runRllm({"--help"});
        QCOMPARE(help.status, 0);
#ifdef RLLM_EXPECT_JEMALLOC
        QVERIFY2(help.out.contains("This build's malloc: jemalloc "), qPrintable(help.out));
#else
        QVERIFY2(help.out.contains("This build's malloc: "), qPrintable(help.out));
#endif
        environment.insert("RLLM_MALLOC", "tcmalloc");
        const Run bad = runRllm({"info", "--help"}, environment);
        QCOMPARE(bad.status, 2);
        QVERIFY(bad.err.contains("RLLM_MALLOC='tcmalloc'"));
        QVERIFY(bad.out.isEmpty());
    }

    // The CAM methods come from one table (models/CamMethods.h): the help
    // lists every one, and a method the table lacks is a usage error that
    // names the valid ones.
    void camMethodsComeFromTheTable() {
#ifndef RLLM_HAVE_TORCH
        QSKIP("built without LibTorch: no cam command");
#else
        const Run help = runRllm({"cam", "--help"});
        QCOMPARE(help.status, 0);
        for (const rllm::CamMethodInfo& info : rllm::camMethods())
            QVERIFY2(help.out.contains(QByteArray("\n  ") + info.key + " "), info.key);
        const Run badMap =
            runRllm({"cam", "b.safetensors", "x.nii", "--out", "c.nii", "--colormap", "parula"});
        QCOMPARE(badMap.status, 2);
        QVERIFY2(badMap.err.contains("--colormap must be jet, hot, viridis, inferno or magma"),
                 badMap.err.constData());
        const QStringList calls[] = {
            {"cam", "b.safetensors", "x.nii", "--out", "c.nii", "--method", "gradcam+++"},
            {"cam-eval", "b.safetensors", "--data", "d.npz", "--method", "gradcam+++"}};
        for (const QStringList& call : calls) {
            const Run bad = runRllm(call);
            QCOMPARE(bad.status, 2);
            QVERIFY2(bad.err.contains(QByteArray::fromStdString(rllm::camMethodKeyList())),
                     bad.err.constData());
        }
#endif
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
#ifndef RLLM_HAVE_MEDICAL_IO
        QSKIP("rllm was built without DICOM and ITK (RLLM_WITH_MEDICAL_IO=OFF)");
#endif
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

    void llmInfoAndRun() {
#ifndef RLLM_HAVE_TORCH
        QSKIP("rllm was built without LibTorch (RLLM_WITH_TORCH=OFF)");
#endif
        const QString checkpoint = rllm::test::sharedFile("llm/stories260K.bin");
        RLLM_REQUIRE_FILE(checkpoint);
        Run info = runRllm({"llm", "info", checkpoint, "--json"});
        QCOMPARE(info.status, 0);
        const QJsonObject a = QJsonDocument::fromJson(info.out).object();
        QCOMPARE(a["dim"].toInt(), 64);
        QCOMPARE(a["kv_heads"].toInt(), 4);
        QCOMPARE(a["ffn"].toInt(), 172);
        // A float32 (1, 3, 64) array of ones through the last layer; the output
        // is finite, differs from the input and is float32 of the same shape.
        QTemporaryDir dir;
        QByteArray header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64), }";
        while ((10 + header.size() + 1) % 64 != 0) header.append(' ');
        header.append('\n');
        QByteArray npy("\x93NUMPY\x01\x00", 8);
        npy.append(char(header.size() & 0xFF)).append(char(header.size() >> 8)).append(header);
        const float one = 1.0f;
        for (int i = 0; i < 3 * 64; ++i) npy.append(reinterpret_cast<const char*>(&one), 4);
        rllm::test::writeAll(dir.filePath("x.npy"), npy);
        for (const char* norm : {"unit", "loaded", "none"}) {
            const QString out = dir.filePath(QString("y_%1.npy").arg(norm));
            Run run = runRllm({"llm", "run", checkpoint, "--layer", "4", "--input",
                               dir.filePath("x.npy"), "--out", out, "--final-norm", norm});
            QCOMPARE(run.status, 0);
            const QByteArray y = rllm::test::readAll(out);
            QCOMPARE(y.size(), npy.size());
            QVERIFY(y.left(64 + 10 - 1).contains("'<f4'"));
            QVERIFY(y.mid(npy.size() - 3 * 64 * 4) != npy.mid(npy.size() - 3 * 64 * 4));
        }
        QCOMPARE(runRllm({"llm", "run", checkpoint, "--layer", "9", "--input",
                          dir.filePath("x.npy"), "--out", dir.filePath("z.npy")})
                     .status,
                 1);
        QCOMPARE(runRllm({"llm", "run", checkpoint, "--layer", "x"}).status, 2);
    }

    // A --mim run's head is never trained, so its figures say nothing: the
    // command says so instead of warning about one class.
    void maskedPretrainingSaysItsFiguresAreAnUntrainedHeads() {
#ifndef RLLM_HAVE_TORCH
        QSKIP("rllm was built without LibTorch (RLLM_WITH_TORCH=OFF)");
#endif
        const QString data = rllm::test::sharedFile("medmnist/breastmnist.npz");
        RLLM_REQUIRE_FILE(data);
        QTemporaryDir dir;
        Run train = runRllm({"train", "--data", data, "--out", dir.filePath("m.safetensors"),
                             "--epochs", "1", "--depth", "1", "--max-train", "64", "--mim", "0.5",
                             "--select", "last", "--threads", "2"});
        QCOMPARE(train.status, 0);
        QVERIFY2(train.err.contains("Note: --mim pretrains without labels"), train.err.constData());
        QVERIFY2(!train.err.contains("Warning: the chosen model predicts one class"),
                 train.err.constData());
        // It kept the last epoch by rule, not as the best one.
        QVERIFY2(train.out.startsWith("Kept the last epoch, 1 (validation AUC"),
                 train.out.constData());
    }

    void trainEvalPredictFromTheCommandLine() {
#ifndef RLLM_HAVE_TORCH
        QSKIP("rllm was built without LibTorch (RLLM_WITH_TORCH=OFF)");
#endif
        const QString data = rllm::test::sharedFile("medmnist/breastmnist.npz");
        const QString checkpoint = rllm::test::sharedFile("llm/stories260K.bin");
        RLLM_REQUIRE_FILE(data);
        RLLM_REQUIRE_FILE(checkpoint);
        QTemporaryDir dir;
        const QString bundle = dir.filePath("b.safetensors");
        Run train = runRllm({"train", "--data", data, "--out", bundle, "--epochs", "1", "--depth",
                             "1", "--max-train", "64", "--booster", "hybrid", "--llm", checkpoint,
                             "--threads", "2", "--json"});
        QCOMPARE(train.status, 0);
        QVERIFY(QFile::exists(bundle));
        // The curves: one row per epoch, its one-class flag as the epoch line says.
        QFile curves(bundle + ".curves.csv");
        QVERIFY(curves.open(QIODevice::ReadOnly));
        const QList<QByteArray> rows = curves.readAll().trimmed().split('\n');
        QCOMPARE(rows.size(), 2);
        QCOMPARE(rows[0], QByteArray("epoch,train_loss,val_acc,val_auc,learning_rate,"
                                     "images_per_second,seconds,val_one_class"));
        const QList<QByteArray> epoch1 = rows[1].split(',');
        QCOMPARE(epoch1.size(), 8);
        QCOMPARE(epoch1[7], QByteArray(train.err.contains("one class for all") ? "1" : "0"));
        Run eval = runRllm({"eval", bundle, "--data", data, "--split", "val", "--json"});
        QCOMPARE(eval.status, 0);
        const QJsonObject e = QJsonDocument::fromJson(eval.out).object();
        QVERIFY(e.contains("acc") && e.contains("auc"));
        QCOMPARE(e["cases"].toInt(), 78);
        Run predict =
            runRllm({"predict", bundle, data, "--split", "test", "--index", "5", "--json"});
        QCOMPARE(predict.status, 0);
        const QJsonObject p = QJsonDocument::fromJson(predict.out).object();
        const QJsonArray probabilities = p["probabilities"].toArray();
        QCOMPARE(probabilities.size(), 2);
        const double sum =
            probabilities[0]["probability"].toDouble() + probabilities[1]["probability"].toDouble();
        QVERIFY(std::abs(sum - 1.0) < 1e-5);
        QCOMPARE(p["resampling"]["target_size"].toArray(), (QJsonArray{28, 28, 1}));
#ifdef RLLM_HAVE_MEDICAL_IO
        {
            // The CAM of a DICOM image as a Secondary Capture of its study, on its grid.
            const QString ct = rllm::test::pydicomFile("CT_small.dcm");
            RLLM_REQUIRE_FILE(ct);
            const QString sc = dir.filePath("sc");
            Run cam = runRllm(
                {"cam", bundle, ct, "--out", dir.filePath("cam.nii.gz"), "--dicom", sc, "--json"});
            QCOMPARE(cam.status, 0);
            const QJsonArray written = QJsonDocument::fromJson(cam.out)["dicom"].toArray();
            QCOMPARE(written.size(), 2);  // the Secondary Capture and the Parametric Map
            const QJsonObject source =
                QJsonDocument::fromJson(runRllm({"info", ct, "--json"}).out).object();
            Run back = runRllm({"info", written[0].toString(), "--json"});
            QCOMPARE(back.status, 0);
            const QJsonObject b = QJsonDocument::fromJson(back.out).object();
            QCOMPARE(b["components"].toInt(), 3);
            QCOMPARE(b["size"], source["size"]);
            for (const char* key : {"origin", "spacing", "direction"})
                for (int i = 0; i < source[key].toArray().size(); ++i)
                    QVERIFY2(std::abs(b[key][i].toDouble() - source[key][i].toDouble()) < 1e-4,
                             qPrintable(QString("%1[%2]: %3 written, %4 in the source")
                                            .arg(key)
                                            .arg(i)
                                            .arg(b[key][i].toDouble())
                                            .arg(source[key][i].toDouble())));
            QCOMPARE(b["metadata"]["StudyInstanceUID"], source["metadata"]["StudyInstanceUID"]);
            QCOMPARE(b["metadata"]["PatientID"], source["metadata"]["PatientID"]);
            QVERIFY(b["metadata"]["SeriesInstanceUID"] != source["metadata"]["SeriesInstanceUID"]);
            QVERIFY(
                b["metadata"]["SeriesDescription"].toString().contains("not for diagnostic use"));
            // Not DICOM: nothing to join, said so.
            Run npz = runRllm({"cam", bundle, data, "--out", dir.filePath("c2.nii.gz"), "--dicom",
                               dir.filePath("sc2")});
            QCOMPARE(npz.status, 1);
            QVERIFY(npz.err.contains("not read from DICOM"));
        }
#endif
        Run described = runRllm({"bundle", "info", bundle});
        QCOMPARE(described.status, 0);
        QVERIFY(described.out.contains("stories260K.bin"));
        QVERIFY(described.out.contains("sha256"));
        // Wrong inputs: usage errors 2, bad files 1.
        QCOMPARE(runRllm({"train", "--data", data}).status, 2);
        // A demo with neither half is a usage error, not an empty folder.
        Run neither = runRllm({"demo", "--out", "unused", "--no-2d", "--no-3d"});
        QCOMPARE(neither.status, 2);
        QVERIFY(neither.err.contains("nothing to make"));
        QCOMPARE(runRllm({"eval", bundle, "--data", data, "--split", "holdout"}).status, 2);
        QCOMPARE(runRllm({"eval", data, "--data", data}).status, 1);
        QCOMPARE(runRllm({"predict", bundle, data, "--device", "cuda:7"}).status, 1);
        QCOMPARE(runRllm({"train", "--data", data, "--out", bundle, "--booster", "in"}).status, 1);
        // Distillation: its settings without teachers are a usage error, a
        // teacher that is no bundle a bad file named in the message.
        QCOMPARE(runRllm({"train", "--data", data, "--out", dir.filePath("d.safetensors"),
                          "--distill-weight", "0.3"})
                     .status,
                 2);
        Run noTeacher = runRllm(
            {"train", "--data", data, "--out", dir.filePath("d.safetensors"), "--distill", data});
        QCOMPARE(noTeacher.status, 1);
        QVERIFY2(noTeacher.err.contains(QFileInfo(data).fileName().toUtf8()),
                 noTeacher.err.constData());
        QVERIFY(!QFile::exists(dir.filePath("d.safetensors")));
    }

    // rllm compare on a real split: its per-case probabilities are rllm
    // predict's, its figures agree with rllm eval, a pair with another label
    // space is refused, and a folder of images with labels.csv works too.
    void compareTwoModelsOverASplit() {
#ifndef RLLM_HAVE_TORCH
        QSKIP("rllm was built without LibTorch (RLLM_WITH_TORCH=OFF)");
#endif
        const QString breast = rllm::test::sharedFile("medmnist/breastmnist.npz");
        const QString pneumonia = rllm::test::sharedFile("medmnist/pneumoniamnist.npz");
        RLLM_REQUIRE_FILE(breast);
        RLLM_REQUIRE_FILE(pneumonia);
        QTemporaryDir dir;
        auto train = [&](const QString& data, const QString& name, const QString& seed) {
            const QString bundle = dir.filePath(name);
            const Run run =
                runRllm({"train", "--data", data, "--out", bundle, "--epochs", "1", "--depth", "1",
                         "--max-train", "128", "--seed", seed, "--threads", "2"});
            if (run.status != 0) qWarning() << run.err;
            return bundle;
        };
        const QString a = train(breast, "a.safetensors", "0");
        const QString b = train(breast, "b.safetensors", "1");
        const QString other = train(pneumonia, "p.safetensors", "0");
        QVERIFY(QFile::exists(a) && QFile::exists(b) && QFile::exists(other));

        const QString csv = dir.filePath("cases.csv");
        const Run compare = runRllm({"compare", a, b, "--data", breast, "--split", "val", "--json",
                                     "--csv", csv, "--bootstrap", "200", "--threads", "2"});
        QVERIFY2(compare.status == 0, compare.err.constData());
        const QJsonObject c = QJsonDocument::fromJson(compare.out).object();
        QCOMPARE(c["cases"].toInt(), 78);
        QCOMPARE(c["task"].toString(), QString("binary-class"));
        const QJsonArray rows = c["per_case"].toArray();
        QCOMPARE(rows.size(), 78);
        for (int index : {0, 5, 77}) {
            const Run predict = runRllm({"predict", b, breast, "--split", "val", "--index",
                                         QString::number(index), "--json"});
            QCOMPARE(predict.status, 0);
            const QJsonArray expected =
                QJsonDocument::fromJson(predict.out).object()["probabilities"].toArray();
            const QJsonArray got = rows[index].toObject()["probabilities_b"].toArray();
            QCOMPARE(rows[index].toObject()["id"].toString(), QString("val/%1").arg(index));
            // Batched forward passes: the same to float rounding.
            for (int k = 0; k < 2; ++k)
                QVERIFY(std::abs(got[k].toDouble() -
                                 expected[k].toObject()["probability"].toDouble()) < 1e-6);
        }
        // ACC and AUC as rllm eval computes them (batched, through another path).
        const Run eval = runRllm({"eval", a, "--data", breast, "--split", "val", "--json"});
        const QJsonObject e = QJsonDocument::fromJson(eval.out).object();
        QVERIFY(std::abs(c["a"]["auc"].toDouble() - e["auc"].toDouble()) < 1e-4);
        // A probability within float rounding of 0.5 may flip one decision.
        QVERIFY(std::abs(c["a"]["acc"].toDouble() - e["acc"].toDouble()) <= 1.0 / 78 + 1e-9);
        QVERIFY(c["paired"]["auc_verdict"].toString().startsWith("B's AUC is "));
        QCOMPARE(c["paired"]["auc_test"].toString(), QString("DeLong"));
        QFile table(csv);
        QVERIFY(table.open(QIODevice::ReadOnly));
        QCOMPARE(table.readAll().count('\n'), 79);
#ifdef RLLM_HAVE_COHORT_REPORT
        // The PDF report (three pages) and the charts, drawn offscreen.
        const QString pdf = dir.filePath("report.pdf");
        const Run report = runRllm({"compare", a, b, "--data", breast, "--split", "val", "--report",
                                    pdf, "--charts", dir.filePath("plots"), "--bootstrap", "50"});
        QVERIFY2(report.status == 0, report.err.constData());
        QFile pdfFile(pdf);
        QVERIFY(pdfFile.open(QIODevice::ReadOnly));
        const QByteArray pdfBytes = pdfFile.readAll();
        QVERIFY(pdfBytes.startsWith("%PDF-"));
        QCOMPARE(pdfBytes.count("/Type /Page\n") + pdfBytes.count("/Type /Page\r"), 3);
        for (const char* suffix : {"_roc.png", "_reliability.png", "_confusion.png"})
            QVERIFY(QFile::exists(dir.filePath("plots") + suffix));
#else
        QCOMPARE(runRllm({"compare", a, b, "--data", breast, "--report", "r.pdf"}).status, 2);
#endif

        // The text report says the verdicts in words.
        const Run text = runRllm({"compare", a, b, "--data", breast, "--split", "val",
                                  "--max-cases", "20", "--threads", "2"});
        QCOMPARE(text.status, 0);
        QVERIFY(text.out.contains("McNemar's exact p"));
        QVERIFY(text.out.contains("(val, 20 cases)"));

        // Another label space ("normal", "pneumonia"): refused, saying why.
        const Run refused = runRllm({"compare", a, other, "--data", breast});
        QCOMPARE(refused.status, 1);
        QVERIFY2(refused.err.contains("answer different questions"), refused.err.constData());
        QCOMPARE(runRllm({"compare", a, b}).status, 2);
        QCOMPARE(runRllm({"compare", a, b, "--data", breast, "--confidence", "2"}).status, 2);

#ifdef RLLM_HAVE_MEDICAL_IO
        // A folder of images with labels.csv: names (quoted where they hold a
        // comma) or indices; each case scores as rllm predict scores its file.
        const QString folder = dir.filePath("cases");
        QVERIFY(QDir().mkpath(folder));
        QString labels = "file,label\n";
        for (int index = 0; index < 4; ++index) {
            const QString file = QString("case%1.nii.gz").arg(index);
            QCOMPARE(runRllm({"convert", breast, QDir(folder).filePath(file), "--split", "test",
                              "--index", QString::number(index)})
                         .status,
                     0);
            labels += file + (index % 2 ? ",\"normal, benign\"\n" : ",0\n");
        }
        rllm::test::writeAll(QDir(folder).filePath("labels.csv"), labels.toUtf8());
        const Run onFolder = runRllm({"compare", a, b, "--data", folder, "--json"});
        QVERIFY2(onFolder.status == 0, onFolder.err.constData());
        const QJsonArray folderRows =
            QJsonDocument::fromJson(onFolder.out).object()["per_case"].toArray();
        QCOMPARE(folderRows.size(), 4);
        QCOMPARE(folderRows[1].toObject()["labels"].toArray()[0].toInt(), 1);
        const Run predictFile =
            runRllm({"predict", a, QDir(folder).filePath("case3.nii.gz"), "--json"});
        QCOMPARE(predictFile.status, 0);
        QVERIFY(std::abs(folderRows[3].toObject()["probabilities_a"].toArray()[1].toDouble() -
                         QJsonDocument::fromJson(predictFile.out)
                             .object()["probabilities"]
                             .toArray()[1]
                             .toObject()["probability"]
                             .toDouble()) < 1e-6);
        // A label outside the label space names the file and the row.
        rllm::test::writeAll(QDir(folder).filePath("labels.csv"), "file,label\ncase0.nii.gz,7\n");
        const Run badLabel = runRllm({"compare", a, b, "--data", folder});
        QCOMPARE(badLabel.status, 1);
        QVERIFY2(badLabel.err.contains("labels.csv") && badLabel.err.contains("row 2"),
                 badLabel.err.constData());
#endif
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

    // A recipe option out of range is refused before any data is read: the
    // message names the option, not the (missing) archive.
    void badRecipeOptionsAreRefusedFirst() {
#ifndef RLLM_HAVE_TORCH
        QSKIP("rllm was built without LibTorch (RLLM_WITH_TORCH=OFF)");
#endif
        QTemporaryDir dir;
        const QString missing = dir.filePath("missing.npz"), out = dir.filePath("m.safetensors");
        for (const QStringList& option :
             {QStringList{"--elastic", "-1"}, QStringList{"--drop-path", "1"},
              QStringList{"--erase", "1.5"}, QStringList{"--sam", "-0.05"},
              QStringList{"--drloc", "-0.1"}, QStringList{"--mim", "1"},
              QStringList{"--mim", "0.5"}, QStringList{"--sam", "0.05", "--sam-scope", "head"},
              QStringList{"--mim", "0.5", "--select", "last", "--mim-target", "edges"},
              QStringList{"--mim-target", "normalised"}}) {
            Run run = runRllm(
                QStringList{"train", "--data", missing, "--out", out, "--arch", "vit2d"} + option);
            QCOMPARE(run.status, 1);
            // The option named last (the value before it is fine).
            QVERIFY2(run.err.contains(option[option.size() - 2].toUtf8()), run.err.constData());
            QVERIFY2(!run.err.contains("missing.npz"), run.err.constData());
        }
        // A SAM setting without SAM is a usage error, not a silent no-op.
        Run scopeAlone = runRllm({"train", "--data", missing, "--out", out, "--arch", "vit2d",
                                  "--sam-scope", "backbone"});
        QCOMPARE(scopeAlone.status, 2);
        QVERIFY2(scopeAlone.err.contains("--sam-scope needs --sam"), scopeAlone.err.constData());
        // Another batch at the default rate is noted (the rate is not scaled);
        // with --lr, or at the default batch, it is not.
        const QStringList start{"train", "--data", missing, "--out", out, "--arch", "vit2d"};
        Run unscaled = runRllm(start + QStringList{"--batch", "32"});
        QVERIFY2(unscaled.err.contains("Note: --batch 32 with the default learning rate"),
                 unscaled.err.constData());
        for (const QStringList& quiet : {QStringList{"--batch", "32", "--lr", "5e-4"},
                                         QStringList{"--batch", "64"}, QStringList{}}) {
            Run run = runRllm(start + quiet);
            QVERIFY2(!run.err.contains("Note: --batch"), run.err.constData());
        }
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
