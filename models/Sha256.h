#pragma once
// SHA-256 (FIPS 180-4), used to fingerprint frozen LLM weights in bundles.
// Written here so the models layer needs nothing beyond LibTorch and zlib.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace rllm {

class Sha256 {
  public:
    Sha256();
    void update(const void* data, size_t size);
    // Finishes the digest; the object must not be updated afterwards.
    std::array<uint8_t, 32> digest();
    std::string hexDigest();

  private:
    void block(const uint8_t* chunk);
    std::array<uint32_t, 8> state_;
    std::array<uint8_t, 64> buffer_{};
    size_t buffered_ = 0;
    uint64_t length_ = 0;
};

}  // namespace rllm
