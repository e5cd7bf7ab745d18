#include "core/DemoDataset.h"

#include "core/Phantom.h"
#include "core/io/Npz.h"

#include <algorithm>
#include <cmath>

namespace rllm {

uint8_t phantomToByte(float value) {
    return static_cast<uint8_t>(
        std::clamp(std::lround((value + 250.0f) / 700.0f * 255.0f), 0L, 255L));
}

void writeDemoDataset(const std::string& path, const DemoDatasetOptions& o) {
    std::vector<NpzMember> members;
    const int64_t s = o.size;
    const std::vector<int64_t> caseShape =
        o.volumetric ? std::vector<int64_t>{s, s, s} : std::vector<int64_t>{s, s};
    const int64_t perCase = o.volumetric ? s * s * s : s * s;
    uint32_t splitSeed = o.seed * 1000003u;
    for (const auto& [split, count] :
         {std::pair<std::string, int>{"train", o.train}, {"val", o.val}, {"test", o.test}}) {
        NpzMember images{split + "_images", {}, {}}, labels{split + "_labels", {count, 1}, {}},
            masks{split + "_masks", {}, {}};
        images.shape.push_back(count);
        images.shape.insert(images.shape.end(), caseShape.begin(), caseShape.end());
        masks.shape = images.shape;
        images.values.reserve(static_cast<size_t>(count * perCase));
        for (int i = 0; i < count; ++i) {
            const bool lesion = i % 2 == 1;
            Phantom p = makePhantom({o.size, o.volumetric, lesion, o.lesionRadius,
                                     splitSeed + static_cast<uint32_t>(i)});
            for (float v : p.image.voxels()) images.values.push_back(phantomToByte(v));
            for (float v : p.lesionMask.voxels()) masks.values.push_back(v > 0 ? 1 : 0);
            labels.values.push_back(lesion ? 1 : 0);
        }
        splitSeed += 7919u * static_cast<uint32_t>(count + 1);
        members.push_back(std::move(images));
        members.push_back(std::move(labels));
        members.push_back(std::move(masks));
    }
    writeNpzUint8(path, members);
}

}  // namespace rllm
