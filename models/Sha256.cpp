#include "models/Sha256.h"

#include <nettle/sha2.h>

namespace rllm {

struct Sha256::Context {
    sha256_ctx state;
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
    sha256_init(&context_->state);
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, size_t size) {
    sha256_update(&context_->state, size, static_cast<const uint8_t*>(data));
}

std::array<uint8_t, 32> Sha256::digest() {
    std::array<uint8_t, 32> out{};
    sha256_digest(&context_->state, out.size(), out.data());
    return out;
}

std::string Sha256::hexDigest() {
    static const char* hex = "0123456789abcdef";
    std::string text;
    for (uint8_t byte : digest()) {
        text += hex[byte >> 4];
        text += hex[byte & 15];
    }
    return text;
}

}  // namespace rllm
