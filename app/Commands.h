#pragma once
// The rllm sub-commands. Each takes the arguments after its name and returns
// the process exit status; usage mistakes throw cli::UsageError.

#include <string>
#include <vector>

namespace rllm::cli {

int runInfo(const std::vector<std::string>& args);

}  // namespace rllm::cli
