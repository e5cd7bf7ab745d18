// ITK formats: NIfTI written and read back with equal geometry; NRRD,
// MetaImage, PNG and TIFF written by ITK here and read through readImage;
// atomic writes; damaged and unsupported files.

#include "TestData.h"

#include "core/Error.h"
#include "core/Phantom.h"
#include "core/io/ImageReader.h"
#include "core/io/ItkIo.h"

#include <itkImage.h>
#include <itkImageFileWriter.h>
#include <itkMetaImageIO.h>
#include <itkNrrdImageIO.h>
#include <itkTIFFImageIO.h>

#include <QDir>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace rllm;

namespace {

Volume obliqueTestVolume() {
    Volume v({5, 4, 3});
    for (size_t i = 0; i < v.voxels().size(); ++i) v.voxels()[i] = float(i) * 1.5f - 7.0f;
    ImageGeometry& g = v.geometry();
    g.spacing = {0.8, 1.25, 3.0};
    g.origin = {-12.5, 30.25, 7.0};
    const double c = std::cos(0.4), s = std::sin(0.4);
    g.direction = {c, 0, s, 0, 1, 0, -s, 0, c};  // rotation about y
    return v;
}

// Writes a 3D short image with ITK's own writer (the reference for the read path).
template <typename IO>
void writeWithItk(const QString& path, typename IO::Pointer io) {
    using Image = itk::Image<short, 3>;
    auto image = Image::New();
    Image::SizeType size;
    size[0] = 4;
    size[1] = 3;
    size[2] = 2;
    image->SetRegions(Image::RegionType(size));
    Image::SpacingType spacing;
    spacing[0] = 0.5;
    spacing[1] = 0.6;
    spacing[2] = 2.0;
    image->SetSpacing(spacing);
    Image::PointType origin;
    origin[0] = 1;
    origin[1] = 2;
    origin[2] = 3;
    image->SetOrigin(origin);
    image->Allocate();
    for (int i = 0; i < 24; ++i) image->GetBufferPointer()[i] = short(i * 10 - 50);
    auto writer = itk::ImageFileWriter<Image>::New();
    writer->SetImageIO(io);
    writer->SetFileName(path.toStdString());
    writer->SetInput(image);
    writer->Update();
}

}  // namespace

class TestItkIo : public QObject {
    Q_OBJECT
  private slots:
    void niftiRoundTripKeepsGeometry_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("nii.gz") << "volume.nii.gz";
        QTest::newRow("nii") << "volume.nii";
    }
    void niftiRoundTripKeepsGeometry() {
        QFETCH(QString, name);
        QTemporaryDir dir;
        const Volume original = obliqueTestVolume();
        const std::string path = dir.filePath(name).toStdString();
        writeNifti(original, path);
        Volume back = readImage(path);
        QCOMPARE(back.formatName, std::string("NIfTI"));
        QVERIFY(back.geometry().sameGridAs(original.geometry(), 1e-5));
        QVERIFY(back.voxels() == original.voxels());
        // No temporary file is left beside the output.
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 1);
    }

    void nrrdMetaImageAndTiffReadWithGeometry_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("nrrd") << "v.nrrd";
        QTest::newRow("mha") << "v.mha";
        QTest::newRow("mhd") << "v.mhd";
        QTest::newRow("tiff") << "v.tif";
    }
    void nrrdMetaImageAndTiffReadWithGeometry() {
        QFETCH(QString, name);
        QTemporaryDir dir;
        const QString path = dir.filePath(name);
        if (name.endsWith(".nrrd"))
            writeWithItk<itk::NrrdImageIO>(path, itk::NrrdImageIO::New());
        else if (name.endsWith(".tif"))
            writeWithItk<itk::TIFFImageIO>(path, itk::TIFFImageIO::New());
        else
            writeWithItk<itk::MetaImageIO>(path, itk::MetaImageIO::New());
        Volume v = readImage(path.toStdString());
        QCOMPARE(v.size(), (std::array<int64_t, 3>{4, 3, 2}));
        QCOMPARE(v.sourcePixelType, PixelType::Int16);
        QCOMPARE(v.at(3, 2, 1), float(23 * 10 - 50));
        QCOMPARE(v.at(0, 0, 0), -50.0f);
        if (!name.endsWith(".tif")) {  // TIFF keeps no origin
            QVERIFY(std::abs(v.geometry().spacing[1] - 0.6) < 1e-6);
            QVERIFY(std::abs(v.geometry().origin[2] - 3.0) < 1e-6);
        }
    }

    void pngWrittenAndReadBack() {
        QTemporaryDir dir;
        std::vector<uint8_t> grey(7 * 5), rgb(7 * 5 * 3);
        for (size_t i = 0; i < grey.size(); ++i) grey[i] = uint8_t(i * 7);
        for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = uint8_t(255 - i);
        writePng(grey, 7, 5, 1, dir.filePath("g.png").toStdString());
        writePng(rgb, 7, 5, 3, dir.filePath("c.png").toStdString());
        Volume g = readImage(dir.filePath("g.png").toStdString());
        QCOMPARE(g.size(), (std::array<int64_t, 3>{7, 5, 1}));
        QCOMPARE(g.at(6, 4, 0), float(34 * 7));
        Volume c = readImage(dir.filePath("c.png").toStdString());
        QVERIFY(c.isRgb());
        QCOMPARE(c.at(1, 0, 0, 2), float(255 - 5));
    }

    void failedWritesLeaveTheTargetAlone() {
        QTemporaryDir dir;
        const QString target = dir.filePath("keep.nii.gz");
        writeNifti(obliqueTestVolume(), target.toStdString());
        const QByteArray before = test::readAll(target);
        // An empty volume cannot be written; the earlier file must survive intact.
        QVERIFY_THROWS_EXCEPTION(Error, writeNifti(Volume(), target.toStdString()));
        QCOMPARE(test::readAll(target), before);
        QVERIFY_THROWS_EXCEPTION(
            FileError,
            writeNifti(obliqueTestVolume(), dir.filePath("no/such/dir/x.nii.gz").toStdString()));
        QVERIFY_THROWS_EXCEPTION(
            FileError, writeNifti(obliqueTestVolume(), dir.filePath("x.png").toStdString()));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 1);
    }

    void damagedFilesFailWithTheirName() {
        QTemporaryDir dir;
        Phantom p = makePhantom3D(24, 3);
        writeNifti(p.image, dir.filePath("p.nii.gz").toStdString());
        writeNifti(p.image, dir.filePath("p.nii").toStdString());
        std::vector<uint8_t> grey(64 * 64, 100);
        writePng(grey, 64, 64, 1, dir.filePath("p.png").toStdString());
        writeWithItk<itk::MetaImageIO>(dir.filePath("p.mha"), itk::MetaImageIO::New());
        writeWithItk<itk::NrrdImageIO>(dir.filePath("p.nrrd"), itk::NrrdImageIO::New());
        for (const char* name : {"p.nii.gz", "p.nii", "p.png", "p.mha", "p.nrrd"}) {
            const QString source = dir.filePath(name);
            for (double fraction : {0.0, 0.05, 0.5, 0.9}) {
                const QString cut = test::truncatedCopy(source, dir.path(), fraction);
                try {
                    readImage(cut.toStdString());
                    QFAIL(qPrintable(
                        QString("truncated %1 (%2) was accepted").arg(name).arg(fraction)));
                } catch (const FileError& e) {
                    QVERIFY2(QString(e.what()).contains("truncated_"), e.what());
                }
            }
            // Header fields that matter damaged: the magic bytes, or for NIfTI (whose first
            // bytes are unused legacy fields) the image dimensions at byte 40.
            const QByteArray bytes = test::readAll(source);
            const double headerOffset = QString(name) == "p.nii" ? 40.0 / bytes.size() : 0.0;
            const QString broken = test::corruptedCopy(source, dir.path(), headerOffset, 16);
            try {
                readImage(broken.toStdString());
                QFAIL(qPrintable(QString("%1 with a damaged header was accepted").arg(name)));
            } catch (const FileError&) {
            }
        }
        test::writeAll(dir.filePath("notes.txt"), "hello");
        QVERIFY_THROWS_EXCEPTION(FileError, readImage(dir.filePath("notes.txt").toStdString()));
        QVERIFY_THROWS_EXCEPTION(FileError, readImage(dir.filePath("absent.nii.gz").toStdString()));
    }
};

QTEST_APPLESS_MAIN(TestItkIo)
#include "test_itk_io.moc"
