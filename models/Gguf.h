#pragma once
// GGUF, the single-file format of llama.cpp (version 2 and 3): its key-value
// metadata and tensor table, and tensors read one at a time and dequantised
// to float32 (F32, F16, BF16, Q8_0, Q4_0, Q4_1). No LibTorch. Every count,
// length, offset and shape is checked against the file before it is used,
// so a damaged or hostile file is refused with a FileError, never read past.

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace rllm {

// ggml's type numbers for the tensor types read here.
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 8, BF16 = 30 };
std::string ggmlTypeName(uint32_t type);  // "Q4_1", or "type 12" for others

struct GgufTensorInfo {
    std::string name;
    // PyTorch's order (slowest-varying first): GGUF lists the fastest first,
    // so a Linear weight [out, in] is stored as (in, out).
    std::vector<int64_t> shape;
    uint32_t type = 0;
    uint64_t offset = 0;  // from the start of the file
    uint64_t bytes = 0;
};

class GgufFile {
  public:
    using Value = std::variant<int64_t, double, bool, std::string, std::vector<std::string>,
                               std::vector<int64_t>, std::vector<double>>;

    explicit GgufFile(const std::string& path);

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    const std::map<std::string, Value>& metadata() const { return metadata_; }
    const std::map<std::string, GgufTensorInfo>& tensors() const { return tensors_; }

    bool has(const std::string& key) const { return metadata_.count(key) > 0; }
    // Typed lookups; a missing key or another type is a FileError naming it.
    int64_t integer(const std::string& key) const;
    double real(const std::string& key) const;  // integers are accepted too
    std::string text(const std::string& key) const;
    // The length of an array value (e.g. the tokenizer's vocabulary).
    int64_t arrayLength(const std::string& key) const;

    const GgufTensorInfo& info(const std::string& name) const;
    // The tensor as float32, dequantised; `expectedShape` (PyTorch's order)
    // must match.
    std::vector<float> readFloat(const std::string& name,
                                 const std::vector<int64_t>& expectedShape) const;

  private:
    std::string path_;
    uint32_t version_ = 0;
    uint64_t fileSize_ = 0;
    std::map<std::string, Value> metadata_;
    std::map<std::string, GgufTensorInfo> tensors_;
};

// True when `path` is a regular file that starts with GGUF's magic bytes
// (never opens anything else: a FIFO would block).
bool isGgufFile(const std::string& path);

}  // namespace rllm
