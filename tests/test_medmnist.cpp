// MedMNIST archives from ../shared/data: the official split sizes and label
// counts (MedMNIST v2 paper / info.py), cases as volumes, damaged copies.

#include "TestData.h"

#include "core/Error.h"
#include "core/io/MedMnist.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace rllm;

class TestMedMnist : public QObject {
    Q_OBJECT
  private slots:
    void officialSplitsAndLabelCounts_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QList<qint64>>("counts");
        QTest::addColumn<QList<qint64>>("testLabels");
        QTest::addColumn<int>("size");
        QTest::addColumn<bool>("threeD");
        // Split sizes as MedMNIST v2 publishes them (Yang et al., Scientific Data 2023,
        // Table 1); label counts counted independently with Python's zipfile over the
        // raw .npy bytes.
        QTest::newRow("breast") << "medmnist/breastmnist.npz" << QList<qint64>{546, 78, 156}
                                << QList<qint64>{42, 114} << 28 << false;
        QTest::newRow("pneumonia") << "medmnist/pneumoniamnist.npz" << QList<qint64>{4708, 524, 624}
                                   << QList<qint64>{234, 390} << 28 << false;
        QTest::newRow("adrenal3d") << "medmnist/adrenalmnist3d.npz" << QList<qint64>{1188, 98, 298}
                                   << QList<qint64>{229, 69} << 28 << true;
        QTest::newRow("adrenal3d_64")
            << "medmnist/adrenalmnist3d_64.npz" << QList<qint64>{1188, 98, 298}
            << QList<qint64>{229, 69} << 64 << true;
    }
    void officialSplitsAndLabelCounts() {
        QFETCH(QString, file);
        QFETCH(QList<qint64>, counts);
        QFETCH(QList<qint64>, testLabels);
        QFETCH(int, size);
        QFETCH(bool, threeD);
        const QString path = test::sharedFile(file);
        RLLM_REQUIRE_FILE(path);
        MedMnistDataset data(path.toStdString());
        QCOMPARE(data.count("train"), counts[0]);
        QCOMPARE(data.count("val"), counts[1]);
        QCOMPARE(data.count("test"), counts[2]);
        QCOMPARE(data.is3D(), threeD);
        QCOMPARE(data.channels(), 1);
        QCOMPARE(data.labelColumns(), 1);
        QCOMPARE(data.imageSize()[0], int64_t(size));
        QCOMPARE(data.imageSize()[2], int64_t(threeD ? size : 1));
        std::vector<int64_t> labels = data.labelCounts("test");
        QCOMPARE(QList<qint64>(labels.begin(), labels.end()), testLabels);

        Volume last = data.image("test", counts[2] - 1);
        QCOMPARE(last.size()[0], int64_t(size));
        QCOMPARE(last.sourcePixelType, PixelType::UInt8);
        const ValueRange range = last.valueRange();
        QVERIFY(range.min >= 0 && range.max <= 255 && range.max > range.min);
        QVERIFY_THROWS_EXCEPTION(Error, data.image("test", counts[2]));
        QVERIFY_THROWS_EXCEPTION(Error, data.image("holdout", 0));
    }

    void breastTrainLabelsMatchTheOfficialCounts() {
        const QString path = test::sharedFile("medmnist/breastmnist.npz");
        RLLM_REQUIRE_FILE(path);
        MedMnistDataset data(path.toStdString());
        QCOMPARE(data.labelCounts("train"), (std::vector<int64_t>{147, 399}));
        QCOMPARE(data.labelCounts("val"), (std::vector<int64_t>{21, 57}));
        // The label in the case's metadata is its row of the labels array.
        Volume v = data.image("train", 3);
        QCOMPARE(QString::fromStdString(v.metadata["Labels"]),
                 QString::number(data.labels("train", 3)[0]));
    }

    void damagedCopiesFailCleanly() {
        const QString path = test::sharedFile("medmnist/breastmnist.npz");
        RLLM_REQUIRE_FILE(path);
        QTemporaryDir dir;
        for (double fraction : {0.05, 0.5, 0.99}) {
            const QString cut = test::truncatedCopy(path, dir.path(), fraction);
            try {
                MedMnistDataset data(cut.toStdString());
                data.image("train", 0);
                QFAIL("a truncated archive was read");
            } catch (const FileError& e) {
                QVERIFY2(QString(e.what()).contains("truncated_breastmnist.npz"), e.what());
            }
        }
        // Compressed image data damaged in the middle: the deflate stream or the CRC must catch it.
        const QString broken = test::corruptedCopy(path, dir.path(), 0.3, 256);
        bool refused = false;
        try {
            MedMnistDataset data(broken.toStdString());
            data.image("train", 0);
        } catch (const FileError&) {
            refused = true;
        }
        QVERIFY(refused);
    }
};

QTEST_APPLESS_MAIN(TestMedMnist)
#include "test_medmnist.moc"
