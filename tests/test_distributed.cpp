// Data-parallel `rllm train` on loopback: workers started by --nproc and by
// hand (the variables torchrun sets), compared with one process; a worker
// killed mid-run; a run resumed at another number of workers.

#include "TestData.h"
#include "models/Safetensors.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <cmath>

namespace {

struct Run {
    int status = -1;
    QByteArray out, err;
    qint64 milliseconds = 0;
};

Run runRllm(const QStringList& args,
            const QProcessEnvironment& environment = QProcessEnvironment::systemEnvironment()) {
    QProcess process;
    process.setProcessEnvironment(environment);
    QElapsedTimer clock;
    clock.start();
    process.start(rllm::test::binary("rllm"), args);
    process.waitForFinished(300000);
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
            process.readAllStandardOutput(), process.readAllStandardError(), clock.elapsed()};
}

int freePort() {
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

QProcessEnvironment workerEnvironment(int rank, int workers, int port) {
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    e.insert("RANK", QString::number(rank));
    e.insert("LOCAL_RANK", QString::number(rank));
    e.insert("WORLD_SIZE", QString::number(workers));
    e.insert("LOCAL_WORLD_SIZE", QString::number(workers));
    e.insert("MASTER_ADDR", "127.0.0.1");
    e.insert("MASTER_PORT", QString::number(port));
    return e;
}

// The largest difference between two bundles' trainable weights, relative
// to the largest weight, and how many tensors were compared.
struct WeightDifference {
    double relative = 0;
    int tensors = 0;
};

WeightDifference compareWeights(const QString& a, const QString& b) {
    rllm::SafetensorsFile fa(a.toStdString()), fb(b.toStdString());
    WeightDifference d;
    double largestDifference = 0, largestWeight = 0;
    for (const auto& [name, info] : fa.tensors()) {
        if (name.rfind("booster.llm.", 0) == 0) continue;  // frozen: equal by construction
        if (!fb.contains(name)) return {INFINITY, 0};
        const std::vector<float> x = fa.readFloat(name), y = fb.readFloat(name);
        if (x.size() != y.size()) return {INFINITY, 0};
        for (size_t i = 0; i < x.size(); ++i) {
            largestDifference = std::max(largestDifference, double(std::abs(x[i] - y[i])));
            largestWeight = std::max(largestWeight, double(std::abs(x[i])));
        }
        ++d.tensors;
    }
    d.relative = largestDifference / std::max(largestWeight, 1e-30);
    return d;
}

QJsonObject json(const Run& run) {
    return QJsonDocument::fromJson(run.out).object();
}

// Where two JSON documents differ: structure and text exactly, numbers
// within `tolerance` relative to max(1, |value|). Empty when they agree.
QString jsonDifference(const QJsonValue& a, const QJsonValue& b, double tolerance,
                       const QString& at = "$") {
    if (a.type() != b.type()) return at + ": different types";
    if (a.isDouble()) {
        const double x = a.toDouble(), y = b.toDouble();
        return std::abs(x - y) <= tolerance * std::max(1.0, std::abs(x))
                   ? QString()
                   : QString("%1: %2 vs %3").arg(at).arg(x, 0, 'g', 17).arg(y, 0, 'g', 17);
    }
    if (a.isObject()) {
        const QJsonObject x = a.toObject(), y = b.toObject();
        if (x.keys() != y.keys()) return at + ": different keys";
        for (const QString& key : x.keys())
            if (QString d = jsonDifference(x[key], y[key], tolerance, at + "." + key); !d.isEmpty())
                return d;
        return {};
    }
    if (a.isArray()) {
        const QJsonArray x = a.toArray(), y = b.toArray();
        if (x.size() != y.size()) return at + ": different lengths";
        for (int i = 0; i < x.size(); ++i)
            if (QString d = jsonDifference(x[i], y[i], tolerance, at + QString("[%1]").arg(i));
                !d.isEmpty())
                return d;
        return {};
    }
    return a == b ? QString() : at + ": differs";
}

}  // namespace

class TestDistributed : public QObject {
    Q_OBJECT

    QString data_;
    QTemporaryDir dir_;
    // Small and quick: one block, 128 training cases, 4 steps of 32 per epoch.
    QStringList common(const QString& bundle, int epochs) const {
        return {"train",
                "--data",
                data_,
                "--out",
                bundle,
                "--epochs",
                QString::number(epochs),
                "--depth",
                "1",
                "--max-train",
                "128",
                "--batch",
                "32",
                "--json"};
    }

  private slots:
    void initTestCase() {
        data_ = rllm::test::sharedFile("medmnist/breastmnist.npz");
        QVERIFY(dir_.isValid());
    }

    // Two workers each take half of every batch of 32 and sum their
    // gradients: the run is one process's with the same batch and seed, up
    // to float32 summation order (two half-batch sums added vs one sum). That
    // order moves the weights after 8 AdamW steps by 0.7-2.7e-5 of the
    // largest weight here (Adam's normalisation magnifies it where gradients
    // are near zero), and by 6.0e-5 with the full recipe, whose SAM takes a
    // second gradient at a point the first one chose. The bound is 3e-4; a
    // change of seed, the negative control, moves them by 4-8e-2, and workers
    // that each ascend along their own share's gradient by 3.2e-3.
    void twoWorkersTrainWhatOneProcessTrains_data() {
        QTest::addColumn<QStringList>("recipe");
        QTest::newRow("first recipe") << QStringList();
        // Every random draw of the recipe is made for the global batch and
        // shared out by position: augmentation, mixing partners, the
        // class-balanced order, each case's elastic field, erased box, stochastic-depth scales
        // and relative-localisation pairs (whose MLP's gradients are summed like the model's:
        // at weight 2, so that an MLP trained on each worker's share alone shows, 6.8e-4, tried);
        // SAM's ascent follows the gradient summed over the workers
        // (two blocks, so one can be dropped: the later --depth wins).
        QTest::newRow("full recipe") << QStringList{"--depth",
                                                    "2",
                                                    "--augment",
                                                    "strong",
                                                    "--mixup",
                                                    "0.4",
                                                    "--class-balance",
                                                    "sampler",
                                                    "--drop-path",
                                                    "0.3",
                                                    "--ema",
                                                    "0.9",
                                                    "--elastic",
                                                    "1.5",
                                                    "--erase",
                                                    "0.5",
                                                    "--sam",
                                                    "0.05",
                                                    "--drloc",
                                                    "2",
                                                    "--shifted-patches",
                                                    "--locality-attention"};
        // Masked image modelling: each case's masks drawn for the global
        // batch, the mask token and pixel head summed like the model's.
        QTest::newRow("masked pretraining") << QStringList{
            "--depth", "2",           "--augment", "strong",           "--mim", "0.5", "--select",
            "last",    "--drop-path", "0.3",       "--shifted-patches"};
    }

    void twoWorkersTrainWhatOneProcessTrains() {
        QFETCH(QStringList, recipe);
        RLLM_REQUIRE_FILE(data_);
        const QString row = QString(QTest::currentDataTag()).replace(' ', '-');
        const QString one = dir_.filePath(row + "-one.safetensors");
        const QString two = dir_.filePath(row + "-two.safetensors");
        const QString otherSeed = dir_.filePath(row + "-seed1.safetensors");
        Run a = runRllm(common(one, 2) << recipe << "--threads"
                                       << "1");
        QVERIFY2(a.status == 0, a.err.constData());
        Run b = runRllm(common(two, 2) << recipe << "--nproc"
                                       << "2");
        QVERIFY2(b.status == 0, b.err.constData());
        QCOMPARE(json(b)["workers"].toInt(), 2);
        QCOMPARE(json(a)["workers"].toInt(), 1);
        // Only rank 0 reports: one progress line per epoch, one result.
        QCOMPARE(b.err.count("Epoch 2/2"), 1);
        QCOMPARE(b.out.count("\"bundle\""), 1);

        const WeightDifference parallel = compareWeights(one, two);
        QVERIFY(parallel.tensors > 10);

        // The negative control: another seed is another run entirely.
        Run c = runRllm(common(otherSeed, 2) << recipe << "--threads"
                                             << "1"
                                             << "--seed"
                                             << "1");
        QVERIFY2(c.status == 0, c.err.constData());
        const WeightDifference seeds = compareWeights(one, otherSeed);
        qInfo(
            "largest weight difference, relative to the largest weight: 2 workers vs 1 "
            "process %.3g, seed 1 vs seed 0 %.3g",
            parallel.relative, seeds.relative);
        QVERIFY2(parallel.relative < 3e-4, qPrintable(QString::number(parallel.relative)));
        QVERIFY(seeds.relative > 1e-2);
        // The metrics are computed from the same weights, sharded over the workers.
        for (const QString split : {"val", "test"})
            for (const QString metric : {"acc", "auc"})
                QVERIFY2(std::abs(json(a)[split][metric].toDouble() -
                                  json(b)[split][metric].toDouble()) < 1e-3,
                         qPrintable(QString("%1 %2: %3 vs %4")
                                        .arg(split, metric)
                                        .arg(json(a)[split][metric].toDouble())
                                        .arg(json(b)[split][metric].toDouble())));
    }

    // Workers started by hand, as torchrun starts them. Killing one mid-run
    // stops the other with a clear message (never a hang); the run then
    // continues from its last checkpoint in a single process and ends where
    // an uninterrupted single-process run ends.
    void aKilledWorkerStopsTheRunWhichResumesAtAnotherSize() {
        RLLM_REQUIRE_FILE(data_);
        const QString bundle = dir_.filePath("killed.safetensors");
        const QString checkpoint = bundle + ".checkpoint.safetensors";
        const int port = freePort();
        const int epochs = 6;
        QStringList args = common(bundle, epochs) << "--worker-timeout"
                                                  << "30";
        QProcess rank0, rank1;
        rank0.setProcessEnvironment(workerEnvironment(0, 2, port));
        rank1.setProcessEnvironment(workerEnvironment(1, 2, port));
        rank0.start(rllm::test::binary("rllm"), args);
        rank1.start(rllm::test::binary("rllm"), args);
        QVERIFY(rank0.waitForStarted() && rank1.waitForStarted());
        // After the first epoch's checkpoint, rank 1 dies without a word.
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(checkpoint), 120000);
        QVERIFY(rank1.state() == QProcess::Running);
        QElapsedTimer sinceKill;
        sinceKill.start();
        ::kill(static_cast<pid_t>(rank1.processId()), SIGKILL);
        QVERIFY(rank0.waitForFinished(60000));
        const qint64 noticedAfter = sinceKill.elapsed();
        rank1.waitForFinished();
        const QByteArray err = rank0.readAllStandardError();
        QCOMPARE(rank0.exitStatus(), QProcess::NormalExit);
        QCOMPARE(rank0.exitCode(), 1);
        QVERIFY2(err.contains("another worker stopped"), err.constData());
        QVERIFY(err.contains("--resume"));
        QVERIFY(!QFile::exists(bundle));
        qInfo("rank 0 stopped %lld ms after rank 1 was killed", noticedAfter);

        // Resumed by one process from the checkpoint the two wrote.
        Run resumed = runRllm(common(bundle, epochs) << "--threads"
                                                     << "1"
                                                     << "--resume" << checkpoint);
        QVERIFY2(resumed.status == 0, resumed.err.constData());
        QVERIFY(QFile::exists(bundle));
        QVERIFY(!QFile::exists(checkpoint));
        const QString straight = dir_.filePath("straight.safetensors");
        Run reference = runRllm(common(straight, epochs) << "--threads"
                                                         << "1");
        QVERIFY2(reference.status == 0, reference.err.constData());
        const WeightDifference d = compareWeights(straight, bundle);
        qInfo("resumed at 1 worker vs uninterrupted: %.3g", d.relative);
        QVERIFY2(d.relative < 1e-4, qPrintable(QString::number(d.relative)));
    }

    // rllm compare and rllm cam-eval as two workers, each scoring half of the
    // cases: the same report as one process. The probabilities come from
    // batches of other sizes, so they agree to float32 rounding, not bit for bit.
    void compareAndCamEvalShareTheirCases() {
        RLLM_REQUIRE_FILE(data_);
        const QString a = dir_.filePath("cases-a.safetensors");
        const QString b = dir_.filePath("cases-b.safetensors");
        QCOMPARE(runRllm(common(a, 1) << "--seed"
                                      << "3")
                     .status,
                 0);
        QCOMPARE(runRllm(common(b, 1) << "--seed"
                                      << "4")
                     .status,
                 0);
        const QStringList compare{"compare", a, b, "--data", data_, "--json", "--bootstrap", "200"};
        Run one = runRllm(compare);
        QVERIFY2(one.status == 0, one.err.constData());
        Run two = runRllm(QStringList(compare) << "--nproc"
                                               << "2");
        QVERIFY2(two.status == 0, two.err.constData());
        const QJsonDocument oneJson = QJsonDocument::fromJson(one.out);
        QCOMPARE(oneJson["cases"].toInt(), 156);  // BreastMNIST's test split
        const QString d =
            jsonDifference(oneJson.object(), QJsonDocument::fromJson(two.out).object(), 1e-6);
        QVERIFY2(d.isEmpty(), qPrintable(d));

        const QStringList camEval{"cam-eval", a, "--data", data_, "--max-cases", "25", "--json"};
        Run oneEval = runRllm(camEval);
        QVERIFY2(oneEval.status == 0, oneEval.err.constData());
        Run twoEval = runRllm(QStringList(camEval) << "--nproc"
                                                   << "2");
        QVERIFY2(twoEval.status == 0, twoEval.err.constData());
        QCOMPARE(QJsonDocument::fromJson(twoEval.out)["cases"].toInt(), 25);
        const QString e = jsonDifference(QJsonDocument::fromJson(oneEval.out).object(),
                                         QJsonDocument::fromJson(twoEval.out).object(), 1e-6);
        QVERIFY2(e.isEmpty(), qPrintable(e));
    }

    // Variables that cannot describe a group are usage errors (status 2);
    // a worker whose group never forms gives up after the time-out (status 1).
    void aWorkerWithoutItsGroupSaysWhy() {
        RLLM_REQUIRE_FILE(data_);
        const QString bundle = dir_.filePath("alone.safetensors");
        QProcessEnvironment noRank = QProcessEnvironment::systemEnvironment();
        noRank.insert("WORLD_SIZE", "2");
        Run a = runRllm(common(bundle, 1), noRank);
        QCOMPARE(a.status, 2);
        QVERIFY2(a.err.contains("RANK"), a.err.constData());
        QProcessEnvironment noMaster = workerEnvironment(0, 2, 1);
        noMaster.remove("MASTER_ADDR");
        Run b = runRllm(common(bundle, 1), noMaster);
        QCOMPARE(b.status, 2);
        QVERIFY(b.err.contains("MASTER_ADDR"));
        Run c = runRllm(common(bundle, 1) << "--worker-timeout"
                                          << "3",
                        workerEnvironment(1, 2, freePort()));
        QCOMPARE(c.status, 1);
        QVERIFY2(c.err.contains("could not join the group at 127.0.0.1:"), c.err.constData());
        QVERIFY(c.milliseconds < 60000);
        QVERIFY(!QFile::exists(bundle));
        Run d = runRllm(common(bundle, 1) << "--nproc"
                                          << "0");
        QCOMPARE(d.status, 2);
        // Under SLURM (no RANK, WORLD_SIZE): srun's variables give the place.
        QProcessEnvironment slurm = QProcessEnvironment::systemEnvironment();
        slurm.insert("SLURM_NTASKS", "3");
        slurm.insert("SLURM_PROCID", "2");
        slurm.insert("SLURM_LOCALID", "0");
        Run e = runRllm(common(bundle, 1), slurm);
        QCOMPARE(e.status, 2);
        QVERIFY2(e.err.contains("3 workers needs MASTER_ADDR"), e.err.constData());
        slurm.insert("MASTER_ADDR", "127.0.0.1");
        slurm.insert("MASTER_PORT", QString::number(freePort()));
        Run f = runRllm(common(bundle, 1) << "--worker-timeout"
                                          << "2",
                        slurm);
        QCOMPARE(f.status, 1);
        QVERIFY2(f.err.contains("worker 2 of 3 could not join"), f.err.constData());
    }

    // NCCL reduces CUDA tensors only: asked for on the CPU, every worker
    // refuses before the group forms, and says what to use instead.
    void aBackendThatCannotApplySaysWhy() {
        RLLM_REQUIRE_FILE(data_);
        const QString bundle = dir_.filePath("nccl.safetensors");
        Run a = runRllm(common(bundle, 1) << "--device"
                                          << "cpu"
                                          << "--dist-backend"
                                          << "nccl"
                                          << "--nproc"
                                          << "2");
        QCOMPARE(a.status, 1);
        QVERIFY2(a.err.contains("--dist-backend nccl reduces CUDA tensors, and this run trains "
                                "on cpu; use --device cuda, or --dist-backend gloo"),
                 a.err.constData());
        QVERIFY(!QFile::exists(bundle));
        Run b = runRllm(common(bundle, 1) << "--dist-backend"
                                          << "mpi");
        QCOMPARE(b.status, 2);
        QVERIFY2(b.err.contains("--dist-backend must be auto, gloo or nccl"), b.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestDistributed)
#include "test_distributed.moc"
