// main() for fuzz targets built without libFuzzer (GCC: Debian's ITK accepts
// no other compiler, so the targets that reach ITK and GDCM are built with it,
// under ASan and UBSan). Not coverage-guided: it runs every input it is
// given, then random mutations of them (bit flips, byte overwrites,
// truncations, insertions) until -max_total_time seconds have passed.
// Accepts the libFuzzer flags scripts/sanitize passes; ignores the others.
//
//   fuzz_target [-max_total_time=S] [-runs=N] [-seed=N] CORPUS_DIR_OR_FILE...
//
// With both -max_total_time and -runs, whichever comes first ends the run;
// with neither, only the corpus runs.

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<uint8_t> readFile(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void mutate(std::vector<uint8_t>& b, std::mt19937& rng) {
    const int steps = 1 + int(rng() % 4);
    for (int s = 0; s < steps; ++s) {
        const size_t n = b.size();
        switch (rng() % 5) {
            case 0:  // bit flip
                if (n) b[rng() % n] ^= uint8_t(1u << (rng() % 8));
                break;
            case 1: {  // interesting 32-bit value
                static const uint32_t values[] = {
                    0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000u, 0xFFFFFFFFu};
                if (n >= 4) {
                    const uint32_t v = values[rng() % 10];
                    std::memcpy(&b[rng() % (n - 3)], &v, 4);
                }
                break;
            }
            case 2:  // truncate
                if (n) b.resize(rng() % n);
                break;
            case 3:  // insert random bytes
                b.insert(b.begin() + (n ? rng() % n : 0), 1 + rng() % 8, uint8_t(rng()));
                break;
            default:  // header region byte
                if (n) b[rng() % std::min<size_t>(n, 512)] = uint8_t(rng());
        }
    }
}

}  // namespace

// A hang is a finding, as with libFuzzer's -timeout: the alarm ends the run
// with status 70, and the input that hung is left in the scratch file the
// target wrote it to.
void onTimeout(int) {
    static const char message[] = "StandaloneDriver: an input ran past -timeout (hang)\n";
    (void)!write(2, message, sizeof message - 1);
    _exit(70);
}

int main(int argc, char** argv) {
    double seconds = 0;
    unsigned timeout = 0;
    uint32_t seed = 1;
    uint64_t runs = 0;  // 0: no limit on the count
    std::vector<std::vector<uint8_t>> corpus;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("-max_total_time=", 0) == 0)
            seconds = std::stod(a.substr(16));
        else if (a.rfind("-runs=", 0) == 0)
            runs = std::stoull(a.substr(6));
        else if (a.rfind("-seed=", 0) == 0)
            seed = uint32_t(std::stoul(a.substr(6)));
        else if (a.rfind("-timeout=", 0) == 0)
            timeout = unsigned(std::stoul(a.substr(9)));
        else if (a[0] == '-')
            continue;
        else if (std::filesystem::is_directory(a)) {
            for (const auto& e : std::filesystem::directory_iterator(a))
                if (e.is_regular_file()) corpus.push_back(readFile(e.path()));
        } else {
            corpus.push_back(readFile(a));
        }
    }
    std::signal(SIGALRM, onTimeout);
    uint64_t executions = 0;
    for (const auto& input : corpus) {
        alarm(timeout);
        LLVMFuzzerTestOneInput(input.data(), input.size());
        ++executions;
    }
    std::mt19937 rng(seed);
    // -runs alone means "until N executions": no time limit then.
    if (runs > 0 && seconds <= 0) seconds = 1e9;
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!corpus.empty() && std::chrono::steady_clock::now() < end &&
           (runs == 0 || executions < runs)) {
        std::vector<uint8_t> input = corpus[rng() % corpus.size()];
        mutate(input, rng);
        alarm(timeout);
        LLVMFuzzerTestOneInput(input.data(), input.size());
        ++executions;
    }
    std::printf("stat::number_of_executed_units: %llu\n", (unsigned long long)executions);
    return 0;
}
