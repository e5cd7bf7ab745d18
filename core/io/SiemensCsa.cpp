#include "core/io/SiemensCsa.h"

#include "core/Error.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace rllm {

namespace {

// Real headers hold about a hundred elements of a few items each; anything
// far beyond is a damaged count, refused before it drives a loop.
constexpr uint32_t kMaxElements = 4096;
constexpr int32_t kMaxItems = 4096;

class Reader {
  public:
    Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    void need(size_t bytes, const char* what) const {
        if (bytes > size_ - offset_)
            throw Error(std::string("the Siemens CSA header is cut short (in ") + what + ")");
    }
    int32_t int32(const char* what) {
        need(4, what);
        const uint8_t* p = data_ + offset_;
        offset_ += 4;
        return static_cast<int32_t>(uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
                                    uint32_t(p[3]) << 24);
    }
    // `length` bytes as text up to the first NUL, trailing spaces removed.
    std::string text(size_t length, const char* what) {
        need(length, what);
        const char* p = reinterpret_cast<const char*>(data_ + offset_);
        offset_ += length;
        std::string value(p, strnlen(p, length));
        while (!value.empty() && (value.back() == ' ' || value.back() == '\n')) value.pop_back();
        return value;
    }
    void skip(size_t bytes, const char* what) {
        need(bytes, what);
        offset_ += bytes;
    }

  private:
    const uint8_t* data_;
    size_t size_;
    size_t offset_ = 0;
};

}  // namespace

CsaHeader parseSiemensCsa(const uint8_t* data, size_t size) {
    if (size < 16 || std::memcmp(data, "SV10", 4) != 0)
        throw Error(
            "the Siemens CSA header is not of the SV10 version (older VA-era headers are not "
            "read)");
    Reader in(data, size);
    in.skip(8, "the signature");
    const int32_t count = in.int32("the element count");
    in.skip(4, "the header");
    if (count < 0 || uint32_t(count) > kMaxElements)
        throw Error("the Siemens CSA header claims " + std::to_string(count) + " elements");
    CsaHeader header;
    for (int32_t e = 0; e < count; ++e) {
        const std::string name = in.text(64, "an element name");
        in.int32("an element's VM");
        CsaElement element;
        element.vr = in.text(4, "an element's VR");
        in.int32("an element's SyngoDT");
        const int32_t items = in.int32("an element's item count");
        in.skip(4, "an element");
        if (items < 0 || items > kMaxItems)
            throw Error("the Siemens CSA element '" + name + "' claims " + std::to_string(items) +
                        " items");
        for (int32_t i = 0; i < items; ++i) {
            in.int32("an item header");
            const int32_t length = in.int32("an item header");
            in.skip(8, "an item header");
            if (length < 0)
                throw Error("the Siemens CSA element '" + name + "' has an item of length " +
                            std::to_string(length));
            std::string value = in.text(size_t(length), "an item's value");
            in.skip((4 - size_t(length) % 4) % 4, "an item's padding");
            if (!value.empty()) element.values.push_back(std::move(value));
        }
        header[name] = std::move(element);
    }
    return header;
}

std::vector<double> csaNumbers(const CsaHeader& header, const std::string& name) {
    std::vector<double> numbers;
    const auto it = header.find(name);
    if (it == header.end()) return numbers;
    for (const std::string& text : it->second.values) {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !std::isfinite(value))
            throw Error("the Siemens CSA element '" + name + "' holds '" + text +
                        "', which is not a number");
        numbers.push_back(value);
    }
    return numbers;
}

}  // namespace rllm
