#include "core/io/Npz.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/InputChecks.h"

#include <zip.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>

namespace rllm {

struct NpzArchive::Entry {
    std::string name;    // as stored, e.g. "train_images.npy"
    uint64_t index = 0;  // in the zip directory
    uint16_t method = 0;
    uint64_t compressedSize = 0;
    uint64_t uncompressedSize = 0;
};

namespace {

// Refuse arrays larger than this: a corrupted size field must not turn into a huge allocation.
constexpr uint64_t kMaxEntryBytes = uint64_t(64) << 30;

uint16_t le16(const uint8_t* p) {
    return uint16_t(p[0] | (p[1] << 8));
}
uint32_t le32(const uint8_t* p) {
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

std::string stripNpy(const std::string& name) {
    return name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0
               ? name.substr(0, name.size() - 4)
               : name;
}

// An archive opened with libzip, closed when it goes out of scope. Each read
// opens its own, so one NpzArchive may be read from several threads.
class OpenZip {
  public:
    explicit OpenZip(const std::string& path) : path_(path) {
        requireRegularFile(path);
        int error = 0;
        // ZIP_CHECKCONS: the local headers must agree with the directory.
        zip_ = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &error);
        if (!zip_) {
            zip_error_t reason;
            zip_error_init_with_code(&reason, error);
            const std::string text = zip_error_strerror(&reason);
            zip_error_fini(&reason);
            throw FileError(path, "is not a readable NumPy .npz archive (" + text + ").",
                            error == ZIP_ER_OPEN || error == ZIP_ER_READ
                                ? "Check that it exists and is readable."
                                : "It may be truncated or not an .npz file; download or copy it "
                                  "again.");
        }
    }
    ~OpenZip() { zip_discard(zip_); }  // read only: nothing to write back
    OpenZip(const OpenZip&) = delete;
    OpenZip& operator=(const OpenZip&) = delete;
    zip_t* get() const { return zip_; }
    std::string error() const { return zip_strerror(zip_); }

  private:
    std::string path_;
    zip_t* zip_ = nullptr;
};

}  // namespace

NpzArchive::NpzArchive(const std::string& path) : path_(path) {
    OpenZip zip(path);
    const zip_int64_t count = zip_get_num_entries(zip.get(), 0);
    if (count < 0 || count > 100000)
        throw FileError(path, "has an implausible number of zip entries.");
    for (zip_int64_t i = 0; i < count; ++i) {
        zip_stat_t stat;
        zip_stat_init(&stat);
        if (zip_stat_index(zip.get(), zip_uint64_t(i), 0, &stat) != 0 ||
            !(stat.valid & ZIP_STAT_NAME) || !(stat.valid & ZIP_STAT_SIZE) ||
            !(stat.valid & ZIP_STAT_COMP_SIZE) || !(stat.valid & ZIP_STAT_COMP_METHOD))
            throw FileError(path, "has a corrupt zip directory (" + zip.error() + ").",
                            "Download or copy it again.");
        Entry entry;
        entry.name = stat.name;
        entry.index = zip_uint64_t(i);
        entry.method = stat.comp_method;
        entry.compressedSize = stat.comp_size;
        entry.uncompressedSize = stat.size;
        entries_.push_back(entry);
    }
}

NpzArchive::~NpzArchive() = default;

std::vector<std::string> NpzArchive::names() const {
    std::vector<std::string> result;
    for (const Entry& e : entries_) result.push_back(stripNpy(e.name));
    return result;
}

bool NpzArchive::contains(const std::string& name) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const Entry& e) { return stripNpy(e.name) == name; });
}

const NpzArchive::Entry& NpzArchive::entry(const std::string& name) const {
    for (const Entry& e : entries_)
        if (stripNpy(e.name) == name) return e;
    throw FileError(path_, "has no array named '" + name + "'.");
}

std::vector<uint8_t> NpzArchive::inflateEntry(const Entry& entry, uint64_t maxBytes) const {
    const std::string what = "array '" + stripNpy(entry.name) + "'";
    if (entry.method != ZIP_CM_STORE && entry.method != ZIP_CM_DEFLATE)
        throw FileError(path_,
                        what + " uses zip compression method " + std::to_string(entry.method) +
                            ", which is not supported.",
                        "Save it with numpy.savez or numpy.savez_compressed.");
    std::error_code ec;
    const uint64_t fileSize = std::filesystem::file_size(path_, ec);
    if (entry.uncompressedSize > kMaxEntryBytes || entry.compressedSize > fileSize)
        throw FileError(path_, what + " has an implausible size; the file is corrupt.");
    // What the entry can hold bounds what is allocated: stored data is as long
    // as it is stored, and deflate cannot expand its input more than 1032 times.
    const uint64_t mostItCanHold =
        entry.method == ZIP_CM_STORE ? entry.compressedSize : entry.compressedSize * 1032 + 1024;
    if (entry.uncompressedSize > mostItCanHold)
        throw FileError(path_,
                        what + " claims " + std::to_string(entry.uncompressedSize) +
                            " bytes uncompressed from " + std::to_string(entry.compressedSize) +
                            " compressed, more than the data can hold; the file is corrupt.",
                        "Download or copy it again.");
    const bool whole = maxBytes >= entry.uncompressedSize;
    const uint64_t wanted = std::min(maxBytes, entry.uncompressedSize);

    OpenZip zip(path_);
    zip_file_t* file = zip_fopen_index(zip.get(), entry.index, 0);
    if (!file)
        throw FileError(path_, what + " cannot be read (" + zip.error() + ").",
                        "The file is truncated or corrupt; download or copy it again.");
    std::vector<uint8_t> bytes(static_cast<size_t>(wanted));
    uint64_t produced = 0;
    bool failed = false;
    while (produced < wanted) {
        const zip_int64_t n = zip_fread(file, bytes.data() + produced,
                                        std::min<uint64_t>(wanted - produced, 1u << 30));
        if (n <= 0) {
            failed = true;
            break;
        }
        produced += uint64_t(n);
    }
    // Reading on to the end makes libzip compare the CRC: the entry must end
    // exactly where its size says, with the right checksum.
    if (!failed && whole) {
        uint8_t extra = 0;
        failed = zip_fread(file, &extra, 1) != 0;
    }
    const std::string reason = zip_file_strerror(file);
    zip_fclose(file);
    if (failed)
        throw FileError(
            path_, what + " could not be read (" + reason + "); the file is truncated or corrupt.",
            "Download or copy it again.");
    return bytes;
}

NpyHeader NpzArchive::readHeader(const std::string& name) const {
    const Entry& e = entry(name);
    std::vector<uint8_t> start = inflateEntry(e, 4096);
    size_t offset = 0;
    return parseNpyHeader(start, offset, "'" + path_ + "' array '" + name + "'");
}

NpyArray NpzArchive::readArray(const std::string& name) const {
    const Entry& e = entry(name);
    {
        // The header's shape must account for the entry's size before the
        // whole entry is inflated.
        std::vector<uint8_t> start = inflateEntry(e, 4096);
        size_t offset = 0;
        const NpyHeader header =
            parseNpyHeader(start, offset, "'" + path_ + "' array '" + name + "'");
        const uint64_t expected =
            static_cast<uint64_t>(header.elementCount()) * uint64_t(header.itemSize);
        if (offset > e.uncompressedSize || e.uncompressedSize - offset != expected)
            throw FileError(path_,
                            "array '" + name + "' holds " +
                                std::to_string(e.uncompressedSize -
                                               std::min<uint64_t>(offset, e.uncompressedSize)) +
                                " bytes but its shape needs " + std::to_string(expected) + ".",
                            "The file is corrupt.");
    }
    std::vector<uint8_t> bytes = inflateEntry(e, e.uncompressedSize);
    size_t offset = 0;
    NpyArray array;
    array.header = parseNpyHeader(bytes, offset, "'" + path_ + "' array '" + name + "'");
    uint64_t expected = static_cast<uint64_t>(array.header.elementCount()) * array.header.itemSize;
    if (bytes.size() - offset != expected)
        throw FileError(path_, "array '" + name + "' holds " +
                                   std::to_string(bytes.size() - offset) +
                                   " bytes but its shape needs " + std::to_string(expected) + ".");
    array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(offset), bytes.end());
    return array;
}

int64_t NpyHeader::elementCount() const {
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    return count;
}

std::string NpyHeader::dtypeName() const {
    if (kind == 'b') return "bool";
    std::string base = kind == 'u' ? "uint" : kind == 'i' ? "int" : "float";
    return base + std::to_string(itemSize * 8);
}

NpyHeader parseNpyHeader(const std::vector<uint8_t>& bytes, size_t& dataOffset,
                         const std::string& what) {
    auto fail = [&](const std::string& problem) -> Error {
        return Error(what + ": " + problem + " The .npy data is corrupt or not a NumPy array.");
    };
    static const char magic[] = "\x93NUMPY";
    if (bytes.size() < 10 || std::memcmp(bytes.data(), magic, 6) != 0)
        throw fail("missing the NumPy magic bytes.");
    const int major = bytes[6];
    size_t headerLength = 0, headerStart = 0;
    if (major == 1) {
        headerLength = le16(&bytes[8]);
        headerStart = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) throw fail("header is truncated.");
        headerLength = le32(&bytes[8]);
        headerStart = 12;
    } else {
        throw fail("unknown .npy version " + std::to_string(major) + ".");
    }
    if (headerStart + headerLength > bytes.size()) throw fail("header is truncated.");
    const std::string dict(reinterpret_cast<const char*>(&bytes[headerStart]), headerLength);
    dataOffset = headerStart + headerLength;

    NpyHeader header;
    std::smatch match;
    static const std::regex descrPattern(R"('descr'\s*:\s*'([<>|=])([uifb])(\d{1,2})')");
    if (!std::regex_search(dict, match, descrPattern))
        throw fail(
            "unsupported or missing dtype (structured and object arrays are not supported).");
    header.bigEndian = match[1] == ">";
    header.kind = match[2].str()[0];
    header.itemSize = std::stoi(match[3]);
    const bool validSize = header.kind == 'f' ? (header.itemSize == 4 || header.itemSize == 8)
                                              : (header.itemSize == 1 || header.itemSize == 2 ||
                                                 header.itemSize == 4 || header.itemSize == 8);
    if (!validSize) throw fail("unsupported element size " + match[3].str() + ".");
    static const std::regex fortranPattern(R"('fortran_order'\s*:\s*(True|False))");
    if (!std::regex_search(dict, match, fortranPattern)) throw fail("missing 'fortran_order'.");
    header.fortranOrder = match[1] == "True";
    if (header.fortranOrder)
        throw fail("is stored in Fortran order, which is not supported; save it C-contiguous.");
    static const std::regex shapePattern(R"('shape'\s*:\s*\(([^)]*)\))");
    if (!std::regex_search(dict, match, shapePattern)) throw fail("missing 'shape'.");
    const std::string dims = match[1];
    static const std::regex number(R"(\d+)");
    for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number);
         it != std::sregex_iterator(); ++it) {
        if (it->str().size() > 13) throw fail("implausible shape.");
        int64_t d = std::stoll(it->str());
        if (d < 0 || d > (int64_t(1) << 40)) throw fail("implausible shape.");
        header.shape.push_back(d);
    }
    uint64_t elements = 0;
    if (!checkedProduct(header.shape, elements) || elements > (uint64_t(1) << 50))
        throw fail("implausible shape (its size overflows).");
    return header;
}

double NpyArray::valueAt(int64_t i) const {
    const int n = header.itemSize;
    uint8_t raw[8];
    std::memcpy(raw, &data[static_cast<size_t>(i) * n], n);
    if (header.bigEndian && n > 1) std::reverse(raw, raw + n);
    switch (header.kind) {
        case 'b':
        case 'u':
            switch (n) {
                case 1:
                    return raw[0];
                case 2: {
                    uint16_t v;
                    std::memcpy(&v, raw, 2);
                    return v;
                }
                case 4: {
                    uint32_t v;
                    std::memcpy(&v, raw, 4);
                    return v;
                }
                default: {
                    uint64_t v;
                    std::memcpy(&v, raw, 8);
                    return static_cast<double>(v);
                }
            }
        case 'i':
            switch (n) {
                case 1:
                    return static_cast<int8_t>(raw[0]);
                case 2: {
                    int16_t v;
                    std::memcpy(&v, raw, 2);
                    return v;
                }
                case 4: {
                    int32_t v;
                    std::memcpy(&v, raw, 4);
                    return v;
                }
                default: {
                    int64_t v;
                    std::memcpy(&v, raw, 8);
                    return static_cast<double>(v);
                }
            }
        default:
            if (n == 4) {
                float v;
                std::memcpy(&v, raw, 4);
                return v;
            }
            {
                double v;
                std::memcpy(&v, raw, 8);
                return v;
            }
    }
}

NpyArray readNpyFile(const std::string& path) {
    requireRegularFile(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw FileError(path, "cannot be opened.", "Check that it exists and is readable.");
    in.seekg(0, std::ios::end);
    const uint64_t size = static_cast<uint64_t>(in.tellg());
    if (size > kMaxEntryBytes) throw FileError(path, "is too large to be read.");
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
    if (!in) throw FileError(path, "could not be read.");
    size_t offset = 0;
    NpyArray array;
    array.header = parseNpyHeader(bytes, offset, "'" + path + "'");
    const uint64_t expected =
        static_cast<uint64_t>(array.header.elementCount()) * array.header.itemSize;
    if (bytes.size() - offset != expected)
        throw FileError(path, "holds " + std::to_string(bytes.size() - offset) +
                                  " data bytes but its shape needs " + std::to_string(expected) +
                                  ".");
    array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(offset), bytes.end());
    return array;
}

void writeNpyFloat32(const std::string& path, const std::vector<int64_t>& shape,
                     const std::vector<float>& values) {
    std::string dims;
    int64_t count = 1;
    for (int64_t d : shape) {
        dims += std::to_string(d) + ", ";
        count *= d;
    }
    if (shape.size() > 1) dims.resize(dims.size() - 1);  // "(2, 3)" but "(5,)"
    if (count != static_cast<int64_t>(values.size()))
        throw Error("writeNpyFloat32: shape does not match the number of values");
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    writeAtomically(path, [&](const std::string& temporary) {
        std::ofstream out(temporary, std::ios::binary);
        out.write("\x93NUMPY\x01\x00", 8);
        const char length[2] = {char(header.size() & 0xFF), char(header.size() >> 8)};
        out.write(length, 2);
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        out.write(reinterpret_cast<const char*>(values.data()),
                  static_cast<std::streamsize>(values.size() * 4));
        out.close();
        if (!out) throw FileError(path, "could not be written.");
    });
}

namespace {

std::string npyBytes(const std::string& descr, const std::vector<int64_t>& shape, const void* data,
                     size_t bytes) {
    std::string dims;
    for (int64_t d : shape) dims += std::to_string(d) + ", ";
    if (shape.size() > 1) dims.resize(dims.size() - 1);
    std::string header =
        "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    out += char(header.size() & 0xFF);
    out += char(header.size() >> 8);
    out += header;
    out.append(static_cast<const char*>(data), bytes);
    return out;
}

}  // namespace

void writeNpzUint8(const std::string& path, const std::vector<NpzMember>& members) {
    // The arrays as .npy bytes; libzip reads them when the archive is closed.
    std::vector<std::string> arrays;
    for (const NpzMember& m : members) {
        int64_t count = 1;
        for (int64_t d : m.shape) count *= d;
        if (count != static_cast<int64_t>(m.values.size()))
            throw Error("writeNpzUint8: array '" + m.name + "' does not match its shape");
        arrays.push_back(npyBytes("|u1", m.shape, m.values.data(), m.values.size()));
    }
    writeAtomically(path, [&](const std::string& temporary) {
        int error = 0;
        zip_t* zip = zip_open(temporary.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
        if (!zip) throw FileError(path, "could not be created.");
        auto fail = [&](const std::string& why) {
            const std::string text = why + " (" + zip_strerror(zip) + ").";
            zip_discard(zip);
            throw FileError(path, "could not be written: " + text);
        };
        for (size_t i = 0; i < members.size(); ++i) {
            zip_source_t* source =
                zip_source_buffer(zip, arrays[i].data(), arrays[i].size(), /*freep=*/0);
            if (!source) fail("array '" + members[i].name + "'");
            const zip_int64_t index =
                zip_file_add(zip, (members[i].name + ".npy").c_str(), source, ZIP_FL_ENC_UTF_8);
            if (index < 0) {
                zip_source_free(source);
                fail("array '" + members[i].name + "'");
            }
            // numpy.savez_compressed's choice: deflate.
            if (zip_set_file_compression(zip, zip_uint64_t(index), ZIP_CM_DEFLATE, 6) != 0)
                fail("array '" + members[i].name + "'");
        }
        if (zip_close(zip) != 0) fail("the archive");
    });
}

}  // namespace rllm
