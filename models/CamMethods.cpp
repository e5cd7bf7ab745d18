#include "models/CamMethods.h"

#include "core/Error.h"

namespace rllm {

const std::vector<CamMethodInfo>& camMethods() {
    static const std::vector<CamMethodInfo> table = {
        {CamMethod::Auto, "auto", "Automatic (chosen per model, or EigenCAM / rollout)",
         "The map rllm cam-choose found most faithful on the model's own validation cases, "
         "where it was run; otherwise the choice that found the demo phantoms' lesions: "
         "EigenCAM at the first block for 2D models, gradient-weighted attention rollout "
         "averaged over 3 sub-patch shifts per axis for 3D models.",
         true, false},
        {CamMethod::EigenCam, "eigencam", "EigenCAM",
         "The first principal component of the layer's tokens (Muhammad and Yeasin 2020); no "
         "gradient.",
         false, true},
        {CamMethod::GradCam, "gradcam", "Grad-CAM",
         "Tokens weighted by the class score's gradient averaged over the grid (Selvaraju et al. "
         "2017).",
         true, true},
        {CamMethod::GradCamPlusPlus, "gradcam++", "Grad-CAM++",
         "Grad-CAM with higher-order weights per location (Chattopadhay et al. 2018).", true, true},
        {CamMethod::HiResCam, "hirescam", "HiResCAM",
         "Gradient times activation at every token, summed over channels (Draelos and Carin "
         "2020).",
         true, true},
        {CamMethod::Rollout, "rollout", "Attention rollout (gradient-weighted)",
         "The class token's relevance through every block's attention, weighted by its gradient "
         "(Chefer, Gur and Wolf 2021).",
         true, false},
    };
    return table;
}

const CamMethodInfo* findCamMethod(const std::string& key) {
    for (const CamMethodInfo& info : camMethods())
        if (key == info.key) return &info;
    return nullptr;
}

const CamMethodInfo& camMethodInfo(CamMethod method) {
    for (const CamMethodInfo& info : camMethods())
        if (info.method == method) return info;
    return camMethods().front();
}

CamMethod parseCamMethod(const std::string& key) {
    if (const CamMethodInfo* info = findCamMethod(key)) return info->method;
    throw Error("unknown CAM method '" + key + "': use " + camMethodKeyList());
}

std::string camMethodKeyList() {
    const auto& table = camMethods();
    std::string list;
    for (size_t i = 0; i < table.size(); ++i)
        list += (i == 0 ? "" : i + 1 == table.size() ? " or " : ", ") + std::string(table[i].key);
    return list;
}

}  // namespace rllm
