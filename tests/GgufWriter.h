#pragma once
// GGUF files written byte by byte here, in llama.cpp's layout (ggml's block
// formats, GGUF v3 header), with their own quantisation. The values a reader
// must return are computed here from the integer codes and the scales'
// half-precision bits through LibTorch's own half/bfloat16 conversions, not
// from the bytes, so models/Gguf.cpp's decoding is checked independently.

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace rllm::test {

enum GgufTypeCode : uint32_t {
    kF32 = 0,
    kF16 = 1,
    kQ4_0 = 2,
    kQ4_1 = 3,
    kQ8_0 = 8,
    kQ6_K = 14,
    kBF16 = 30
};

struct GgufTestTensor {
    std::string name;
    std::vector<int64_t> shape;  // PyTorch's order; the file stores it reversed
    uint32_t type = kF32;
    std::string bytes;
    std::vector<float> expected;  // what a correct reader returns
};

inline float halfBits(uint16_t bits) {
    return torch::from_blob(&bits, {1}, torch::kInt16)
        .view(torch::kHalf)
        .to(torch::kFloat)
        .item<float>();
}
inline float bfloatBits(uint16_t bits) {
    return torch::from_blob(&bits, {1}, torch::kInt16)
        .view(torch::kBFloat16)
        .to(torch::kFloat)
        .item<float>();
}
inline uint16_t halfOf(float v) {
    torch::Tensor h = torch::tensor({v}).to(torch::kHalf);
    return static_cast<uint16_t>(h.view(torch::kInt16).item<int16_t>());
}
inline uint16_t bfloatOf(float v) {
    torch::Tensor h = torch::tensor({v}).to(torch::kBFloat16);
    return static_cast<uint16_t>(h.view(torch::kInt16).item<int16_t>());
}

template <class T>
void appendRaw(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Quantises `values` (a multiple of 32 for the block types) as `type`.
inline GgufTestTensor quantisedTensor(const std::string& name, std::vector<int64_t> shape,
                                      const std::vector<float>& values, uint32_t type) {
    GgufTestTensor t{name, std::move(shape), type, {}, {}};
    auto blocks = [&](auto&& perBlock) {
        for (size_t b = 0; b < values.size() / 32; ++b)
            perBlock(std::vector<float>(values.begin() + b * 32, values.begin() + b * 32 + 32));
    };
    switch (type) {
        case kF32:
            for (float v : values) appendRaw(t.bytes, v);
            t.expected = values;
            break;
        case kF16:
        case kBF16:
            for (float v : values) {
                const uint16_t bits = type == kF16 ? halfOf(v) : bfloatOf(v);
                appendRaw(t.bytes, bits);
                t.expected.push_back(type == kF16 ? halfBits(bits) : bfloatBits(bits));
            }
            break;
        case kQ8_0:
            blocks([&](const std::vector<float>& x) {
                float amax = 0;
                for (float v : x) amax = std::max(amax, std::abs(v));
                const uint16_t d = halfOf(amax / 127.0f);
                appendRaw(t.bytes, d);
                for (float v : x) {
                    const int q = halfBits(d) > 0
                                      ? std::clamp(int(std::lround(v / halfBits(d))), -127, 127)
                                      : 0;
                    appendRaw(t.bytes, int8_t(q));
                    t.expected.push_back(halfBits(d) * float(q));
                }
            });
            break;
        case kQ4_0:
        case kQ4_1:
            blocks([&](const std::vector<float>& x) {
                const float lo = *std::min_element(x.begin(), x.end());
                const float hi = *std::max_element(x.begin(), x.end());
                const bool withMin = type == kQ4_1;
                const float amax = std::max(std::abs(lo), std::abs(hi));
                const uint16_t d = halfOf(withMin ? (hi - lo) / 15.0f : amax / 7.0f);
                const uint16_t m = halfOf(lo);
                appendRaw(t.bytes, d);
                if (withMin) appendRaw(t.bytes, m);
                int codes[32];
                for (int j = 0; j < 32; ++j) {
                    const float scaled =
                        withMin ? (x[j] - halfBits(m)) / halfBits(d) : x[j] / halfBits(d) + 8.0f;
                    codes[j] = std::clamp(int(std::lround(scaled)), 0, 15);
                }
                // Element j in the low nibble of byte j, element j + 16 in its high nibble.
                for (int j = 0; j < 16; ++j)
                    appendRaw(t.bytes, uint8_t(codes[j] | (codes[j + 16] << 4)));
                for (int j = 0; j < 32; ++j)
                    t.expected.push_back(withMin ? halfBits(d) * float(codes[j]) + halfBits(m)
                                                 : halfBits(d) * float(codes[j] - 8));
            });
            break;
        default:  // bytes of the right count for a type the reader refuses (Q6_K: 210 per 256)
            t.bytes.assign(values.size() / 256 * 210, '\0');
    }
    return t;
}

class GgufBuilder {
  public:
    void text(const std::string& key, const std::string& value) {
        key_(key, 8);
        string_(meta_, value);
    }
    void u32(const std::string& key, uint32_t value) {
        key_(key, 4);
        appendRaw(meta_, value);
    }
    void f32(const std::string& key, float value) {
        key_(key, 6);
        appendRaw(meta_, value);
    }
    void textArray(const std::string& key, const std::vector<std::string>& values) {
        key_(key, 9);
        appendRaw(meta_, uint32_t(8));
        appendRaw(meta_, uint64_t(values.size()));
        for (const auto& v : values) string_(meta_, v);
    }
    void add(GgufTestTensor t) { tensors_.push_back(std::move(t)); }

    void write(const std::string& path, uint32_t version = 3, uint64_t alignment = 32) const {
        std::string infos, data;
        for (const auto& t : tensors_) {
            while (data.size() % alignment) data.push_back('\0');
            string_(infos, t.name);
            appendRaw(infos, uint32_t(t.shape.size()));
            for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it)
                appendRaw(infos, uint64_t(*it));
            appendRaw(infos, t.type);
            appendRaw(infos, uint64_t(data.size()));
            data += t.bytes;
        }
        std::string file = "GGUF";
        appendRaw(file, version);
        appendRaw(file, uint64_t(tensors_.size()));
        appendRaw(file, uint64_t(keys_));
        file += meta_ + infos;
        while (file.size() % alignment) file.push_back('\0');
        file += data;
        std::ofstream(path, std::ios::binary).write(file.data(), std::streamsize(file.size()));
    }

  private:
    static void string_(std::string& out, const std::string& s) {
        appendRaw(out, uint64_t(s.size()));
        out += s;
    }
    void key_(const std::string& key, uint32_t type) {
        string_(meta_, key);
        appendRaw(meta_, type);
        ++keys_;
    }
    std::string meta_;
    int keys_ = 0;
    std::vector<GgufTestTensor> tensors_;
};

}  // namespace rllm::test
