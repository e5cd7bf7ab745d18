#pragma once
// Small helpers shared by the rllm sub-commands: argument parsing that
// reports usage errors with exit status 2, and the exit codes themselves.

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace rllm::cli {

enum ExitCode { kOk = 0, kRuntimeError = 1, kUsageError = 2 };

class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Splits argv into positional arguments and --options. `flags` take no value;
// every other --option takes the next argument as its value.
struct ParsedArgs {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;
    bool has(const std::string& name) const { return options.count(name) > 0; }
    std::string get(const std::string& name, const std::string& fallback = {}) const {
        auto it = options.find(name);
        return it == options.end() ? fallback : it->second;
    }
    long long getInt(const std::string& name, long long fallback) const;
    // --volume N (from 1, for 4D DICOM series) as a volume index from 0; -1 when absent.
    int volumeIndex() const;
};

ParsedArgs parseArgs(const std::vector<std::string>& args, const std::vector<std::string>& flags,
                     const std::vector<std::string>& valued);

}  // namespace rllm::cli
