#include "models/Gguf.h"

#include "core/Error.h"
#include "core/io/InputChecks.h"
#include "models/Safetensors.h"  // halfToFloat, bfloat16ToFloat

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace rllm {

namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};

// Block layouts of the quantised types (ggml-common.h): elements per block
// and bytes per block.
struct BlockLayout {
    uint64_t elements, bytes;
};

bool blockLayout(uint32_t type, BlockLayout& layout) {
    switch (static_cast<GgmlType>(type)) {
        case GgmlType::F32:
            layout = {1, 4};
            return true;
        case GgmlType::F16:
            layout = {1, 2};
            return true;
        case GgmlType::BF16:
            layout = {1, 2};
            return true;
        case GgmlType::Q8_0:
            layout = {32, 2 + 32};
            return true;
        case GgmlType::Q4_0:
            layout = {32, 2 + 16};
            return true;
        case GgmlType::Q4_1:
            layout = {32, 2 + 2 + 16};
            return true;
    }
    return false;
}

// Reads the header sequentially, refusing anything that would run past the file.
class HeaderReader {
  public:
    HeaderReader(std::ifstream& in, const std::string& path, uint64_t size)
        : in_(in), path_(path), size_(size) {}

    void bytes(void* out, uint64_t n) {
        if (n > size_ - position_)
            throw FileError(
                path_, "ends inside its GGUF header (at byte " + std::to_string(position_) + ").",
                "The file is truncated or not a GGUF model.");
        if (!in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n)))
            throw FileError(path_, "could not be read.");
        position_ += n;
    }
    template <class T>
    T number() {
        T v;
        bytes(&v, sizeof v);
        return v;
    }
    std::string string() {
        const uint64_t n = number<uint64_t>();
        if (n > size_ - position_)
            throw FileError(path_, "declares a string of " + std::to_string(n) +
                                       " bytes in its header, past the end of the file.");
        std::string s(n, '\0');
        bytes(s.data(), n);
        return s;
    }
    uint64_t position() const { return position_; }
    uint64_t remaining() const { return size_ - position_; }

  private:
    std::ifstream& in_;
    const std::string& path_;
    uint64_t size_, position_ = 0;
};

// GGUF's value types.
enum : uint32_t {
    kU8 = 0,
    kI8,
    kU16,
    kI16,
    kU32,
    kI32,
    kF32,
    kBool,
    kString,
    kArray,
    kU64,
    kI64,
    kF64
};

int64_t readInteger(HeaderReader& r, uint32_t type) {
    switch (type) {
        case kU8:
            return r.number<uint8_t>();
        case kI8:
            return r.number<int8_t>();
        case kU16:
            return r.number<uint16_t>();
        case kI16:
            return r.number<int16_t>();
        case kU32:
            return r.number<uint32_t>();
        case kI32:
            return r.number<int32_t>();
        case kU64:
            return static_cast<int64_t>(r.number<uint64_t>());
        case kI64:
            return r.number<int64_t>();
    }
    return 0;
}

bool isInteger(uint32_t type) {
    return type <= kI32 || type == kU64 || type == kI64;
}

// The smallest size one element of `type` takes in the file, to bound arrays.
uint64_t minimumSize(uint32_t type) {
    switch (type) {
        case kU8:
        case kI8:
        case kBool:
            return 1;
        case kU16:
        case kI16:
            return 2;
        case kU32:
        case kI32:
        case kF32:
            return 4;
        case kString:
        case kArray:
            return 8;
        default:
            return 8;
    }
}

GgufFile::Value readValue(HeaderReader& r, uint32_t type, const std::string& key,
                          const std::string& path) {
    if (isInteger(type)) return readInteger(r, type);
    switch (type) {
        case kF32:
            return double(r.number<float>());
        case kF64:
            return r.number<double>();
        case kBool:
            return r.number<uint8_t>() != 0;
        case kString:
            return r.string();
        case kArray: {
            const uint32_t elementType = r.number<uint32_t>();
            const uint64_t n = r.number<uint64_t>();
            if (elementType > kF64 || elementType == kArray)
                throw FileError(path, "has the metadata array '" + key +
                                          "' of an unsupported element type " +
                                          std::to_string(elementType) + ".");
            if (n > r.remaining() / minimumSize(elementType))
                throw FileError(path, "declares " + std::to_string(n) + " elements for '" + key +
                                          "', more than the file holds.");
            if (elementType == kString) {
                std::vector<std::string> v;
                v.reserve(n);
                for (uint64_t i = 0; i < n; ++i) v.push_back(r.string());
                return v;
            }
            if (elementType == kF32 || elementType == kF64) {
                std::vector<double> v(n);
                for (auto& x : v) x = elementType == kF32 ? r.number<float>() : r.number<double>();
                return v;
            }
            std::vector<int64_t> v(n);
            for (auto& x : v)
                x = elementType == kBool ? r.number<uint8_t>() : readInteger(r, elementType);
            return v;
        }
    }
    throw FileError(
        path,
        "has the metadata value '" + key + "' of an unknown type " + std::to_string(type) + ".",
        "It is not a GGUF file this program knows, or it is corrupt.");
}

void dequantise(uint32_t type, const uint8_t* data, uint64_t count, float* out) {
    auto half = [](const uint8_t* p) {
        uint16_t bits;
        std::memcpy(&bits, p, 2);
        return halfToFloat(bits);
    };
    switch (static_cast<GgmlType>(type)) {
        case GgmlType::F32:
            std::memcpy(out, data, count * 4);
            return;
        case GgmlType::F16:
            for (uint64_t i = 0; i < count; ++i) out[i] = half(data + 2 * i);
            return;
        case GgmlType::BF16:
            for (uint64_t i = 0; i < count; ++i) {
                uint16_t bits;
                std::memcpy(&bits, data + 2 * i, 2);
                out[i] = bfloat16ToFloat(bits);
            }
            return;
        case GgmlType::Q8_0:  // scale d, then 32 signed bytes: x = d q
            for (uint64_t b = 0; b < count / 32; ++b) {
                const uint8_t* block = data + b * 34;
                const float d = half(block);
                for (int j = 0; j < 32; ++j)
                    out[b * 32 + j] = d * float(static_cast<int8_t>(block[2 + j]));
            }
            return;
        case GgmlType::Q4_0:  // scale d, then 16 bytes of two 4-bit q: x = d (q - 8)
            for (uint64_t b = 0; b < count / 32; ++b) {
                const uint8_t* block = data + b * 18;
                const float d = half(block);
                for (int j = 0; j < 16; ++j) {  // low nibbles first half, high the second
                    out[b * 32 + j] = d * float(int(block[2 + j] & 0x0F) - 8);
                    out[b * 32 + j + 16] = d * float(int(block[2 + j] >> 4) - 8);
                }
            }
            return;
        case GgmlType::Q4_1:  // scale d, minimum m, then 16 bytes: x = d q + m
            for (uint64_t b = 0; b < count / 32; ++b) {
                const uint8_t* block = data + b * 20;
                const float d = half(block), m = half(block + 2);
                for (int j = 0; j < 16; ++j) {
                    out[b * 32 + j] = d * float(block[4 + j] & 0x0F) + m;
                    out[b * 32 + j + 16] = d * float(block[4 + j] >> 4) + m;
                }
            }
            return;
    }
}

std::string shapeText(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

}  // namespace

std::string ggmlTypeName(uint32_t type) {
    switch (static_cast<GgmlType>(type)) {
        case GgmlType::F32:
            return "F32";
        case GgmlType::F16:
            return "F16";
        case GgmlType::BF16:
            return "BF16";
        case GgmlType::Q8_0:
            return "Q8_0";
        case GgmlType::Q4_0:
            return "Q4_0";
        case GgmlType::Q4_1:
            return "Q4_1";
    }
    // Types this reader does not decode, named so the message says which.
    static const std::map<uint32_t, const char*> others = {
        {6, "Q5_0"},  {7, "Q5_1"},  {9, "Q8_1"},  {10, "Q2_K"}, {11, "Q3_K"},
        {12, "Q4_K"}, {13, "Q5_K"}, {14, "Q6_K"}, {15, "Q8_K"}};
    auto it = others.find(type);
    return it != others.end() ? it->second : "type " + std::to_string(type);
}

bool isGgufFile(const std::string& path) {
    // Never open what is not a regular file: a FIFO would block the open.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return false;
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    return in.read(magic, 4) && std::memcmp(magic, kMagic, 4) == 0;
}

GgufFile::GgufFile(const std::string& path) : path_(path) {
    requireRegularFile(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FileError(path, "cannot be opened.");
    fileSize_ = std::filesystem::file_size(path);
    HeaderReader r(in, path, fileSize_);
    char magic[4];
    r.bytes(magic, 4);
    if (std::memcmp(magic, kMagic, 4) != 0)
        throw FileError(path, "is not a GGUF file (no GGUF magic bytes).");
    version_ = r.number<uint32_t>();
    if (version_ != 2 && version_ != 3)
        throw FileError(
            path,
            "is GGUF version " + std::to_string(version_) + "; only versions 2 and 3 are read.",
            "Convert it again with a current llama.cpp.");
    const uint64_t tensorCount = r.number<uint64_t>(), keyCount = r.number<uint64_t>();
    // Each entry takes at least 8 + 4 (+ 8) bytes: counts beyond that are lies.
    if (keyCount > r.remaining() / 12 || tensorCount > r.remaining() / 24)
        throw FileError(path, "declares " + std::to_string(keyCount) + " metadata keys and " +
                                  std::to_string(tensorCount) +
                                  " tensors, more than the file can hold.");
    for (uint64_t k = 0; k < keyCount; ++k) {
        std::string key = r.string();
        const uint32_t type = r.number<uint32_t>();
        metadata_[key] = readValue(r, type, key, path);
    }
    uint64_t alignment = 32;
    if (has("general.alignment")) {
        const int64_t a = integer("general.alignment");
        if (a <= 0 || a > (1 << 20) || (a & (a - 1)) != 0)
            throw FileError(path, "has an invalid general.alignment (" + std::to_string(a) + ").");
        alignment = uint64_t(a);
    }
    std::vector<GgufTensorInfo> infos;
    for (uint64_t t = 0; t < tensorCount; ++t) {
        GgufTensorInfo info;
        info.name = r.string();
        const uint32_t dims = r.number<uint32_t>();
        if (dims == 0 || dims > 4)
            throw FileError(path, "tensor '" + info.name + "' has " + std::to_string(dims) +
                                      " dimensions; GGUF allows 1 to 4.");
        std::vector<int64_t> ggufOrder;
        for (uint32_t d = 0; d < dims; ++d) {
            const uint64_t n = r.number<uint64_t>();
            if (n == 0 || n > (uint64_t(1) << 40))
                throw FileError(path, "tensor '" + info.name + "' has an implausible dimension (" +
                                          std::to_string(n) + ").");
            ggufOrder.push_back(int64_t(n));
        }
        info.shape.assign(ggufOrder.rbegin(), ggufOrder.rend());
        info.type = r.number<uint32_t>();
        info.offset = r.number<uint64_t>();
        uint64_t count = 0;
        BlockLayout layout{};
        if (!checkedProduct(info.shape, count))
            throw FileError(path, "tensor '" + info.name + "' has too many elements.");
        if (blockLayout(info.type, layout)) {
            if (uint64_t(ggufOrder[0]) % layout.elements != 0)
                throw FileError(path, "tensor '" + info.name + "' has rows of " +
                                          std::to_string(ggufOrder[0]) + " values, not whole " +
                                          ggmlTypeName(info.type) + " blocks.");
            info.bytes = count / layout.elements * layout.bytes;
        }
        if (tensors_.count(info.name))
            throw FileError(path, "names the tensor '" + info.name + "' twice.");
        tensors_[info.name] = info;
    }
    // Tensor data starts at the next multiple of the alignment.
    const uint64_t dataStart = (r.position() + alignment - 1) / alignment * alignment;
    for (auto& [name, info] : tensors_) {
        if (info.offset % alignment != 0 || info.offset > fileSize_ ||
            dataStart > fileSize_ - info.offset || info.bytes > fileSize_ - dataStart - info.offset)
            throw FileError(
                path, "tensor '" + name + "' lies outside the file; it is truncated or corrupt.");
        info.offset += dataStart;
    }
}

int64_t GgufFile::integer(const std::string& key) const {
    auto it = metadata_.find(key);
    if (it == metadata_.end()) throw FileError(path_, "lacks the metadata key '" + key + "'.");
    if (const auto* v = std::get_if<int64_t>(&it->second)) return *v;
    throw FileError(path_, "has '" + key + "' of another type than an integer.");
}

double GgufFile::real(const std::string& key) const {
    auto it = metadata_.find(key);
    if (it == metadata_.end()) throw FileError(path_, "lacks the metadata key '" + key + "'.");
    if (const auto* v = std::get_if<double>(&it->second)) return *v;
    if (const auto* v = std::get_if<int64_t>(&it->second)) return double(*v);
    throw FileError(path_, "has '" + key + "' of another type than a number.");
}

std::string GgufFile::text(const std::string& key) const {
    auto it = metadata_.find(key);
    if (it == metadata_.end()) throw FileError(path_, "lacks the metadata key '" + key + "'.");
    if (const auto* v = std::get_if<std::string>(&it->second)) return *v;
    throw FileError(path_, "has '" + key + "' of another type than a string.");
}

int64_t GgufFile::arrayLength(const std::string& key) const {
    auto it = metadata_.find(key);
    if (it == metadata_.end()) throw FileError(path_, "lacks the metadata key '" + key + "'.");
    return std::visit(
        [&](const auto& v) -> int64_t {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::vector<std::string>> ||
                          std::is_same_v<T, std::vector<int64_t>> ||
                          std::is_same_v<T, std::vector<double>>)
                return int64_t(v.size());
            else
                throw FileError(path_, "has '" + key + "' that is not an array.");
        },
        it->second);
}

const GgufTensorInfo& GgufFile::info(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) throw FileError(path_, "has no tensor '" + name + "'.");
    return it->second;
}

std::vector<float> GgufFile::readFloat(const std::string& name,
                                       const std::vector<int64_t>& expectedShape) const {
    const GgufTensorInfo& t = info(name);
    if (t.shape != expectedShape)
        throw FileError(path_, "tensor '" + name + "' has shape " + shapeText(t.shape) +
                                   " but its metadata implies " + shapeText(expectedShape) + ".");
    BlockLayout layout{};
    if (!blockLayout(t.type, layout))
        throw FileError(path_,
                        "stores tensor '" + name + "' as " + ggmlTypeName(t.type) +
                            ", which is not read here (F32, F16, BF16, Q8_0, Q4_0, Q4_1 are).",
                        "Convert or quantise the model to one of those types with llama.cpp.");
    uint64_t count = 0;
    checkedProduct(t.shape, count);
    std::vector<uint8_t> raw(t.bytes);
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(t.offset));
    if (!in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(raw.size())))
        throw FileError(path_, "could not be read at tensor '" + name + "' (truncated?).");
    std::vector<float> values(count);
    dequantise(t.type, raw.data(), count, values.data());
    return values;
}

}  // namespace rllm
