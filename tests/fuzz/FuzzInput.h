#pragma once
// Shared by the fuzz targets: the parsers under test read files, so each
// input is written to a file (in a folder of this process's own under
// /dev/shm when it exists) and the parser is given its path.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace rllm::fuzz {

inline std::string scratchFolder() {
    static const std::string folder = [] {
        const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        std::string f = std::string(base) + "/rllm-fuzz-" + std::to_string(getpid());
        mkdir(f.c_str(), 0700);
        return f;
    }();
    return folder;
}

inline std::string writeInput(const std::string& name, const uint8_t* data, size_t size) {
    const std::string path = scratchFolder() + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (size > 0) std::fwrite(data, 1, size, f);
    std::fclose(f);
    return path;
}

}  // namespace rllm::fuzz
