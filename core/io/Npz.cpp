#include "core/io/Npz.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "core/io/InputChecks.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <regex>

namespace rllm {

struct NpzArchive::Entry {
    std::string name;  // as stored, e.g. "train_images.npy"
    uint16_t method = 0;
    uint32_t crc = 0;
    uint64_t compressedSize = 0;
    uint64_t uncompressedSize = 0;
    uint64_t localHeaderOffset = 0;
};

namespace {

constexpr uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr uint32_t kZip64EndLocator = 0x07064b50;
constexpr uint32_t kZip64End = 0x06064b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;
// Refuse arrays larger than this: a corrupted size field must not turn into a huge allocation.
constexpr uint64_t kMaxEntryBytes = uint64_t(64) << 30;

uint16_t le16(const uint8_t* p) {
    return uint16_t(p[0] | (p[1] << 8));
}
uint32_t le32(const uint8_t* p) {
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
uint64_t le64(const uint8_t* p) {
    return uint64_t(le32(p)) | (uint64_t(le32(p + 4)) << 32);
}

std::string stripNpy(const std::string& name) {
    return name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0
               ? name.substr(0, name.size() - 4)
               : name;
}

class FileReader {
  public:
    FileReader(const std::string& path) : path_(path) {
        requireRegularFile(path);
        in_.open(path, std::ios::binary);
        if (!in_)
            throw FileError(path, "cannot be opened.", "Check that it exists and is readable.");
        in_.seekg(0, std::ios::end);
        size_ = static_cast<uint64_t>(in_.tellg());
    }
    uint64_t size() const { return size_; }
    std::vector<uint8_t> read(uint64_t offset, uint64_t count, const char* what) {
        if (offset > size_ || count > size_ - offset)
            throw FileError(path_,
                            std::string("is truncated or corrupt (") + what +
                                " lies beyond the end of the file).",
                            "Download or copy the file again.");
        std::vector<uint8_t> bytes(static_cast<size_t>(count));
        in_.seekg(static_cast<std::streamoff>(offset));
        in_.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(count));
        if (!in_) throw FileError(path_, std::string("could not be read (") + what + ").");
        return bytes;
    }

  private:
    std::string path_;
    std::ifstream in_;
    uint64_t size_ = 0;
};

}  // namespace

NpzArchive::NpzArchive(const std::string& path) : path_(path) {
    FileReader file(path);
    fileSize_ = file.size();
    const std::string notZip = "is not a NumPy .npz archive (no zip directory found).";
    if (fileSize_ < 22) throw FileError(path, notZip, "It may be truncated.");

    // The end-of-central-directory record sits in the last 22 + 65535 bytes.
    uint64_t tailSize = std::min<uint64_t>(fileSize_, 22 + 65535);
    std::vector<uint8_t> tail = file.read(fileSize_ - tailSize, tailSize, "zip directory");
    int64_t eocd = -1;
    for (int64_t i = static_cast<int64_t>(tail.size()) - 22; i >= 0; --i)
        if (le32(&tail[i]) == kEndOfCentralDirectory) {
            eocd = i;
            break;
        }
    if (eocd < 0) throw FileError(path, notZip, "It may be truncated or not an .npz file.");
    const uint8_t* e = &tail[eocd];
    uint64_t entryCount = le16(e + 10);
    uint64_t directorySize = le32(e + 12);
    uint64_t directoryOffset = le32(e + 16);

    // ZIP64: large archives (MedMNIST+ 224 px) keep the real values in a second record.
    uint64_t eocdPosition = fileSize_ - tailSize + eocd;
    if ((entryCount == 0xFFFF || directoryOffset == 0xFFFFFFFF) && eocdPosition >= 20) {
        std::vector<uint8_t> locator = file.read(eocdPosition - 20, 20, "ZIP64 locator");
        if (le32(locator.data()) == kZip64EndLocator) {
            std::vector<uint8_t> z64 = file.read(le64(&locator[8]), 56, "ZIP64 directory record");
            if (le32(z64.data()) != kZip64End)
                throw FileError(path, "has a corrupt ZIP64 directory record.");
            entryCount = le64(&z64[32]);
            directorySize = le64(&z64[40]);
            directoryOffset = le64(&z64[48]);
        }
    }
    if (entryCount > 100000) throw FileError(path, "has an implausible number of zip entries.");
    std::vector<uint8_t> dir = file.read(directoryOffset, directorySize, "zip directory");

    size_t pos = 0;
    for (uint64_t n = 0; n < entryCount; ++n) {
        if (pos + 46 > dir.size() || le32(&dir[pos]) != kCentralHeader)
            throw FileError(path, "has a corrupt zip directory.", "Download or copy it again.");
        const uint8_t* h = &dir[pos];
        Entry entry;
        entry.method = le16(h + 10);
        entry.crc = le32(h + 16);
        entry.compressedSize = le32(h + 20);
        entry.uncompressedSize = le32(h + 24);
        uint16_t nameLength = le16(h + 28), extraLength = le16(h + 30),
                 commentLength = le16(h + 32);
        entry.localHeaderOffset = le32(h + 42);
        if (pos + 46 + nameLength + extraLength + commentLength > dir.size())
            throw FileError(path, "has a corrupt zip directory.");
        entry.name.assign(reinterpret_cast<const char*>(h + 46), nameLength);
        // ZIP64 extended information: present fields replace the 0xFFFFFFFF placeholders, in order.
        const uint8_t* extra = h + 46 + nameLength;
        for (size_t x = 0; x + 4 <= extraLength;) {
            uint16_t id = le16(extra + x), length = le16(extra + x + 2);
            if (x + 4 + length > extraLength) break;
            if (id == 0x0001) {
                const uint8_t* field = extra + x + 4;
                size_t used = 0;
                auto next = [&](uint64_t& value) {
                    if (value == 0xFFFFFFFF && used + 8 <= length) {
                        value = le64(field + used);
                        used += 8;
                    }
                };
                next(entry.uncompressedSize);
                next(entry.compressedSize);
                next(entry.localHeaderOffset);
            }
            x += 4 + length;
        }
        entries_.push_back(entry);
        pos += 46 + nameLength + extraLength + commentLength;
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
    if (entry.uncompressedSize > kMaxEntryBytes || entry.compressedSize > fileSize_)
        throw FileError(path_, what + " has an implausible size; the file is corrupt.");
    // What the entry can hold bounds what is allocated: stored data is as long
    // as it is stored, and deflate cannot expand its input more than 1032 times.
    const uint64_t mostItCanHold =
        entry.method == 0 ? entry.compressedSize : entry.compressedSize * 1032 + 1024;
    if (entry.uncompressedSize > mostItCanHold)
        throw FileError(path_,
                        what + " claims " + std::to_string(entry.uncompressedSize) +
                            " bytes uncompressed from " + std::to_string(entry.compressedSize) +
                            " compressed, more than the data can hold; the file is corrupt.",
                        "Download or copy it again.");
    FileReader file(path_);
    std::vector<uint8_t> local = file.read(entry.localHeaderOffset, 30, "zip entry header");
    if (le32(local.data()) != kLocalHeader)
        throw FileError(path_, what + " has a corrupt zip header.", "Download or copy it again.");
    uint64_t dataOffset = entry.localHeaderOffset + 30 + le16(&local[26]) + le16(&local[28]);
    const bool whole = maxBytes >= entry.uncompressedSize;
    const uint64_t wanted = std::min(maxBytes, entry.uncompressedSize);

    if (entry.method == 0) {
        std::vector<uint8_t> bytes = file.read(dataOffset, wanted, what.c_str());
        if (whole) {
            uLong crc = crc32_z(0L, bytes.data(), bytes.size());
            if (crc != entry.crc)
                throw FileError(path_, what + " fails its CRC check; the file is corrupt.");
        }
        return bytes;
    }
    if (entry.method != 8)
        throw FileError(path_,
                        what + " uses zip compression method " + std::to_string(entry.method) +
                            ", which is not supported.",
                        "Save it with numpy.savez or numpy.savez_compressed.");

    // For a header peek read just a little of the compressed stream.
    uint64_t compressedWanted =
        whole ? entry.compressedSize : std::min<uint64_t>(entry.compressedSize, wanted + 4096);
    std::vector<uint8_t> compressed = file.read(dataOffset, compressedWanted, what.c_str());
    std::vector<uint8_t> bytes(static_cast<size_t>(wanted));
    z_stream stream{};
    if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) throw Error("zlib could not be initialised");
    stream.next_in = compressed.data();
    uint64_t inputLeft = compressed.size();
    uint64_t produced = 0;
    int status = Z_OK;
    // zlib counts in 32 bits: feed and drain in chunks.
    while (produced < wanted) {
        if (stream.avail_in == 0 && inputLeft > 0) {
            stream.avail_in = static_cast<uInt>(std::min<uint64_t>(inputLeft, 1u << 30));
            inputLeft -= stream.avail_in;
        }
        stream.next_out = bytes.data() + produced;
        stream.avail_out = static_cast<uInt>(std::min<uint64_t>(wanted - produced, 1u << 30));
        uInt before = stream.avail_out;
        status = inflate(&stream, Z_NO_FLUSH);
        produced += before - stream.avail_out;
        if (status == Z_STREAM_END) break;
        if (status != Z_OK && status != Z_BUF_ERROR) break;
        if (status == Z_BUF_ERROR && stream.avail_in == 0 && inputLeft == 0) break;
    }
    inflateEnd(&stream);
    if (produced < wanted || (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR))
        throw FileError(path_,
                        what + " could not be decompressed; the file is truncated or corrupt.",
                        "Download or copy it again.");
    if (whole && crc32_z(0L, bytes.data(), bytes.size()) != entry.crc)
        throw FileError(path_, what + " fails its CRC check; the file is corrupt.",
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
    FileReader file(path);
    if (file.size() > kMaxEntryBytes) throw FileError(path, "is too large to be read.");
    std::vector<uint8_t> bytes = file.read(0, file.size(), "array data");
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

void put16(std::string& out, uint32_t v) {
    out += char(v & 0xFF);
    out += char((v >> 8) & 0xFF);
}
void put32(std::string& out, uint32_t v) {
    put16(out, v & 0xFFFF);
    put16(out, v >> 16);
}

}  // namespace

void writeNpzUint8(const std::string& path, const std::vector<NpzMember>& members) {
    std::string zip, directory;
    for (const NpzMember& m : members) {
        int64_t count = 1;
        for (int64_t d : m.shape) count *= d;
        if (count != static_cast<int64_t>(m.values.size()))
            throw Error("writeNpzUint8: array '" + m.name + "' does not match its shape");
        const std::string npy = npyBytes("|u1", m.shape, m.values.data(), m.values.size());
        // Raw deflate, as zip wants it.
        z_stream stream{};
        if (deflateInit2(&stream, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            throw Error("zlib could not be initialised");
        std::string compressed(deflateBound(&stream, static_cast<uLong>(npy.size())), '\0');
        stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(npy.data()));
        stream.avail_in = static_cast<uInt>(npy.size());
        stream.next_out = reinterpret_cast<Bytef*>(&compressed[0]);
        stream.avail_out = static_cast<uInt>(compressed.size());
        const int status = deflate(&stream, Z_FINISH);
        compressed.resize(stream.total_out);
        deflateEnd(&stream);
        if (status != Z_STREAM_END) throw Error("zlib could not compress array '" + m.name + "'");
        const uint32_t crc = static_cast<uint32_t>(
            crc32_z(0L, reinterpret_cast<const Bytef*>(npy.data()), npy.size()));
        const std::string name = m.name + ".npy";
        const uint32_t offset = static_cast<uint32_t>(zip.size());
        if (zip.size() + compressed.size() > 0xFFFFFFF0u)
            throw Error("writeNpzUint8: archive over 4 GiB");
        put32(zip, kLocalHeader);
        put16(zip, 20);
        put16(zip, 0);
        put16(zip, 8);
        put32(zip, 0);
        put32(zip, crc);
        put32(zip, static_cast<uint32_t>(compressed.size()));
        put32(zip, static_cast<uint32_t>(npy.size()));
        put16(zip, static_cast<uint32_t>(name.size()));
        put16(zip, 0);
        zip += name + compressed;
        put32(directory, kCentralHeader);
        put16(directory, 20);
        put16(directory, 20);
        put16(directory, 0);
        put16(directory, 8);
        put32(directory, 0);
        put32(directory, crc);
        put32(directory, static_cast<uint32_t>(compressed.size()));
        put32(directory, static_cast<uint32_t>(npy.size()));
        put16(directory, static_cast<uint32_t>(name.size()));
        put16(directory, 0);
        put16(directory, 0);
        put16(directory, 0);
        put16(directory, 0);
        put32(directory, 0);
        put32(directory, offset);
        directory += name;
    }
    const uint32_t directoryOffset = static_cast<uint32_t>(zip.size());
    zip += directory;
    put32(zip, kEndOfCentralDirectory);
    put16(zip, 0);
    put16(zip, 0);
    put16(zip, static_cast<uint32_t>(members.size()));
    put16(zip, static_cast<uint32_t>(members.size()));
    put32(zip, static_cast<uint32_t>(directory.size()));
    put32(zip, directoryOffset);
    put16(zip, 0);
    writeAtomically(path, [&](const std::string& temporary) {
        std::ofstream out(temporary, std::ios::binary);
        out.write(zip.data(), static_cast<std::streamsize>(zip.size()));
        out.close();
        if (!out) throw FileError(path, "could not be written.");
    });
}

}  // namespace rllm
