#pragma once
// SHA-256 (FIPS 180-4), used to fingerprint frozen LLM weights in bundles.
// The hashing is GNU Nettle's; this wrapper keeps its header out of ours.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rllm {

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, size_t size);
    // Finishes the digest; the object must not be updated afterwards.
    std::array<uint8_t, 32> digest();
    std::string hexDigest();

  private:
    struct Context;
    std::unique_ptr<Context> context_;
};

}  // namespace rllm
