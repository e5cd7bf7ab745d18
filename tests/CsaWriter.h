#pragma once
// Writes Siemens CSA headers (SV10) for tests and fuzz seeds, following the
// layout described in core/io/SiemensCsa.h.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rllm::test {

using CsaElements = std::vector<std::pair<std::string, std::vector<std::string>>>;

inline std::vector<uint8_t> csaHeader(const CsaElements& elements) {
    std::vector<uint8_t> out;
    auto int32 = [&](int32_t v) {
        for (int i = 0; i < 4; ++i) out.push_back(uint8_t(uint32_t(v) >> (8 * i)));
    };
    auto padded = [&](const std::string& text, size_t length) {
        for (size_t i = 0; i < length; ++i) out.push_back(i < text.size() ? uint8_t(text[i]) : 0);
    };
    padded("SV10", 4);
    out.insert(out.end(), {4, 3, 2, 1});
    int32(int32_t(elements.size()));
    int32(77);
    for (const auto& [name, values] : elements) {
        padded(name, 64);
        int32(int32_t(values.size()));  // VM
        padded("DS", 4);
        int32(3);  // SyngoDT
        int32(int32_t(values.size()));
        int32(77);
        for (const std::string& value : values) {
            const int32_t length = int32_t(value.size() + 1);  // with its NUL
            int32(length);
            int32(length);
            int32(77);
            int32(length);
            padded(value, size_t(length));
            while (out.size() % 4) out.push_back(0);
        }
    }
    return out;
}

}  // namespace rllm::test
