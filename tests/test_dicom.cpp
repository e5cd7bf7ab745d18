// DICOM through DCMTK: pydicom's real test files (every transfer syntax we
// claim), a series this test writes with known geometry, and broken inputs.

#include "TestData.h"
#include "DicomWriter.h"

#include "core/Error.h"
#include "core/io/Dicom.h"
#include "core/io/ImageReader.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <QDir>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using namespace rllm;
using rllm::test::MosaicSpec;
using rllm::test::SliceSpec;
using rllm::test::writeMosaic;
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
                                   << "several images at one slice position";
        QTest::newRow("missing") << "missing"
                                 << "irregular slice spacing";
        QTest::newRow("size") << "size"
                              << "mixes image sizes";
        QTest::newRow("orientation") << "orientation"
                                     << "mixes orientations";
        QTest::newRow("tilt") << "tilt"
                              << "gantry tilt";
        QTest::newRow("unplaced") << "unplaced"
                                  << "lacks ImagePositionPatient";
        // Cut inside its pixels: refused when the folder is scanned, by name.
        QTest::newRow("truncated") << "truncated"
                                   << "s2.dcm': is not a readable DICOM file";
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
            const QString path = dir.filePath(QString("s%1.dcm").arg(z));
            writeSlice(path, spec, 10);
            if (problem == "unplaced" && z == 2) {
                DcmFileFormat file;
                QVERIFY(file.loadFile(path.toLocal8Bit().constData()).good());
                QVERIFY(file.getDataset()->findAndDeleteElement(DCM_ImagePositionPatient).good());
                QVERIFY(
                    file.saveFile(path.toLocal8Bit().constData(), EXS_LittleEndianExplicit).good());
            }
            if (problem == "truncated" && z == 2) {
                QFile file(path);
                QVERIFY(file.resize(file.size() - 10));  // inside the pixels
            }
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

    // A 4D series: two echoes at the same three positions, under one series
    // UID. Refused without a choice (saying what it is), split with one.
    void fourDimensionalSeriesIsSplitIntoVolumes() {
        QTemporaryDir dir;
        for (int echo = 1; echo <= 2; ++echo)
            for (int z = 0; z < 3; ++z) {
                SliceSpec spec;
                spec.position = {0, 0, 2.0 * z};
                const QString path = dir.filePath(QString("e%1_%2.dcm").arg(echo).arg(z));
                writeSlice(path, spec, 100 * echo + z);
                DcmFileFormat file;
                QVERIFY(file.loadFile(path.toStdString().c_str()).good());
                file.loadAllDataIntoMemory();
                file.getDataset()->putAndInsertString(DCM_EchoNumbers,
                                                      QByteArray::number(echo).constData());
                QVERIFY(file.saveFile(path.toStdString().c_str()).good());
            }
        try {
            readImage(dir.path().toStdString());
            QFAIL("a 4D series was read as one volume");
        } catch (const FileError& e) {
            const std::string message = e.what();
            QVERIFY2(message.find("2 volumes") != std::string::npos &&
                         message.find("echo number") != std::string::npos &&
                         message.find("duplicate") == std::string::npos,
                     e.what());
        }
        for (int echo = 1; echo <= 2; ++echo) {
            ReadOptions options;
            options.volume = echo - 1;
            const Volume v = readImage(dir.path().toStdString(), options);
            QCOMPARE(v.size()[2], int64_t(3));
            for (int z = 0; z < 3; ++z) QCOMPARE(v.at(0, 0, z), float(2 * (100 * echo + z) - 1024));
        }
        ReadOptions beyond;
        beyond.volume = 2;
        QVERIFY_THROWS_EXCEPTION(FileError, readImage(dir.path().toStdString(), beyond));
    }

    // A Siemens MOSAIC is unpacked into its slices, on an oblique plane, with
    // the first tile's corner as the origin and the CSA header's normal.
    void siemensMosaicIsUnpackedIntoItsVolume() {
        QTemporaryDir dir;
        MosaicSpec spec;
        const double c = std::cos(0.3), s = std::sin(0.3);
        spec.orientation = {c, s, 0, 0, 0, -1};
        spec.normal = {-s, c, 0};  // row x column
        spec.position = {-40, 12, 30};
        const QString path = dir.filePath("mosaic.dcm");
        writeMosaic(path, spec);
        const Volume v = readImage(path.toStdString());
        QCOMPARE(v.size(), (std::array<int64_t, 3>{6, 4, 3}));
        for (int k = 0; k < 3; ++k)
            for (int y = 0; y < 4; ++y)
                for (int x = 0; x < 6; ++x)
                    QCOMPARE(v.at(x, y, k), float(100 * (k + 1) + 10 * y + x));
        const ImageGeometry& g = v.geometry();
        QCOMPARE(g.spacing[0], 0.5);
        QCOMPARE(g.spacing[1], 0.75);
        QCOMPARE(g.spacing[2], 3.0);
        // The corner of the 12 x 8 mosaic, moved in by 3 columns and 2 rows.
        const std::array<double, 3> origin{-40 + 3 * 0.5 * c, 12 + 3 * 0.5 * s, 30 - 2 * 0.75};
        for (int i = 0; i < 3; ++i) {
            QVERIFY(std::abs(g.origin[i] - origin[i]) < 1e-6);
            QVERIFY(std::abs(g.direction[i * 3 + 2] - spec.normal[i]) < 1e-6);
        }
        QVERIFY(v.metadata.at("Mosaic").find("3 slices") == 0);
        QCOMPARE(v.sourcePixelType, PixelType::UInt16);  // what was read stays with the slices
        QCOMPARE(v.metadata.at("Modality"), std::string("MR"));
    }

    void brokenMosaicsAreRefusedWithTheReason_data() {
        QTest::addColumn<QString>("damage");
        QTest::addColumn<QString>("reason");
        QTest::newRow("no CSA header") << "no csa"
                                       << "no Siemens CSA image header";
        QTest::newRow("no slice normal") << "no normal"
                                         << "no SliceNormalVector";
        QTest::newRow("CSA header cut short") << "cut"
                                              << "cut short";
        QTest::newRow("tiles do not divide the image") << "grid"
                                                       << "do not divide";
        QTest::newRow("normal in the image plane") << "in plane"
                                                   << "not perpendicular";
    }
    void brokenMosaicsAreRefusedWithTheReason() {
        QFETCH(QString, damage);
        QFETCH(QString, reason);
        QTemporaryDir dir;
        MosaicSpec spec;
        spec.withCsa = damage != "no csa";
        spec.withNormal = damage != "no normal";
        spec.cutCsaShort = damage == "cut";
        if (damage == "grid") spec.slices = 5;  // 3 x 3 tiles would not divide 12 x 8
        if (damage == "in plane") spec.normal = {1, 0, 0};
        const QString path = dir.filePath("mosaic.dcm");
        writeMosaic(path, spec);
        try {
            readImage(path.toStdString());
            QFAIL("a damaged MOSAIC was read");
        } catch (const FileError& e) {
            const std::string message = e.what();
            QVERIFY2(message.find("MOSAIC") != std::string::npos &&
                         message.find(reason.toStdString()) != std::string::npos &&
                         message.find("mosaic.dcm") != std::string::npos,
                     e.what());
        }
    }

    // Enhanced multi-frame objects keep the rescale and the window in
    // functional groups: per frame (here slopes 1, 2, 3) or shared.
    void enhancedMultiFrameRescaleAndWindowPerFrame() {
        QTemporaryDir dir;
        DcmFileFormat file;
        DcmDataset* ds = file.getDataset();
        DcmItem* shared = test::putEnhancedMrHeader(ds, "1.2.826.0.1.3680043.9.7777.9", 3);
        QVERIFY(shared);
        DcmItem* group = nullptr;
        shared->findOrCreateSequenceItem(DCM_FrameVOILUTSequence, group, 0);
        group->putAndInsertString(DCM_WindowCenter, "100");
        group->putAndInsertString(DCM_WindowWidth, "400");
        for (int frame = 0; frame < 3; ++frame) {
            DcmItem* perFrame = nullptr;
            QVERIFY(
                ds->findOrCreateSequenceItem(DCM_PerFrameFunctionalGroupsSequence, perFrame, frame)
                    .good());
            perFrame->findOrCreateSequenceItem(DCM_PlanePositionSequence, group, 0);
            group->putAndInsertString(DCM_ImagePositionPatient,
                                      QString("0\\0\\%1").arg(3 * frame).toLatin1().constData());
            perFrame->findOrCreateSequenceItem(DCM_PixelValueTransformationSequence, group, 0);
            group->putAndInsertString(DCM_RescaleSlope, QByteArray::number(frame + 1).constData());
            group->putAndInsertString(DCM_RescaleIntercept,
                                      QByteArray::number(-10 * frame).constData());
        }
        std::vector<Uint16> pixels(18);
        for (int i = 0; i < 18; ++i) pixels[i] = Uint16(i + 1);
        ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(), 18);
        const QString path = dir.filePath("enhanced.dcm");
        QVERIFY(file.saveFile(path.toStdString().c_str(), EXS_LittleEndianExplicit).good());

        const Volume v = readImage(path.toStdString());
        QCOMPARE(v.size(), (std::array<int64_t, 3>{3, 2, 3}));
        for (int z = 0; z < 3; ++z)
            for (int i = 0; i < 6; ++i)
                QCOMPARE(v.voxels()[size_t(z * 6 + i)], float((z * 6 + i + 1) * (z + 1) - 10 * z));
        QCOMPARE(v.windowPresets.size(), size_t(1));
        QCOMPARE(v.windowPresets[0].center, 100.0);
        QCOMPARE(v.windowPresets[0].width, 400.0);
        QVERIFY(std::abs(v.geometry().spacing[2] - 3.0) < 1e-6);
    }

    // One enhanced MR file holding 4D data: two volumes of three slices, told
    // apart by a per-frame functional group (temporal position, or the
    // diffusion b-value), frames interleaved or volume after volume.
    void enhancedFileWithTwoVolumesIsSplit_data() {
        QTest::addColumn<QString>("field");
        QTest::addColumn<bool>("interleaved");
        QTest::newRow("temporal positions, interleaved") << "temporal position" << true;
        QTest::newRow("b-values, volume after volume") << "diffusion b-value" << false;
    }
    void enhancedFileWithTwoVolumesIsSplit() {
        QFETCH(QString, field);
        QFETCH(bool, interleaved);
        QTemporaryDir dir;
        const QString path = dir.filePath("enhanced4d.dcm");
        test::writeEnhanced4D(path, field.toStdString(), interleaved);

        try {
            readImage(path.toStdString());
            QFAIL("4D data in one file was read as one volume");
        } catch (const FileError& e) {
            const std::string message = e.what();
            QVERIFY2(message.find("2 volumes") != std::string::npos &&
                         message.find(field.toStdString()) != std::string::npos &&
                         message.find("--volume") != std::string::npos,
                     e.what());
        }
        for (int volume = 0; volume < 2; ++volume) {
            ReadOptions options;
            options.volume = volume;
            const Volume v = readImage(path.toStdString(), options);
            QCOMPARE(v.size(), (std::array<int64_t, 3>{3, 2, 3}));
            for (int z = 0; z < 3; ++z)
                for (int i = 0; i < 6; ++i)
                    QCOMPARE(v.voxels()[size_t(z * 6 + i)], float(100 * (volume + 1) + 10 * z + i));
            QVERIFY(std::abs(v.geometry().spacing[2] - 3.0) < 1e-6);
            QCOMPARE(v.geometry().origin[2], 0.0);
            QVERIFY2(v.metadata.at("Volume").find(std::to_string(volume + 1) + " of 2") == 0,
                     v.metadata.at("Volume").c_str());
        }
        ReadOptions beyond;
        beyond.volume = 2;
        QVERIFY_THROWS_EXCEPTION(FileError, readImage(path.toStdString(), beyond));
        // The scan lists the file's volumes (the viewer's picker shows them).
        for (const auto& info : {scanDicomFiles({path.toStdString()}).front(),
                                 scanDicomFolder(dir.path().toStdString()).front()}) {
            QCOMPARE(info.volumeCount, 2);
            QCOMPARE(QString::fromStdString(info.volumesDifferIn), field);
        }
    }

    // `rllm convert` writes the volume the tool reads; dcm2niix, an
    // independent converter, must agree with it voxel for voxel in physical
    // space: every voxel centre of ours lands on a voxel centre of theirs
    // (within 1e-3 voxel) holding the same value (dcm2niix keeps the stored
    // integers with scl_slope/scl_inter, which the reader applies).
    void convertAgreesWithDcm2niix_data() {
        QTest::addColumn<QString>("source");
        QTest::newRow("CT_small") << "CT_small.dcm";
        QTest::newRow("MR_small") << "MR_small.dcm";
        QTest::newRow("MR_small_RLE") << "MR_small_RLE.dcm";
        QTest::newRow("oblique series") << "";
        QTest::newRow("oblique Siemens MOSAIC") << "mosaic";
    }
    void convertAgreesWithDcm2niix() {
        QFETCH(QString, source);
        if (QStandardPaths::findExecutable("dcm2niix").isEmpty())
            QSKIP("dcm2niix is not installed (scripts/install-deps installs it)");
        QTemporaryDir dir;
        const QString input = dir.filePath("in");
        QDir().mkpath(input);
        if (source == "mosaic") {
            MosaicSpec spec;
            const double c = std::cos(0.3), s = std::sin(0.3);
            spec.orientation = {c, s, 0, 0, 0, -1};
            spec.normal = {-s, c, 0};
            spec.position = {-40, 12, 30};
            spec.tileColumns = 10;
            spec.tileRows = 8;
            spec.slices = 7;  // 3 x 3 tiles, two of them empty
            spec.tilesPerSide = 3;
            writeMosaic(input + "/mosaic.dcm", spec);
            source = "mosaic.dcm";
        } else if (source.isEmpty()) {
            // A written oblique series, 5 slices, in shuffled file order.
            const double c = std::cos(0.4), s = std::sin(0.4);
            SliceSpec spec;
            spec.orientation = {c, s, 0, 0, 0, -1};
            for (int k = 0; k < 5; ++k) {
                const int slice = (k * 3) % 5;
                spec.position = {10 - 2.5 * slice * s, -20 + 2.5 * slice * c, 5};
                const QString file = input + QString("/img%1.dcm").arg(k);
                writeSlice(file, spec, 100 * (slice + 1));
                // Scanners number their images; dcm2niix orders slices by it.
                DcmFileFormat edit;
                QVERIFY(edit.loadFile(file.toStdString().c_str()).good());
                edit.loadAllDataIntoMemory();
                edit.getDataset()->putAndInsertString(DCM_InstanceNumber,
                                                      QByteArray::number(slice + 1).constData());
                QVERIFY(edit.saveFile(file.toStdString().c_str()).good());
            }
        } else {
            RLLM_REQUIRE_FILE(test::pydicomFile(source));
            QVERIFY(QFile::copy(test::pydicomFile(source), input + "/" + source));
        }
        const QString ours = dir.filePath("ours.nii");
        QProcess convert;
        convert.start(test::binary("rllm"),
                      {"convert", source.isEmpty() ? input : input + "/" + source, ours});
        QVERIFY(convert.waitForFinished(60000));
        QVERIFY2(convert.exitCode() == 0, convert.readAllStandardError().constData());
        QProcess reference;
        reference.start("dcm2niix", {"-z", "n", "-f", "theirs", "-o", dir.path(), input});
        QVERIFY(reference.waitForFinished(60000));
        QVERIFY2(reference.exitCode() == 0, reference.readAllStandardOutput().constData());

        const Volume a = readImage(ours.toStdString());
        const Volume b = readImage(dir.filePath("theirs.nii").toStdString());
        QCOMPARE(a.geometry().voxelCount(), b.geometry().voxelCount());
        const ImageGeometry& gb = b.geometry();
        // Inverse of b's index -> physical matrix (direction x spacing).
        double m[3][3];
        for (int r = 0; r < 3; ++r)
            for (int k = 0; k < 3; ++k) m[r][k] = gb.direction[r * 3 + k] * gb.spacing[k];
        const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                           m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                           m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        QVERIFY(std::abs(det) > 1e-9);
        double inv[3][3];
        for (int r = 0; r < 3; ++r)
            for (int k = 0; k < 3; ++k) {
                const int r1 = (k + 1) % 3, r2 = (k + 2) % 3, c1 = (r + 1) % 3, c2 = (r + 2) % 3;
                inv[r][k] = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / det;
            }
        const auto size = a.size();
        double worstOffGrid = 0, worstValue = 0;
        for (int64_t z = 0; z < size[2]; ++z)
            for (int64_t y = 0; y < size[1]; ++y)
                for (int64_t x = 0; x < size[0]; ++x) {
                    const auto p = a.geometry().indexToPhysical({double(x), double(y), double(z)});
                    double index[3];
                    for (int r = 0; r < 3; ++r) {
                        index[r] = 0;
                        for (int k = 0; k < 3; ++k) index[r] += inv[r][k] * (p[k] - gb.origin[k]);
                    }
                    int64_t rounded[3];
                    for (int r = 0; r < 3; ++r) {
                        rounded[r] = std::llround(index[r]);
                        worstOffGrid = std::max(worstOffGrid, std::abs(index[r] - rounded[r]));
                        QVERIFY2(rounded[r] >= 0 && rounded[r] < b.size()[r],
                                 qPrintable(QString("voxel %1,%2,%3 falls outside dcm2niix's grid")
                                                .arg(x)
                                                .arg(y)
                                                .arg(z)));
                    }
                    for (int c = 0; c < a.components(); ++c)
                        worstValue =
                            std::max(worstValue,
                                     double(std::abs(a.at(x, y, z, c) -
                                                     b.at(rounded[0], rounded[1], rounded[2], c))));
                }
        qInfo(
            "%s: %lld voxels, worst distance from dcm2niix's voxel centres %.2g voxel, worst "
            "value difference %.3g",
            qPrintable(source.isEmpty() ? QString("oblique series") : source),
            static_cast<long long>(a.geometry().voxelCount()), worstOffGrid, worstValue);
        QVERIFY2(worstOffGrid < 1e-3, qPrintable(QString::number(worstOffGrid)));
        QVERIFY2(worstValue < 1e-3, qPrintable(QString::number(worstValue)));
    }
};

QTEST_APPLESS_MAIN(TestDicom)
#include "test_dicom.moc"
