#pragma once
// The rllm sub-commands. Each takes the arguments after its name and returns
// the process exit status; usage mistakes throw cli::UsageError.

#include <string>
#include <vector>

namespace rllm::cli {

int runInfo(const std::vector<std::string>& args);
#ifdef RLLM_HAVE_MEDICAL_IO
int runConvert(const std::vector<std::string>& args);
int runPacs(const std::vector<std::string>& args);
#endif
#ifdef RLLM_HAVE_TORCH
int runLlm(const std::vector<std::string>& args);
int runTrain(const std::vector<std::string>& args);
int runEval(const std::vector<std::string>& args);
int runPredict(const std::vector<std::string>& args);
int runBundle(const std::vector<std::string>& args);
int runCam(const std::vector<std::string>& args);
int runCamEval(const std::vector<std::string>& args);
int runCamChoose(const std::vector<std::string>& args);
int runCompare(const std::vector<std::string>& args);
int runDemo(const std::vector<std::string>& args);
#endif

}  // namespace rllm::cli
