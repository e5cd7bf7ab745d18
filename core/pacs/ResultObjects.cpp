#include "core/pacs/ResultObjects.h"

#include "core/Error.h"
#include "core/pacs/DcmtkSupport.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;

namespace rllm {

const char* const kNotForDiagnosticUse = "not for diagnostic use";

namespace {

// Patient, general study, patient study and frame of reference: what makes
// the result part of the same study and lets viewers link its geometry.
const DcmTagKey kCopiedFromSource[] = {
    DCM_SpecificCharacterSet,
    DCM_PatientName,
    DCM_PatientID,
    DCM_PatientBirthDate,
    DCM_PatientSex,
    DCM_PatientAge,
    DCM_StudyInstanceUID,
    DCM_StudyDate,
    DCM_StudyTime,
    DCM_ReferringPhysicianName,
    DCM_StudyID,
    DCM_AccessionNumber,
    DCM_StudyDescription,
    DCM_FrameOfReferenceUID,
    DCM_PositionReferenceIndicator,
    DCM_Laterality,  // of a paired body part: the result is of the same side
};

std::unique_ptr<DcmFileFormat> readSource(const std::string& path) {
    initDcmtk();
    auto file = std::make_unique<DcmFileFormat>();
    if (file->loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 4096).bad())
        throw FileError(path, "is not a DICOM file we can read.",
                        "Results go back to the PACS only for images opened from DICOM.");
    OFString study;
    if (file->getDataset()->findAndGetOFString(DCM_StudyInstanceUID, study).bad() || study.empty())
        throw FileError(path,
                        "has no Study Instance UID: the results would have no study to join.");
    return file;
}

std::string newUid(const char* root) {
    char buffer[100];
    return dcmGenerateUniqueIdentifier(buffer, root);
}

// A decimal string (DS) as precise as its 16 characters allow.
std::string decimal(double value) {
    if (std::abs(value) < 1e-9) value = 0;
    char buffer[40];
    for (int digits = 12; digits > 1; --digits) {
        std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
        if (std::strlen(buffer) <= 16) break;
    }
    return buffer;
}

std::string joined(std::initializer_list<double> values) {
    std::string text;
    for (double v : values) text += (text.empty() ? "" : "\\") + decimal(v);
    return text;
}

// The patient direction (PS3.3 C.7.6.1.1.1) a unit vector in LPS points to:
// its letters by falling weight, each axis that contributes noticeably.
std::string patientDirection(double x, double y, double z) {
    std::vector<std::pair<double, char>> parts{{std::abs(x), x > 0 ? 'L' : 'R'},
                                               {std::abs(y), y > 0 ? 'P' : 'A'},
                                               {std::abs(z), z > 0 ? 'H' : 'F'}};
    std::sort(parts.begin(), parts.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    std::string letters;
    for (const auto& [weight, letter] : parts)
        if (weight > 0.2 || letters.empty()) letters += letter;
    return letters;
}

void check(const OFCondition& status, const std::string& what) {
    if (status.bad()) throw Error("could not write " + what + ": " + status.text());
}

// A new object of the source's patient and study, in series `seriesUid`.
void startObject(DcmDataset& out, DcmDataset& source, const char* sopClass,
                 const std::string& seriesUid, const ResultSeriesInfo& info, const char* modality,
                 int instanceNumber) {
    for (const DcmTagKey& tag : kCopiedFromSource) {
        DcmElement* element = nullptr;
        if (source.findAndGetElement(tag, element).good() && element)
            out.insert(dynamic_cast<DcmElement*>(element->clone()), OFTrue);
    }
    const std::string sop = newUid(SITE_INSTANCE_UID_ROOT);
    char date[16], time[16];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y%m%d", std::localtime(&now));
    std::strftime(time, sizeof time, "%H%M%S", std::localtime(&now));
    // Series Description holds 64 characters: the name is shortened, never the disclaimer.
    std::string description = info.description;
    if (description.find(kNotForDiagnosticUse) == std::string::npos) {
        const std::string suffix =
            std::string(description.empty() ? "" : " - ") + kNotForDiagnosticUse;
        description = description.substr(0, 64 - suffix.size()) + suffix;
    }
    if (description.size() > 64) description = description.substr(0, 64);
    check(out.putAndInsertString(DCM_SOPClassUID, sopClass), "SOP class");
    check(out.putAndInsertString(DCM_SOPInstanceUID, sop.c_str()), "SOP instance UID");
    check(out.putAndInsertString(DCM_SeriesInstanceUID, seriesUid.c_str()), "series UID");
    out.putAndInsertString(DCM_Modality, modality);
    out.putAndInsertString(DCM_SeriesNumber, std::to_string(info.seriesNumber).c_str());
    out.putAndInsertString(DCM_InstanceNumber, std::to_string(instanceNumber).c_str());
    out.putAndInsertString(DCM_SeriesDescription, description.c_str());
    out.putAndInsertString(DCM_Manufacturer, "R-LLM Viewer");
    out.putAndInsertString(DCM_ContentDate, date);
    out.putAndInsertString(DCM_ContentTime, time);
    out.putAndInsertString(DCM_InstanceCreationDate, date);
    out.putAndInsertString(DCM_InstanceCreationTime, time);
    // Type 2 modules of the SC and encapsulated document IODs.
    for (const DcmTagKey& tag :
         {DCM_PatientName, DCM_PatientID, DCM_PatientBirthDate, DCM_PatientSex, DCM_StudyDate,
          DCM_StudyTime, DCM_ReferringPhysicianName, DCM_StudyID, DCM_AccessionNumber})
        if (!out.tagExists(tag)) out.putAndInsertString(tag, "");
}

void save(DcmFileFormat& file, const std::string& path) {
    std::string error;
    if (!saveDatasetAtomically(*file.getDataset(), path, &error))
        throw FileError(path, "could not be written: " + error);
}

}  // namespace

std::string dicomSourceFileOf(const Volume& volume) {
    const std::string& path = volume.sourcePath;
    if (volume.formatName.rfind("DICOM", 0) != 0 || path.empty())
        throw FileError(
            path.empty() ? std::string("the image") : path,
            "was not read from DICOM: results go back to a PACS only for DICOM images.");
    if (!fs::is_directory(path)) return path;
    initDcmtk();
    const auto wanted = volume.metadata.find("SeriesInstanceUID");
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(path))
        if (entry.is_regular_file()) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
        DcmFileFormat header;
        if (header.loadFile(file.string().c_str(), EXS_Unknown, EGL_noChange, 256).bad()) continue;
        OFString series;
        header.getDataset()->findAndGetOFString(DCM_SeriesInstanceUID, series);
        if (wanted == volume.metadata.end() || dicomTrim(series.c_str()) == wanted->second)
            return file.string();
    }
    throw FileError(path, "holds no file of the series that was read.");
}

std::vector<std::string> writeSecondaryCaptureSeries(const ResultSeriesInfo& info,
                                                     const Volume& rgb, const std::string& folder) {
    if (rgb.components() != 3 || rgb.empty())
        throw Error("a Secondary Capture series needs an RGB volume");
    auto source = readSource(info.sourceFile);
    fs::create_directories(folder);
    const ImageGeometry& g = rgb.geometry();
    const auto& d = g.direction;
    const std::string seriesUid = newUid(SITE_SERIES_UID_ROOT);
    const int64_t width = g.size[0], height = g.size[1];
    if (width > 65535 || height > 65535) throw Error("the image is too large for DICOM");
    std::vector<std::string> files;
    for (int64_t z = 0; z < g.size[2]; ++z) {
        DcmFileFormat file;
        DcmDataset& out = *file.getDataset();
        startObject(out, *source->getDataset(), UID_SecondaryCaptureImageStorage, seriesUid, info,
                    "OT", static_cast<int>(z + 1));
        out.putAndInsertString(DCM_ConversionType, "WSD");
        out.putAndInsertString(DCM_ImageType, "DERIVED\\SECONDARY");
        out.putAndInsertString(DCM_BurnedInAnnotation, "YES");
        out.putAndInsertString(DCM_DerivationDescription,
                               "class activation map blended over the windowed source image");
        // Where this slice lies: the source's geometry, so viewers can link the series.
        const auto position = g.indexToPhysical({0, 0, static_cast<double>(z)});
        out.putAndInsertString(DCM_ImagePositionPatient,
                               joined({position[0], position[1], position[2]}).c_str());
        out.putAndInsertString(DCM_ImageOrientationPatient,
                               joined({d[0], d[3], d[6], d[1], d[4], d[7]}).c_str());
        out.putAndInsertString(DCM_PixelSpacing, joined({g.spacing[1], g.spacing[0]}).c_str());
        // The SC IOD's own orientation attribute: where rows and columns point.
        out.putAndInsertString(DCM_PatientOrientation, (patientDirection(d[0], d[3], d[6]) + "\\" +
                                                        patientDirection(d[1], d[4], d[7]))
                                                           .c_str());
        out.putAndInsertString(DCM_SliceThickness, decimal(g.spacing[2]).c_str());
        if (!out.tagExists(DCM_FrameOfReferenceUID))
            out.putAndInsertString(DCM_FrameOfReferenceUID, newUid(SITE_INSTANCE_UID_ROOT).c_str());
        out.putAndInsertUint16(DCM_SamplesPerPixel, 3);
        out.putAndInsertString(DCM_PhotometricInterpretation, "RGB");
        out.putAndInsertUint16(DCM_PlanarConfiguration, 0);
        out.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(height));
        out.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(width));
        out.putAndInsertUint16(DCM_BitsAllocated, 8);
        out.putAndInsertUint16(DCM_BitsStored, 8);
        out.putAndInsertUint16(DCM_HighBit, 7);
        out.putAndInsertUint16(DCM_PixelRepresentation, 0);
        std::vector<Uint8> pixels(static_cast<size_t>(width * height * 3));
        const float* slice = rgb.voxels().data() + z * width * height * 3;
        for (size_t i = 0; i < pixels.size(); ++i)
            pixels[i] = static_cast<Uint8>(std::lround(std::clamp(slice[i], 0.0f, 255.0f)));
        check(out.putAndInsertUint8Array(DCM_PixelData, pixels.data(), pixels.size()),
              "pixel data");
        char name[32];
        std::snprintf(name, sizeof name, "cam-%04lld.dcm", static_cast<long long>(z + 1));
        const std::string path = (fs::path(folder) / name).string();
        out.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
        out.updateOriginalXfer();
        save(file, path);
        files.push_back(path);
    }
    return files;
}

namespace {

void putCode(DcmItem& item, const DcmTagKey& sequence, const char* value, const char* scheme,
             const char* meaning) {
    DcmItem* code = nullptr;
    item.findOrCreateSequenceItem(sequence, code, 0);
    code->putAndInsertString(DCM_CodeValue, value);
    code->putAndInsertString(DCM_CodingSchemeDesignator, scheme);
    code->putAndInsertString(DCM_CodeMeaning, meaning);
}

}  // namespace

void writeParametricMap(const ResultSeriesInfo& info, const Volume& cam,
                        const std::string& outFile) {
    if (cam.components() != 1 || cam.empty())
        throw Error("a Parametric Map needs a one-component map");
    auto source = readSource(info.sourceFile);
    const ImageGeometry& g = cam.geometry();
    const auto& d = g.direction;
    if (g.size[0] > 65535 || g.size[1] > 65535) throw Error("the map is too large for DICOM");
    DcmFileFormat file;
    DcmDataset& out = *file.getDataset();
    startObject(out, *source->getDataset(), UID_ParametricMapStorage, newUid(SITE_SERIES_UID_ROOT),
                info, "OT", 1);
    if (!out.tagExists(DCM_FrameOfReferenceUID))
        out.putAndInsertString(DCM_FrameOfReferenceUID, newUid(SITE_INSTANCE_UID_ROOT).c_str());
    if (!out.tagExists(DCM_PositionReferenceIndicator))
        out.putAndInsertString(DCM_PositionReferenceIndicator, "");  // type 2
    // Enhanced General Equipment (all type 1).
    out.putAndInsertString(DCM_ManufacturerModelName, "R-LLM Viewer");
    out.putAndInsertString(DCM_DeviceSerialNumber, "0");
    out.putAndInsertString(DCM_SoftwareVersions, "0.1.0");
    // Parametric Map Image.
    out.putAndInsertString(DCM_ImageType, "DERIVED\\PRIMARY\\VOLUME\\NONE");
    out.putAndInsertString(DCM_ContentQualification, "RESEARCH");
    out.putAndInsertString(DCM_ContentLabel, "RLLM_CAM");
    out.putAndInsertString(DCM_ContentDescription, "class activation map, 0..1");
    out.putAndInsertString(DCM_ContentCreatorName, "RLLM^Viewer");
    out.insertEmptyElement(DCM_AcquisitionContextSequence);
    out.putAndInsertUint16(DCM_SamplesPerPixel, 1);
    out.putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
    out.putAndInsertUint16(DCM_BitsAllocated, 32);
    out.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(g.size[1]));
    out.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(g.size[0]));
    out.putAndInsertString(DCM_NumberOfFrames, std::to_string(g.size[2]).c_str());
    out.putAndInsertString(DCM_PresentationLUTShape, "IDENTITY");
    out.putAndInsertString(DCM_LossyImageCompression, "00");
    out.putAndInsertString(DCM_BurnedInAnnotation, "NO");
    out.putAndInsertString(DCM_RecognizableVisualFeatures, "NO");
    // One dimension: the frames' positions along the slice normal.
    const std::string organization = newUid(SITE_INSTANCE_UID_ROOT);
    DcmItem* item = nullptr;
    out.findOrCreateSequenceItem(DCM_DimensionOrganizationSequence, item, 0);
    item->putAndInsertString(DCM_DimensionOrganizationUID, organization.c_str());
    out.findOrCreateSequenceItem(DCM_DimensionIndexSequence, item, 0);
    item->putAndInsertString(DCM_DimensionOrganizationUID, organization.c_str());
    item->putAndInsertTagKey(DCM_DimensionIndexPointer, DCM_ImagePositionPatient);
    item->putAndInsertTagKey(DCM_FunctionalGroupPointer, DCM_PlanePositionSequence);
    // What every frame shares.
    DcmItem* shared = nullptr;
    out.findOrCreateSequenceItem(DCM_SharedFunctionalGroupsSequence, shared, 0);
    shared->findOrCreateSequenceItem(DCM_PixelMeasuresSequence, item, 0);
    item->putAndInsertString(DCM_PixelSpacing, joined({g.spacing[1], g.spacing[0]}).c_str());
    item->putAndInsertString(DCM_SliceThickness, decimal(g.spacing[2]).c_str());
    shared->findOrCreateSequenceItem(DCM_PlaneOrientationSequence, item, 0);
    item->putAndInsertString(DCM_ImageOrientationPatient,
                             joined({d[0], d[3], d[6], d[1], d[4], d[7]}).c_str());
    shared->findOrCreateSequenceItem(DCM_RealWorldValueMappingSequence, item, 0);
    item->putAndInsertString(DCM_LUTExplanation, "CAM value (0: no evidence, 1: the most)");
    item->putAndInsertString(DCM_LUTLabel, "RLLM_CAM");
    item->putAndInsertFloat64(DCM_DoubleFloatRealWorldValueFirstValueMapped, 0.0);
    item->putAndInsertFloat64(DCM_DoubleFloatRealWorldValueLastValueMapped, 1.0);
    item->putAndInsertString(DCM_RealWorldValueIntercept, "0");
    item->putAndInsertString(DCM_RealWorldValueSlope, "1");
    putCode(*item, DCM_MeasurementUnitsCodeSequence, "1", "UCUM", "no units");
    shared->findOrCreateSequenceItem(DCM_FrameAnatomySequence, item, 0);
    item->putAndInsertString(DCM_FrameLaterality, "U");
    putCode(*item, DCM_AnatomicRegionSequence, "38866009", "SCT", "Body part");
    shared->findOrCreateSequenceItem(DCM_ParametricMapFrameTypeSequence, item, 0);
    item->putAndInsertString(DCM_FrameType, "DERIVED\\PRIMARY\\VOLUME\\NONE");
    shared->findOrCreateSequenceItem(DCM_PixelValueTransformationSequence, item, 0);
    item->putAndInsertString(DCM_RescaleIntercept, "0");
    item->putAndInsertString(DCM_RescaleSlope, "1");
    item->putAndInsertString(DCM_RescaleType, "US");
    // Per frame: where it lies and its index.
    for (int64_t z = 0; z < g.size[2]; ++z) {
        DcmItem* frame = nullptr;
        out.findOrCreateSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frame,
                                     static_cast<signed long>(z));
        frame->findOrCreateSequenceItem(DCM_PlanePositionSequence, item, 0);
        const auto position = g.indexToPhysical({0, 0, static_cast<double>(z)});
        item->putAndInsertString(DCM_ImagePositionPatient,
                                 joined({position[0], position[1], position[2]}).c_str());
        frame->findOrCreateSequenceItem(DCM_FrameContentSequence, item, 0);
        item->putAndInsertUint32(DCM_DimensionIndexValues, static_cast<Uint32>(z + 1));
    }
    check(out.putAndInsertFloat32Array(DCM_FloatPixelData, cam.voxels().data(),
                                       static_cast<unsigned long>(cam.voxels().size())),
          "float pixel data");
    out.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    out.updateOriginalXfer();
    save(file, outFile);
}

void writeEncapsulatedPdf(const ResultSeriesInfo& info, const std::string& pdfPath,
                          const std::string& documentTitle, const std::string& outFile) {
    auto source = readSource(info.sourceFile);
    std::ifstream in(pdfPath, std::ios::binary);
    std::vector<char> pdf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw FileError(pdfPath, "could not be read.");
    if (pdf.size() < 5 || std::string(pdf.data(), 5) != "%PDF-")
        throw FileError(pdfPath, "is not a PDF file.");
    if (pdf.size() % 2) pdf.push_back('\0');  // OB values have even length
    DcmFileFormat file;
    DcmDataset& out = *file.getDataset();
    startObject(out, *source->getDataset(), UID_EncapsulatedPDFStorage,
                newUid(SITE_SERIES_UID_ROOT), info, "DOC", 1);
    out.putAndInsertString(DCM_ConversionType, "WSD");
    out.putAndInsertString(DCM_BurnedInAnnotation, "YES");
    out.putAndInsertString(DCM_DocumentTitle, documentTitle.c_str());
    out.putAndInsertString(DCM_MIMETypeOfEncapsulatedDocument, "application/pdf");
    out.putAndInsertString(DCM_AcquisitionDateTime, "");
    out.insertEmptyElement(DCM_ConceptNameCodeSequence);
    check(out.putAndInsertUint8Array(DCM_EncapsulatedDocument,
                                     reinterpret_cast<const Uint8*>(pdf.data()), pdf.size()),
          "the encapsulated document");
    out.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    out.updateOriginalXfer();
    save(file, outFile);
}

}  // namespace rllm
