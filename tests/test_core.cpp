// The imaging core without external data: geometry, slicing, windowing,
// phantoms, and the .npz reader on archives this test writes itself.

#include "TestData.h"

#include "core/CamDifference.h"
#include "core/Colormap.h"
#include "core/DisplayDownsample.h"
#include "core/Error.h"
#include "core/Phantom.h"
#include "core/Slice.h"
#include "core/Volume.h"
#include "core/io/Npz.h"

#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <set>

#include <cmath>
#include <cstdlib>
#include <cstring>

using namespace rllm;

namespace {

// Bitwise CRC-32 (IEEE), written here so the archive does not depend on the reader's zlib.
uint32_t crc32Reference(const QByteArray& data) {
    uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char byte : data) {
        crc ^= byte;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

void put16(QByteArray& out, uint16_t v) {
    out.append(char(v & 0xFF));
    out.append(char(v >> 8));
}
void put32(QByteArray& out, uint32_t v) {
    put16(out, uint16_t(v & 0xFFFF));
    put16(out, uint16_t(v >> 16));
}

// An .npy file: version 1 header padded to 64 bytes, as numpy writes it.
QByteArray npy(const QString& descr, const QString& shape, const QByteArray& data) {
    QByteArray header = QStringLiteral("{'descr': '%1', 'fortran_order': False, 'shape': %2, }")
                            .arg(descr, shape)
                            .toLatin1();
    while ((10 + header.size() + 1) % 64 != 0) header.append(' ');
    header.append('\n');
    QByteArray out("\x93NUMPY\x01\x00", 8);
    put16(out, uint16_t(header.size()));
    return out + header + data;
}

// A stored (uncompressed) zip, like numpy.savez writes.
QByteArray storedZip(const QList<QPair<QString, QByteArray>>& members) {
    QByteArray zip, directory;
    for (const auto& [name, data] : members) {
        const uint32_t offset = uint32_t(zip.size());
        const uint32_t crc = crc32Reference(data);
        const QByteArray fileName = name.toLatin1();
        put32(zip, 0x04034b50);
        put16(zip, 20);
        put16(zip, 0);
        put16(zip, 0);  // stored
        put32(zip, 0);  // time, date
        put32(zip, crc);
        put32(zip, uint32_t(data.size()));
        put32(zip, uint32_t(data.size()));
        put16(zip, uint16_t(fileName.size()));
        put16(zip, 0);
        zip += fileName + data;

        put32(directory, 0x02014b50);
        put16(directory, 20);
        put16(directory, 20);
        put16(directory, 0);
        put16(directory, 0);
        put32(directory, 0);
        put32(directory, crc);
        put32(directory, uint32_t(data.size()));
        put32(directory, uint32_t(data.size()));
        put16(directory, uint16_t(fileName.size()));
        put16(directory, 0);
        put16(directory, 0);
        put16(directory, 0);
        put16(directory, 0);
        put32(directory, 0);
        put32(directory, offset);
        directory += fileName;
    }
    const uint32_t directoryOffset = uint32_t(zip.size());
    zip += directory;
    put32(zip, 0x06054b50);
    put16(zip, 0);
    put16(zip, 0);
    put16(zip, uint16_t(members.size()));
    put16(zip, uint16_t(members.size()));
    put32(zip, uint32_t(directory.size()));
    put32(zip, directoryOffset);
    put16(zip, 0);
    return zip;
}

}  // namespace

class TestCore : public QObject {
    Q_OBJECT
  private slots:
    // A - B voxel by voxel, on A's grid, checked against a sum written out
    // here; CAMs on different grids (or RGB) have no difference.
    void camDifferenceIsVoxelwiseOnTheSameGridOnly() {
        Volume a({3, 2, 2}, 1), b({3, 2, 2}, 1);
        a.geometry().spacing = b.geometry().spacing = {0.5, 0.5, 2};
        a.geometry().origin = b.geometry().origin = {10, -4, 7};
        for (int i = 0; i < 12; ++i) {
            a.voxels()[i] = 0.1f * float(i);
            b.voxels()[i] = 1.0f - 0.05f * float(i);
        }
        const auto d = camDifference(a, b);
        QVERIFY(d);
        QVERIFY(d->geometry().sameGridAs(a.geometry()));
        QCOMPARE(d->at(2, 1, 1), a.at(2, 1, 1) - b.at(2, 1, 1));
        for (int i = 0; i < 12; ++i) QCOMPARE(d->voxels()[i], 0.15f * float(i) - 1.0f);

        Volume moved = b;
        moved.geometry().origin[0] += 1;
        QVERIFY(!camDifference(a, moved));
        QVERIFY(!camDifference(a, Volume({3, 2, 3}, 1)));
        QVERIFY(!camDifference(a, Volume({3, 2, 2}, 3)));
    }

    // The 3D view's reduced copy: factors within budget, block means checked
    // by hand, partial edge blocks, and the same physical extent.
    void displayDownsampleKeepsMeansAndExtent() {
        QCOMPARE(displayFactors({512, 512, 300}, 512 * 512 * 300),
                 (std::array<int64_t, 3>{1, 1, 1}));
        const auto f = displayFactors({512, 512, 300}, int64_t(1) << 24);
        const int64_t kept =
            ((512 + f[0] - 1) / f[0]) * ((512 + f[1] - 1) / f[1]) * ((300 + f[2] - 1) / f[2]);
        QVERIFY(kept <= (int64_t(1) << 24));
        QVERIFY(kept > (int64_t(1) << 24) / 4);  // not reduced further than needed
        Volume v({5, 4, 3});
        v.geometry().spacing = {0.5, 0.75, 2.0};
        v.geometry().origin = {10, 20, 30};
        v.geometry().direction = {0, 1, 0, -1, 0, 0, 0, 0, 1};  // rotated in-plane
        for (int64_t z = 0; z < 3; ++z)
            for (int64_t y = 0; y < 4; ++y)
                for (int64_t x = 0; x < 5; ++x) v.at(x, y, z) = float(100 * z + 10 * y + x);
        const Volume d = downsampleByBlocks(v, {2, 2, 2});
        QCOMPARE(d.size(), (std::array<int64_t, 3>{3, 2, 2}));
        auto mean = [&](int64_t x0, int64_t y0, int64_t z0) {
            double sum = 0;
            int n = 0;
            for (int64_t z = z0; z < std::min<int64_t>(3, z0 + 2); ++z)
                for (int64_t y = y0; y < std::min<int64_t>(4, y0 + 2); ++y)
                    for (int64_t x = x0; x < std::min<int64_t>(5, x0 + 2); ++x, ++n)
                        sum += v.at(x, y, z);
            return float(sum / n);
        };
        for (int64_t z = 0; z < 2; ++z)
            for (int64_t y = 0; y < 2; ++y)
                for (int64_t x = 0; x < 3; ++x) QCOMPARE(d.at(x, y, z), mean(2 * x, 2 * y, 2 * z));
        // The first output voxel sits at the centre of the first block.
        const auto expected = v.geometry().indexToPhysical({0.5, 0.5, 0.5});
        const auto first = d.geometry().indexToPhysical({0, 0, 0});
        for (int a = 0; a < 3; ++a) QVERIFY(std::abs(first[a] - expected[a]) < 1e-9);
        QCOMPARE(d.geometry().spacing[0], 1.0);
    }

    void geometryRoundTripsThroughAnObliqueDirection() {
        ImageGeometry g;
        g.size = {10, 20, 30};
        g.spacing = {0.5, 0.7, 2.5};
        g.origin = {-100, 50, 12};
        // Rotation by 30 degrees about z.
        const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
        g.direction = {c, -s, 0, s, c, 0, 0, 0, 1};
        const auto p = g.indexToPhysical({2, 3, 4});
        // Independent: origin + R * (spacing .* index).
        const double ix = 2 * 0.5, iy = 3 * 0.7, iz = 4 * 2.5;
        QCOMPARE(p[0], -100 + c * ix - s * iy);
        QCOMPARE(p[1], 50 + s * ix + c * iy);
        QCOMPARE(p[2], 12 + iz);
        const auto back = g.physicalToIndex(p);
        for (int i = 0; i < 3; ++i)
            QVERIFY(std::abs(back[i] - std::array<double, 3>{2, 3, 4}[i]) < 1e-9);
    }

    void slicesOfAnAxialScanKeepTheirIndexOrder() {
        Volume v({4, 3, 2});
        for (int64_t z = 0; z < 2; ++z)
            for (int64_t y = 0; y < 3; ++y)
                for (int64_t x = 0; x < 4; ++x) v.at(x, y, z) = float(100 * z + 10 * y + x);
        v.geometry().spacing = {1, 2, 3};
        const ImageGeometry& g = v.geometry();

        SliceImage axial = extractSlice(v, sliceLayout(g, PatientPlane::Axial), 1);
        QCOMPARE(axial.width, 4);
        QCOMPARE(axial.height, 3);
        QCOMPARE(axial.values[1 * 4 + 2], 112.0f);  // row y=1, column x=2
        QCOMPARE(axial.pixelHeight, 2.0);

        // Superior (the last z slice) is the top row of the reformats.
        SliceImage coronal = extractSlice(v, sliceLayout(g, PatientPlane::Coronal), 2);
        QCOMPARE(coronal.height, 2);
        QCOMPARE(coronal.pixelHeight, 3.0);
        QCOMPARE(coronal.values[0 * 4 + 3], 123.0f);  // top row is z=1
        QCOMPARE(coronal.values[1 * 4 + 3], 23.0f);
        SliceImage sagittal = extractSlice(v, sliceLayout(g, PatientPlane::Sagittal), 1);
        QCOMPARE(sagittal.width, 3);
        QCOMPARE(sagittal.values[0 * 3 + 2], 121.0f);

        QVERIFY_THROWS_EXCEPTION(Error, extractSlice(v, sliceLayout(g, PatientPlane::Axial), 2));
        QVERIFY_THROWS_EXCEPTION(Error,
                                 extractSlice(v, sliceLayout(g, PatientPlane::Sagittal), -1));
    }

    // Direction matrices (row-major, column j = index axis j in LPS) of the
    // acquisitions radiologists meet; every one must look the same on screen.
    static std::vector<std::pair<const char*, std::array<double, 9>>> acquisitions() {
        const double c = std::cos(39 * M_PI / 180), s = std::sin(39 * M_PI / 180);
        return {
            {"axial head first", {1, 0, 0, 0, 1, 0, 0, 0, 1}},
            {"axial feet first (z runs inferior)", {1, 0, 0, 0, 1, 0, 0, 0, -1}},
            // DICOM coronal: rows run to the left, columns down (inferior),
            // slices posterior.
            {"coronal", {1, 0, 0, 0, 0, 1, 0, -1, 0}},
            // DICOM sagittal: rows run posterior, columns inferior, slices
            // to the right.
            {"sagittal", {0, 0, -1, 1, 0, 0, 0, -1, 0}},
            // NIfTI stored RAS: x to the right, y anterior.
            {"RAS-stored", {-1, 0, 0, 0, -1, 0, 0, 0, 1}},
            // Axial tilted by 39° about the left-right axis.
            {"oblique 39", {1, 0, 0, 0, c, -s, 0, s, c}},
        };
    }

    void everyAcquisitionIsShownAsRadiologistsExpect() {
        // What each plane must show, checked through indexToPhysical (not the
        // layout's own direction logic): the patient axis (0 L, 1 P, 2 S)
        // and sense of a step to the right and a step down the screen.
        struct Expected {
            PatientPlane plane;
            int rightAxis;
            double rightSign;
            int downAxis;
            double downSign;
            std::array<std::string, 4> letters;
        };
        const Expected expected[] = {
            {PatientPlane::Axial, 0, +1, 1, +1, {"R", "L", "A", "P"}},
            {PatientPlane::Coronal, 0, +1, 2, -1, {"R", "L", "S", "I"}},
            {PatientPlane::Sagittal, 1, +1, 2, -1, {"A", "P", "S", "I"}},
        };
        for (const auto& [name, direction] : acquisitions()) {
            ImageGeometry g;
            g.size = {5, 6, 7};
            g.spacing = {0.5, 0.7, 2.0};
            g.origin = {-10, 20, 30};
            g.direction = direction;
            std::set<int> normals;
            for (const Expected& e : expected) {
                const SliceLayout layout = sliceLayout(g, e.plane);
                normals.insert(layout.normalAxis);
                auto physical = [&](int column, int row) {
                    const auto v = sliceToVoxel(g.size, layout, 2, column, row);
                    return g.indexToPhysical({double(v[0]), double(v[1]), double(v[2])});
                };
                const auto origin = physical(1, 1), right = physical(2, 1), down = physical(1, 2);
                const double rightStep = (right[e.rightAxis] - origin[e.rightAxis]) * e.rightSign;
                const double downStep = (down[e.downAxis] - origin[e.downAxis]) * e.downSign;
                const QByteArray what = QByteArray(name) + ", " + planeName(e.plane).c_str();
                QVERIFY2(rightStep > 0, what);
                QVERIFY2(downStep > 0, what);
                QVERIFY2(edgeLetters(g, layout) == e.letters, what);
                // voxelToSlicePixel undoes sliceToVoxel.
                const auto pixel =
                    voxelToSlicePixel(g.size, layout, sliceToVoxel(g.size, layout, 3, 1, 4));
                QVERIFY2(pixel[0] == 1 && pixel[1] == 4, what);
                const bool oblique = std::string(name) == "oblique 39";
                // The tilt is about the L-R axis: axial and coronal slices are
                // 39° off their planes, sagittal ones exact.
                const double expectedAngle =
                    oblique && e.plane != PatientPlane::Sagittal ? 39.0 : 0.0;
                QVERIFY2(std::abs(layout.obliqueDegrees - expectedAngle) < 1e-6,
                         what + " angle " + QByteArray::number(layout.obliqueDegrees));
            }
            QCOMPARE(int(normals.size()), 3);  // three planes, three index axes
        }
    }

    void aCoronalAcquisitionsAxialViewHasAnteriorUp() {
        // 4 columns to the left, 3 rows inferior, 2 slices posterior: the
        // axial view cuts across the rows and puts the slices down the screen.
        Volume v({4, 3, 2});
        v.geometry().direction = {1, 0, 0, 0, 0, 1, 0, -1, 0};
        for (int64_t z = 0; z < 2; ++z)
            for (int64_t y = 0; y < 3; ++y)
                for (int64_t x = 0; x < 4; ++x) v.at(x, y, z) = float(100 * z + 10 * y + x);
        const SliceLayout axial = sliceLayout(v.geometry(), PatientPlane::Axial);
        QCOMPARE(axial.normalAxis, 1);
        QCOMPARE(sliceCount(v, axial), int64_t(3));
        const SliceImage slice = extractSlice(v, axial, 1);
        QCOMPARE(slice.width, 4);
        QCOMPARE(slice.height, 2);
        QCOMPARE(slice.values[0 * 4 + 3], 13.0f);   // top: the anterior slice z=0
        QCOMPARE(slice.values[1 * 4 + 3], 113.0f);  // bottom: z=1, posterior
        // A single coronal slice is shown as coronal.
        ImageGeometry single = v.geometry();
        single.size = {4, 3, 1};
        QCOMPARE(acquisitionPlane(single), PatientPlane::Coronal);
        QCOMPARE(acquisitionPlane(ImageGeometry{}), PatientPlane::Axial);
    }

    // The colour maps the viewer and the command line share.
    void colourMapsHaveTheirPublishedEnds() {
        using Rgb = std::array<uint8_t, 3>;
        QCOMPARE(heatColourRgb(HeatColormap::Jet, 0.0), (Rgb{0, 0, 128}));  // dark blue
        QCOMPARE(heatColourRgb(HeatColormap::Jet, 1.0), (Rgb{128, 0, 0}));  // dark red
        QCOMPARE(heatColourRgb(HeatColormap::Jet, 2.0), heatColourRgb(HeatColormap::Jet, 1.0));
        // viridis runs from #440154 to #fde725.
        QCOMPARE(heatColourRgb(HeatColormap::Viridis, 0.0), (Rgb{0x44, 0x01, 0x54}));
        QCOMPARE(heatColourRgb(HeatColormap::Viridis, 1.0), (Rgb{0xfd, 0xe7, 0x25}));
        QCOMPARE(heatColourRgb(HeatColormap::Hot, 0.0), (Rgb{0, 0, 0}));
        QCOMPARE(heatColourRgb(HeatColormap::Hot, 1.0), (Rgb{255, 255, 255}));
        // inferno and magma run from black; inferno ends pale yellow, magma pale pink.
        QCOMPARE(heatColourRgb(HeatColormap::Inferno, 0.0), (Rgb{0, 0, 4}));
        QCOMPARE(heatColourRgb(HeatColormap::Inferno, 1.0), (Rgb{252, 255, 164}));
        QCOMPARE(heatColourRgb(HeatColormap::Magma, 0.0), (Rgb{0, 0, 4}));
        QCOMPARE(heatColourRgb(HeatColormap::Magma, 1.0), (Rgb{252, 253, 191}));
        // Diverging: no difference is a light neutral grey, A > B red, B > A blue.
        const Rgb zero = heatColourRgb(HeatColormap::Diverging, 0.0);
        QVERIFY(zero[0] > 200 && zero[1] > 200 && zero[2] > 200);
        QVERIFY(std::max({zero[0], zero[1], zero[2]}) - std::min({zero[0], zero[1], zero[2]}) < 10);
        QVERIFY(heatColourRgb(HeatColormap::Diverging, 1.0)[0] > 150);
        QVERIFY(heatColourRgb(HeatColormap::Diverging, -1.0)[2] > 150);
        HeatColormap map = HeatColormap::Jet;
        QVERIFY(findColormap("viridis", map) && map == HeatColormap::Viridis);
        QVERIFY(!findColormap("parula", map));
        for (const std::string& name : colormapNames()) {
            QVERIFY(findColormap(name, map));
            QCOMPARE(colormapName(map), name);
        }
    }

    // What makes a map perceptual, checked with CIE L* computed here from
    // sRGB (IEC 61966-2-1 and CIE 1976): the sequential maps' lightness rises
    // with the value over a wide range; the diverging map's rises to its
    // middle and falls after it, the same on both sides.
    void perceptualMapsRiseInLightness() {
        auto lightness = [](const std::array<uint8_t, 3>& rgb) {
            auto linear = [](uint8_t v) {
                const double c = v / 255.0;
                return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
            };
            const double y =
                0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2]);
            return y > 216.0 / 24389 ? 116 * std::cbrt(y) - 16 : 24389.0 / 27 * y;
        };
        const int steps = 64;
        for (HeatColormap map :
             {HeatColormap::Viridis, HeatColormap::Inferno, HeatColormap::Magma}) {
            double previous = -1;
            for (int i = 0; i <= steps; ++i) {
                const double l = lightness(heatColourRgb(map, double(i) / steps));
                QVERIFY2(l > previous, qPrintable(QString::fromStdString(colormapName(map)) +
                                                  QString(" at %1").arg(i)));
                previous = l;
            }
            QVERIFY(lightness(heatColourRgb(map, 1.0)) - lightness(heatColourRgb(map, 0.0)) > 60);
        }
        for (int i = 1; i <= steps; ++i) {
            const double t = double(i) / steps, before = double(i - 1) / steps;
            const auto at = [&](double v) {
                return lightness(heatColourRgb(HeatColormap::Diverging, v));
            };
            QVERIFY(at(-t) < at(-before));  // darker away from zero, on both sides
            QVERIFY(at(t) < at(before));
            QVERIFY(std::abs(at(t) - at(-t)) < 8);
        }
    }

    void windowMatchesTheDicomLinearFunction() {
        SliceImage s;
        s.width = 5;
        s.height = 1;
        s.values = {-1000, -160, 40, 239.5f, 3000};
        const std::vector<uint8_t> out = applyWindow(s, 40, 400);
        // PS3.3 C.11.2.1.2.1 by hand: x <= c-0.5-(w-1)/2 -> 0; x > c-0.5+(w-1)/2 -> 255;
        // else ((x-(c-0.5))/(w-1)+0.5)*255.
        auto expected = [](double x) {
            const double c = 40, w = 400;
            if (x <= c - 0.5 - (w - 1) / 2) return 0L;
            if (x > c - 0.5 + (w - 1) / 2) return 255L;
            return std::lround(((x - (c - 0.5)) / (w - 1) + 0.5) * 255);
        };
        for (size_t i = 0; i < s.values.size(); ++i) QCOMPARE(long(out[i]), expected(s.values[i]));
    }

    void phantomLesionIsWhereItSaysAndBright() {
        for (bool threeD : {false, true}) {
            Phantom p = threeD ? makePhantom3D(48, 7) : makePhantom2D(96, 7);
            QVERIFY(p.image.synthetic);
            QVERIFY(p.image.geometry().sameGridAs(p.lesionMask.geometry()));
            const auto c = p.lesionCenter;
            const auto x = int64_t(std::lround(c[0])), y = int64_t(std::lround(c[1])),
                       z = int64_t(std::lround(c[2]));
            QCOMPARE(p.lesionMask.at(x, y, z), 1.0f);
            double inside = 0, outside = 0;
            int64_t nIn = 0, nOut = 0;
            for (size_t i = 0; i < p.image.voxels().size(); ++i) {
                if (p.lesionMask.voxels()[i] > 0) {
                    inside += p.image.voxels()[i];
                    ++nIn;
                } else if (p.image.voxels()[i] > -500 && p.image.voxels()[i] < 300) {
                    outside += p.image.voxels()[i];
                    ++nOut;
                }
            }
            QVERIFY(nIn > 10);
            QVERIFY(inside / nIn > outside / nOut + 60);  // lesion 100..220 vs tissue ~40 and air
            // Same seed, same phantom.
            Phantom again = threeD ? makePhantom3D(48, 7) : makePhantom2D(96, 7);
            QVERIFY(again.image.voxels() == p.image.voxels());
        }
    }

    void npzReaderReadsAnArchiveWrittenIndependently() {
        QTemporaryDir dir;
        QByteArray u8(6, 0);
        for (int i = 0; i < 6; ++i) u8[i] = char(10 * i);
        QByteArray f4(3 * 4, 0);
        const float floats[3] = {1.5f, -2.25f, 1e6f};
        std::memcpy(f4.data(), floats, sizeof floats);
        QByteArray i2be;  // big-endian int16: -2, 300
        for (int16_t v : {int16_t(-2), int16_t(300)}) {
            i2be.append(char((uint16_t(v) >> 8) & 0xFF));
            i2be.append(char(uint16_t(v) & 0xFF));
        }
        const QString path = dir.filePath("a.npz");
        test::writeAll(path, storedZip({{"bytes.npy", npy("|u1", "(2, 3)", u8)},
                                        {"floats.npy", npy("<f4", "(3,)", f4)},
                                        {"shorts.npy", npy(">i2", "(2,)", i2be)}}));
        NpzArchive archive(path.toStdString());
        QCOMPARE(archive.names(), (std::vector<std::string>{"bytes", "floats", "shorts"}));
        NpyArray bytes = archive.readArray("bytes");
        QCOMPARE(bytes.header.shape, (std::vector<int64_t>{2, 3}));
        QCOMPARE(bytes.valueAt(5), 50.0);
        QCOMPARE(archive.readHeader("floats").dtypeName(), std::string("float32"));
        NpyArray fl = archive.readArray("floats");
        QCOMPARE(fl.valueAt(1), -2.25);
        QCOMPARE(fl.valueAt(2), 1e6);
        NpyArray sh = archive.readArray("shorts");
        QCOMPARE(sh.valueAt(0), -2.0);
        QCOMPARE(sh.valueAt(1), 300.0);
        QVERIFY_THROWS_EXCEPTION(FileError, archive.readArray("missing"));
    }

    // What writeNpzUint8 writes reads back here and in Python's zipfile (an
    // independent zip reader): names, CRCs, and the .npy bytes.
    void npzWrittenHereReadsBackHereAndInPython() {
        QTemporaryDir dir;
        const QString path = dir.filePath("written.npz");
        std::vector<uint8_t> values(6);
        for (int i = 0; i < 6; ++i) values[size_t(i)] = uint8_t(40 * i + 1);
        writeNpzUint8(path.toStdString(), {{"images", {2, 3}, values}, {"labels", {1}, {7}}});
        NpzArchive archive(path.toStdString());
        QCOMPARE(archive.names(), (std::vector<std::string>{"images", "labels"}));
        const NpyArray images = archive.readArray("images");
        QCOMPARE(images.header.shape, (std::vector<int64_t>{2, 3}));
        QCOMPARE(images.data, values);
        QCOMPARE(archive.readArray("labels").valueAt(0), 7.0);
        if (QStandardPaths::findExecutable("python3").isEmpty()) QSKIP("python3 is missing");
        const std::string script =
            "import ast, sys, zipfile\n"
            "z = zipfile.ZipFile(sys.argv[1])\n"
            "assert z.testzip() is None, 'CRC'\n"
            "assert z.namelist() == ['images.npy', 'labels.npy'], z.namelist()\n"
            "assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())\n"
            "data = z.read('images.npy')\n"
            "assert data.startswith(b'\\x93NUMPY\\x01\\x00')\n"
            "length = int.from_bytes(data[8:10], 'little')\n"
            "header = ast.literal_eval(data[10:10 + length].decode('latin1'))\n"
            "assert header == {'descr': '|u1', 'fortran_order': False, 'shape': (2, 3)}, header\n"
            "assert list(data[-6:]) == [1, 41, 81, 121, 161, 201], list(data[-6:])\n"
            "print('ok')\n";
        const QString scriptPath = dir.filePath("check.py");
        test::writeAll(scriptPath, QByteArray::fromStdString(script));
        const std::string command =
            "python3 '" + scriptPath.toStdString() + "' '" + path.toStdString() + "' 2>&1";
        FILE* pipe = popen(command.c_str(), "r");
        QVERIFY(pipe);
        char buffer[512] = {};
        const size_t n = fread(buffer, 1, sizeof buffer - 1, pipe);
        const int status = pclose(pipe);
        QVERIFY2(status == 0 && std::string(buffer, n) == "ok\n", buffer);
    }

    void damagedNpzArchivesAreRefused() {
        QTemporaryDir dir;
        const QString path = dir.filePath("good.npz");
        QByteArray data(1000, 7);
        test::writeAll(path, storedZip({{"x.npy", npy("|u1", "(1000,)", data)}}));
        // Payload bit flips fail the CRC; cuts lose the directory.
        const QString corrupted = test::corruptedCopy(path, dir.path(), 0.5, 8);
        QVERIFY_THROWS_EXCEPTION(FileError, NpzArchive(corrupted.toStdString()).readArray("x"));
        for (double fraction : {0.0, 0.1, 0.5, 0.97}) {
            const QString cut = test::truncatedCopy(path, dir.path(), fraction);
            QVERIFY_THROWS_EXCEPTION(FileError, NpzArchive(cut.toStdString()).readArray("x"));
        }
        // A header that promises more data than the member holds.
        const QString lying = dir.filePath("lying.npz");
        test::writeAll(lying, storedZip({{"x.npy", npy("|u1", "(2000,)", data)}}));
        QVERIFY_THROWS_EXCEPTION(FileError, NpzArchive(lying.toStdString()).readArray("x"));
        const QString text = dir.filePath("text.npz");
        test::writeAll(text, "this is not a zip archive at all");
        try {
            NpzArchive archive(text.toStdString());
            QFAIL("a text file was accepted as .npz");
        } catch (const FileError& e) {
            QVERIFY(QString(e.what()).contains("text.npz"));  // names the file
        }
    }
};

QTEST_APPLESS_MAIN(TestCore)
#include "test_core.moc"
