#include "core/io/Dicom.h"

#include "core/Error.h"
#include "core/io/InputChecks.h"
#include "core/io/SiemensCsa.h"
#include "core/io/ItkIo.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmimage/diregist.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <numeric>

#include <stdlib.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace rllm {
namespace {

void registerCodecsOnce() {
    static std::once_flag once;
    std::call_once(once, [] {
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
        // DCMTK logs to stderr by default; the reader reports problems itself.
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    });
}

std::string getString(DcmItem& item, const DcmTagKey& tag) {
    OFString value;
    if (item.findAndGetOFStringArray(tag, value).good()) {
        std::string text = value.c_str();
        while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.pop_back();
        return text;
    }
    return {};
}

std::vector<double> getDoubles(DcmItem& item, const DcmTagKey& tag, bool searchSequences = false) {
    std::vector<double> values;
    Float64 value = 0;
    for (unsigned long i = 0; item.findAndGetFloat64(tag, value, i, searchSequences).good(); ++i)
        values.push_back(value);
    return values;
}

double getDouble(DcmItem& item, const DcmTagKey& tag, double fallback) {
    std::vector<double> values = getDoubles(item, tag);
    return values.empty() ? fallback : values.front();
}

long getLong(DcmItem& item, const DcmTagKey& tag, long fallback) {
    // Integer string (IS) and unsigned short (US) elements alike.
    Uint16 shortValue = 0;
    if (item.findAndGetUint16(tag, shortValue).good()) return shortValue;
    Sint32 intValue = 0;
    if (item.findAndGetSint32(tag, intValue).good()) return intValue;
    return fallback;
}

using Vec3 = std::array<double, 3>;
Vec3 cross(const Vec3& a, const Vec3& b) {
    return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double dot(const Vec3& a, const Vec3& b) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

// Orientation, spacing and position of one file's frames.
struct FrameGeometry {
    Vec3 row{1, 0, 0}, column{0, 1, 0}, normal{0, 0, 1};
    double rowSpacing = 1, columnSpacing = 1;  // along a row (x) and down a column (y)
    double sliceSpacing = 1;
    std::vector<Vec3> positions;  // per frame; empty when the file says nothing
    bool hasOrientation = false;
};

FrameGeometry readGeometry(DcmDataset& ds, long frames) {
    FrameGeometry g;
    // Enhanced multi-frame objects keep geometry in functional group sequences.
    std::vector<double> iop = getDoubles(ds, DCM_ImageOrientationPatient);
    if (iop.size() != 6) iop = getDoubles(ds, DCM_ImageOrientationPatient, true);
    if (iop.size() == 6) {
        g.row = {iop[0], iop[1], iop[2]};
        g.column = {iop[3], iop[4], iop[5]};
        g.normal = cross(g.row, g.column);
        g.hasOrientation = true;
    }
    std::vector<double> spacing = getDoubles(ds, DCM_PixelSpacing);
    if (spacing.size() != 2) spacing = getDoubles(ds, DCM_PixelSpacing, true);
    if (spacing.size() != 2) spacing = getDoubles(ds, DCM_ImagerPixelSpacing);
    if (spacing.size() == 2 && spacing[0] > 0 && spacing[1] > 0) {
        g.columnSpacing = spacing[0];  // PixelSpacing is (between rows, between columns)
        g.rowSpacing = spacing[1];
    }
    g.sliceSpacing = getDouble(ds, DCM_SpacingBetweenSlices, 0);
    if (g.sliceSpacing <= 0) {
        std::vector<double> thickness = getDoubles(ds, DCM_SliceThickness, frames > 1);
        g.sliceSpacing = !thickness.empty() && thickness[0] > 0 ? thickness[0] : 1.0;
    }

    std::vector<double> ipp = getDoubles(ds, DCM_ImagePositionPatient);
    DcmSequenceOfItems* perFrame = nullptr;
    if (frames > 1 &&
        ds.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, perFrame).good() && perFrame &&
        static_cast<long>(perFrame->card()) == frames) {
        for (unsigned long f = 0; f < perFrame->card(); ++f) {
            std::vector<double> p =
                getDoubles(*perFrame->getItem(f), DCM_ImagePositionPatient, true);
            if (p.size() != 3) {
                g.positions.clear();
                break;
            }
            g.positions.push_back({p[0], p[1], p[2]});
        }
    } else if (ipp.size() == 3) {
        Vec3 first{ipp[0], ipp[1], ipp[2]};
        // RT dose grids give frame offsets along the normal.
        std::vector<double> offsets = getDoubles(ds, DCM_GridFrameOffsetVector);
        if (frames > 1 && static_cast<long>(offsets.size()) == frames) {
            for (double o : offsets)
                g.positions.push_back({first[0] + o * g.normal[0], first[1] + o * g.normal[1],
                                       first[2] + o * g.normal[2]});
        } else {
            for (long f = 0; f < frames; ++f)
                g.positions.push_back({first[0] + f * g.sliceSpacing * g.normal[0],
                                       first[1] + f * g.sliceSpacing * g.normal[1],
                                       first[2] + f * g.sliceSpacing * g.normal[2]});
        }
    }
    return g;
}

void loadDicom(const std::string& path, DcmFileFormat& file) {
    registerCodecsOnce();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw FileError(path, "does not exist or is not a file.");
    OFCondition status = file.loadFile(path.c_str());
    if (status.bad())
        throw FileError(path, std::string("is not a readable DICOM file (") + status.text() + ").",
                        "It may be truncated or corrupt.");
}

// Decodes every frame of one file into `out` starting at slice `firstSlice`.
// Values become modality units (rescale applied); MONOCHROME1 is inverted
// so that bright always means a high value on screen.
struct PixelFormat {
    long rows = 0, columns = 0, samples = 1, frames = 1;
    long bitsAllocated = 0, bitsStored = 0, highBit = 0, pixelRepresentation = 0;
    std::string photometric;
};

bool isMosaic(DcmDataset& ds) {
    OFString imageType;
    return ds.findAndGetOFStringArray(DCM_ImageType, imageType).good() &&
           std::string(imageType.c_str()).find("MOSAIC") != std::string::npos;
}

PixelFormat readPixelFormat(DcmDataset& ds, const std::string& path) {
    PixelFormat f;
    f.rows = getLong(ds, DCM_Rows, 0);
    f.columns = getLong(ds, DCM_Columns, 0);
    f.samples = getLong(ds, DCM_SamplesPerPixel, 1);
    f.bitsAllocated = getLong(ds, DCM_BitsAllocated, 0);
    f.bitsStored = getLong(ds, DCM_BitsStored, f.bitsAllocated);
    f.highBit = getLong(ds, DCM_HighBit, f.bitsStored - 1);
    f.pixelRepresentation = getLong(ds, DCM_PixelRepresentation, 0);
    f.photometric = getString(ds, DCM_PhotometricInterpretation);
    std::string frames = getString(ds, DCM_NumberOfFrames);
    f.frames = frames.empty() ? 1 : std::atol(frames.c_str());
    if (!ds.tagExists(DCM_PixelData)) {
        std::string sop = getString(ds, DCM_SOPClassUID);
        const char* name = dcmFindNameOfUID(sop.c_str(), nullptr);
        throw FileError(
            path,
            std::string("holds no image (it is a ") + (name ? name : "non-image") + " object).",
            "Open an image file or series instead.");
    }
    if (f.rows <= 0 || f.columns <= 0 || f.frames <= 0 || f.frames > 100000)
        throw FileError(path, "has an invalid image size (rows " + std::to_string(f.rows) +
                                  ", columns " + std::to_string(f.columns) + ", frames " +
                                  std::to_string(f.frames) + ").");
    if (f.samples != 1 && f.samples != 3)
        throw FileError(path, std::to_string(f.samples) + " samples per pixel are not supported.");
    if (f.bitsAllocated != 8 && f.bitsAllocated != 16 && f.bitsAllocated != 32)
        throw FileError(path,
                        std::to_string(f.bitsAllocated) + " bits per sample are not supported.");
    if (f.bitsStored <= 0 || f.bitsStored > f.bitsAllocated || f.highBit < f.bitsStored - 1 ||
        f.highBit >= f.bitsAllocated)
        throw FileError(path, "has inconsistent BitsStored/HighBit values.");
    return f;
}

PixelType sourceTypeOf(const PixelFormat& f) {
    bool sign = f.pixelRepresentation == 1;
    if (f.bitsAllocated == 8) return sign ? PixelType::Int8 : PixelType::UInt8;
    if (f.bitsAllocated == 16) return sign ? PixelType::Int16 : PixelType::UInt16;
    return sign ? PixelType::Int32 : PixelType::UInt32;
}

bool isJpeg2000(E_TransferSyntax xfer) {
    return xfer == EXS_JPEG2000LosslessOnly || xfer == EXS_JPEG2000 ||
           xfer == EXS_JPEG2000MulticomponentLosslessOnly || xfer == EXS_JPEG2000Multicomponent;
}

// The pixel data must hold what the header declares before a voxel is
// allocated: NumberOfFrames = 65536 on a small file would otherwise ask for
// gigabytes. Native data: its length. Encapsulated data: at least one
// fragment per frame, and JPEG 2000 frames whole (SOC ... EOC) with the
// header's size in their SIZ marker, which GDCM trusts.
void requirePixelDataFor(DcmDataset& ds, const PixelFormat& f, const std::string& path) {
    const uint64_t perFrame = uint64_t(f.rows) * uint64_t(f.columns);
    requireImageFits(path, perFrame * uint64_t(f.frames), uint64_t(f.samples));
    DcmElement* element = nullptr;
    if (ds.findAndGetElement(DCM_PixelData, element).bad() || !element)
        throw FileError(path, "has no readable pixel data.");
    const E_TransferSyntax xfer = ds.getOriginalXfer();
    if (!DcmXfer(xfer).isEncapsulated()) {
        const uint64_t needed =
            perFrame * uint64_t(f.frames) * uint64_t(f.samples) * uint64_t(f.bitsAllocated / 8);
        if (element->getLength() < needed)
            throw FileError(path,
                            "pixel data is truncated (" + std::to_string(element->getLength()) +
                                " bytes for " + std::to_string(f.frames) + " frame(s) of " +
                                std::to_string(f.columns) + " x " + std::to_string(f.rows) +
                                ", which need " + std::to_string(needed) + ").",
                            "The file is incomplete or its header is wrong; copy it again.");
        return;
    }
    DcmPixelSequence* sequence = nullptr;
    auto* pixelData = dynamic_cast<DcmPixelData*>(element);
    if (!pixelData || pixelData->getEncapsulatedRepresentation(xfer, nullptr, sequence).bad() ||
        !sequence)
        throw FileError(path, "has compressed pixel data without its fragments.",
                        "The file is corrupt.");
    const unsigned long items = sequence->card();  // the first is the offset table
    if (items < 1 || long(items - 1) < f.frames)
        throw FileError(path,
                        "declares " + std::to_string(f.frames) +
                            " frame(s) but its compressed "
                            "pixel data holds " +
                            std::to_string(items > 0 ? items - 1 : 0) + " fragment(s).",
                        "The file is truncated or its NumberOfFrames is wrong.");
    if (!isJpeg2000(xfer)) return;
    // Frames begin at fragments that start with SOC + SIZ.
    std::vector<std::vector<uint8_t>> frames;
    for (unsigned long i = 1; i < items; ++i) {
        DcmPixelItem* item = nullptr;
        Uint8* bytes = nullptr;
        if (sequence->getItem(item, i).bad() || !item || item->getUint8Array(bytes).bad())
            throw FileError(path, "has an unreadable JPEG 2000 fragment.", "The file is corrupt.");
        const size_t length = item->getLength();
        const bool starts = length >= 4 && bytes[0] == 0xFF && bytes[1] == 0x4F &&
                            bytes[2] == 0xFF && bytes[3] == 0x51;
        if (frames.empty() || (starts && f.frames > 1)) frames.emplace_back();
        if (length > 0) frames.back().insert(frames.back().end(), bytes, bytes + length);
    }
    if (long(frames.size()) != f.frames)
        throw FileError(path,
                        "declares " + std::to_string(f.frames) + " frame(s) but holds " +
                            std::to_string(frames.size()) + " JPEG 2000 codestream(s).",
                        "The file is truncated or its NumberOfFrames is wrong.");
    for (size_t i = 0; i < frames.size(); ++i)
        checkJpeg2000Frame(path, frames[i].data(), frames[i].size(), f.rows, f.columns, f.samples,
                           long(i));
}

// MONOCHROME1 means high values are shown dark. Invert over the range the
// stored bits can express (after rescale) so that windowing and models see
// MONOCHROME2-like data, and move the file's windows with it.
void invertMonochrome1(const PixelFormat& f, double slope, double intercept, float* values,
                       size_t count, Volume& out, int64_t firstSlice) {
    const bool sign = f.pixelRepresentation == 1;
    const double lo = sign ? -std::ldexp(1.0, static_cast<int>(f.bitsStored) - 1) : 0.0;
    const double hi = sign ? std::ldexp(1.0, static_cast<int>(f.bitsStored) - 1) - 1
                           : std::ldexp(1.0, static_cast<int>(f.bitsStored)) - 1;
    const double sum = (lo * slope + intercept) + (hi * slope + intercept);
    for (size_t i = 0; i < count; ++i) values[i] = static_cast<float>(sum - values[i]);
    if (firstSlice == 0)
        for (WindowPreset& w : out.windowPresets) w.center = sum - w.center;
    out.metadata["PhotometricInterpretation"] = "MONOCHROME1 (shown inverted)";
}

// The functional group item of an enhanced multi-frame object that applies
// to `frame`: the per-frame one when it holds `sequence`, else the shared one.
DcmItem* functionalGroup(DcmDataset& ds, long frame, const DcmTagKey& sequence) {
    DcmItem* item = nullptr;
    DcmItem* inner = nullptr;
    if (ds.findAndGetSequenceItem(DCM_PerFrameFunctionalGroupsSequence, item, frame).good() &&
        item && item->findAndGetSequenceItem(sequence, inner, 0).good() && inner)
        return inner;
    if (ds.findAndGetSequenceItem(DCM_SharedFunctionalGroupsSequence, item, 0).good() && item &&
        item->findAndGetSequenceItem(sequence, inner, 0).good() && inner)
        return inner;
    return nullptr;
}

// Slope and intercept per frame. Classic objects hold one rescale at the top
// level; enhanced multi-frame objects (enhanced CT/MR/PET) hold it in the
// Pixel Value Transformation functional group, shared or per frame. RT dose
// grids scale to Gy with DoseGridScaling.
std::vector<std::pair<double, double>> frameRescales(DcmDataset& ds, const PixelFormat& f,
                                                     const std::string& path) {
    const double doseScaling = getDouble(ds, DCM_DoseGridScaling, 1.0);
    std::pair<double, double> top{getDouble(ds, DCM_RescaleSlope, 1.0) * doseScaling,
                                  getDouble(ds, DCM_RescaleIntercept, 0.0)};
    std::vector<std::pair<double, double>> rescales(size_t(f.frames), top);
    for (long frame = 0; frame < f.frames; ++frame) {
        if (DcmItem* pvt = functionalGroup(ds, frame, DCM_PixelValueTransformationSequence))
            rescales[size_t(frame)] = {getDouble(*pvt, DCM_RescaleSlope, 1.0),
                                       getDouble(*pvt, DCM_RescaleIntercept, 0.0)};
        requireFiniteRescale(path, rescales[size_t(frame)].first, rescales[size_t(frame)].second,
                             "rescale (RescaleSlope, RescaleIntercept)");
    }
    return rescales;
}

void decodeMonochrome(DcmDataset& ds, const PixelFormat& f, const std::string& path, Volume& out,
                      int64_t firstSlice) {
    // DCMTK keeps OW data as 16-bit words in host order; for 32-bit samples
    // the order of the two words still follows the file's byte order.
    const bool bigEndianWords = DcmXfer(ds.getOriginalXfer()).getByteOrder() == EBO_BigEndian;
    DcmElement* element = nullptr;
    if (ds.findAndGetElement(DCM_PixelData, element).bad() || !element)
        throw FileError(path, "has no readable pixel data.");
    const size_t perFrame = static_cast<size_t>(f.rows) * f.columns;
    const size_t total = perFrame * f.frames;
    const size_t bytesPerSample = static_cast<size_t>(f.bitsAllocated / 8);
    if (element->getLength() < total * bytesPerSample)
        throw FileError(path,
                        "pixel data is truncated (" + std::to_string(element->getLength()) +
                            " bytes for " + std::to_string(total * bytesPerSample) + ").",
                        "The file is incomplete; copy it again.");

    const int shift = static_cast<int>(f.highBit - f.bitsStored + 1);
    const uint32_t mask = f.bitsStored >= 32 ? 0xFFFFFFFFu : ((uint32_t(1) << f.bitsStored) - 1);
    const bool sign = f.pixelRepresentation == 1;
    auto stored = [&](uint32_t raw) -> double {
        uint32_t v = (raw >> shift) & mask;
        if (sign && f.bitsStored < 32 && (v >> (f.bitsStored - 1)) & 1u) v |= ~mask;  // sign-extend
        return sign ? static_cast<double>(static_cast<int32_t>(v)) : static_cast<double>(v);
    };

    const std::vector<std::pair<double, double>> rescales = frameRescales(ds, f, path);
    out.rescaleSlope = rescales.front().first;
    out.rescaleIntercept = rescales.front().second;
    float* dst = out.voxels().data() + static_cast<size_t>(firstSlice) * perFrame;
    auto rescaled = [&](size_t i, double value) {
        const auto& [slope, intercept] = rescales[i / perFrame];
        return static_cast<float>(value * slope + intercept);
    };

    if (f.bitsAllocated == 8) {
        Uint8* data = nullptr;
        if (element->getUint8Array(data).bad() || !data)
            throw FileError(path, "pixel data unreadable.");
        for (size_t i = 0; i < total; ++i) dst[i] = rescaled(i, stored(data[i]));
    } else if (f.bitsAllocated == 16) {
        Uint16* data = nullptr;
        if (element->getUint16Array(data).bad() || !data)
            throw FileError(path, "pixel data unreadable.");
        for (size_t i = 0; i < total; ++i) dst[i] = rescaled(i, stored(data[i]));
    } else {
        // 32-bit samples arrive as 16-bit words in host order (DCMTK's OW handling).
        Uint16* words = nullptr;
        if (element->getUint16Array(words).bad() || !words)
            throw FileError(path, "pixel data unreadable.");
        for (size_t i = 0; i < total; ++i) {
            uint32_t low = words[2 * i + (bigEndianWords ? 1 : 0)];
            uint32_t high = words[2 * i + (bigEndianWords ? 0 : 1)];
            uint32_t raw = low | (high << 16);
            dst[i] = rescaled(i, stored(raw));
        }
    }

    if (f.photometric == "MONOCHROME1")
        for (long frame = 0; frame < f.frames; ++frame)
            invertMonochrome1(f, rescales[size_t(frame)].first, rescales[size_t(frame)].second,
                              dst + size_t(frame) * perFrame, perFrame, out, firstSlice + frame);
}

void decodeColour(DcmFileFormat& file, const PixelFormat& f, const std::string& path, Volume& out,
                  int64_t firstSlice) {
    // DicomImage converts YBR and palette colour models to RGB for us.
    DicomImage image(&file, file.getDataset()->getCurrentXfer(), CIF_UsePartialAccessToPixelData, 0,
                     static_cast<unsigned long>(f.frames));
    if (image.getStatus() != EIS_Normal)
        throw FileError(path, std::string("colour image could not be decoded (") +
                                  DicomImage::getString(image.getStatus()) + ").");
    const size_t perFrame = static_cast<size_t>(f.rows) * f.columns * 3;
    float* dst = out.voxels().data() + static_cast<size_t>(firstSlice) * perFrame;
    for (long frame = 0; frame < f.frames; ++frame) {
        const auto* rgb = static_cast<const Uint8*>(image.getOutputData(8, frame, 0));
        if (!rgb)
            throw FileError(path,
                            "colour frame " + std::to_string(frame) + " could not be decoded.");
        for (size_t i = 0; i < perFrame; ++i) dst[frame * perFrame + i] = rgb[i];
    }
}

void readWindowPresets(DcmDataset& ds, Volume& out) {
    // Classic objects: at the top level. Enhanced multi-frame objects: in the
    // Frame VOI LUT functional group (shared, or the first frame's).
    DcmItem* source = &ds;
    if (getDoubles(ds, DCM_WindowCenter).empty())
        if (DcmItem* voi = functionalGroup(ds, 0, DCM_FrameVOILUTSequence)) source = voi;
    std::vector<double> centers = getDoubles(*source, DCM_WindowCenter);
    std::vector<double> widths = getDoubles(*source, DCM_WindowWidth);
    for (size_t i = 0; i < std::min(centers.size(), widths.size()); ++i) {
        OFString explanation;
        source->findAndGetOFString(DCM_WindowCenterWidthExplanation, explanation,
                                   static_cast<unsigned long>(i));
        std::string name =
            explanation.empty() ? "File window " + std::to_string(i + 1) : explanation.c_str();
        if (widths[i] > 0 && std::isfinite(widths[i]) && std::isfinite(centers[i]))
            out.windowPresets.push_back({name, centers[i], widths[i]});
    }
}

void readDisplayFields(DcmDataset& ds, Volume& out) {
    const std::pair<const char*, DcmTagKey> fields[] = {
        {"PatientName", DCM_PatientName},
        {"PatientID", DCM_PatientID},
        {"StudyDescription", DCM_StudyDescription},
        {"StudyDate", DCM_StudyDate},
        {"SeriesDescription", DCM_SeriesDescription},
        {"SeriesNumber", DCM_SeriesNumber},
        {"Modality", DCM_Modality},
        {"SeriesInstanceUID", DCM_SeriesInstanceUID},
        {"StudyInstanceUID", DCM_StudyInstanceUID},
        {"BodyPartExamined", DCM_BodyPartExamined}};
    for (const auto& [key, tag] : fields) {
        std::string value = getString(ds, tag);
        if (!value.empty()) out.metadata[key] = value;
    }
}

// Makes the dataset's pixel data uncompressed, or says why it cannot.
void decompress(DcmDataset& ds, const std::string& path) {
    E_TransferSyntax xfer = ds.getOriginalXfer();
    if (ds.chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad() ||
        !ds.canWriteXfer(EXS_LittleEndianExplicit)) {
        DcmXfer name(xfer);
        throw FileError(
            path,
            std::string("uses the transfer syntax '") + name.getXferName() +
                "', which cannot be decoded here.",
            "Convert it to an uncompressed syntax (e.g. with DCMTK's dcmdjpeg/dcmconv).");
    }
}

// JPEG 2000 through GDCM, which DCMTK cannot decode. GDCM's own parser
// asserts (aborting the process) on malformed elements that DCMTK reads
// without complaint, so GDCM never sees the file as it came: DCMTK writes a
// minimal copy (the image pixel module and the pixel data, already checked
// by requirePixelDataFor) to a temporary file, and GDCM decodes that. No
// rescale is copied: the stored values come back.
Volume decodeJpeg2000(DcmDataset& ds, const PixelFormat& f, const std::string& path) {
    // The minimal copy GDCM reads is written from the values parsed here,
    // with their proper VRs: GDCM asserts (aborting the process) on an image
    // attribute whose VR is not the standard one, e.g. a PlanarConfiguration
    // stored as a string.
    if (f.rows > 65535 || f.columns > 65535)
        throw FileError(path, "declares more rows or columns than DICOM's 16-bit fields hold.",
                        "The file is corrupt.");
    DcmFileFormat copy;
    DcmDataset* minimal = copy.getDataset();
    minimal->putAndInsertString(DCM_SOPClassUID, getString(ds, DCM_SOPClassUID).c_str());
    minimal->putAndInsertString(DCM_SOPInstanceUID, getString(ds, DCM_SOPInstanceUID).c_str());
    minimal->putAndInsertUint16(DCM_SamplesPerPixel, Uint16(f.samples));
    minimal->putAndInsertString(DCM_PhotometricInterpretation, f.photometric.c_str());
    if (f.frames > 1)
        minimal->putAndInsertString(DCM_NumberOfFrames, std::to_string(f.frames).c_str());
    if (f.samples > 1)
        minimal->putAndInsertUint16(DCM_PlanarConfiguration,
                                    getLong(ds, DCM_PlanarConfiguration, 0) == 1 ? 1 : 0);
    minimal->putAndInsertUint16(DCM_Rows, Uint16(f.rows));
    minimal->putAndInsertUint16(DCM_Columns, Uint16(f.columns));
    minimal->putAndInsertUint16(DCM_BitsAllocated, Uint16(f.bitsAllocated));
    minimal->putAndInsertUint16(DCM_BitsStored, Uint16(f.bitsStored));
    minimal->putAndInsertUint16(DCM_HighBit, Uint16(f.highBit));
    minimal->putAndInsertUint16(DCM_PixelRepresentation, f.pixelRepresentation ? 1 : 0);
    DcmElement* pixels = nullptr;
    if (ds.findAndGetElement(DCM_PixelData, pixels).good() && pixels)
        minimal->insert(static_cast<DcmElement*>(pixels->clone()), true);
    std::string temporary = (fs::temp_directory_path() / "rllm-j2k-XXXXXX.dcm").string();
    const int fd = mkstemps(&temporary[0], 4);
    if (fd < 0) throw FileError(path, "could not be decoded: no temporary file for GDCM.");
    ::close(fd);
    struct Remove {
        std::string file;
        ~Remove() {
            std::error_code ec;
            fs::remove(file, ec);
        }
    } removeLater{temporary};
    if (copy.saveFile(temporary.c_str(), ds.getOriginalXfer()).bad())
        throw FileError(path, "has JPEG 2000 pixel data that could not be prepared for decoding.",
                        "The file is corrupt.");
    try {
        return readDicomWithGdcm(temporary);
    } catch (const FileError& e) {
        std::string message = e.what();
        const size_t at = message.find(temporary);
        if (at != std::string::npos) message.replace(at, temporary.size(), path);
        throw FileError(path,
                        "has JPEG 2000 pixel data that could not be decoded (" + message + ").",
                        "The file is corrupt.");
    }
}

// Decodes all frames of `file` into `out` from slice `firstSlice` on.
// JPEG 2000 pixels come from GDCM; everything else from DCMTK.
void decodePixels(DcmFileFormat& file, const PixelFormat& f, const std::string& path, Volume& out,
                  int64_t firstSlice) {
    DcmDataset& ds = *file.getDataset();
    if (isJpeg2000(ds.getOriginalXfer())) {
        const Volume decoded = decodeJpeg2000(ds, f, path);
        const size_t count = static_cast<size_t>(f.rows) * f.columns * f.samples * f.frames;
        if (decoded.voxels().size() != count || decoded.components() != f.samples)
            throw FileError(path, "JPEG 2000 pixel data decoded to an unexpected size.");
        float* dst = out.voxels().data() + static_cast<size_t>(firstSlice) * count / f.frames;
        std::copy(decoded.voxels().begin(), decoded.voxels().end(), dst);
        if (f.samples != 1) return;
        // Stored values: the rescale and MONOCHROME1 are applied here, as for
        // every other transfer syntax (per frame for enhanced objects).
        const std::vector<std::pair<double, double>> rescales = frameRescales(ds, f, path);
        out.rescaleSlope = rescales.front().first;
        out.rescaleIntercept = rescales.front().second;
        const size_t perFrame = count / f.frames;
        for (long frame = 0; frame < f.frames; ++frame) {
            const auto& [slope, intercept] = rescales[size_t(frame)];
            float* values = dst + size_t(frame) * perFrame;
            for (size_t i = 0; i < perFrame; ++i)
                values[i] = static_cast<float>(values[i] * slope + intercept);
            if (f.photometric == "MONOCHROME1")
                invertMonochrome1(f, slope, intercept, values, perFrame, out, firstSlice + frame);
        }
        return;
    }
    decompress(ds, path);
    if (f.samples == 3)
        decodeColour(file, f, path, out, firstSlice);
    else
        decodeMonochrome(ds, f, path, out, firstSlice);
}

void setGeometry(Volume& volume, const FrameGeometry& g, const Vec3& origin, double sliceSpacing,
                 const Vec3& sliceDirection) {
    ImageGeometry& geometry = volume.geometry();
    geometry.spacing = {g.rowSpacing, g.columnSpacing, sliceSpacing};
    geometry.origin = origin;
    for (int r = 0; r < 3; ++r) {
        geometry.direction[r * 3 + 0] = g.row[r];
        geometry.direction[r * 3 + 1] = g.column[r];
        geometry.direction[r * 3 + 2] = sliceDirection[r];
    }
}

// A Siemens MOSAIC tiles the slices of a volume into one image, row by row,
// on a square grid of ceil(sqrt(n)) tiles a side; shown as it is, it would
// be one slice with a field of view many times too large. Siemens' private
// CSA header says how many tiles hold slices and which way the slices run.
struct MosaicLayout {
    long images = 0;        // slices in the mosaic
    long tilesPerSide = 0;  // the grid is tilesPerSide x tilesPerSide
    long tileRows = 0, tileColumns = 0;
    Vec3 normal{0, 0, 1};  // from slice 0 to slice n-1
};

MosaicLayout mosaicLayout(DcmDataset& ds, const FrameGeometry& g, const PixelFormat& f,
                          const std::string& path) {
    const std::string advice =
        "Convert the series with dcm2niix, which unpacks mosaics, and open the NIfTI.";
    auto refuse = [&](const std::string& why) {
        throw FileError(path, "is a Siemens MOSAIC image that cannot be unpacked: " + why + ".",
                        advice);
    };
    // The CSA image header sits in the private block whose creator is
    // "SIEMENS CSA HEADER", at element xx10 of that block.
    DcmElement* csa = nullptr;
    for (Uint16 block = 0x10; block <= 0xFF && !csa; ++block) {
        OFString creator;
        if (ds.findAndGetOFString(DcmTagKey(0x0029, block), creator).good() &&
            std::string(creator.c_str()).rfind("SIEMENS CSA HEADER", 0) == 0) {
            DcmElement* element = nullptr;
            if (ds.findAndGetElement(DcmTagKey(0x0029, Uint16(block << 8 | 0x10)), element).good())
                csa = element;
        }
    }
    if (!csa) refuse("it has no Siemens CSA image header (0029,xx10)");
    Uint8* bytes = nullptr;
    if (csa->getUint8Array(bytes).bad() || !bytes) refuse("its CSA image header could not be read");
    CsaHeader header;
    std::vector<double> count, normal;
    try {
        header = parseSiemensCsa(bytes, csa->getLength());
        count = csaNumbers(header, "NumberOfImagesInMosaic");
        normal = csaNumbers(header, "SliceNormalVector");
    } catch (const Error& e) {
        refuse(e.what());
    }
    MosaicLayout m;
    if (count.empty()) {
        Uint16 value = 0;  // Siemens also writes it to (0019,100A)
        if (ds.findAndGetUint16(DcmTagKey(0x0019, 0x100A), value).good()) count.push_back(value);
    }
    if (count.empty() || count[0] < 1 || count[0] > 10000 || count[0] != std::floor(count[0]))
        refuse("the CSA header gives no valid NumberOfImagesInMosaic");
    m.images = long(count[0]);
    m.tilesPerSide = long(std::ceil(std::sqrt(double(m.images)) - 1e-9));
    if (f.frames != 1 || f.samples != 1 || f.rows % m.tilesPerSide != 0 ||
        f.columns % m.tilesPerSide != 0)
        refuse("its " + std::to_string(f.columns) + " x " + std::to_string(f.rows) +
               " pixels do not divide into a grid of " + std::to_string(m.tilesPerSide) + " x " +
               std::to_string(m.tilesPerSide) + " tiles for " + std::to_string(m.images) +
               " slices");
    m.tileRows = f.rows / m.tilesPerSide;
    m.tileColumns = f.columns / m.tilesPerSide;
    if (normal.size() != 3)
        refuse("the CSA header has no SliceNormalVector, so the slice order is unknown");
    const double length =
        std::sqrt(dot({normal[0], normal[1], normal[2]}, {normal[0], normal[1], normal[2]}));
    if (length < 0.5) refuse("its SliceNormalVector is not a direction");
    m.normal = {normal[0] / length, normal[1] / length, normal[2] / length};
    if (g.positions.empty()) refuse("it has no ImagePositionPatient");
    if (!g.hasOrientation || std::abs(dot(m.normal, g.row)) > 1e-3 ||
        std::abs(dot(m.normal, g.column)) > 1e-3)
        refuse("its SliceNormalVector is not perpendicular to ImageOrientationPatient");
    return m;
}

// The slices of a mosaic (`tiled`, one frame) as a volume on their own grid.
// `volume` (the mosaic as decoded, one frame) becomes its slices, in place:
// its file, pixel type, rescale, windows and display fields stay as read.
void unpackMosaic(Volume& volume, const FrameGeometry& g, const MosaicLayout& m) {
    const std::array<int64_t, 3> tiledSize = volume.size();
    std::vector<float> slices(static_cast<size_t>(m.tileColumns) * m.tileRows * m.images);
    for (long k = 0; k < m.images; ++k) {
        const long top = (k / m.tilesPerSide) * m.tileRows;
        const long left = (k % m.tilesPerSide) * m.tileColumns;
        for (long y = 0; y < m.tileRows; ++y)
            for (long x = 0; x < m.tileColumns; ++x)
                slices[size_t((k * m.tileRows + y) * m.tileColumns + x)] =
                    volume.at(left + x, top + y, 0);
    }
    volume.voxels() = std::move(slices);
    volume.geometry().size = {m.tileColumns, m.tileRows, m.images};
    volume.metadata["Mosaic"] = std::to_string(m.images) + " slices unpacked from a " +
                                std::to_string(m.tilesPerSide) + " x " +
                                std::to_string(m.tilesPerSide) + " Siemens MOSAIC";
    // ImagePositionPatient of a mosaic is the corner of the whole tiled
    // image; the first tile's corner is half the difference further in.
    const Vec3& ipp = g.positions.front();
    const double alongRow = g.rowSpacing * double(tiledSize[0] - m.tileColumns) / 2;
    const double alongColumn = g.columnSpacing * double(tiledSize[1] - m.tileRows) / 2;
    Vec3 origin;
    for (int i = 0; i < 3; ++i)
        origin[i] = ipp[i] + g.row[i] * alongRow + g.column[i] * alongColumn;
    setGeometry(volume, g, origin, g.sliceSpacing, m.normal);
}

// Spacing and direction of a stack of positions sorted along `normal`; refuses
// duplicates, irregular gaps and tilt. `what` names the file or series.
std::pair<double, Vec3> stackSpacing(const std::vector<Vec3>& positions, const Vec3& normal,
                                     double fallbackSpacing, const std::string& what) {
    if (positions.size() < 2) return {fallbackSpacing, normal};
    std::vector<double> distances;
    for (const Vec3& p : positions) distances.push_back(dot(p, normal));
    std::vector<double> steps;
    for (size_t i = 1; i < distances.size(); ++i) steps.push_back(distances[i] - distances[i - 1]);
    std::vector<double> magnitudes;
    for (double s : steps) magnitudes.push_back(std::abs(s));
    std::vector<double> sorted = magnitudes;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    const double median = sorted[sorted.size() / 2];
    for (size_t i = 0; i < magnitudes.size(); ++i) {
        if (magnitudes[i] < 1e-4)
            throw FileError(what,
                            "has two images at the same position (" + std::to_string(i) + " and " +
                                std::to_string(i + 1) + ", " + std::to_string(distances[i]) +
                                " mm along the normal): it holds several volumes (e.g. time "
                                "points or echoes) in one file, which is not split here.",
                            "Export one volume first (e.g. with dcm2niix) or pick another "
                            "series.");
        if (std::abs(magnitudes[i] - median) > 0.1 * median || (steps[i] > 0) != (steps[0] > 0))
            throw FileError(what,
                            "has irregular slice spacing (" + std::to_string(magnitudes[i]) +
                                " mm between slices " + std::to_string(i) + " and " +
                                std::to_string(i + 1) + ", typical " + std::to_string(median) +
                                " mm): a slice is missing or the stack is mixed.",
                            "Check that the series is complete.");
    }
    // The line through the slice origins must run along the normal; otherwise
    // the gantry was tilted and the voxel grid is sheared.
    Vec3 span{positions.back()[0] - positions.front()[0],
              positions.back()[1] - positions.front()[1],
              positions.back()[2] - positions.front()[2]};
    double length = std::sqrt(dot(span, span));
    Vec3 direction{span[0] / length, span[1] / length, span[2] / length};
    if (std::abs(std::abs(dot(direction, normal)) - 1.0) > 1e-3)
        throw FileError(what,
                        "is sheared: the slice positions do not run along the slice normal "
                        "(gantry tilt), which a regular voxel grid cannot represent.",
                        "Resample the series to remove the tilt before opening it.");
    return {median, direction};
}

// What tells the volumes of a 4D series apart, in the order they are tried.
struct VolumeField {
    DcmTagKey tag;
    const char* name;
};
const VolumeField kVolumeFields[] = {
    {DCM_TemporalPositionIdentifier, "temporal position"},
    {DCM_EchoNumbers, "echo number"},
    {DCM_DiffusionBValue, "diffusion b-value"},
    {DCM_DiffusionGradientOrientation, "diffusion direction"},
    {DCM_TriggerTime, "trigger time"},
    {DCM_ImageType, "image type"},
    {DCM_AcquisitionNumber, "acquisition number"},
};

// The same for the frames of one enhanced multi-frame file, from each
// frame's functional groups (PS3.3 C.7.6.16: Frame Content, MR Echo, MR
// Diffusion, Cardiac Synchronization, MR/CT Image Frame Type).
const VolumeField kFrameVolumeFields[] = {
    {DCM_TemporalPositionIndex, "temporal position"},
    {DCM_EffectiveEchoTime, "echo time"},
    {DCM_DiffusionBValue, "diffusion b-value"},
    {DCM_DiffusionGradientOrientation, "diffusion direction"},
    {DCM_NominalCardiacTriggerDelayTime, "trigger time"},
    {DCM_FrameType, "frame type"},
};

struct SeriesVolumes {
    std::vector<std::vector<size_t>> groups;  // indices of the slices of each volume
    std::string differingFields;              // e.g. "echo number"
};

// Groups slices (sorted by distance along the normal) into volumes when
// positions repeat: by the fields that differ across the series, each
// volume then holding every position once. `Slice` has `distance` and
// `volumeFields` (the values of `fields`). One group when no position
// repeats; throws when positions repeat and nothing in the headers tells the
// images apart.
template <class Slice, size_t FieldCount>
SeriesVolumes splitIntoVolumes(const std::vector<Slice>& slices,
                               const VolumeField (&fields)[FieldCount], const std::string& what) {
    SeriesVolumes result;
    auto samePosition = [](double a, double b) { return std::abs(a - b) < 1e-4; };
    std::vector<size_t> order(slices.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return slices[a].distance < slices[b].distance; });
    bool repeats = false;
    for (size_t i = 1; i < order.size(); ++i)
        repeats = repeats || samePosition(slices[order[i]].distance, slices[order[i - 1]].distance);
    if (!repeats) {
        result.groups.push_back(order);
        return result;
    }
    std::vector<size_t> differing;
    for (size_t f = 0; f < FieldCount; ++f)
        for (const Slice& s : slices)
            if (s.volumeFields[f] != slices.front().volumeFields[f]) {
                differing.push_back(f);
                result.differingFields +=
                    std::string(result.differingFields.empty() ? "" : ", ") + fields[f].name;
                break;
            }
    std::map<std::vector<std::string>, std::vector<size_t>> byKey;
    for (size_t i : order) {
        std::vector<std::string> key;
        for (size_t f : differing) key.push_back(slices[i].volumeFields[f]);
        byKey[key].push_back(i);
    }
    bool regular = byKey.size() > 1;
    for (const auto& [key, group] : byKey) {
        regular = regular && group.size() == byKey.begin()->second.size();
        for (size_t i = 1; regular && i < group.size(); ++i)
            regular = !samePosition(slices[group[i]].distance, slices[group[i - 1]].distance);
    }
    if (!regular)
        throw FileError(what,
                        "has several images at one slice position that nothing in their headers "
                        "tells apart (temporal position, echo, b-value, image type or "
                        "acquisition number).",
                        "It may mix repeated acquisitions or hold duplicate files; pick another "
                        "series or separate its images.");
    // Numeric keys in numeric order (echo 2 before echo 10).
    std::vector<std::pair<std::vector<std::string>, std::vector<size_t>>> groups(byKey.begin(),
                                                                                 byKey.end());
    std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
        for (size_t k = 0; k < a.first.size(); ++k) {
            char* endA = nullptr;
            char* endB = nullptr;
            const double x = std::strtod(a.first[k].c_str(), &endA);
            const double y = std::strtod(b.first[k].c_str(), &endB);
            const bool numeric = endA && *endA == '\0' && endB && *endB == '\0' &&
                                 !a.first[k].empty() && !b.first[k].empty();
            if (numeric ? x != y : a.first[k] != b.first[k])
                return numeric ? x < y : a.first[k] < b.first[k];
        }
        return false;
    });
    for (auto& [key, group] : groups) result.groups.push_back(std::move(group));
    return result;
}

// The volumes of an enhanced multi-frame file whose frames repeat their
// positions (several temporal positions, echoes or b-values in one file),
// told apart by the per-frame functional groups; otherwise one group, all
// frames in file order.
SeriesVolumes frameVolumes(DcmDataset& ds, const FrameGeometry& g, long frames,
                           const std::string& what) {
    SeriesVolumes single;
    single.groups.emplace_back(static_cast<size_t>(std::max(frames, 1L)));
    std::iota(single.groups.front().begin(), single.groups.front().end(), size_t(0));
    DcmSequenceOfItems* perFrame = nullptr;
    if (frames < 2 || !g.hasOrientation || static_cast<long>(g.positions.size()) != frames ||
        ds.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, perFrame).bad() || !perFrame ||
        static_cast<long>(perFrame->card()) != frames)
        return single;
    struct Frame {
        double distance;
        std::vector<std::string> volumeFields;
    };
    std::vector<Frame> list;
    for (long i = 0; i < frames; ++i) {
        DcmItem& item = *perFrame->getItem(static_cast<unsigned long>(i));
        std::vector<std::string> values;
        for (const VolumeField& field : kFrameVolumeFields) {
            OFString value;
            item.findAndGetOFStringArray(field.tag, value, /*searchIntoSub=*/true);
            values.push_back(value.c_str());
        }
        list.push_back({dot(g.positions[size_t(i)], g.normal), std::move(values)});
    }
    SeriesVolumes split = splitIntoVolumes(list, kFrameVolumeFields, what);
    return split.groups.size() > 1 ? split : single;
}

// The volume asked for of a 4D file or series, or a refusal that says what
// the data is and how to choose.
void requireVolumeChoice(const SeriesVolumes& volumes, int volumeIndex, const std::string& what) {
    const size_t count = volumes.groups.size();
    if (count > 1 && (volumeIndex < 0 || volumeIndex >= int(count)))
        throw FileError(what,
                        "holds " + std::to_string(count) + " volumes at the same " +
                            std::to_string(volumes.groups.front().size()) +
                            " slice positions (4D data; its volumes differ in " +
                            volumes.differingFields + ").",
                        "Choose one volume (rllm: --volume 1 to " + std::to_string(count) + ").");
    if (count <= 1 && volumeIndex > 0)
        throw FileError(
            what, "holds one volume; there is no volume " + std::to_string(volumeIndex + 1) + ".");
}

std::string volumeLabel(const SeriesVolumes& volumes, int volumeIndex) {
    return std::to_string(volumeIndex + 1) + " of " + std::to_string(volumes.groups.size()) +
           " (volumes differ in " + volumes.differingFields + ")";
}

}  // namespace

bool looksLikeDicomFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char header[132] = {};
    if (!in.read(header, sizeof header)) return false;
    return std::memcmp(header + 128, "DICM", 4) == 0;
}

Volume readDicomFile(const std::string& path, int volumeIndex) {
    DcmFileFormat file;
    loadDicom(path, file);
    DcmDataset& ds = *file.getDataset();
    PixelFormat f = readPixelFormat(ds, path);
    requirePixelDataFor(ds, f, path);
    FrameGeometry g = readGeometry(ds, f.frames);
    const bool mosaic = isMosaic(ds);
    const MosaicLayout layout = mosaic ? mosaicLayout(ds, g, f, path) : MosaicLayout{};
    const SeriesVolumes volumes = frameVolumes(ds, g, f.frames, path);
    requireVolumeChoice(volumes, volumeIndex, path);

    Volume volume({f.columns, f.rows, f.frames}, static_cast<int>(f.samples));
    volume.formatName = "DICOM";
    volume.sourcePath = path;
    volume.sourcePixelType = sourceTypeOf(f);
    readDisplayFields(ds, volume);
    readWindowPresets(ds, volume);
    decodePixels(file, f, path, volume, 0);
    if (mosaic) {
        unpackMosaic(volume, g, layout);
        return volume;
    }

    std::vector<Vec3> positions = g.positions;
    if (volumes.groups.size() > 1) {
        // A 4D file: keep the chosen volume's frames, ordered along the normal.
        const std::vector<size_t>& frames = volumes.groups[size_t(volumeIndex)];
        const size_t frameValues = static_cast<size_t>(f.columns) * f.rows * f.samples;
        std::vector<float> kept(frames.size() * frameValues);
        positions.clear();
        for (size_t z = 0; z < frames.size(); ++z) {
            std::copy_n(volume.voxels().begin() + std::ptrdiff_t(frames[z] * frameValues),
                        frameValues, kept.begin() + std::ptrdiff_t(z * frameValues));
            positions.push_back(g.positions[frames[z]]);
        }
        volume.voxels() = std::move(kept);
        volume.geometry().size[2] = static_cast<int64_t>(frames.size());
        volume.metadata["Volume"] = volumeLabel(volumes, volumeIndex);
    }
    Vec3 origin = positions.empty() ? Vec3{0, 0, 0} : positions.front();
    auto [spacing, direction] = positions.size() > 1
                                    ? stackSpacing(positions, g.normal, g.sliceSpacing, path)
                                    : std::pair<double, Vec3>{g.sliceSpacing, g.normal};
    setGeometry(volume, g, origin, spacing, direction);
    return volume;
}

std::vector<DicomSeriesInfo> scanDicomFolder(const std::string& folder) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) throw FileError(folder, "is not a folder.");
    std::vector<std::string> paths;
    for (auto it = fs::recursive_directory_iterator(
             folder, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec)) paths.push_back(it->path().string());
    std::vector<DicomSeriesInfo> result = scanDicomFiles(paths);
    if (result.empty())
        throw FileError(folder, "holds no DICOM images.", "Choose a folder with a DICOM series.");
    return result;
}

std::vector<DicomSeriesInfo> scanDicomFiles(const std::vector<std::string>& paths) {
    registerCodecsOnce();
    std::map<std::string, DicomSeriesInfo> byUid;
    std::vector<std::string> order;
    // Per series: where each image lies and what may tell volumes apart, to
    // count the volumes of 4D series.
    struct ScanSlice {
        double distance;
        std::vector<std::string> volumeFields;
    };
    std::map<std::string, std::vector<ScanSlice>> placed;
    std::map<std::string, Vec3> normals;
    // The volumes inside a multi-frame file (an enhanced 4D file), by series.
    std::map<std::string, SeriesVolumes> inFile;
    for (const std::string& path : paths) {
        DcmFileFormat file;
        // Only the header matters here: stop before the pixel data.
        if (file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                                  ERM_autoDetect, DCM_PixelData)
                .bad())
            continue;
        DcmDataset& ds = *file.getDataset();
        if (getLong(ds, DCM_Rows, 0) <= 0) continue;  // not an image (SR, RT plan, ...)
        std::string uid = getString(ds, DCM_SeriesInstanceUID);
        if (uid.empty()) uid = "(no SeriesInstanceUID)";
        auto [entry, inserted] = byUid.try_emplace(uid);
        DicomSeriesInfo& info = entry->second;
        if (inserted) {
            order.push_back(uid);
            info.seriesInstanceUid = uid;
            info.seriesDescription = getString(ds, DCM_SeriesDescription);
            info.seriesNumber = getString(ds, DCM_SeriesNumber);
            info.modality = getString(ds, DCM_Modality);
            info.patientName = getString(ds, DCM_PatientName);
            info.patientId = getString(ds, DCM_PatientID);
            info.studyDescription = getString(ds, DCM_StudyDescription);
            info.studyDate = getString(ds, DCM_StudyDate);
        }
        info.files.push_back(path);
        const FrameGeometry g = readGeometry(ds, 1);
        if (g.hasOrientation && !g.positions.empty()) {
            const Vec3& normal = normals.try_emplace(uid, g.normal).first->second;
            std::vector<std::string> fields;
            for (const VolumeField& field : kVolumeFields)
                fields.push_back(getString(ds, field.tag));
            placed[uid].push_back({dot(g.positions.front(), normal), std::move(fields)});
        }
        const std::string framesText = getString(ds, DCM_NumberOfFrames);
        const long frames = framesText.empty() ? 1 : std::max(1L, std::atol(framesText.c_str()));
        info.imageCount += frames;
        if (frames > 1) {
            try {
                inFile[uid] = frameVolumes(ds, readGeometry(ds, frames), frames, path);
            } catch (const FileError&) {
                // Repeated positions nothing tells apart: reading says so.
            }
        }
    }
    std::vector<DicomSeriesInfo> result;
    for (const std::string& uid : order) {
        DicomSeriesInfo& info = byUid[uid];
        std::sort(info.files.begin(), info.files.end());
        if (placed[uid].size() == info.files.size() && info.files.size() > 1) {
            try {
                const SeriesVolumes volumes = splitIntoVolumes(placed[uid], kVolumeFields, uid);
                info.volumeCount = int(volumes.groups.size());
                info.volumesDifferIn = volumes.differingFields;
            } catch (const FileError&) {
                // Repeated positions nothing tells apart: reading says so.
            }
        }
        const auto file = inFile.find(uid);
        if (info.files.size() == 1 && file != inFile.end()) {
            info.volumeCount = int(file->second.groups.size());
            info.volumesDifferIn = file->second.differingFields;
        }
        result.push_back(std::move(info));
    }
    return result;
}

namespace {

// One file of a multi-file series, as its header describes it.
struct SeriesSlice {
    std::string path;
    Vec3 position;
    double distance;                        // along its own normal
    std::vector<std::string> volumeFields;  // values of kVolumeFields
    bool mosaic = false;                    // a whole volume tiled into one image
};

// The header of one file of a series (the pixels are not read): its place,
// geometry and pixel format. Refuses a file that cannot be one slice of a
// volume: unreadable, multi-frame, of an invalid size, shorter than its
// pixels, or without the position and orientation that order the slices.
SeriesSlice readSliceHeader(const std::string& path, const std::string& what,
                            FrameGeometry& geometry, PixelFormat& format) {
    DcmFileFormat file;
    registerCodecsOnce();
    if (file.loadFileUntilTag(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength,
                              ERM_autoDetect, DCM_PixelData)
            .bad())
        throw FileError(path, "could not be read as DICOM.", "It may be truncated or corrupt.");
    DcmDataset& ds = *file.getDataset();
    std::string frames = getString(ds, DCM_NumberOfFrames);
    if (!frames.empty() && std::atol(frames.c_str()) > 1)
        throw FileError(path, "is a multi-frame file inside a multi-file series.",
                        "Open the file on its own.");
    geometry = readGeometry(ds, 1);
    format.rows = getLong(ds, DCM_Rows, 0);
    format.columns = getLong(ds, DCM_Columns, 0);
    format.samples = getLong(ds, DCM_SamplesPerPixel, 1);
    const long bitsAllocated = getLong(ds, DCM_BitsAllocated, 0);
    if (format.rows <= 0 || format.columns <= 0 || (format.samples != 1 && format.samples != 3))
        throw FileError(path, "has an invalid image size (rows " + std::to_string(format.rows) +
                                  ", columns " + std::to_string(format.columns) + ", samples " +
                                  std::to_string(format.samples) + ").");
    // Uncompressed slices must be at least as long as their pixels, so that
    // the volume is never allocated for data the files do not hold.
    std::error_code sizeError;
    const uint64_t fileBytes = fs::file_size(path, sizeError);
    if (!DcmXfer(ds.getOriginalXfer()).isEncapsulated() && bitsAllocated > 0 &&
        fileBytes < uint64_t(format.rows) * uint64_t(format.columns) * uint64_t(format.samples) *
                        uint64_t(bitsAllocated / 8))
        throw FileError(path,
                        "is shorter than its " + std::to_string(format.columns) + " x " +
                            std::to_string(format.rows) + " pixels.",
                        "The file is truncated; copy the series again.");
    if (geometry.positions.empty() || !geometry.hasOrientation)
        throw FileError(path,
                        "lacks ImagePositionPatient or ImageOrientationPatient, so the slices of " +
                            what + " cannot be ordered.");
    std::vector<std::string> fields;
    for (const VolumeField& field : kVolumeFields) fields.push_back(getString(ds, field.tag));
    return {path, geometry.positions.front(), dot(geometry.positions.front(), geometry.normal),
            std::move(fields), isMosaic(ds)};
}

// Refuses a slice whose image size or orientation differs from the first
// file's: a series that mixes them (a localizer among the slices) is not one
// volume.
void requireLikeFirst(const std::string& path, const FrameGeometry& geometry,
                      const PixelFormat& format, const FrameGeometry& first,
                      const PixelFormat& firstFormat, const std::string& what) {
    if (format.rows != firstFormat.rows || format.columns != firstFormat.columns ||
        format.samples != firstFormat.samples)
        throw FileError(path, "is " + std::to_string(format.columns) + "x" +
                                  std::to_string(format.rows) + " but the first file of " + what +
                                  " is " + std::to_string(firstFormat.columns) + "x" +
                                  std::to_string(firstFormat.rows) +
                                  ": the series mixes image sizes.");
    if (std::abs(dot(geometry.row, first.row) - 1) > 1e-4 ||
        std::abs(dot(geometry.column, first.column) - 1) > 1e-4)
        throw FileError(path,
                        "has another orientation than the first file of " + what +
                            ": the series mixes orientations (e.g. a localizer).",
                        "Pick the series again or remove the odd files.");
}

// The pixels of the sorted slices, one file after another, into `volume`;
// the first slice also gives the display fields and window presets. A file
// whose size changed since its header was read is refused.
void decodeSlices(const std::vector<SeriesSlice>& slices, const PixelFormat& format,
                  Volume& volume) {
    for (size_t z = 0; z < slices.size(); ++z) {
        DcmFileFormat file;
        loadDicom(slices[z].path, file);
        DcmDataset& ds = *file.getDataset();
        PixelFormat f = readPixelFormat(ds, slices[z].path);
        if (f.rows != format.rows || f.columns != format.columns || f.samples != format.samples ||
            f.frames != 1)
            throw FileError(slices[z].path,
                            "changed its image size between header scan and decoding.");
        if (z == 0) {
            volume.sourcePixelType = sourceTypeOf(f);
            readDisplayFields(ds, volume);
            readWindowPresets(ds, volume);
        }
        decodePixels(file, f, slices[z].path, volume, static_cast<int64_t>(z));
    }
}

}  // namespace

Volume readDicomSeries(const DicomSeriesInfo& series, int volumeIndex) {
    if (series.files.empty()) throw Error("the DICOM series has no files");
    if (series.files.size() == 1) return readDicomFile(series.files.front(), volumeIndex);
    const std::string what = "series " + series.seriesInstanceUid + " (" +
                             std::to_string(series.files.size()) + " files)";

    // Headers first: geometry and format of every slice, to sort and check.
    std::vector<SeriesSlice> slices;
    FrameGeometry reference;
    PixelFormat format;
    for (size_t i = 0; i < series.files.size(); ++i) {
        FrameGeometry geometry;
        PixelFormat sliceFormat;
        SeriesSlice slice = readSliceHeader(series.files[i], what, geometry, sliceFormat);
        if (i == 0) {
            reference = geometry;
            format = sliceFormat;
        } else {
            requireLikeFirst(slice.path, geometry, sliceFormat, reference, format, what);
        }
        slices.push_back(std::move(slice));
    }
    // Several images at each position: a 4D series (time, diffusion, echoes,
    // magnitude and phase). Keep the one volume asked for.
    const SeriesVolumes volumes = splitIntoVolumes(slices, kVolumeFields, what);
    requireVolumeChoice(volumes, volumeIndex, what);
    if (volumes.groups.size() > 1) {
        std::vector<SeriesSlice> chosen;
        for (size_t i : volumes.groups[size_t(volumeIndex)]) chosen.push_back(slices[i]);
        slices = std::move(chosen);
    }
    // Siemens MOSAIC files (e.g. an fMRI run) each hold a whole volume.
    if (std::any_of(slices.begin(), slices.end(), [](const SeriesSlice& s) { return s.mosaic; })) {
        if (slices.size() != 1)
            throw FileError(what,
                            "holds Siemens MOSAIC images at different positions, or mixed with "
                            "single slices, which do not form one volume.",
                            "Convert the series with dcm2niix and open the NIfTI.");
        Volume volume = readDicomFile(slices.front().path);
        if (volumes.groups.size() > 1)
            volume.metadata["Volume"] = volumeLabel(volumes, volumeIndex);
        return volume;
    }
    std::sort(slices.begin(), slices.end(),
              [](const SeriesSlice& a, const SeriesSlice& b) { return a.distance < b.distance; });
    std::vector<Vec3> positions;
    for (const SeriesSlice& s : slices) positions.push_back(s.position);
    auto [spacing, direction] =
        stackSpacing(positions, reference.normal, reference.sliceSpacing, what);
    requireImageFits(what, uint64_t(format.rows) * uint64_t(format.columns) * slices.size(),
                     uint64_t(std::max(1L, format.samples)));

    Volume volume({format.columns, format.rows, static_cast<int64_t>(slices.size())},
                  static_cast<int>(format.samples));
    volume.formatName = "DICOM series";
    volume.sourcePath = fs::path(series.files.front()).parent_path().string();
    decodeSlices(slices, format, volume);
    setGeometry(volume, reference, slices.front().position, spacing, direction);
    if (volumes.groups.size() > 1) volume.metadata["Volume"] = volumeLabel(volumes, volumeIndex);
    return volume;
}

}  // namespace rllm
