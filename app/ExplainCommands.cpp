// rllm cam, cam-eval, cam-choose and demo: explanations and the embedded demo.

#include "app/CliSupport.h"
#include "app/Commands.h"
#include "app/ModelCliSupport.h"
#include "app/Workers.h"
#include "core/Colormap.h"
#include "core/Error.h"
#include "core/Slice.h"
#include "core/Volume.h"
#include "core/io/MedMnist.h"
#include "models/CamMethods.h"
#include "models/CamResult.h"
#include "models/Engine.h"
#ifdef RLLM_HAVE_MEDICAL_IO
#include "core/BurnedInOverlay.h"
#include "core/io/ItkIo.h"
#include "core/pacs/ResultObjects.h"
#endif

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <unistd.h>

using nlohmann::json;

namespace rllm::cli {
namespace {

#ifdef RLLM_HAVE_MEDICAL_IO
// The middle axial slice (the image itself in 2D) in grey, laid out as the
// viewer shows it, the CAM over it in `colormap` (the viewer's colour maps).
void writeOverlay(const Volume& image, const Volume& cam, HeatColormap colormap,
                  const std::string& path) {
    const ImageGeometry& geometry = image.geometry();
    const SliceLayout layout =
        sliceLayout(geometry, image.is2D() ? acquisitionPlane(geometry) : PatientPlane::Axial);
    const int64_t middle = sliceCount(image, layout) / 2;
    SliceImage grey = extractSlice(image, layout, middle);
    SliceImage heat = extractSlice(cam, layout, middle);
    const WindowPreset window = defaultWindow(image);
    std::vector<uint8_t> shown = applyWindow(grey, window.center, window.width);
    std::vector<uint8_t> rgb(static_cast<size_t>(grey.width) * grey.height * 3);
    for (size_t p = 0; p < static_cast<size_t>(grey.width) * grey.height; ++p) {
        uint8_t g = shown[p * grey.components];
        if (grey.components == 3)
            g = uint8_t((shown[3 * p] + shown[3 * p + 1] + shown[3 * p + 2]) / 3);
        const auto c = camOverGrey(g, heat.values[p], colormap);
        std::copy(c.begin(), c.end(), rgb.begin() + static_cast<std::ptrdiff_t>(3 * p));
    }
    writePng(rgb, grey.width, grey.height, 3, path);
}
#endif

const char* kCamUsage = R"(Usage: rllm cam BUNDLE INPUT --out CAM.nii.gz [--png OVERLAY.png]
                [--colormap jet|hot|viridis|inferno|magma] [--method M] [--layer L]
                [--target C] [--shifts K]
                [--split S --index I] [--series UID] [--json] [--device D] [--llm-precision P] [--threads T]

The class activation map of INPUT (any image the viewer opens, or an .npz case)
on INPUT's own voxel grid and geometry (size, spacing, origin, direction),
values 0..1. Method: auto unless given: EigenCAM on 2D models, attention
rollout averaged over 3 shifts per axis on 3D models, the choices that found
the demo phantoms' lesions (docs/explanations.md; the gradient methods' sign
is unstable on LayerNorm'd tokens). Layers: block:I:norm1
(default block:0:norm1), block:I, booster:input, booster:llm. Target: the
predicted class unless given (gradient methods only). rollout is
gradient-weighted attention rollout over every block (no --layer).
--shifts K averages the maps of the input shifted by K offsets per axis
spread over one patch (K^2 passes in 2D, K^3 in 3D; default: 3 for auto on
3D models, else 1, the plain token map), so the map can peak inside a patch,
not only at token centres.
The PNG shows the CAM over the image (the middle axial slice for volumes) in
the colour map given (default jet), as the viewer draws it.
--dicom DIR (DICOM input) writes the CAM burned into the image as a Secondary
Capture series of INPUT's study, one image per slice with INPUT's geometry
(--series-number N, default 9001), and its values as a floating-point
Parametric Map (cam-values.dcm, series N + 50), ready for
'rllm pacs store NODE DIR'.
)";

// The methods section of the help, from the one table of methods, each
// description wrapped at 80 columns under a 14-column key.
std::string camMethodsHelp() {
    std::string text = "\nMethods (--method):\n";
    for (const CamMethodInfo& info : camMethods()) {
        std::string line = "  " + std::string(info.key);
        const size_t indent = std::max<size_t>(14, line.size() + 1);
        line.resize(indent, ' ');
        std::istringstream words(info.about);
        std::string word;
        while (words >> word) {
            if (line.size() > indent && line.size() + 1 + word.size() > 80) {
                text += line + "\n";
                line = std::string(indent, ' ');
            }
            if (line.size() > indent) line += ' ';
            line += word;
        }
        text += line + "\n";
    }
    return text;
}

// --method's value, checked against the table.
std::string camMethodOption(const ParsedArgs& p, const std::string& fallback) {
    const std::string method = p.get("method", fallback);
    if (!findCamMethod(method)) throw UsageError("--method must be " + camMethodKeyList());
    return method;
}

}  // namespace

int runCam(const std::vector<std::string>& args) {
    ParsedArgs p = parseArgs(
        args, {"help", "json"},
        {"out", "png", "colormap", "method", "layer", "target", "shifts", "split", "index",
         "series", "volume", "device", "threads", "llm-precision", "dicom", "series-number"});
    if (p.has("help")) {
        std::cout << kCamUsage << camMethodsHelp();
        return kOk;
    }
    if (p.positional.size() != 2 || !p.has("out"))
        throw UsageError(std::string("expected BUNDLE INPUT --out CAM.nii.gz\n") + kCamUsage);
    const std::string method = camMethodOption(p, CamOptions().method);
    HeatColormap colormap = HeatColormap::Jet;
    if (p.has("colormap") &&
        (!findColormap(p.get("colormap"), colormap) || colormap == HeatColormap::Diverging))
        throw UsageError("--colormap must be jet, hot, viridis, inferno or magma");
    Volume input = readInputVolume(p, p.positional[1]);
    CamOptions options;
    options.method = method;
    options.layer = p.get("layer");
    options.target = static_cast<int>(p.getInt("target", -1));
    options.shifts = static_cast<int>(p.getInt("shifts", 0));
    if (options.shifts < 0) throw UsageError("--shifts must be at least 1");
    options.device = deviceOptions(p);
    CamResult r = computeCam(p.positional[0], input, options);
    std::vector<std::string> dicomFiles;
#ifdef RLLM_HAVE_MEDICAL_IO
    writeNifti(r.cam, p.get("out"));
    if (p.has("png")) writeOverlay(input, r.cam, colormap, p.get("png"));
    if (p.has("dicom")) {
        // The CAM burned into the image, as a series of the image's own study.
        ResultSeriesInfo info;
        info.sourceFile = dicomSourceFileOf(input);
        info.description =
            "R-LLM CAM " + r.method + ": " + std::filesystem::path(p.positional[0]).stem().string();
        info.seriesNumber = static_cast<int>(p.getInt("series-number", 9001));
        dicomFiles = writeSecondaryCaptureSeries(
            info, burnInCam(input, r.cam, colormap, defaultWindow(input)), p.get("dicom"));
        // And the values themselves, as a Parametric Map of the same study.
        info.description = "R-LLM CAM values " + r.method + ": " +
                           std::filesystem::path(p.positional[0]).stem().string();
        info.seriesNumber += 50;
        const std::string map = (std::filesystem::path(p.get("dicom")) / "cam-values.dcm").string();
        writeParametricMap(info, r.cam, map);
        dicomFiles.push_back(map);
    }
#else
    throw FileError(p.get("out"),
                    "can only be written by a build with ITK (RLLM_WITH_MEDICAL_IO=ON).");
#endif
    json probabilities = json::array();
    for (size_t i = 0; i < r.probabilities.size(); ++i)
        probabilities.push_back({{"class", r.classNames[i]}, {"probability", r.probabilities[i]}});
    if (p.has("json")) {
        std::cout << json{{"cam", p.get("out")},
                          {"png", p.get("png")},
                          {"method", r.method},
                          {"layer", r.layer},
                          {"target", r.target},
                          {"target_name", r.classNames[r.target]},
                          {"probabilities", probabilities},
                          {"token_grid", r.grid},
                          {"shifts", r.shifts},
                          {"resampling", json::parse(r.resamplingJson)},
                          {"device", r.device},
                          {"dicom", dicomFiles}}
                         .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                  << "\n";
    } else {
        std::cout << "CAM (" << r.method << ", layer " << r.layer
                  << (r.shifts > 1 ? ", " + std::to_string(r.shifts) + " shifts per axis" : "")
                  << ") of class '" << r.classNames[r.target] << "' written to " << p.get("out")
                  << (p.has("png") ? " and " + p.get("png") : "") << "\n";
        if (!dicomFiles.empty())
            std::cout << dicomFiles.size() - 1
                      << " Secondary Capture image(s) and a Parametric Map written to "
                      << p.get("dicom") << "\n";
    }
    return kOk;
}

int runCamEval(const std::vector<std::string>& args) {
    ParsedArgs p =
        parseArgs(args, {"help", "json"},
                  {"data", "split", "method", "layer", "shifts", "steps", "road-steps", "max-cases",
                   "device", "threads", "llm-precision", "nproc", "worker-timeout"});
    const char* usage =
        "Usage: rllm cam-eval BUNDLE --data X.npz [--split test] [--method M] [--layer L]\n"
        "                     [--shifts K] [--steps 20] [--road-steps 10] [--max-cases N] "
        "[--json]\n"
        "                     [--device D] "
        "[--llm-precision P]\n"
        "                     [--threads T]\n"
        "Faithfulness of the CAMs over a split: mean deletion and insertion AUC of the predicted\n"
        "class's probability, and the pointing game where the archive has <split>_masks\n"
        "(JSON keys deletion_auc, insertion_auc, pointing_game). ROAD (remove and debias): the\n"
        "same curves with pixels removed by noisy linear imputation from their neighbours,\n"
        "most relevant first (road_morf_auc, lower is better) and least relevant first\n"
        "(road_lerf_auc, higher is better); --road-steps 0 leaves it out. A map whose\n"
        "insertion is not above its deletion, or whose LeRF is not above its MoRF, ranks\n"
        "the pixels no better than chance. pointing_ceiling is the share\n"
        "of lesions holding a voxel where a map that peaks at one token peaks once upsampled:\n"
        "about the most any method can score on the model's token grid (1 for maps averaged\n"
        "over shifts, --shifts K > 1 or auto on 3D models, which can peak at any voxel).\n";
    if (p.has("help")) {
        std::cout << usage << kWorkerOptionsHelp << camMethodsHelp();
        return kOk;
    }
    if (p.positional.size() != 1 || !p.has("data"))
        throw UsageError(std::string("expected BUNDLE --data X.npz\n") + usage);
    CamEvalOptions o;
    if (auto status = startWorkersIfAsked("cam-eval", p, args, o.distributed)) return *status;
    o.method = camMethodOption(p, o.method);
    o.layer = p.get("layer");
    o.shifts = static_cast<int>(p.getInt("shifts", 0));
    if (o.shifts < 0) throw UsageError("--shifts must be at least 1");
    o.split = splitOption(p);
    o.steps = static_cast<int>(p.getInt("steps", 20));
    o.roadSteps = static_cast<int>(p.getInt("road-steps", 10));
    if (o.roadSteps == 1 || o.roadSteps < 0)
        throw UsageError("--road-steps must be 0 (no ROAD) or at least 2");
    o.maxCases = p.getInt("max-cases", 0);
    o.device = deviceOptions(p);
    CamEvalSummary s = evaluateCams(p.positional[0], p.get("data"), o);
    if (o.distributed.rank != 0) return kOk;  // rank 0 reports for the workers
    const json pointing = std::isnan(s.pointingGame) ? json(nullptr) : json(s.pointingGame);
    const json ceiling = std::isnan(s.pointingCeiling) ? json(nullptr) : json(s.pointingCeiling);
    auto orNull = [](double v) { return std::isnan(v) ? json(nullptr) : json(v); };
    if (p.has("json")) {
        std::cout << json{{"deletion_auc", s.deletionAuc},
                          {"insertion_auc", s.insertionAuc},
                          {"road_morf_auc", orNull(s.roadMorfAuc)},
                          {"road_lerf_auc", orNull(s.roadLerfAuc)},
                          {"pointing_game", pointing},
                          {"pointing_ceiling", ceiling},
                          {"cases", s.cases},
                          {"pointing_cases", s.pointingCases},
                          {"layer", s.layer},
                          {"method", s.method},
                          {"shifts", s.shifts},
                          {"split", o.split}}
                         .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                  << "\n";
    } else {
        std::cout << std::fixed << std::setprecision(4) << o.split << " (" << s.cases << " cases, "
                  << s.method << " at " << s.layer
                  << (s.shifts > 1 ? ", " + std::to_string(s.shifts) + " shifts per axis" : "")
                  << "): deletion AUC " << s.deletionAuc << "  insertion AUC " << s.insertionAuc;
        if (!std::isnan(s.roadMorfAuc))
            std::cout << "  ROAD MoRF " << s.roadMorfAuc << " LeRF " << s.roadLerfAuc;
        std::cout << "  pointing game ";
        if (std::isnan(s.pointingGame))
            std::cout << "n/a (no masks)\n";
        else
            std::cout << s.pointingGame << " (" << s.pointingCases
                      << " cases with a lesion; the map's grid allows at most " << s.pointingCeiling
                      << ")\n";
    }
    return kOk;
}

int runCamChoose(const std::vector<std::string>& args) {
    ParsedArgs p = parseArgs(args, {"help", "json"},
                             {"data", "out", "split", "steps", "road-steps", "max-cases", "device",
                              "threads", "llm-precision"});
    const char* usage =
        "Usage: rllm cam-choose BUNDLE --data X.npz --out CHOSEN.safetensors [--split val]\n"
        "                       [--max-cases 32] [--steps 20] [--road-steps 10] [--json]\n"
        "                       [--device D] [--llm-precision P] [--threads T]\n"
        "Chooses what --method auto shows on this model: every CAM method at every layer,\n"
        "and rollout, scored as rllm cam-eval scores them on the first N cases of a split\n"
        "(val by default; test is refused, the choice is part of the model). A map passes\n"
        "when its insertion AUC is above its deletion AUC and its ROAD LeRF above its MoRF;\n"
        "the one with the largest sum of the two margins is recorded in CHOSEN (a copy of\n"
        "BUNDLE, which is never written) and is what auto gives on it from then on, in the\n"
        "viewer too. When no map passes, nothing is written and the status is 1.\n";
    if (p.has("help")) {
        std::cout << usage;
        return kOk;
    }
    if (p.positional.size() != 1 || !p.has("data") || !p.has("out"))
        throw UsageError(std::string("expected BUNDLE --data X.npz --out CHOSEN\n") + usage);
    CamChoiceOptions o;
    o.split = p.get("split", "val");
    if (o.split != "train" && o.split != "val")
        throw UsageError(
            "--split must be val or train: the choice is part of the model, so "
            "the test split stays unseen");
    o.steps = static_cast<int>(p.getInt("steps", o.steps));
    o.roadSteps = static_cast<int>(p.getInt("road-steps", o.roadSteps));
    if (o.roadSteps == 1 || o.roadSteps < 0)
        throw UsageError("--road-steps must be 0 (no ROAD) or at least 2");
    o.maxCases = p.getInt("max-cases", o.maxCases);
    o.device = deviceOptions(p);
    const std::string out = p.get("out");
    const CamChoiceSummary s = chooseCamRecipe(p.positional[0], p.get("data"), out, o);
    if (p.has("json")) {
        json rows = json::array();
        for (size_t i = 0; i < s.candidates.size(); ++i) {
            const CamCandidate& c = s.candidates[i];
            auto orNull = [](double v) { return std::isnan(v) ? json(nullptr) : json(v); };
            rows.push_back(
                {{"method", c.method},
                 {"layer", c.layer},
                 {"shifts", c.shifts},
                 {"deletion_auc", c.scores.deletionAuc},
                 {"insertion_auc", c.scores.insertionAuc},
                 {"road_morf_auc", orNull(c.scores.roadMorfAuc)},
                 {"road_lerf_auc", orNull(c.scores.roadLerfAuc)},
                 {"cases", c.scores.cases},
                 {"faithful", c.faithful()},
                 {"unavailable", c.unavailable.empty() ? json(nullptr) : json(c.unavailable)},
                 {"chosen", int(i) == s.chosen}});
        }
        std::cout << json{{"candidates", rows},
                          {"split", o.split},
                          {"bundle", s.chosen >= 0 ? json(out) : json(nullptr)}}
                         .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                  << "\n";
    } else {
        std::cout << "method     layer            ins-del   LeRF-MoRF  faithful\n";
        for (size_t i = 0; i < s.candidates.size(); ++i) {
            const CamCandidate& c = s.candidates[i];
            if (!c.unavailable.empty()) {
                std::cout << std::left << std::setw(10) << c.method << " " << std::setw(16)
                          << c.layer << " not available on this model\n";
                continue;
            }
            std::cout << std::left << std::setw(10) << c.method << " " << std::setw(16)
                      << (c.shifts > 1 ? c.layer + " x" + std::to_string(c.shifts) : c.layer)
                      << std::right << std::fixed << std::setprecision(4) << std::setw(8)
                      << c.insertionMinusDeletion() << std::setw(12) << c.lerfMinusMorf() << "  "
                      << (c.faithful() ? "yes" : "no") << (int(i) == s.chosen ? "  <- auto" : "")
                      << "\n";
        }
    }
    if (s.chosen < 0) {
        std::cerr << "No map ranked the pixels better than chance on " << o.split
                  << " (insertion above deletion and LeRF above MoRF); nothing was written and "
                     "auto keeps its default. The model itself may not have learnt the task.\n";
        return kRuntimeError;
    }
    if (!p.has("json"))
        std::cout << "auto is now " << s.candidates[s.chosen].method << " at "
                  << s.candidates[s.chosen].layer << " in " << out << "\n";
    return kOk;
}

int runDemo(const std::vector<std::string>& args) {
    ParsedArgs p =
        parseArgs(args, {"help", "no-2d", "no-3d"},
                  {"out", "llm", "epochs-2d", "epochs-3d", "device", "threads", "llm-precision"});
    const char* usage =
        "Usage: rllm demo --out DIR [--llm CHECKPOINT] [--epochs-2d 15] [--epochs-3d 20] "
        "[--no-2d | --no-3d]\n"
        "Makes the embedded demo: synthetic phantom datasets generated here (2D and 3D, lesion or\n"
        "none, with lesion masks, in MedMNIST's .npz layout) and a ViT baseline and an R-LLM\n"
        "booster trained on each. Without --llm the booster's frozen block is random, and says "
        "so.\n";
    if (p.has("help")) {
        std::cout << usage;
        return kOk;
    }
    if (!p.positional.empty() || !p.has("out"))
        throw UsageError(std::string("expected --out DIR\n") + usage);
    DemoOptions o;
    o.outDir = p.get("out");
    o.llmPath = p.get("llm");
    o.epochs2d = static_cast<int>(p.getInt("epochs-2d", o.epochs2d));
    o.epochs3d = static_cast<int>(p.getInt("epochs-3d", o.epochs3d));
    o.include2d = !p.has("no-2d");
    o.include3d = !p.has("no-3d");
    if (!o.include2d && !o.include3d)
        throw UsageError(std::string("--no-2d and --no-3d leave nothing to make\n") + usage);
    o.progressBar = isatty(STDERR_FILENO);
    o.device = deviceOptions(p);
    DemoSummary s = makeDemo(o, std::cerr);
    std::cout << "Synthetic demo (not patient data) in " << o.outDir << "\n" << s.llmNote << "\n";
    for (const std::string& b : s.bundles) std::cout << "  " << b << "\n";
    return kOk;
}

}  // namespace rllm::cli
