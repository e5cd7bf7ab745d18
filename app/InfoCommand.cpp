// rllm info PATH: what a file, DICOM folder or MedMNIST archive holds.

#include "app/Commands.h"

#include "app/CliSupport.h"
#include "core/Error.h"
#include "core/Volume.h"
#include "core/io/MedMnist.h"
#ifdef RLLM_HAVE_MEDICAL_IO
#include "core/io/Dicom.h"
#include "core/io/ImageReader.h"
#endif

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <iomanip>
#include <iostream>
#include <sstream>

using nlohmann::json;

namespace rllm::cli {
namespace {

const char* kUsage =
    R"(Usage: rllm info PATH [--json] [--series UID] [--volume N] [--split S] [--index I]

Describes an image, a DICOM folder or a MedMNIST .npz archive.
  PATH           DICOM file or folder, NIfTI (.nii/.nii.gz), NRRD, MetaImage
                 (.mha/.mhd), PNG, JPEG, TIFF, or MedMNIST .npz
  --json         print JSON instead of text
  --series UID   for a DICOM folder: describe that series' volume
  --volume N     for a 4D DICOM series (time, diffusion, echoes): its volume N (from 1)
  --split S      for an .npz: also describe case --index of split S
  --index I      (train, val or test; default index 0)
)";

json volumeJson(const Volume& v) {
    const ImageGeometry& g = v.geometry();
    ValueRange range = v.valueRange();
    json j;
    j["format"] = v.formatName;
    j["size"] = g.size;
    j["components"] = v.components();
    j["spacing"] = g.spacing;
    j["origin"] = g.origin;
    j["direction"] = g.direction;
    j["pixel_type"] = pixelTypeName(v.sourcePixelType);
    j["value_range"] = {range.min, range.max};
    if (v.rescaleSlope != 1.0 || v.rescaleIntercept != 0.0)
        j["rescale"] = {{"slope", v.rescaleSlope}, {"intercept", v.rescaleIntercept}};
    json windows = json::array();
    for (const WindowPreset& w : v.windowPresets)
        windows.push_back({{"name", w.name}, {"center", w.center}, {"width", w.width}});
    j["window_presets"] = windows;
    j["metadata"] = v.metadata;
    if (v.synthetic) j["synthetic"] = true;
    return j;
}

std::string vectorText(const json& values) {
    std::ostringstream out;
    out << std::setprecision(6);
    for (size_t i = 0; i < values.size(); ++i) out << (i ? " x " : "") << values[i].get<double>();
    return out.str();
}

void printVolumeText(const json& j, std::ostream& out) {
    out << "Format:      " << j["format"].get<std::string>() << "\n";
    out << "Size:        " << vectorText(j["size"]) << " voxels";
    if (j["components"].get<int>() == 3) out << " (RGB)";
    out << "\nSpacing:     " << vectorText(j["spacing"]) << " mm\n";
    out << "Origin:      " << vectorText(j["origin"]) << " mm (LPS)\n";
    out << "Direction:   ";
    for (int r = 0; r < 3; ++r) {
        out << (r ? " | " : "");
        for (int c = 0; c < 3; ++c)
            out << (c ? " " : "") << j["direction"][r * 3 + c].get<double>();
    }
    out << "\nPixel type:  " << j["pixel_type"].get<std::string>() << "\n";
    out << "Value range: " << j["value_range"][0].get<double>() << " .. "
        << j["value_range"][1].get<double>() << "\n";
    if (j.contains("rescale"))
        out << "Rescale:     slope " << j["rescale"]["slope"].get<double>() << ", intercept "
            << j["rescale"]["intercept"].get<double>() << "\n";
    for (const auto& w : j["window_presets"])
        out << "Window:      " << w["name"].get<std::string>() << ": center "
            << w["center"].get<double>() << ", width " << w["width"].get<double>() << "\n";
    for (const auto& [key, value] : j["metadata"].items())
        out << std::left << std::setw(13) << (key + ":") << value.get<std::string>() << "\n";
}

json datasetJson(const MedMnistDataset& data) {
    json j;
    j["format"] = "MedMNIST npz";
    j["image_size"] = data.imageSize();
    j["channels"] = data.channels();
    j["dimensions"] = data.is3D() ? 3 : 2;
    j["label_columns"] = data.labelColumns();
    json splits;
    for (const std::string& split : MedMnistDataset::splitNames())
        splits[split] = {{"count", data.count(split)}, {"label_counts", data.labelCounts(split)}};
    j["splits"] = splits;
    return j;
}

void printDatasetText(const json& j, std::ostream& out) {
    out << "Format:        MedMNIST npz (" << j["dimensions"].get<int>() << "D, "
        << (j["channels"].get<int>() == 3 ? "RGB" : "grey") << ")\n";
    out << "Image size:    " << vectorText(j["image_size"]) << "\n";
    out << "Label columns: " << j["label_columns"].get<int>()
        << (j["label_columns"].get<int>() > 1 ? " (multi-label)" : "") << "\n";
    for (const std::string& split : MedMnistDataset::splitNames()) {
        const json& s = j["splits"][split];
        out << std::left << std::setw(6) << split << std::right << std::setw(7)
            << s["count"].get<long long>() << " images, label counts [";
        for (size_t i = 0; i < s["label_counts"].size(); ++i)
            out << (i ? ", " : "") << s["label_counts"][i].get<long long>();
        out << "]\n";
    }
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

bool isNpz(const std::string& path) {
    std::string l = lower(path);
    return l.size() > 4 && l.compare(l.size() - 4, 4, ".npz") == 0;
}

}  // namespace

int runInfo(const std::vector<std::string>& args) {
    ParsedArgs parsed = parseArgs(args, {"json", "help"}, {"series", "volume", "split", "index"});
    if (parsed.has("help")) {
        std::cout << kUsage;
        return kOk;
    }
    if (parsed.positional.size() != 1)
        throw UsageError(std::string("expected one PATH\n") + kUsage);
    const std::string path = parsed.positional.front();
    const bool asJson = parsed.has("json");
    json result;
    result["path"] = path;

    if (isNpz(path)) {
        MedMnistDataset data(path);
        result.update(datasetJson(data));
        if (parsed.has("split") || parsed.has("index")) {
            result["case"] =
                volumeJson(data.image(parsed.get("split", "test"), parsed.getInt("index", 0)));
        }
        if (asJson) {
            std::cout << result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                      << "\n";
        } else {
            std::cout << "Path:          " << path << "\n";
            printDatasetText(result, std::cout);
            if (result.contains("case")) {
                std::cout << "\nCase " << parsed.get("split", "test") << "/"
                          << parsed.getInt("index", 0) << ":\n";
                printVolumeText(result["case"], std::cout);
            }
        }
        return kOk;
    }
#ifdef RLLM_HAVE_MEDICAL_IO
    if (detectInputKind(path) == InputKind::DicomFolder && !parsed.has("series") &&
        !parsed.has("volume")) {
        json series = json::array();
        for (const DicomSeriesInfo& s : scanDicomFolder(path))
            series.push_back({{"series_instance_uid", s.seriesInstanceUid},
                              {"description", s.seriesDescription},
                              {"series_number", s.seriesNumber},
                              {"modality", s.modality},
                              {"patient_name", s.patientName},
                              {"patient_id", s.patientId},
                              {"study_description", s.studyDescription},
                              {"study_date", s.studyDate},
                              {"files", s.files.size()},
                              {"images", s.imageCount},
                              {"volumes", s.volumeCount},
                              {"volumes_differ_in", s.volumesDifferIn}});
        result["format"] = "DICOM folder";
        result["series"] = series;
        if (asJson) {
            std::cout << result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                      << "\n";
        } else {
            std::cout << "Path:   " << path << "\nFormat: DICOM folder, " << series.size()
                      << " series\n";
            for (const auto& s : series)
                std::cout << "  " << s["series_instance_uid"].get<std::string>() << "  "
                          << s["modality"].get<std::string>() << "  \""
                          << s["description"].get<std::string>() << "\"  "
                          << s["images"].get<long long>() << " images  patient \""
                          << s["patient_name"].get<std::string>() << "\""
                          << (s["volumes"].get<int>() > 1
                                  ? "  " + std::to_string(s["volumes"].get<int>()) +
                                        " volumes (4D; by " +
                                        s["volumes_differ_in"].get<std::string>() + "; --volume N)"
                                  : std::string())
                          << "\n";
        }
        return kOk;
    }
    ReadOptions options;
    options.seriesInstanceUid = parsed.get("series");
    options.volume = parsed.volumeIndex();
    result.update(volumeJson(readImage(path, options)));
    if (asJson) {
        std::cout << result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
        std::cout << "Path:        " << path << "\n";
        printVolumeText(result, std::cout);
    }
    return kOk;
#else
    throw FileError(
        path, "can only be read by a build with DICOM/ITK support (RLLM_WITH_MEDICAL_IO=ON).");
#endif
}

}  // namespace rllm::cli
