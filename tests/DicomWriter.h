#pragma once
// Writes CT slices with DCMTK for tests: known geometry, pixel values that
// encode the slice and the column, so tests can check sorting and layout.

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include "CsaWriter.h"

#include <QString>
#include <QtTest>

#include <algorithm>
#include <array>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <vector>

namespace rllm::test {

struct SliceSpec {
    std::array<double, 3> position;
    int rows = 8, columns = 6;
    std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};
    std::string series = "1.2.826.0.1.3680043.9.7777.1";
    std::string photometric = "MONOCHROME2";
};

inline std::string numbers(std::initializer_list<double> values) {
    std::string text;
    for (double v : values) {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.6f", v);
        text += (text.empty() ? "" : "\\") + std::string(buffer);
    }
    return text;
}

// Writes one CT slice whose every pixel equals `value` + column (to check row/column order).
inline void writeSlice(const QString& path, const SliceSpec& s, int value) {
    DcmFileFormat file;
    DcmDataset* ds = file.getDataset();
    char uid[100];
    ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
    ds->putAndInsertString(DCM_SOPInstanceUID,
                           dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
    ds->putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.9.7777");
    ds->putAndInsertString(DCM_SeriesInstanceUID, s.series.c_str());
    ds->putAndInsertString(DCM_Modality, "CT");
    ds->putAndInsertString(DCM_PatientName, "Test^Series");
    ds->putAndInsertString(DCM_SeriesDescription, "written by test_dicom");
    ds->putAndInsertString(DCM_ImagePositionPatient,
                           numbers({s.position[0], s.position[1], s.position[2]}).c_str());
    const auto& o = s.orientation;
    ds->putAndInsertString(DCM_ImageOrientationPatient,
                           numbers({o[0], o[1], o[2], o[3], o[4], o[5]}).c_str());
    ds->putAndInsertString(DCM_PixelSpacing, "0.750000\\0.500000");  // rows 0.75, columns 0.5
    ds->putAndInsertString(DCM_SliceThickness, "2.5");
    ds->putAndInsertUint16(DCM_Rows, Uint16(s.rows));
    ds->putAndInsertUint16(DCM_Columns, Uint16(s.columns));
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    ds->putAndInsertString(DCM_PhotometricInterpretation, s.photometric.c_str());
    ds->putAndInsertUint16(DCM_BitsAllocated, 16);
    ds->putAndInsertUint16(DCM_BitsStored, 12);
    ds->putAndInsertUint16(DCM_HighBit, 11);
    ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
    ds->putAndInsertString(DCM_RescaleSlope, "2");
    ds->putAndInsertString(DCM_RescaleIntercept, "-1024");
    ds->putAndInsertString(DCM_WindowCenter, "40");
    ds->putAndInsertString(DCM_WindowWidth, "400");
    std::vector<Uint16> pixels(size_t(s.rows) * s.columns);
    for (int r = 0; r < s.rows; ++r)
        for (int c = 0; c < s.columns; ++c) pixels[size_t(r) * s.columns + c] = Uint16(value + c);
    ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(),
                                static_cast<unsigned long>(pixels.size()));
    QVERIFY(file.saveFile(path.toStdString().c_str(), EXS_LittleEndianExplicit).good());
}

// The header every enhanced MR test file shares: `frames` frames of 3 x 2
// unsigned 16-bit pixels, and in the shared functional groups an axial
// orientation and 0.5 mm pixels 3 mm thick. Returns the shared functional
// group item (for more shared groups), or null if DCMTK could not make it.
inline DcmItem* putEnhancedMrHeader(DcmDataset* ds, const char* seriesUid, int frames) {
    char uid[100];
    ds->putAndInsertString(DCM_SOPClassUID, UID_EnhancedMRImageStorage);
    ds->putAndInsertString(DCM_SOPInstanceUID,
                           dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
    ds->putAndInsertString(DCM_SeriesInstanceUID, seriesUid);
    ds->putAndInsertString(DCM_Modality, "MR");
    ds->putAndInsertString(DCM_NumberOfFrames, std::to_string(frames).c_str());
    ds->putAndInsertUint16(DCM_Rows, 2);
    ds->putAndInsertUint16(DCM_Columns, 3);
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    ds->putAndInsertUint16(DCM_BitsAllocated, 16);
    ds->putAndInsertUint16(DCM_BitsStored, 16);
    ds->putAndInsertUint16(DCM_HighBit, 15);
    ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
    DcmItem* shared = nullptr;
    DcmItem* group = nullptr;
    if (!ds->findOrCreateSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0).good())
        return nullptr;
    shared->findOrCreateSequenceItem(DCM_PlaneOrientationSequence, group, 0);
    group->putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
    shared->findOrCreateSequenceItem(DCM_PixelMeasuresSequence, group, 0);
    group->putAndInsertString(DCM_PixelSpacing, "0.5\\0.5");
    group->putAndInsertString(DCM_SliceThickness, "3");
    return shared;
}

// An enhanced MR file holding 4D data: two volumes of three 3 x 2 slices (3 mm
// apart), told apart per frame by `field` ("temporal position": Frame
// Content's TemporalPositionIndex; else MR Diffusion's b-value 0 / 1000),
// frames interleaved (slice by slice) or volume after volume. Pixel values:
// 100 * volume (from 1) + 10 * slice + the pixel's index in the slice.
inline void writeEnhanced4D(const QString& path, const std::string& field, bool interleaved) {
    DcmFileFormat file;
    DcmDataset* ds = file.getDataset();
    DcmItem* shared = putEnhancedMrHeader(ds, "1.2.826.0.1.3680043.9.7777.10", 6);
    QVERIFY(shared);
    DcmItem* group = nullptr;
    // The echo time is the same in every frame: it must not split anything.
    shared->findOrCreateSequenceItem(DCM_MREchoSequence, group, 0);
    group->putAndInsertString(DCM_EffectiveEchoTime, "4.6");
    std::vector<Uint16> pixels;
    for (int frame = 0; frame < 6; ++frame) {
        const int volume = interleaved ? frame % 2 : frame / 3;
        const int slice = interleaved ? frame / 2 : frame % 3;
        DcmItem* perFrame = nullptr;
        QVERIFY(ds->findOrCreateSequenceItem(DCM_PerFrameFunctionalGroupsSequence, perFrame, frame)
                    .good());
        perFrame->findOrCreateSequenceItem(DCM_PlanePositionSequence, group, 0);
        group->putAndInsertString(DCM_ImagePositionPatient,
                                  QString("0\\0\\%1").arg(3 * slice).toLatin1().constData());
        if (field == "temporal position") {
            perFrame->findOrCreateSequenceItem(DCM_FrameContentSequence, group, 0);
            group->putAndInsertUint32(DCM_TemporalPositionIndex, Uint32(volume + 1));
        } else {
            perFrame->findOrCreateSequenceItem(DCM_MRDiffusionSequence, group, 0);
            group->putAndInsertString(DCM_DiffusionBValue, volume ? "1000" : "0");
        }
        for (int i = 0; i < 6; ++i) pixels.push_back(Uint16(100 * (volume + 1) + 10 * slice + i));
    }
    ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(), 36);
    QVERIFY(file.saveFile(path.toStdString().c_str(), EXS_LittleEndianExplicit).good());
}

struct MosaicSpec {
    int tileColumns = 6, tileRows = 4, slices = 3;
    int tilesPerSide = 2;  // the mosaic is tilesPerSide tiles a side
    std::array<double, 6> orientation{1, 0, 0, 0, 1, 0};
    std::array<double, 3> position{0, 0, 0};  // ImagePositionPatient: the mosaic's corner
    std::array<double, 3> normal{0, 0, 1};
    bool withCsa = true, withNormal = true;
    bool cutCsaShort = false;
};

// A Siemens MR MOSAIC: `slices` tiles of tileColumns x tileRows, row by row.
// Pixel values: 100 * (slice + 1) + 10 * row + column within the tile; the
// unused tiles are 0. Pixel spacing 0.75 (rows) x 0.5 (columns), slices 3 mm
// apart.
inline void writeMosaic(const QString& path, const MosaicSpec& m) {
    DcmFileFormat file;
    DcmDataset* ds = file.getDataset();
    char uid[100];
    ds->putAndInsertString(DCM_SOPClassUID, UID_MRImageStorage);
    ds->putAndInsertString(DCM_SOPInstanceUID,
                           dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
    ds->putAndInsertString(DCM_StudyInstanceUID, "1.2.826.0.1.3680043.9.7777.20");
    ds->putAndInsertString(DCM_SeriesInstanceUID, "1.2.826.0.1.3680043.9.7777.21");
    ds->putAndInsertString(DCM_Modality, "MR");
    ds->putAndInsertString(DCM_Manufacturer, "SIEMENS");
    ds->putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\M\\ND\\MOSAIC");
    ds->putAndInsertString(DCM_InstanceNumber, "1");
    ds->putAndInsertString(DCM_AcquisitionNumber, "1");
    const auto& o = m.orientation;
    ds->putAndInsertString(DCM_ImageOrientationPatient,
                           numbers({o[0], o[1], o[2], o[3], o[4], o[5]}).c_str());
    ds->putAndInsertString(DCM_ImagePositionPatient,
                           numbers({m.position[0], m.position[1], m.position[2]}).c_str());
    ds->putAndInsertString(DCM_PixelSpacing, "0.75\\0.5");
    ds->putAndInsertString(DCM_SliceThickness, "2.5");
    ds->putAndInsertString(DCM_SpacingBetweenSlices, "3");
    const int columns = m.tileColumns * m.tilesPerSide, rows = m.tileRows * m.tilesPerSide;
    ds->putAndInsertUint16(DCM_Rows, Uint16(rows));
    ds->putAndInsertUint16(DCM_Columns, Uint16(columns));
    ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
    ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    ds->putAndInsertUint16(DCM_BitsAllocated, 16);
    ds->putAndInsertUint16(DCM_BitsStored, 12);
    ds->putAndInsertUint16(DCM_HighBit, 11);
    ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
    // Siemens' private groups: the slice count in the MR header, and the CSA
    // image header with the count and the slice normal.
    ds->putAndInsertString(DcmTag(0x0019, 0x0010, EVR_LO), "SIEMENS MR HEADER");
    ds->putAndInsertUint16(DcmTag(0x0019, 0x100A, EVR_US), Uint16(m.slices));
    if (m.withCsa) {
        CsaElements elements = {{"NumberOfImagesInMosaic", {std::to_string(m.slices)}}};
        if (m.withNormal) {
            std::vector<std::string> normal;
            for (double v : m.normal) normal.push_back(numbers({v}));
            elements.push_back({"SliceNormalVector", normal});
        }
        std::vector<uint8_t> csa = csaHeader(elements);
        if (m.cutCsaShort) csa.resize(csa.size() - 12);
        ds->putAndInsertString(DcmTag(0x0029, 0x0010, EVR_LO), "SIEMENS CSA HEADER");
        ds->putAndInsertUint8Array(DcmTag(0x0029, 0x1010, EVR_OB), csa.data(),
                                   static_cast<unsigned long>(csa.size()));
    }
    std::vector<Uint16> pixels(size_t(rows) * columns, 0);
    // A count larger than the grid (a damaged header) leaves the extra slices out.
    for (int k = 0; k < std::min(m.slices, m.tilesPerSide * m.tilesPerSide); ++k)
        for (int y = 0; y < m.tileRows; ++y)
            for (int x = 0; x < m.tileColumns; ++x) {
                const int row = (k / m.tilesPerSide) * m.tileRows + y;
                const int column = (k % m.tilesPerSide) * m.tileColumns + x;
                pixels[size_t(row) * columns + column] = Uint16(100 * (k + 1) + 10 * y + x);
            }
    ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(),
                                static_cast<unsigned long>(pixels.size()));
    QVERIFY(file.saveFile(path.toStdString().c_str(), EXS_LittleEndianExplicit).good());
}

}  // namespace rllm::test
