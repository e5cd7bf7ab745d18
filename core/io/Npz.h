#pragma once
// Reading NumPy .npy arrays out of .npz archives (zip, stored or deflated,
// ZIP64 aware) through libzip; the .npy header parser is this project's.
// Every declared size is checked against what the file can hold before
// anything is allocated, and CRCs are verified, so a corrupt or truncated
// archive raises rllm::FileError instead of yielding wrong data.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rllm {

struct NpyHeader {
    char kind = 'u';         // numpy kind: 'u' unsigned, 'i' signed, 'f' float, 'b' bool
    int itemSize = 1;        // bytes per element
    bool bigEndian = false;  // only for itemSize > 1
    bool fortranOrder = false;
    std::vector<int64_t> shape;
    int64_t elementCount() const;
    std::string dtypeName() const;  // e.g. "uint8", "float32"
};

struct NpyArray {
    NpyHeader header;
    std::vector<uint8_t> data;  // raw element bytes, C order (Fortran order is refused)
    // Element i converted to double (handles every supported dtype and byte order).
    double valueAt(int64_t i) const;
};

class NpzArchive {
  public:
    // Reads the archive's directory. Throws FileError when the file is not a zip.
    explicit NpzArchive(const std::string& path);
    ~NpzArchive();
    NpzArchive(const NpzArchive&) = delete;
    NpzArchive& operator=(const NpzArchive&) = delete;

    const std::string& path() const { return path_; }
    // Array names without the ".npy" suffix, in archive order.
    std::vector<std::string> names() const;
    bool contains(const std::string& name) const;
    // Decompresses only as much as needed to parse the array's header.
    NpyHeader readHeader(const std::string& name) const;
    NpyArray readArray(const std::string& name) const;

  private:
    struct Entry;
    const Entry& entry(const std::string& name) const;
    std::vector<uint8_t> inflateEntry(const Entry& entry, uint64_t maxBytes) const;

    std::string path_;
    std::vector<Entry> entries_;
};

// A standalone .npy file.
NpyArray readNpyFile(const std::string& path);
// Writes float32 values with `shape` as .npy (version 1, C order), atomically.
void writeNpyFloat32(const std::string& path, const std::vector<int64_t>& shape,
                     const std::vector<float>& values);

// An array to store in an .npz: uint8 values with a shape.
struct NpzMember {
    std::string name;  // without ".npy"
    std::vector<int64_t> shape;
    std::vector<uint8_t> values;
};
// Writes uint8 arrays as a deflate-compressed .npz (numpy.savez_compressed's
// layout; libzip adds ZIP64 records when the archive needs them), atomically.
void writeNpzUint8(const std::string& path, const std::vector<NpzMember>& members);

// Parses a .npy header from the start of `bytes`; sets `dataOffset` to the
// first element byte. `what` names the source for error messages.
NpyHeader parseNpyHeader(const std::vector<uint8_t>& bytes, size_t& dataOffset,
                         const std::string& what);

}  // namespace rllm
