#include "models/Safetensors.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/InputChecks.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rllm {

int64_t TensorInfo::elementCount() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

namespace {

int dtypeSize(const std::string& dtype) {
    if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
    if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
    if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
    if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
    return 0;
}

}  // namespace

float halfToFloat(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF, bits = 0;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int shift = 0;
            while (!(mantissa & 0x400)) {
                mantissa <<= 1;
                ++shift;
            }
            mantissa &= 0x3FF;
            bits = sign | (uint32_t(127 - 15 - shift + 1) << 23) | (mantissa << 13);
        }
    } else if (exponent == 31) {
        bits = sign | 0x7F800000 | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
}

float bfloat16ToFloat(uint16_t b) {
    const uint32_t bits = uint32_t(b) << 16;
    float value;
    std::memcpy(&value, &bits, 4);
    return value;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
    requireRegularFile(path);
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
    if (fd < 0) throw FileError(path, "cannot be opened.", "Check that it exists and is readable.");
    struct stat st {};
    if (fstat(fd, &st) != 0 || st.st_size < 8) {
        ::close(fd);
        throw FileError(path, "is too short to be a safetensors file.");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    void* map = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) throw FileError(path, "could not be memory-mapped.");
    mapped_ = static_cast<const uint8_t*>(map);

    try {
        uint64_t headerLength = 0;
        for (int i = 7; i >= 0; --i) headerLength = (headerLength << 8) | mapped_[i];
        if (headerLength > size_ - 8 || headerLength > (uint64_t(100) << 20))
            throw FileError(path,
                            "has a header length beyond the end of the file; it is truncated or "
                            "not safetensors.");
        dataStart_ = 8 + headerLength;
        nlohmann::json header;
        try {
            header = nlohmann::json::parse(mapped_ + 8, mapped_ + dataStart_);
        } catch (const nlohmann::json::exception& e) {
            throw FileError(path, std::string("has an unreadable JSON header (") + e.what() + ").");
        }
        if (!header.is_object()) throw FileError(path, "has a header that is not a JSON object.");
        for (const auto& [name, entry] : header.items()) {
            if (name == "__metadata__") {
                if (entry.is_object())
                    for (const auto& [key, value] : entry.items())
                        if (value.is_string()) metadata_[key] = value.get<std::string>();
                continue;
            }
            TensorInfo info;
            try {
                info.dtype = entry.at("dtype").get<std::string>();
                // Integers only: converting 1e300 to an integer is undefined behaviour.
                for (const auto& d : entry.at("shape")) {
                    if (!d.is_number_integer()) throw std::runtime_error("shape");
                    info.shape.push_back(d.get<int64_t>());
                }
                const auto& offsets = entry.at("data_offsets");
                if (!offsets.is_array() || offsets.size() != 2 ||
                    !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
                    throw std::runtime_error("data_offsets");
                info.begin = offsets[0].get<uint64_t>();
                info.end = offsets[1].get<uint64_t>();
            } catch (const std::exception&) {
                throw FileError(path, "has a malformed entry for tensor '" + name + "'.");
            }
            const int bytes = dtypeSize(info.dtype);
            if (bytes == 0)
                throw FileError(path,
                                "tensor '" + name + "' has unknown dtype " + info.dtype + ".");
            uint64_t elements = 0;
            if (!checkedProduct(info.shape, elements) || elements > (uint64_t(1) << 50))
                throw FileError(path,
                                "tensor '" + name +
                                    "' has a negative or overflowing shape; the file is corrupt.");
            if (info.end < info.begin || info.end > size_ - dataStart_)
                throw FileError(
                    path, "tensor '" + name + "' lies beyond the end of the file; it is truncated.",
                    "Download the checkpoint again.");
            if (info.end - info.begin != static_cast<uint64_t>(info.elementCount()) * bytes)
                throw FileError(path, "tensor '" + name + "' has " +
                                          std::to_string(info.end - info.begin) +
                                          " bytes, which does not match its shape and dtype.");
            tensors_[name] = info;
        }
    } catch (...) {
        munmap(const_cast<uint8_t*>(mapped_), size_);
        throw;
    }
}

SafetensorsFile::~SafetensorsFile() {
    if (mapped_) munmap(const_cast<uint8_t*>(mapped_), size_);
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) throw FileError(path_, "has no tensor named '" + name + "'.");
    return it->second;
}

const uint8_t* SafetensorsFile::rawBytes(const std::string& name) const {
    return mapped_ + dataStart_ + info(name).begin;
}

std::vector<float> SafetensorsFile::readFloat(const std::string& name) const {
    const TensorInfo& t = info(name);
    const uint8_t* bytes = rawBytes(name);
    std::vector<float> values(static_cast<size_t>(t.elementCount()));
    if (t.dtype == "F32") {
        std::memcpy(values.data(), bytes, values.size() * 4);
    } else if (t.dtype == "F16" || t.dtype == "BF16") {
        for (size_t i = 0; i < values.size(); ++i) {
            uint16_t raw;
            std::memcpy(&raw, bytes + 2 * i, 2);
            values[i] = t.dtype == "F16" ? halfToFloat(raw) : bfloat16ToFloat(raw);
        }
    } else {
        throw FileError(path_, "tensor '" + name + "' is " + t.dtype +
                                   "; only F32, F16 and BF16 weights are supported.");
    }
    return values;
}

void writeSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const NamedTensor& t : tensors) {
        int64_t count = 1;
        for (int64_t d : t.shape) count *= d;
        if (count != static_cast<int64_t>(t.values.size()))
            throw Error("writeSafetensors: tensor '" + t.name +
                        "' has a shape that does not match its values");
        const uint64_t bytes = t.values.size() * 4;
        header[t.name] = {
            {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    while ((8 + text.size()) % 8 != 0) text += ' ';  // keep the data 8-byte aligned
    writeAtomically(path, [&](const std::string& temporary) {
        std::ofstream out(temporary, std::ios::binary);
        uint64_t length = text.size();
        unsigned char lengthBytes[8];
        for (int i = 0; i < 8; ++i) lengthBytes[i] = static_cast<unsigned char>(length >> (8 * i));
        out.write(reinterpret_cast<const char*>(lengthBytes), 8);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        for (const NamedTensor& t : tensors)
            out.write(reinterpret_cast<const char*>(t.values.data()),
                      static_cast<std::streamsize>(t.values.size() * 4));
        out.close();
        if (!out) throw FileError(path, "could not be written (disk full or no permission?).");
    });
}

}  // namespace rllm
