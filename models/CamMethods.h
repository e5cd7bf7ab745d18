#pragma once
// The CAM methods the engine offers, in one table that the engine, the
// command line and the viewer all read: adding a method is one row here and
// its computation in models/CamCapture.cpp. No LibTorch or Qt in this header.

#include <string>
#include <vector>

namespace rllm {

enum class CamMethod { Auto, EigenCam, GradCam, GradCamPlusPlus, HiResCam, Rollout };

struct CamMethodInfo {
    CamMethod method;
    const char* key;    // on the command line and in results: "gradcam++"
    const char* title;  // in the viewer: "Grad-CAM++"
    const char* about;  // one sentence for a tooltip or --help
    bool usesGradient;  // of the explained class's score (EigenCAM needs none)
    bool takesLayer;    // false: rollout follows every block, auto picks its own
};

// Every method, in the order the viewer lists them ("auto" first).
const std::vector<CamMethodInfo>& camMethods();

// nullptr when `key` names no method.
const CamMethodInfo* findCamMethod(const std::string& key);
const CamMethodInfo& camMethodInfo(CamMethod method);
// Throws rllm::Error naming the valid keys.
CamMethod parseCamMethod(const std::string& key);

// "auto, eigencam, gradcam, gradcam++, hirescam or rollout".
std::string camMethodKeyList();

}  // namespace rllm
