// CAM layers and recipes: which token layer a request names, and what
// "auto" resolves to on a given model.
#include "core/Error.h"
#include "models/Bundle.h"
#include "models/Cam.h"
#include "models/CamMethods.h"
#include "models/CamResult.h"
#include "models/Engine.h"
#include "models/ModelInput.h"
#include "core/io/MedMnist.h"
#include "core/io/Npz.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace rllm {

std::string canonicalCamLayer(const std::string& layer, const BundleDescription& d) {
    const int depth = d.model.depth;
    const bool hasLlm = d.hasLlm();
    std::string name = layer.empty() ? kDefaultCamLayer : layer;
    if (name == "booster:input") {
        if (!d.boosted()) throw Error("layer 'booster:input': this model has no booster");
        return "block:" + std::to_string(depth - 1);
    }
    if (name == "booster:llm") {
        if (!hasLlm) throw Error("layer 'booster:llm': this model has no LLM block");
        return name;
    }
    if (name.rfind("block:", 0) == 0) {
        std::string rest = name.substr(6), suffix;
        if (auto colon = rest.find(':'); colon != std::string::npos) {
            suffix = rest.substr(colon);
            rest = rest.substr(0, colon);
        }
        if (!suffix.empty() && suffix != ":norm1")
            throw Error("unknown layer '" + layer + "': block layers are block:I or block:I:norm1");
        int index = 0;
        try {
            size_t used = 0;
            index = std::stoi(rest, &used);
            if (used != rest.size()) throw std::invalid_argument(rest);
        } catch (const std::exception&) {
            throw Error("unknown layer '" + layer + "': the block number must be an integer");
        }
        if (index < 0) index += depth;
        if (index < 0 || index >= depth)
            throw Error("layer '" + layer + "': the model has blocks 0.." +
                        std::to_string(depth - 1));
        return "block:" + std::to_string(index) + suffix;
    }
    throw Error("unknown layer '" + layer +
                "': use block:I, block:I:norm1, booster:input or booster:llm");
}

std::string resolveCamLayer(const std::string& method, const std::string& layer,
                            const BundleDescription& d) {
    if (parseCamMethod(method) != CamMethod::Rollout) return canonicalCamLayer(layer, d);
    if (!layer.empty() && layer != kRolloutLayer)
        throw Error("layer '" + layer +
                    "': rollout follows the attention of every block; leave the layer out");
    return kRolloutLayer;
}

CamRecipe resolveCamRecipe(const std::string& method, const std::string& layer, int shifts,
                           const BundleDescription& d) {
    if (shifts < 0) throw Error("--shifts must be at least 1 (0: the method's default)");
    parseCamMethod(method);  // an unknown method is refused before anything runs
    CamRecipe r;
    r.method = method;
    if (parseCamMethod(method) == CamMethod::Auto && layer.empty() && d.explanation) {
        // What rllm cam-choose found most faithful on this model's real cases.
        const ExplanationChoice& e = *d.explanation;
        r.method = e.method;
        r.shifts = shifts > 0 ? shifts : e.shifts;
        r.layer = resolveCamLayer(
            r.method, camMethodInfo(parseCamMethod(e.method)).takesLayer ? e.layer : std::string(),
            d);
        return r;
    }
    if (parseCamMethod(method) == CamMethod::Auto) {
        const bool volumetric = d.model.volumetric;
        if (volumetric && !layer.empty())
            throw Error("layer '" + layer +
                        "': on 3D models the automatic choice is attention rollout, which takes "
                        "no layer; name a method (e.g. --method eigencam) to choose a layer");
        r.method = camMethodInfo(volumetric ? CamMethod::Rollout : CamMethod::EigenCam).key;
        r.shifts = shifts > 0 ? shifts : volumetric ? 3 : 1;
    } else {
        r.shifts = shifts > 0 ? shifts : 1;
    }
    r.layer = resolveCamLayer(r.method, layer, d);
    return r;
}

std::vector<std::string> camLayerNamesFor(const BundleDescription& d) {
    std::vector<std::string> names;
    const int depth = d.model.depth;
    for (int i = 0; i < depth; ++i) {
        names.push_back("block:" + std::to_string(i) + ":norm1");
        names.push_back("block:" + std::to_string(i));
    }
    if (d.boosted()) names.push_back("booster:input");
    if (d.hasLlm()) names.push_back("booster:llm");
    return names;
}

std::vector<std::string> camLayerNames(const std::string& bundlePath) {
    return camLayerNamesFor(loadBundle(bundlePath).description);
}

}  // namespace rllm
