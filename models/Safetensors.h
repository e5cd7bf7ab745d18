#pragma once
// The safetensors format (a little-endian u64 header length, a JSON header of
// {name: {dtype, shape, data_offsets}} plus optional "__metadata__", then the
// raw tensor bytes). Reading memory-maps the file and copies out only the
// tensors asked for, so a 7B-parameter shard is never read whole. No code is
// ever executed on load, unlike pickle-based formats.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rllm {

struct TensorInfo {
    std::string dtype;  // "F32", "F16", "BF16", ...
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;  // byte range inside the data section
    int64_t elementCount() const;
};

class SafetensorsFile {
  public:
    // Maps the file and validates the header: every tensor's range lies
    // inside the file and matches its dtype and shape. Throws FileError.
    explicit SafetensorsFile(const std::string& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return path_; }
    const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
    const TensorInfo& info(const std::string& name) const;
    // The tensor converted to float32 (from F32, F16 or BF16).
    std::vector<float> readFloat(const std::string& name) const;
    // The stored bytes, as they are in the file.
    const uint8_t* rawBytes(const std::string& name) const;

  private:
    std::string path_;
    const uint8_t* mapped_ = nullptr;
    uint64_t size_ = 0;
    uint64_t dataStart_ = 0;
    std::map<std::string, TensorInfo> tensors_;
    std::map<std::string, std::string> metadata_;
};

// One tensor to write: float32 values with a shape.
struct NamedTensor {
    std::string name;
    std::vector<int64_t> shape;
    std::vector<float> values;
};

// Writes float32 tensors and string metadata as safetensors, atomically
// (temporary file beside `path`, then rename).
void writeSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata);

// IEEE half and bfloat16 to float.
float halfToFloat(uint16_t h);
float bfloat16ToFloat(uint16_t b);

}  // namespace rllm
