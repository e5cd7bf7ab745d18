// The embedded demo: synthetic phantom datasets and small bundles trained on
// them, made by the project itself so the viewer has something true to show.

#include "core/DemoDataset.h"
#include "core/Error.h"
#include "models/Engine.h"

#include <filesystem>

namespace fs = std::filesystem;

namespace rllm {

DemoSummary makeDemo(const DemoOptions& o, std::ostream& progress) {
    if (o.outDir.empty()) throw Error("the demo needs an output folder");
    std::error_code ec;
    fs::create_directories(o.outDir, ec);
    if (!fs::is_directory(o.outDir)) throw FileError(o.outDir, "could not be created as a folder.");
    DemoSummary summary;
    const bool pretrained = !o.llmPath.empty();
    const std::string llmTag = pretrained ? fs::path(o.llmPath).stem().string() : "random-llm";
    summary.llmNote =
        pretrained ? "frozen block: last layer of " + fs::path(o.llmPath).filename().string()
                   : "no pretrained LLM given: the booster's frozen block is randomly initialised";
    for (bool volumetric : {false, true}) {
        if (volumetric ? !o.include3d : !o.include2d) continue;
        const std::string kind = volumetric ? "phantom3d" : "phantom2d";
        DemoDatasetOptions data;
        data.volumetric = volumetric;
        if (volumetric) {
            data.train = 300, data.val = 60, data.test = 60;
            // The 3D models see 7-voxel patches (a 4x4x4 token grid), so a CAM's
            // maximum can only sit at one of 64 token centres. A lesion of radius
            // 3.9 voxels (the 2D demo's 0.14) holds one in about 3 of 4 cases,
            // capping the pointing game of even a perfect map there; 0.2 (5.6
            // voxels) lets the map, not the grid, decide.
            data.lesionRadius = 0.2;
        }
        if (o.cancel && o.cancel->load()) throw Cancelled();
        const std::string dataPath = (fs::path(o.outDir) / (kind + ".npz")).string();
        progress << "Writing " << dataPath << " (synthetic phantoms, " << data.train << "/"
                 << data.val << "/" << data.test << " cases)\n";
        writeDemoDataset(dataPath, data);
        summary.datasets.push_back(dataPath);
        for (bool boosted : {false, true}) {
            TrainOptions t;
            t.dataPath = dataPath;
            t.arch = volumetric ? "vit3d" : "vit2d";
            t.depth = 2;
            t.patch = volumetric ? 7 : 4;
            t.epochs = volumetric ? o.epochs3d : o.epochs2d;
            t.seed = 1;
            t.device = o.device;
            t.progressBar = o.progressBar;
            t.cancel = o.cancel;
            if (boosted) {
                t.booster = "in";
                t.llmPath = o.llmPath;
                t.randomLlm = !pretrained;
            }
            t.outPath =
                (fs::path(o.outDir) /
                 (kind + (boosted ? "_rllm_booster_" + llmTag : std::string("_vit_baseline")) +
                  ".safetensors"))
                    .string();
            t.commandLine = "rllm demo (" + kind + ", " + (boosted ? "booster" : "baseline") + ")";
            progress << "Training " << t.outPath << "\n";
            trainClassifier(t, progress);
            summary.bundles.push_back(t.outPath);
        }
    }
    return summary;
}

}  // namespace rllm
