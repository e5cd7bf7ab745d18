#pragma once
// Shared by the fuzz targets: the parsers under test read files, so each
// input is written to a file in a folder of this process's own, and the
// parser is given its path. The folder lies under $RLLM_FUZZ_SCRATCH when
// set (scripts/sanitize sets one per run, so that runs side by side on one
// machine never remove each other's files), else /dev/shm or /tmp.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace rllm::fuzz {

inline std::string scratchFolder() {
    static const std::string folder = [] {
        const char* base = std::getenv("RLLM_FUZZ_SCRATCH");
        if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        return std::string(base) + "/rllm-fuzz-" + std::to_string(getpid());
    }();
    mkdir(folder.c_str(), 0700);  // again each time: cheap, and survives a removal
    return folder;
}

inline std::string writeInput(const std::string& name, const uint8_t* data, size_t size) {
    const std::string path = scratchFolder() + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) {
        // The harness cannot work; say so rather than report a parser finding.
        std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
        std::abort();
    }
    if (size > 0) std::fwrite(data, 1, size, f);
    std::fclose(f);
    return path;
}

}  // namespace rllm::fuzz
