#include "core/io/ImageReader.h"

#include "core/Error.h"
#include "core/io/Dicom.h"
#include "core/io/InputChecks.h"
#include "core/io/ItkIo.h"
#include "core/io/MedMnist.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace fs = std::filesystem;

namespace rllm {

InputKind detectInputKind(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return InputKind::DicomFolder;
    // Never open a pipe or device to look at it: reading could block forever.
    if (!fs::is_regular_file(path, ec)) return InputKind::Unsupported;
    std::string lower = path;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower.size() > 4 && lower.compare(lower.size() - 4, 4, ".npz") == 0)
        return InputKind::MedMnist;
    if (looksLikeDicomFile(path)) return InputKind::DicomFile;
    if (!itkFormatForPath(path).empty()) return InputKind::ItkImage;
    // DICOM without the Part 10 preamble often ends in .dcm or has no extension.
    if (fs::path(lower).extension() == ".dcm" || fs::path(lower).extension().empty())
        return InputKind::DicomFile;
    return InputKind::Unsupported;
}

std::string inputKindName(InputKind kind) {
    switch (kind) {
        case InputKind::DicomFolder:
            return "DICOM folder";
        case InputKind::DicomFile:
            return "DICOM";
        case InputKind::MedMnist:
            return "MedMNIST npz";
        case InputKind::ItkImage:
            return "image";
        case InputKind::Unsupported:
            break;
    }
    return "unsupported";
}

Volume readImage(const std::string& path, const ReadOptions& options) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw FileError(path, "does not exist.", "Check the path.");
    if (!fs::is_directory(path, ec)) requireRegularFile(path);
    switch (detectInputKind(path)) {
        case InputKind::DicomFolder: {
            std::vector<DicomSeriesInfo> series = scanDicomFolder(path);
            if (!options.seriesInstanceUid.empty()) {
                for (const DicomSeriesInfo& s : series)
                    if (s.seriesInstanceUid == options.seriesInstanceUid)
                        return readDicomSeries(s, options.volume);
                throw FileError(path, "has no series " + options.seriesInstanceUid + ".");
            }
            if (series.size() > 1)
                throw FileError(path, "holds " + std::to_string(series.size()) + " series.",
                                "Choose one (rllm info lists them; --series UID selects one).");
            return readDicomSeries(series.front(), options.volume);
        }
        case InputKind::DicomFile:
            return readDicomFile(path, options.volume);
        case InputKind::MedMnist:
            return MedMnistDataset(path).image(options.split, options.index);
        case InputKind::ItkImage:
            return readWithItk(path);
        case InputKind::Unsupported:
            break;
    }
    throw FileError(path, "has an unsupported file type.",
                    "Supported: DICOM files and folders, NIfTI, NRRD, MetaImage, PNG, JPEG, TIFF, "
                    "MedMNIST .npz.");
}

}  // namespace rllm
