#pragma once
// Writing outputs atomically: a writer fills a temporary file next to the
// target (same folder, same extension so format detection still works), and
// only a complete file is renamed over the target. A failed write leaves the
// target untouched and removes the temporary file.

#include <functional>
#include <string>

namespace rllm {

void writeAtomically(const std::string& path,
                     const std::function<void(const std::string& temporaryPath)>& write);

}  // namespace rllm
