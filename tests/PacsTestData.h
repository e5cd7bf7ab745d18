#pragma once
// DICOM studies written with DCMTK for the PACS tests and benchmark: a CT
// series with known patient, study and geometry, and pixel values that
// encode slice, row and column so a retrieved copy can be checked exactly.

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace rllm::test {

struct StudySpec {
    std::string patientName = "Pacs^Test";
    std::string patientId = "PACS001";
    std::string studyUid = "1.2.826.0.1.3680043.9.7778.1";
    std::string seriesUid = "1.2.826.0.1.3680043.9.7778.1.1";
    std::string studyDate = "20240115";
    std::string accession = "ACC001";
    std::string modality = "CT";
    std::string studyDescription = "PACS test study";
    std::string seriesDescription = "PACS test series";
    int rows = 16, columns = 12, slices = 5;
    double sliceSpacing = 2.5;
};

// The stored value of pixel (row, column) of slice `z` (before rescale).
inline Uint16 pacsTestPixel(int z, int row, int column) {
    return static_cast<Uint16>((z * 97 + row * 13 + column * 3) % 4000);
}

// Writes the series as <folder>/slice-NNNN.dcm; returns the files.
inline std::vector<std::string> writeStudy(const std::string& folder, const StudySpec& s) {
    std::filesystem::create_directories(folder);
    std::vector<std::string> files;
    std::vector<Uint16> pixels(static_cast<size_t>(s.rows) * s.columns);
    for (int z = 0; z < s.slices; ++z) {
        DcmFileFormat file;
        DcmDataset* ds = file.getDataset();
        char uid[100];
        ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
        ds->putAndInsertString(DCM_SOPInstanceUID,
                               dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
        ds->putAndInsertString(DCM_StudyInstanceUID, s.studyUid.c_str());
        ds->putAndInsertString(DCM_SeriesInstanceUID, s.seriesUid.c_str());
        ds->putAndInsertString(DCM_FrameOfReferenceUID, (s.studyUid + ".9").c_str());
        ds->putAndInsertString(DCM_PatientName, s.patientName.c_str());
        ds->putAndInsertString(DCM_PatientID, s.patientId.c_str());
        ds->putAndInsertString(DCM_PatientBirthDate, "19700101");
        ds->putAndInsertString(DCM_PatientSex, "O");
        ds->putAndInsertString(DCM_StudyDate, s.studyDate.c_str());
        ds->putAndInsertString(DCM_StudyTime, "101500");
        ds->putAndInsertString(DCM_AccessionNumber, s.accession.c_str());
        ds->putAndInsertString(DCM_StudyID, "1");
        ds->putAndInsertString(DCM_ReferringPhysicianName, "");
        ds->putAndInsertString(DCM_StudyDescription, s.studyDescription.c_str());
        ds->putAndInsertString(DCM_SeriesDescription, s.seriesDescription.c_str());
        ds->putAndInsertString(DCM_SeriesNumber, "2");
        ds->putAndInsertString(DCM_InstanceNumber, std::to_string(z + 1).c_str());
        ds->putAndInsertString(DCM_Modality, s.modality.c_str());
        char position[64];
        std::snprintf(position, sizeof position, "-10\\-20\\%g", 30.0 + z * s.sliceSpacing);
        ds->putAndInsertString(DCM_ImagePositionPatient, position);
        ds->putAndInsertString(DCM_ImageOrientationPatient, "1\\0\\0\\0\\1\\0");
        ds->putAndInsertString(DCM_PixelSpacing, "0.75\\0.5");
        ds->putAndInsertString(DCM_SliceThickness, std::to_string(s.sliceSpacing).c_str());
        ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(s.rows));
        ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(s.columns));
        ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
        ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
        ds->putAndInsertUint16(DCM_BitsAllocated, 16);
        ds->putAndInsertUint16(DCM_BitsStored, 12);
        ds->putAndInsertUint16(DCM_HighBit, 11);
        ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
        ds->putAndInsertString(DCM_RescaleSlope, "1");
        ds->putAndInsertString(DCM_RescaleIntercept, "-1024");
        ds->putAndInsertString(DCM_WindowCenter, "40");
        ds->putAndInsertString(DCM_WindowWidth, "400");
        for (int r = 0; r < s.rows; ++r)
            for (int c = 0; c < s.columns; ++c)
                pixels[static_cast<size_t>(r) * s.columns + c] = pacsTestPixel(z, r, c);
        ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(),
                                    static_cast<unsigned long>(pixels.size()));
        char name[32];
        std::snprintf(name, sizeof name, "slice-%04d.dcm", z + 1);
        const std::string path = (std::filesystem::path(folder) / name).string();
        if (file.saveFile(path.c_str(), EXS_LittleEndianExplicit).bad())
            throw std::runtime_error("could not write " + path);
        files.push_back(path);
    }
    return files;
}

// `count` studies of one 2 x 2 image each, patients MANY0, MANY1, ...:
// study i is <uidRoot>.<i + 1>, its series <uidRoot>.<i + 1>.1. Returns the files.
inline std::vector<std::string> writeManyStudies(const std::string& folder, int count,
                                                 const std::string& uidRoot) {
    std::vector<std::string> files;
    for (int i = 0; i < count; ++i) {
        StudySpec s;
        s.patientName = "Many^Patient" + std::to_string(i);
        s.patientId = "MANY" + std::to_string(i);
        s.studyUid = uidRoot + "." + std::to_string(i + 1);
        s.seriesUid = s.studyUid + ".1";
        s.rows = s.columns = 2;
        s.slices = 1;
        files.push_back(writeStudy(folder + "/" + std::to_string(i), s)[0]);
    }
    return files;
}

}  // namespace rllm::test
