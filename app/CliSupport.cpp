#include "app/CliSupport.h"

#include <algorithm>

namespace rllm::cli {

int ParsedArgs::volumeIndex() const {
    if (!has("volume")) return -1;
    const long long volume = getInt("volume", 1);
    if (volume < 1 || volume > 1000000) throw UsageError("--volume counts from 1");
    return static_cast<int>(volume - 1);
}

long long ParsedArgs::getInt(const std::string& name, long long fallback) const {
    auto it = options.find(name);
    if (it == options.end()) return fallback;
    try {
        size_t used = 0;
        long long value = std::stoll(it->second, &used);
        if (used != it->second.size()) throw std::invalid_argument(name);
        return value;
    } catch (const std::exception&) {
        throw UsageError("--" + name + " needs a whole number, not '" + it->second + "'");
    }
}

ParsedArgs parseArgs(const std::vector<std::string>& args, const std::vector<std::string>& flags,
                     const std::vector<std::string>& valued) {
    ParsedArgs parsed;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg.rfind("--", 0) != 0 || arg == "--") {
            parsed.positional.push_back(arg);
            continue;
        }
        std::string name = arg.substr(2);
        std::string value;
        bool inlineValue = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
            inlineValue = true;
        }
        if (std::find(flags.begin(), flags.end(), name) != flags.end()) {
            if (inlineValue) throw UsageError("--" + name + " takes no value");
            parsed.options[name] = "1";
        } else if (std::find(valued.begin(), valued.end(), name) != valued.end()) {
            if (!inlineValue) {
                if (i + 1 >= args.size()) throw UsageError("--" + name + " needs a value");
                value = args[++i];
            }
            parsed.options[name] = value;
        } else {
            throw UsageError("unknown option --" + name);
        }
    }
    return parsed;
}

}  // namespace rllm::cli
