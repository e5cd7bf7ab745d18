#include "core/io/ItkIo.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/InputChecks.h"

#include <gdcmTrace.h>
#include <itkGDCMImageIO.h>
#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkImportImageFilter.h>
#include <itkJPEGImageIO.h>
#include <itkMetaDataObject.h>
#include <itkMetaImageIO.h>
#include <itkNiftiImageIO.h>
#include <itkNrrdImageIO.h>
#include <itkPNGImageIO.h>
#include <itkRGBPixel.h>
#include <itkTIFFImageIO.h>
#include <itkVectorImage.h>

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace rllm {
namespace {

using ReadImage = itk::VectorImage<float, 3>;

std::string lowerCase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

bool endsWith(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct FormatEntry {
    const char* name;
    std::vector<const char*> extensions;
    itk::ImageIOBase::Pointer (*create)();
};

const std::vector<FormatEntry>& formats() {
    static const std::vector<FormatEntry> table = {
        {"NIfTI",
         {".nii", ".nii.gz", ".hdr", ".img"},
         [] { return itk::ImageIOBase::Pointer(itk::NiftiImageIO::New()); }},
        {"NRRD",
         {".nrrd", ".nhdr"},
         [] { return itk::ImageIOBase::Pointer(itk::NrrdImageIO::New()); }},
        {"MetaImage",
         {".mha", ".mhd"},
         [] { return itk::ImageIOBase::Pointer(itk::MetaImageIO::New()); }},
        {"PNG", {".png"}, [] { return itk::ImageIOBase::Pointer(itk::PNGImageIO::New()); }},
        {"JPEG",
         {".jpg", ".jpeg"},
         [] { return itk::ImageIOBase::Pointer(itk::JPEGImageIO::New()); }},
        {"TIFF",
         {".tif", ".tiff"},
         [] { return itk::ImageIOBase::Pointer(itk::TIFFImageIO::New()); }},
    };
    return table;
}

const FormatEntry* formatFor(const std::string& path) {
    const std::string lower = lowerCase(path);
    for (const FormatEntry& format : formats())
        for (const char* extension : format.extensions)
            if (endsWith(lower, extension)) return &format;
    return nullptr;
}

PixelType pixelTypeOf(itk::IOComponentEnum component) {
    switch (component) {
        case itk::IOComponentEnum::UCHAR:
            return PixelType::UInt8;
        case itk::IOComponentEnum::CHAR:
            return PixelType::Int8;
        case itk::IOComponentEnum::USHORT:
            return PixelType::UInt16;
        case itk::IOComponentEnum::SHORT:
            return PixelType::Int16;
        case itk::IOComponentEnum::UINT:
            return PixelType::UInt32;
        case itk::IOComponentEnum::INT:
            return PixelType::Int32;
        case itk::IOComponentEnum::FLOAT:
            return PixelType::Float32;
        case itk::IOComponentEnum::DOUBLE:
            return PixelType::Float64;
        default:
            return PixelType::Unknown;
    }
}

// ITK's NIfTI reader does not notice a gzip stream that ends early (it
// returns the voxels it got and zeros), so .gz files are checked first: the
// whole stream must decompress without error. Returns the decompressed
// length and keeps its first bytes (the header) in `head`.
uint64_t requireCompleteGzip(const std::string& path, std::vector<uint8_t>& head) {
    gzFile file = gzopen(path.c_str(), "rb");
    if (!file) throw FileError(path, "cannot be opened.");
    std::vector<char> buffer(1 << 20);
    int read = 0;
    uint64_t total = 0;
    head.clear();
    while ((read = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) {
        if (head.size() < 4096)
            head.insert(head.end(), buffer.begin(),
                        buffer.begin() + std::min<size_t>(size_t(read), 4096 - head.size()));
        total += uint64_t(read);
    }
    int status = Z_OK;
    // Copied: zlib frees its message with the stream (found by AddressSanitizer).
    const char* text = gzerror(file, &status);
    const std::string message = text && *text ? text : "unexpected end";
    const bool ended = gzeof(file) != 0;
    gzclose(file);
    if (read < 0 || status != Z_OK || !ended)
        throw FileError(path,
                        "is truncated or corrupt (its gzip stream is broken: " + message + ").",
                        "Copy or download the file again.");
    return total;
}

std::vector<uint8_t> readPrefix(const std::string& path, uint64_t bytes) {
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> data(static_cast<size_t>(std::min<uint64_t>(bytes, fs::file_size(path))));
    in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size()));
    data.resize(static_cast<size_t>(in.gcount()));
    return data;
}

// For single files that carry raw (uncompressed) voxels after their header:
// the header's length plus one (the voxels follow it), so that callers can
// check the file's length. 0 when the format compresses or keeps voxels in
// another file.
uint64_t embeddedRawHeaderBytes(const std::string& path) {
    const std::string lower = lowerCase(path);
    // NIfTI is checked on its own header (checkNiftiData): ITK reports the
    // size of the rescaled (float) voxels, not of the stored ones.
    if (!endsWith(lower, ".mha") && !endsWith(lower, ".nrrd")) return 0;
    std::ifstream in(path, std::ios::binary);
    std::string header(4096, '\0');
    in.read(&header[0], static_cast<std::streamsize>(header.size()));
    header.resize(static_cast<size_t>(in.gcount()));
    const std::string text = lowerCase(header);
    if (endsWith(lower, ".mha")) {
        // The data starts after the line "ElementDataFile = LOCAL", the header's last.
        const size_t local = text.find("elementdatafile = local");
        const size_t end = local == std::string::npos ? local : text.find('\n', local);
        const bool compressed = text.find("compresseddata = true") != std::string::npos;
        return end != std::string::npos && !compressed ? end + 2 : 0;
    }
    // NRRD: the data starts after the first empty line.
    const size_t end = text.find("\n\n");
    const bool raw = text.find("encoding: raw") != std::string::npos;
    const bool detached =
        text.find("data file:") != std::string::npos || text.find("datafile:") != std::string::npos;
    return end != std::string::npos && raw && !detached ? end + 3 : 0;
}

// What ITK, libpng and niftilib would trust blindly, checked on the bytes
// first (core/io/InputChecks.h): PNG structure, NIfTI and MetaImage headers
// against the data that is really there.
void checkBeforeItk(const std::string& path, const std::string& formatName) {
    const std::string lower = lowerCase(path);
    const bool gz = endsWith(lower, ".gz");
    std::vector<uint8_t> head;
    const uint64_t length = gz ? requireCompleteGzip(path, head) : fs::file_size(path);
    if (formatName == "PNG") {
        if (length > maxImageBytes())
            throw FileError(path, "is a PNG of " + std::to_string(length >> 20) +
                                      " MB, more than one image may take.");
        const std::vector<uint8_t> bytes = readPrefix(path, length);
        checkPng(path, bytes.data(), bytes.size());
    } else if (formatName == "NIfTI") {
        std::string headerPath = path;
        if (endsWith(lower, ".img")) headerPath = path.substr(0, path.size() - 4) + ".hdr";
        if (headerPath != path) requireRegularFile(headerPath);
        if (!gz) head = readPrefix(headerPath, 348);
        const NiftiFacts facts = checkNiftiHeader(headerPath, head.data(), head.size());
        if (facts.singleFile) {
            checkNiftiData(path, facts, length);
        } else {
            const std::string base = headerPath.substr(0, headerPath.size() - 4);
            const std::string imagePath =
                base +
                (std::isupper(static_cast<unsigned char>(headerPath.back())) ? ".IMG" : ".img");
            requireRegularFile(imagePath);
            checkNiftiData(imagePath, facts, fs::file_size(imagePath));
        }
    } else if (formatName == "MetaImage") {
        const std::vector<uint8_t> header = readPrefix(path, 1 << 16);
        const MetaImageFacts facts = checkMetaImageHeader(path, header.data(), header.size());
        std::string dataPath = path;
        uint64_t available = length > facts.headerBytes ? length - facts.headerBytes : 0;
        if (lowerCase(facts.dataFile) != "local") {
            const fs::path data(facts.dataFile);
            dataPath = (data.is_absolute() ? data : fs::path(path).parent_path() / data).string();
            std::error_code ec;
            if (!fs::is_regular_file(dataPath, ec))
                throw FileError(path,
                                "keeps its voxels in '" + dataPath +
                                    "', which is missing or not a regular file.",
                                "Keep the .raw file beside its header.");
            available = fs::file_size(dataPath);
        }
        // zlib cannot expand its input more than about 1032 times.
        const uint64_t mostItCanHold = facts.compressed ? available * 1032 + 1024 : available;
        if (facts.voxelBytes > mostItCanHold)
            throw FileError(dataPath,
                            "holds " + std::to_string(available) + " bytes but '" + path +
                                "' describes " + std::to_string(facts.voxelBytes) +
                                " bytes of voxels in it.",
                            "The file is truncated, or the header does not belong to it.");
    }
}

// Reads `path` with `io` into a Volume, keeping geometry; `formatName` is for display.
Volume readThrough(itk::ImageIOBase* io, const std::string& path, const std::string& formatName) {
    requireRegularFile(path);
    checkBeforeItk(path, formatName);
    try {
        if (!io->CanReadFile(path.c_str()))
            throw FileError(
                path, "is not a valid " + formatName + " file (its header is not recognised).",
                "It may be corrupt, truncated or misnamed.");
        io->SetFileName(path);
        io->ReadImageInformation();
        const unsigned dimensions = io->GetNumberOfDimensions();
        for (unsigned d = 3; d < dimensions; ++d)
            if (io->GetDimensions(d) > 1)
                throw FileError(
                    path,
                    "has " + std::to_string(dimensions) +
                        " dimensions (e.g. a time series); only 2D and 3D images are supported.",
                    "Extract one volume first.");
        const unsigned components = io->GetNumberOfComponents();
        if (components < 1 || components > 4)
            throw FileError(
                path, std::to_string(components) + " components per pixel are not supported.");
        std::vector<int64_t> extent;
        for (unsigned d = 0; d < dimensions; ++d) extent.push_back(int64_t(io->GetDimensions(d)));
        uint64_t voxels = 0;
        if (!checkedProduct(extent, voxels) || voxels == 0)
            throw FileError(path, "declares an empty or overflowing image size.",
                            "Its header is corrupt.");
        requireImageFits(path, voxels, components);
        for (unsigned d = 0; d < std::min(dimensions, 3u); ++d) {
            const double spacing = io->GetSpacing(d), origin = io->GetOrigin(d);
            bool finiteDirection = true;
            for (double v : io->GetDirection(d))
                finiteDirection = finiteDirection && std::isfinite(v);
            if (!std::isfinite(spacing) || spacing == 0 || !std::isfinite(origin) ||
                !finiteDirection)
                throw FileError(path,
                                "has an unusable geometry (voxel size, origin or direction is "
                                "zero, NaN or infinite along axis " +
                                    std::to_string(d) + ").",
                                "Its header is corrupt.");
        }
        const PixelType sourceType = pixelTypeOf(io->GetComponentType());
        if (sourceType == PixelType::Unknown)
            throw FileError(path, "has an unsupported pixel component type.");

        // Like the gzip case: ITK reads a short uncompressed file without complaint.
        const uint64_t pixelBytes = io->GetImageSizeInBytes();
        const uint64_t minimumSize = embeddedRawHeaderBytes(path);
        if (minimumSize > 0 && fs::file_size(path) < minimumSize - 1 + pixelBytes)
            throw FileError(path,
                            "is truncated: its header describes " + std::to_string(pixelBytes) +
                                " bytes of voxels but the file is only " +
                                std::to_string(fs::file_size(path)) + " bytes long.",
                            "Copy or download the file again.");
        auto reader = itk::ImageFileReader<ReadImage>::New();
        reader->SetImageIO(io);
        reader->SetFileName(path);
        reader->Update();
        ReadImage* image = reader->GetOutput();

        const auto region = image->GetLargestPossibleRegion().GetSize();
        // Grey+alpha keeps grey; RGBA keeps RGB: the alpha channel carries no image data.
        const int kept = components >= 3 ? 3 : 1;
        Volume volume({static_cast<int64_t>(region[0]), static_cast<int64_t>(region[1]),
                       static_cast<int64_t>(region[2])},
                      kept);
        const float* source = image->GetBufferPointer();
        const size_t voxelCount = static_cast<size_t>(volume.geometry().voxelCount());
        float* destination = volume.voxels().data();
        for (size_t v = 0; v < voxelCount; ++v)
            for (int c = 0; c < kept; ++c) destination[v * kept + c] = source[v * components + c];

        ImageGeometry& g = volume.geometry();
        for (int i = 0; i < 3; ++i) {
            g.spacing[i] = image->GetSpacing()[i];
            g.origin[i] = image->GetOrigin()[i];
            for (int j = 0; j < 3; ++j) g.direction[i * 3 + j] = image->GetDirection()(i, j);
        }
        volume.sourcePixelType = sourceType;
        volume.formatName = formatName;
        volume.sourcePath = path;
        return volume;
    } catch (const itk::ExceptionObject& e) {
        throw FileError(path, "could not be read as " + formatName + ": " + e.GetDescription(),
                        "The file may be truncated or corrupt.");
    } catch (const std::bad_alloc&) {
        throw FileError(path, "declares an image too large to load; its header may be corrupt.");
    }
}

}  // namespace

std::string itkFormatForPath(const std::string& path) {
    const FormatEntry* format = formatFor(path);
    return format ? format->name : std::string();
}

Volume readWithItk(const std::string& path) {
    const FormatEntry* format = formatFor(path);
    if (!format)
        throw FileError(
            path, "has an unsupported file type.",
            "Supported: DICOM, NIfTI, NRRD, MetaImage, PNG, JPEG, TIFF, MedMNIST .npz.");
    itk::ImageIOBase::Pointer io = format->create();
    return readThrough(io, path, format->name);
}

Volume readDicomWithGdcm(const std::string& path) {
    // GDCM prints warnings about harmless header quirks to stderr; errors still throw.
    gdcm::Trace::WarningOff();
    auto io = itk::GDCMImageIO::New();
    Volume volume = readThrough(io, path, "DICOM (JPEG 2000 via GDCM)");
    const std::pair<const char*, const char*> fields[] = {
        {"PatientName", "0010|0010"},       {"PatientID", "0010|0020"},
        {"Modality", "0008|0060"},          {"StudyDescription", "0008|1030"},
        {"SeriesDescription", "0008|103e"}, {"SeriesInstanceUID", "0020|000e"}};
    for (const auto& [key, tag] : fields) {
        std::string value;
        if (itk::ExposeMetaData<std::string>(io->GetMetaDataDictionary(), tag, value)) {
            while (!value.empty() && (value.back() == ' ' || value.back() == '\0'))
                value.pop_back();
            if (!value.empty()) volume.metadata[key] = value;
        }
    }
    volume.rescaleSlope = io->GetRescaleSlope();
    volume.rescaleIntercept = io->GetRescaleIntercept();
    return volume;
}

void writeNifti(const Volume& volume, const std::string& path) {
    if (volume.empty()) throw Error("cannot write an empty volume to '" + path + "'");
    const std::string lower = lowerCase(path);
    if (!endsWith(lower, ".nii") && !endsWith(lower, ".nii.gz"))
        throw FileError(path, "must end in .nii or .nii.gz to be written as NIfTI.");
    auto image = ReadImage::New();
    ReadImage::RegionType region;
    ReadImage::SizeType size;
    ReadImage::SpacingType spacing;
    ReadImage::PointType origin;
    ReadImage::DirectionType direction;
    const ImageGeometry& g = volume.geometry();
    for (int i = 0; i < 3; ++i) {
        size[i] = static_cast<itk::SizeValueType>(g.size[i]);
        spacing[i] = g.spacing[i];
        origin[i] = g.origin[i];
        for (int j = 0; j < 3; ++j) direction(i, j) = g.direction[i * 3 + j];
    }
    region.SetSize(size);
    image->SetRegions(region);
    image->SetNumberOfComponentsPerPixel(static_cast<unsigned>(volume.components()));
    image->SetSpacing(spacing);
    image->SetOrigin(origin);
    image->SetDirection(direction);
    image->Allocate();
    std::copy(volume.voxels().begin(), volume.voxels().end(), image->GetBufferPointer());

    writeAtomically(path, [&](const std::string& temporary) {
        try {
            auto writer = itk::ImageFileWriter<ReadImage>::New();
            writer->SetImageIO(itk::NiftiImageIO::New());
            writer->SetFileName(temporary);
            writer->SetInput(image);
            writer->SetUseCompression(endsWith(lower, ".gz"));
            writer->Update();
        } catch (const itk::ExceptionObject& e) {
            throw FileError(path, std::string("could not be written: ") + e.GetDescription());
        }
    });
}

void writePng(const std::vector<uint8_t>& pixels, int width, int height, int components,
              const std::string& path) {
    if (width <= 0 || height <= 0 || (components != 1 && components != 3) ||
        pixels.size() != static_cast<size_t>(width) * height * components)
        throw Error("writePng: pixel buffer does not match " + std::to_string(width) + "x" +
                    std::to_string(height) + "x" + std::to_string(components));
    auto write = [&](auto image) {
        using ImageType = typename decltype(image)::ObjectType;
        typename ImageType::RegionType region;
        typename ImageType::SizeType size;
        size[0] = static_cast<itk::SizeValueType>(width);
        size[1] = static_cast<itk::SizeValueType>(height);
        region.SetSize(size);
        image->SetRegions(region);
        image->Allocate();
        std::memcpy(static_cast<void*>(image->GetBufferPointer()), pixels.data(), pixels.size());
        writeAtomically(path, [&](const std::string& temporary) {
            try {
                auto writer = itk::ImageFileWriter<ImageType>::New();
                writer->SetImageIO(itk::PNGImageIO::New());
                writer->SetFileName(temporary);
                writer->SetInput(image);
                writer->Update();
            } catch (const itk::ExceptionObject& e) {
                throw FileError(path, std::string("could not be written: ") + e.GetDescription());
            }
        });
    };
    if (components == 1)
        write(itk::Image<unsigned char, 2>::New());
    else
        write(itk::Image<itk::RGBPixel<unsigned char>, 2>::New());
}

}  // namespace rllm
