// DICOM series assembly: up to three files (split at "\n--\n") in one folder,
// scanned, grouped into series and each series read as a volume.
#include "FuzzInput.h"

#include "core/Error.h"
#include "core/io/Dicom.h"

#include <filesystem>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace rllm;
    const std::string folder = fuzz::scratchFolder() + "/series";
    std::filesystem::remove_all(folder);
    std::filesystem::create_directories(folder);
    const std::string text(reinterpret_cast<const char*>(data), size);
    size_t start = 0;
    for (int part = 0; part < 3 && start <= text.size(); ++part) {
        size_t end = text.find("\n--\n", start);
        if (end == std::string::npos || part == 2) end = text.size();
        fuzz::writeInput("series/" + std::to_string(part) + ".dcm",
                         reinterpret_cast<const uint8_t*>(text.data()) + start, end - start);
        start = end + 4;
    }
    try {
        for (const DicomSeriesInfo& series : scanDicomFolder(folder)) {
            try {
                readDicomSeries(series);
            } catch (const Error&) {
            }
        }
    } catch (const Error&) {
    }
    return 0;
}
