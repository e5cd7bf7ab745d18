#include "core/io/Dicom.h"

#include "core/Error.h"
#include "core/io/ItkIo.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
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
#include <map>
#include <mutex>
#include <numeric>

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

    // RT dose grids scale stored values to Gy with DoseGridScaling instead of a rescale.
    const double slope =
        getDouble(ds, DCM_RescaleSlope, 1.0) * getDouble(ds, DCM_DoseGridScaling, 1.0);
    const double intercept = getDouble(ds, DCM_RescaleIntercept, 0.0);
    out.rescaleSlope = slope;
    out.rescaleIntercept = intercept;
    float* dst = out.voxels().data() + static_cast<size_t>(firstSlice) * perFrame;

    if (f.bitsAllocated == 8) {
        Uint8* data = nullptr;
        if (element->getUint8Array(data).bad() || !data)
            throw FileError(path, "pixel data unreadable.");
        for (size_t i = 0; i < total; ++i)
            dst[i] = static_cast<float>(stored(data[i]) * slope + intercept);
    } else if (f.bitsAllocated == 16) {
        Uint16* data = nullptr;
        if (element->getUint16Array(data).bad() || !data)
            throw FileError(path, "pixel data unreadable.");
        for (size_t i = 0; i < total; ++i)
            dst[i] = static_cast<float>(stored(data[i]) * slope + intercept);
    } else {
        // 32-bit samples arrive as 16-bit words in host order (DCMTK's OW handling).
        Uint16* words = nullptr;
        if (element->getUint16Array(words).bad() || !words)
            throw FileError(path, "pixel data unreadable.");
        for (size_t i = 0; i < total; ++i) {
            uint32_t low = words[2 * i + (bigEndianWords ? 1 : 0)];
            uint32_t high = words[2 * i + (bigEndianWords ? 0 : 1)];
            uint32_t raw = low | (high << 16);
            dst[i] = static_cast<float>(stored(raw) * slope + intercept);
        }
    }

    if (f.photometric == "MONOCHROME1")
        invertMonochrome1(f, slope, intercept, dst, total, out, firstSlice);
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
    std::vector<double> centers = getDoubles(ds, DCM_WindowCenter);
    std::vector<double> widths = getDoubles(ds, DCM_WindowWidth);
    for (size_t i = 0; i < std::min(centers.size(), widths.size()); ++i) {
        OFString explanation;
        ds.findAndGetOFString(DCM_WindowCenterWidthExplanation, explanation,
                              static_cast<unsigned long>(i));
        std::string name =
            explanation.empty() ? "File window " + std::to_string(i + 1) : explanation.c_str();
        if (widths[i] > 0) out.windowPresets.push_back({name, centers[i], widths[i]});
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

// Decodes all frames of `file` into `out` from slice `firstSlice` on.
// JPEG 2000 pixels come from GDCM; everything else from DCMTK.
void decodePixels(DcmFileFormat& file, const PixelFormat& f, const std::string& path, Volume& out,
                  int64_t firstSlice) {
    DcmDataset& ds = *file.getDataset();
    if (isJpeg2000(ds.getOriginalXfer())) {
        const Volume decoded = readDicomWithGdcm(path);
        const size_t count = static_cast<size_t>(f.rows) * f.columns * f.samples * f.frames;
        if (decoded.voxels().size() != count || decoded.components() != f.samples)
            throw FileError(path, "JPEG 2000 pixel data decoded to an unexpected size.");
        float* dst = out.voxels().data() + static_cast<size_t>(firstSlice) * count / f.frames;
        std::copy(decoded.voxels().begin(), decoded.voxels().end(), dst);
        // GDCM applies the rescale itself; MONOCHROME1 is ours to invert.
        if (f.samples == 1 && f.photometric == "MONOCHROME1")
            invertMonochrome1(f, decoded.rescaleSlope, decoded.rescaleIntercept, dst, count, out,
                              firstSlice);
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
                            "has two slices at the same position (slice " + std::to_string(i) +
                                " and " + std::to_string(i + 1) + ", " +
                                std::to_string(distances[i]) + " mm along the normal).",
                            "Remove the duplicate files or pick another series.");
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

}  // namespace

bool looksLikeDicomFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char header[132] = {};
    if (!in.read(header, sizeof header)) return false;
    return std::memcmp(header + 128, "DICM", 4) == 0;
}

Volume readDicomFile(const std::string& path) {
    DcmFileFormat file;
    loadDicom(path, file);
    DcmDataset& ds = *file.getDataset();
    PixelFormat f = readPixelFormat(ds, path);

    Volume volume({f.columns, f.rows, f.frames}, static_cast<int>(f.samples));
    volume.formatName = "DICOM";
    volume.sourcePath = path;
    volume.sourcePixelType = sourceTypeOf(f);
    readDisplayFields(ds, volume);
    readWindowPresets(ds, volume);
    decodePixels(file, f, path, volume, 0);

    FrameGeometry g = readGeometry(ds, f.frames);
    Vec3 origin = g.positions.empty() ? Vec3{0, 0, 0} : g.positions.front();
    auto [spacing, direction] = g.positions.size() > 1
                                    ? stackSpacing(g.positions, g.normal, g.sliceSpacing, path)
                                    : std::pair<double, Vec3>{g.sliceSpacing, g.normal};
    setGeometry(volume, g, origin, spacing, direction);
    return volume;
}

std::vector<DicomSeriesInfo> scanDicomFolder(const std::string& folder) {
    registerCodecsOnce();
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) throw FileError(folder, "is not a folder.");
    std::map<std::string, DicomSeriesInfo> byUid;
    std::vector<std::string> order;
    for (auto it = fs::recursive_directory_iterator(
             folder, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const std::string path = it->path().string();
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
        std::string frames = getString(ds, DCM_NumberOfFrames);
        info.imageCount += frames.empty() ? 1 : std::max(1L, std::atol(frames.c_str()));
    }
    if (order.empty())
        throw FileError(folder, "holds no DICOM images.", "Choose a folder with a DICOM series.");
    std::vector<DicomSeriesInfo> result;
    for (const std::string& uid : order) {
        DicomSeriesInfo& info = byUid[uid];
        std::sort(info.files.begin(), info.files.end());
        result.push_back(std::move(info));
    }
    return result;
}

Volume readDicomSeries(const DicomSeriesInfo& series) {
    if (series.files.empty()) throw Error("the DICOM series has no files");
    if (series.files.size() == 1) return readDicomFile(series.files.front());
    const std::string what = "series " + series.seriesInstanceUid + " (" +
                             std::to_string(series.files.size()) + " files)";

    // Headers first: geometry and format of every slice, to sort and check.
    struct Slice {
        std::string path;
        Vec3 position;
        double distance;
    };
    std::vector<Slice> slices;
    FrameGeometry reference;
    PixelFormat format;
    for (size_t i = 0; i < series.files.size(); ++i) {
        const std::string& path = series.files[i];
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
        FrameGeometry g = readGeometry(ds, 1);
        long rows = getLong(ds, DCM_Rows, 0), columns = getLong(ds, DCM_Columns, 0);
        long samples = getLong(ds, DCM_SamplesPerPixel, 1);
        if (g.positions.empty() || !g.hasOrientation)
            throw FileError(path,
                            "lacks ImagePositionPatient or ImageOrientationPatient, so the "
                            "slices of " +
                                what + " cannot be ordered.");
        if (i == 0) {
            reference = g;
            format.rows = rows;
            format.columns = columns;
            format.samples = samples;
        } else {
            if (rows != format.rows || columns != format.columns || samples != format.samples)
                throw FileError(path, "is " + std::to_string(columns) + "x" + std::to_string(rows) +
                                          " but the first file of " + what + " is " +
                                          std::to_string(format.columns) + "x" +
                                          std::to_string(format.rows) +
                                          ": the series mixes image sizes.");
            if (std::abs(dot(g.row, reference.row) - 1) > 1e-4 ||
                std::abs(dot(g.column, reference.column) - 1) > 1e-4)
                throw FileError(path,
                                "has another orientation than the first file of " + what +
                                    ": the series mixes orientations (e.g. a localizer).",
                                "Pick the series again or remove the odd files.");
        }
        slices.push_back({path, g.positions.front(), dot(g.positions.front(), g.normal)});
    }
    std::sort(slices.begin(), slices.end(),
              [](const Slice& a, const Slice& b) { return a.distance < b.distance; });
    std::vector<Vec3> positions;
    for (const Slice& s : slices) positions.push_back(s.position);
    auto [spacing, direction] =
        stackSpacing(positions, reference.normal, reference.sliceSpacing, what);

    Volume volume({format.columns, format.rows, static_cast<int64_t>(slices.size())},
                  static_cast<int>(format.samples));
    volume.formatName = "DICOM series";
    volume.sourcePath = fs::path(series.files.front()).parent_path().string();
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
    setGeometry(volume, reference, slices.front().position, spacing, direction);
    return volume;
}

}  // namespace rllm
