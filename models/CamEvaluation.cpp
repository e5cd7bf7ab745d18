// CAMs scored over a data split: deletion / insertion AUC and, where the
// archive has lesion masks, the pointing game and its token-grid ceiling.
#include "core/Error.h"
#include "models/Bundle.h"
#include "models/Cam.h"
#include "models/CamMethods.h"
#include "models/CamResult.h"
#include "models/CamEvaluation.h"
#include "models/Engine.h"
#include "models/DataParallel.h"
#include "models/ModelInput.h"
#include "core/io/MedMnist.h"
#include "core/io/Npz.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace rllm {

CamEvalCases::CamEvalCases(const std::string& dataPath, const std::string& splitName)
    : split(splitName), data(dataPath) {
    NpzArchive archive(dataPath);
    if (!archive.contains(split + "_masks")) return;
    masks = archive.readArray(split + "_masks");
    const auto size = data.imageSize();
    const int64_t voxels = size[0] * size[1] * size[2];
    if (masks->header.itemSize != 1 || masks->header.elementCount() != data.count(split) * voxels)
        throw FileError(dataPath, split + "_masks is not one byte per voxel of every " + split +
                                      " image; remove it or write it as uint8 of the "
                                      "images' shape.");
}

CamEvalSummary evaluateCams(const std::string& bundlePath, const std::string& dataPath,
                            const CamEvalOptions& o) {
    LoadedBundle bundle = loadBundle(bundlePath);
    return evaluateCams(bundle, CamEvalCases(dataPath, o.split), o);
}

CamEvalSummary evaluateCams(LoadedBundle& bundle, const CamEvalCases& cases,
                            const CamEvalOptions& o) {
    const torch::Device device = torchDevice(o.device);
    const auto& d = bundle.description;
    const CamRecipe recipe = resolveCamRecipe(o.method, o.layer, o.shifts, d);
    const std::string& layer = recipe.layer;
    if (o.steps < 2) throw Error("--steps must be at least 2");
    const MedMnistDataset& data = cases.data;
    const bool volumetric = d.model.volumetric;
    const int64_t side = d.model.image_size;
    if (data.imageSize()[0] != side || data.is3D() != volumetric ||
        data.channels() != d.model.channels)
        throw FileError(data.path(), "does not match the bundle's input.");
    const bool hasMasks = cases.masks.has_value();
    const std::vector<uint8_t>& raw = data.rawImages(cases.split);
    int64_t n = data.count(cases.split);
    if (o.maxCases > 0) n = std::min(n, o.maxCases);
    const int channels = data.channels();
    const int64_t voxels = volumetric ? side * side * side : side * side;
    std::vector<int64_t> shape = volumetric ? std::vector<int64_t>{1, 1, side, side, side}
                                            : std::vector<int64_t>{1, side, side, channels};
    placeModel(*bundle.model, device, o.device);
    bundle.model->eval();
    const TaskType task = parseTaskType(d.task);

    CamEvalSummary s;
    s.layer = layer;
    s.method = recipe.method;
    s.shifts = recipe.shifts;
    int64_t hits = 0, reachable = 0;
    const std::shared_ptr<DataParallelGroup> group = joinDataParallelGroup(o.distributed);
    const RankShard mine = group ? shardOf(n, group->rank(), group->size()) : RankShard{0, n};
    // Where a map that peaks at one token peaks after upsampling, per token.
    std::vector<int64_t> tokenPeaks;
    for (int64_t i = mine.start; i < mine.start + mine.count; ++i) {
        if (o.cancel && o.cancel->load()) throw Error("the CAM evaluation was cancelled");
        torch::Tensor bytes = torch::from_blob(
            const_cast<uint8_t*>(raw.data() + i * voxels * channels), shape, torch::kUInt8);
        torch::Tensor image = normaliseStoredBytes(bytes, d.input);
        if (!volumetric) image = image.permute({0, 3, 1, 2});
        image = image.contiguous().to(device);
        ModelCam cam =
            camAveragedOverShifts(bundle.model, d, image, layer, recipe.method, -1, recipe.shifts);
        torch::Tensor map =
            upsampleCam(cam.grid, {side, side, volumetric ? side : 1}, volumetric).flatten();
        const DeletionInsertion curves =
            deletionInsertion(bundle.model, task, image, map, cam.target, o.steps);
        s.deletionAuc += curves.deletion;
        s.insertionAuc += curves.insertion;
        if (o.roadSteps > 0) {
            const RoadScores road = roadScores(bundle.model, task, image, map, cam.target,
                                               o.roadSteps, o.roadNoise, uint64_t(i));
            s.roadMorfAuc += road.morf;
            s.roadLerfAuc += road.lerf;
        }
        if (hasMasks) {
            const uint8_t* mask = cases.masks->data.data() + i * voxels;
            bool any = false;
            for (int64_t v = 0; v < voxels && !any; ++v) any = mask[v] != 0;
            if (any) {
                ++s.pointingCases;
                hits += mask[map.argmax().item<int64_t>()] != 0;
                if (recipe.shifts > 1) {
                    ++reachable;  // averaged over shifts, a map can peak at any voxel
                } else {
                    if (tokenPeaks.empty()) {
                        const torch::Tensor grid = cam.grid.to(torch::kCPU);
                        for (int64_t t = 0; t < grid.numel(); ++t) {
                            torch::Tensor oneHot = torch::zeros_like(grid).flatten();
                            oneHot[t] = 1;
                            tokenPeaks.push_back(upsampleCam(oneHot.view_as(grid),
                                                             {side, side, volumetric ? side : 1},
                                                             volumetric)
                                                     .argmax()
                                                     .item<int64_t>());
                        }
                    }
                    reachable += std::any_of(tokenPeaks.begin(), tokenPeaks.end(),
                                             [&](int64_t v) { return mask[v] != 0; });
                }
            }
        }
    }
    if (group) {  // the sums over every worker's cases
        s.deletionAuc = group->sum(s.deletionAuc);
        s.insertionAuc = group->sum(s.insertionAuc);
        s.roadMorfAuc = group->sum(s.roadMorfAuc);
        s.roadLerfAuc = group->sum(s.roadLerfAuc);
        hits = static_cast<int64_t>(group->sum(double(hits)));
        reachable = static_cast<int64_t>(group->sum(double(reachable)));
        s.pointingCases = static_cast<int64_t>(group->sum(double(s.pointingCases)));
    }
    s.cases = n;
    s.deletionAuc /= std::max<int64_t>(1, n);
    s.insertionAuc /= std::max<int64_t>(1, n);
    s.roadMorfAuc /= std::max<int64_t>(1, n);
    s.roadLerfAuc /= std::max<int64_t>(1, n);
    if (o.roadSteps <= 0) s.roadMorfAuc = s.roadLerfAuc = std::nan("");
    s.pointingGame =
        hasMasks && s.pointingCases > 0 ? double(hits) / s.pointingCases : std::nan("");
    s.pointingCeiling =
        hasMasks && s.pointingCases > 0 ? double(reachable) / s.pointingCases : std::nan("");
    return s;
}

}  // namespace rllm
