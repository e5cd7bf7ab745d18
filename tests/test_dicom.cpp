// DICOM through DCMTK: pydicom's real test files (every transfer syntax we
// claim), a series this test writes with known geometry, and broken inputs.

#include "TestData.h"
#include "DicomWriter.h"

#include "core/Error.h"
#include "core/io/Dicom.h"
#include "core/io/ImageReader.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using namespace rllm;
using rllm::test::SliceSpec;
using rllm::test::writeSlice;

namespace {

bool sameVoxels(const Volume& a, const Volume& b) {
    return a.size() == b.size() && a.components() == b.components() && a.voxels() == b.voxels();
}

}  // namespace

class TestDicom : public QObject {
    Q_OBJECT
  private slots:
    void ctSmallGeometryAndValues() {
        const QString path = test::pydicomFile("CT_small.dcm");
        RLLM_REQUIRE_FILE(path);
        Volume v = readImage(path.toStdString());
        QCOMPARE(v.size(), (std::array<int64_t, 3>{128, 128, 1}));
        QCOMPARE(v.sourcePixelType, PixelType::Int16);
        // Header values as pydicom reads them.
        QVERIFY(std::abs(v.geometry().origin[0] - -158.135803) < 1e-4);
        QVERIFY(std::abs(v.geometry().origin[2] - -75.699997) < 1e-4);
        QVERIFY(std::abs(v.geometry().spacing[0] - 0.661468) < 1e-6);
        QCOMPARE(v.geometry().spacing[2], 5.0);  // SliceThickness
        // Stored 334 at (x=10, y=20) with intercept -1024.
        QCOMPARE(v.at(10, 20, 0), 334.0f - 1024.0f);
        QCOMPARE(v.at(64, 64, 0), 1928.0f - 1024.0f);
        QCOMPARE(QString::fromStdString(v.metadata["Modality"]), QString("CT"));
    }

    void everyMrSmallEncodingDecodesToTheSamePixels_data() {
        QTest::addColumn<QString>("file");
        for (const char* f :
             {"MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_bigendian.dcm",
              "MR_small_implicit.dcm", "MR_small_expb.dcm", "MR_small_jp2klossless.dcm"})
            QTest::newRow(f) << QString(f);
    }
    void everyMrSmallEncodingDecodesToTheSamePixels() {
        QFETCH(QString, file);
        const QString reference = test::pydicomFile("MR_small.dcm");
        RLLM_REQUIRE_FILE(reference);
        RLLM_REQUIRE_FILE(test::pydicomFile(file));
        Volume expected = readImage(reference.toStdString());
        Volume actual = readImage(test::pydicomFile(file).toStdString());
        QVERIFY(sameVoxels(expected, actual));
        QVERIFY(expected.geometry().sameGridAs(actual.geometry(), 1e-4));
    }

    void lossyJpegDecodes() {
        const QString path = test::pydicomFile("JPEG-lossy.dcm");
        RLLM_REQUIRE_FILE(path);
        Volume v = readImage(path.toStdString());
        QCOMPARE(v.size(), (std::array<int64_t, 3>{256, 1024, 1}));
        const ValueRange r = v.valueRange();
        QVERIFY(r.max > r.min);
    }

    void multiFrameRtDoseInBothByteOrders() {
        const QString little = test::pydicomFile("rtdose.dcm"),
                      big = test::pydicomFile("rtdose_expb.dcm");
        RLLM_REQUIRE_FILE(little);
        RLLM_REQUIRE_FILE(big);
        Volume a = readImage(little.toStdString());
        Volume b = readImage(big.toStdString());
        QCOMPARE(a.size(), (std::array<int64_t, 3>{10, 10, 15}));
        QVERIFY(sameVoxels(a, b));  // 32-bit samples, little and big endian
        // GridFrameOffsetVector steps 5 mm; DoseGridScaling 1e-6 gives Gy.
        QCOMPARE(a.geometry().spacing[2], 5.0);
        QVERIFY(std::abs(a.geometry().origin[2] - -761.87) < 1e-6);
        QVERIFY(a.valueRange().max < 10.0f && a.valueRange().max > 0.1f);
    }

    void colourRleMultiFrame() {
        const QString path = test::pydicomFile("SC_rgb_rle_2frame.dcm");
        RLLM_REQUIRE_FILE(path);
        Volume v = readImage(path.toStdString());
        QCOMPARE(v.size(), (std::array<int64_t, 3>{100, 100, 2}));
        QVERIFY(v.isRgb());
        // The test image's first frame has horizontal bands: red, green, blue from the top.
        QCOMPARE(v.at(50, 5, 0, 0), 255.0f);
        QCOMPARE(v.at(50, 5, 0, 1), 0.0f);
        QCOMPARE(v.at(50, 25, 0, 1), 255.0f);
        QCOMPARE(v.at(50, 45, 0, 2), 255.0f);
        QCOMPARE(v.at(50, 45, 0, 0), 0.0f);
    }

    void brokenAndNonImageFilesAreRefusedByName() {
        for (const char* name : {"MR_truncated.dcm", "rtplan.dcm", "rtplan_truncated.dcm"}) {
            const QString path = test::pydicomFile(name);
            RLLM_REQUIRE_FILE(path);
            try {
                readImage(path.toStdString());
                QFAIL(qPrintable(QString("%1 was accepted").arg(name)));
            } catch (const FileError& e) {
                QVERIFY2(QString(e.what()).contains(name), e.what());
            }
        }
        QTemporaryDir dir;
        for (const char* name : {"CT_small.dcm", "MR_small_RLE.dcm",
                                 "MR_small_jpeg_ls_lossless.dcm", "JPEG-lossy.dcm", "rtdose.dcm"}) {
            const QString source = test::pydicomFile(name);
            RLLM_REQUIRE_FILE(source);
            for (double fraction : {0.1, 0.6, 0.95}) {
                const QString cut = test::truncatedCopy(source, dir.path(), fraction);
                QVERIFY_THROWS_EXCEPTION(FileError, readImage(cut.toStdString()));
            }
            // Damaged bytes inside the header or the pixel data: an error or a
            // same-sized image, never a crash.
            for (double where : {0.02, 0.3, 0.8}) {
                const QString broken = test::corruptedCopy(source, dir.path(), where, 32);
                try {
                    Volume v = readImage(broken.toStdString());
                    QVERIFY(!v.empty());
                } catch (const FileError&) {
                }
            }
        }
    }

    void shuffledSeriesSortsBackWithItsGeometry() {
        QTemporaryDir dir;
        // An oblique stack: rows along (cos, sin, 0), columns along z-ish, normal computed.
        const double c = std::cos(0.3), s = std::sin(0.3);
        SliceSpec spec;
        spec.orientation = {c, s, 0, 0, 0, -1};
        // normal = row x column = (s*(-1) - 0*0, 0*0 - c*(-1), c*0 - s*0) = (-s, c, 0)
        const std::array<double, 3> n{-s, c, 0};
        const int count = 7;
        std::vector<int> order(count);
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), std::mt19937(42));
        for (int k = 0; k < count; ++k) {
            const int slice = order[k];
            spec.position = {10 + 2.5 * slice * n[0], -20 + 2.5 * slice * n[1], 5};
            // File names in shuffled order; pixel value encodes the true slice.
            writeSlice(dir.filePath(QString("img%1.dcm").arg(k)), spec, 100 * (slice + 1));
        }
        std::vector<DicomSeriesInfo> series = scanDicomFolder(dir.path().toStdString());
        QCOMPARE(series.size(), size_t(1));
        QCOMPARE(series[0].imageCount, int64_t(count));
        QCOMPARE(series[0].modality, std::string("CT"));
        Volume v = readImage(dir.path().toStdString());
        QCOMPARE(v.size(), (std::array<int64_t, 3>{6, 8, count}));
        for (int z = 0; z < count; ++z)
            QCOMPARE(v.at(3, 2, z),
                     float(2 * (100 * (z + 1) + 3) - 1024));  // slope 2, intercept -1024
        const ImageGeometry& g = v.geometry();
        QVERIFY(std::abs(g.spacing[0] - 0.5) < 1e-9);
        QVERIFY(std::abs(g.spacing[1] - 0.75) < 1e-9);
        QVERIFY(std::abs(g.spacing[2] - 2.5) < 1e-5);
        QVERIFY(std::abs(g.origin[0] - 10) < 1e-5 && std::abs(g.origin[1] + 20) < 1e-5);
        const double expected[9] = {c, 0, -s, s, 0, c, 0, -1, 0};
        for (int i = 0; i < 9; ++i)
            QVERIFY2(std::abs(g.direction[i] - expected[i]) < 1e-5, qPrintable(QString::number(i)));
        // Index (0,0,6) lands on the last slice's position.
        const auto p = g.indexToPhysical({0, 0, 6});
        QVERIFY(std::abs(p[0] - (10 + 15 * n[0])) < 1e-4 &&
                std::abs(p[1] - (-20 + 15 * n[1])) < 1e-4);
        QCOMPARE(v.windowPresets.size(), size_t(1));
        QCOMPARE(v.windowPresets[0].center, 40.0);
    }

    void inconsistentSeriesAreRefusedWithTheReason_data() {
        QTest::addColumn<QString>("problem");
        QTest::addColumn<QString>("expected");
        QTest::newRow("duplicate") << "duplicate"
                                   << "same position";
        QTest::newRow("missing") << "missing"
                                 << "irregular slice spacing";
        QTest::newRow("size") << "size"
                              << "mixes image sizes";
        QTest::newRow("orientation") << "orientation"
                                     << "mixes orientations";
        QTest::newRow("tilt") << "tilt"
                              << "gantry tilt";
    }
    void inconsistentSeriesAreRefusedWithTheReason() {
        QFETCH(QString, problem);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        for (int z = 0; z < 5; ++z) {
            SliceSpec spec;
            spec.position = {0, 0, 3.0 * z};
            if (problem == "duplicate" && z == 4) spec.position[2] = 9.0;
            if (problem == "missing" && z >= 3) spec.position[2] += 3.0;
            if (problem == "size" && z == 2) spec.rows = 9;
            if (problem == "orientation" && z == 2) spec.orientation = {1, 0, 0, 0, 0, -1};
            if (problem == "tilt") spec.position[1] = 1.0 * z;  // y shifts with z: sheared stack
            writeSlice(dir.filePath(QString("s%1.dcm").arg(z)), spec, 10);
        }
        try {
            readImage(dir.path().toStdString());
            QFAIL("an inconsistent series was accepted");
        } catch (const FileError& e) {
            QVERIFY2(QString(e.what()).contains(expected), e.what());
        }
    }

    void monochrome1IsShownInverted() {
        QTemporaryDir dir;
        SliceSpec spec;
        spec.position = {0, 0, 0};
        spec.photometric = "MONOCHROME1";
        writeSlice(dir.filePath("m1.dcm"), spec, 100);
        Volume v = readImage(dir.filePath("m1.dcm").toStdString());
        // 12 stored bits: range 0..4095 -> modality -1024..7166; inverted value = sum - value.
        const double sum = (0 * 2 - 1024) + (4095 * 2 - 1024);
        QCOMPARE(double(v.at(0, 0, 0)), sum - (100 * 2 - 1024));
        QCOMPARE(v.windowPresets[0].center, sum - 40);
    }

    void folderWithSeveralSeriesListsThemAndNeedsAChoice() {
        QTemporaryDir dir;
        for (int series = 0; series < 2; ++series)
            for (int z = 0; z < 3; ++z) {
                SliceSpec spec;
                spec.position = {0, 0, 2.0 * z};
                spec.series = "1.2.3.4." + std::to_string(series + 1);
                writeSlice(dir.filePath(QString("s%1_%2.dcm").arg(series).arg(z)), spec, 10);
            }
        std::vector<DicomSeriesInfo> series = scanDicomFolder(dir.path().toStdString());
        QCOMPARE(series.size(), size_t(2));
        QVERIFY_THROWS_EXCEPTION(FileError, readImage(dir.path().toStdString()));
        ReadOptions options;
        options.seriesInstanceUid = "1.2.3.4.2";
        QCOMPARE(readImage(dir.path().toStdString(), options).size()[2], int64_t(3));
        QTemporaryDir empty;
        QVERIFY_THROWS_EXCEPTION(FileError, scanDicomFolder(empty.path().toStdString()));
    }
};

QTEST_APPLESS_MAIN(TestDicom)
#include "test_dicom.moc"
