#include "core/io/AtomicFile.h"

#include "core/Error.h"

#include <atomic>
#include <filesystem>
#include <unistd.h>

namespace fs = std::filesystem;

namespace rllm {

void writeAtomically(const std::string& path,
                     const std::function<void(const std::string& temporaryPath)>& write) {
    static std::atomic<int> counter{0};
    const fs::path target(path);
    const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(folder, ec))
        throw FileError(path,
                        "cannot be written: the folder '" + folder.string() + "' does not exist.");
    // The prefix keeps the full name (and so its extension, e.g. .nii.gz) at the end.
    const fs::path temporary =
        folder / (".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
                  target.filename().string());
    try {
        write(temporary.string());
        fs::rename(temporary, target);
    } catch (const fs::filesystem_error& e) {
        fs::remove(temporary, ec);
        throw FileError(path, std::string("could not be written (") + e.what() + ").");
    } catch (...) {
        fs::remove(temporary, ec);
        throw;
    }
}

}  // namespace rllm
