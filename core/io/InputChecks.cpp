#include "core/io/InputChecks.h"

#include "core/Error.h"

#include <zlib.h>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

namespace rllm {

namespace {

uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
uint16_t be16(const uint8_t* p) {
    return uint16_t((p[0] << 8) | p[1]);
}

const char* kCopyAgain = "The file is truncated or corrupt; copy or download it again.";

}  // namespace

void requireRegularFile(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw FileError(path, "does not exist.", "Check the path.");
    if (S_ISREG(st.st_mode)) return;
    const char* kind = S_ISDIR(st.st_mode)    ? "a folder"
                       : S_ISFIFO(st.st_mode) ? "a pipe (FIFO)"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    throw FileError(path, std::string("is ") + kind + ", not a regular file.",
                    "Give the path of an image, archive or bundle file.");
}

uint64_t maxImageBytes() {
    if (const char* mb = std::getenv("RLLM_MAX_IMAGE_MB")) {
        char* end = nullptr;
        const unsigned long long value = std::strtoull(mb, &end, 10);
        if (end && *end == '\0' && value > 0 && value < (uint64_t(1) << 40)) return value << 20;
    }
    return uint64_t(4) << 30;
}

bool checkedProduct(const std::vector<int64_t>& dims, uint64_t& product) {
    product = 1;
    for (int64_t d : dims) {
        if (d < 0) return false;
        if (d != 0 && product > UINT64_MAX / uint64_t(d)) return false;
        product *= uint64_t(d);
    }
    return true;
}

void requireImageFits(const std::string& what, uint64_t voxels, uint64_t components) {
    const uint64_t limit = maxImageBytes();
    if (components == 0 || voxels > limit / 4 / components)
        throw FileError(what,
                        "declares an image of " + std::to_string(voxels) + " voxels x " +
                            std::to_string(components) + " components, more than the " +
                            std::to_string(limit >> 20) + " MB limit for one image.",
                        "If the file is right, raise the limit with RLLM_MAX_IMAGE_MB; otherwise "
                        "its header is corrupt.");
}

// ---- PNG --------------------------------------------------------------------

void checkPng(const std::string& path, const uint8_t* bytes, size_t size) {
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size < 8 || std::memcmp(bytes, signature, 8) != 0)
        throw FileError(path, "is not a PNG file (its signature is missing).",
                        "It may be corrupt or misnamed.");
    uint32_t width = 0, height = 0;
    int bitDepth = 0, colourType = -1, interlace = 0;
    bool sawPalette = false, sawEnd = false, idatDone = false;
    std::vector<std::pair<size_t, size_t>> idat;  // offset, length
    size_t pos = 8;
    int chunkIndex = 0;
    while (pos < size) {
        if (size - pos < 12)
            throw FileError(
                path, "is truncated (a PNG chunk is cut off at byte " + std::to_string(pos) + ").",
                kCopyAgain);
        const uint32_t length = be32(bytes + pos);
        char type[5] = {};
        std::memcpy(type, bytes + pos + 4, 4);
        if (length > 0x7FFFFFFFu || length > size - pos - 12)
            throw FileError(path,
                            std::string("is truncated (PNG chunk '") + type + "' declares " +
                                std::to_string(length) + " bytes beyond the end of the file).",
                            kCopyAgain);
        const uint8_t* data = bytes + pos + 8;
        const uint32_t stored = be32(data + length);
        const uLong crc = crc32(crc32(0L, nullptr, 0), bytes + pos + 4, length + 4);
        if (crc != stored)
            throw FileError(
                path, std::string("is corrupt (PNG chunk '") + type + "' fails its CRC check).",
                kCopyAgain);
        const std::string name(type, 4);
        if (chunkIndex == 0 && name != "IHDR")
            throw FileError(path, "is corrupt (a PNG must start with its IHDR chunk).");
        if (name == "IHDR") {
            if (chunkIndex != 0 || length != 13)
                throw FileError(path, "is corrupt (malformed PNG IHDR chunk).");
            width = be32(data);
            height = be32(data + 4);
            bitDepth = data[8];
            colourType = data[9];
            interlace = data[12];
            if (width == 0 || height == 0 || width > 0x7FFFFFFFu || height > 0x7FFFFFFFu)
                throw FileError(path,
                                "declares a PNG image of " + std::to_string(width) + " x " +
                                    std::to_string(height) + " pixels.",
                                "Its header is corrupt.");
            const std::map<int, std::vector<int>> allowed = {
                {0, {1, 2, 4, 8, 16}}, {2, {8, 16}}, {3, {1, 2, 4, 8}}, {4, {8, 16}}, {6, {8, 16}}};
            auto it = allowed.find(colourType);
            if (it == allowed.end() ||
                std::find(it->second.begin(), it->second.end(), bitDepth) == it->second.end() ||
                data[10] != 0 || data[11] != 0 || interlace > 1)
                throw FileError(path, "has an invalid PNG header (colour type " +
                                          std::to_string(colourType) + ", bit depth " +
                                          std::to_string(bitDepth) + ").");
        } else if (name == "PLTE") {
            sawPalette = true;
        } else if (name == "IDAT") {
            if (idatDone) throw FileError(path, "is corrupt (its PNG image data is split).");
            idat.emplace_back(pos + 8, length);
        } else if (name == "IEND") {
            sawEnd = true;
            break;
        }
        if (!idat.empty() && name != "IDAT") idatDone = true;
        pos += 12 + size_t(length);
        ++chunkIndex;
    }
    if (!sawEnd)
        throw FileError(path, "is truncated (its PNG end marker IEND is missing).", kCopyAgain);
    if (idat.empty()) throw FileError(path, "holds no PNG image data.", kCopyAgain);
    if (colourType == 3 && !sawPalette)
        throw FileError(path, "is a palette PNG without a palette.", kCopyAgain);

    const uint64_t channels = colourType == 0   ? 1
                              : colourType == 2 ? 3
                              : colourType == 3 ? 1
                              : colourType == 4 ? 2
                                                : 4;
    requireImageFits(path, uint64_t(width) * height, channels);
    // Rows of each Adam7 pass (or the one pass), each with its filter byte.
    struct Pass {
        uint64_t rows, rowBytes;
    };
    std::vector<Pass> passes;
    auto rowBytesFor = [&](uint64_t pixels) { return (pixels * channels * bitDepth + 7) / 8; };
    if (interlace == 0) {
        passes.push_back({height, rowBytesFor(width)});
    } else {
        const int x0[7] = {0, 4, 0, 2, 0, 1, 0}, dx[7] = {8, 8, 4, 4, 2, 2, 1};
        const int y0[7] = {0, 0, 4, 0, 2, 0, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
        for (int p = 0; p < 7; ++p) {
            const uint64_t w = width > uint32_t(x0[p]) ? (width - x0[p] + dx[p] - 1) / dx[p] : 0;
            const uint64_t h = height > uint32_t(y0[p]) ? (height - y0[p] + dy[p] - 1) / dy[p] : 0;
            if (w > 0 && h > 0) passes.push_back({h, rowBytesFor(w)});
        }
    }
    uint64_t expected = 0;
    for (const Pass& p : passes) expected += p.rows * (1 + p.rowBytes);

    // Inflate in pieces, checking filter bytes as the rows go by; never more
    // than the header's size is kept in memory at once (one row).
    z_stream stream{};
    if (inflateInit(&stream) != Z_OK) throw Error("zlib could not be initialised");
    std::vector<uint8_t> buffer(1 << 16);
    uint64_t produced = 0;
    size_t passIndex = 0;
    uint64_t rowInPass = 0, byteInRow = 0;
    int status = Z_OK;
    bool badFilter = false;
    for (size_t i = 0; i < idat.size() && status != Z_STREAM_END && !badFilter; ++i) {
        stream.next_in = const_cast<Bytef*>(bytes + idat[i].first);
        stream.avail_in = static_cast<uInt>(idat[i].second);
        while (stream.avail_in > 0 && status != Z_STREAM_END && !badFilter) {
            stream.next_out = buffer.data();
            stream.avail_out = static_cast<uInt>(buffer.size());
            status = inflate(&stream, Z_NO_FLUSH);
            if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR) break;
            const size_t got = buffer.size() - stream.avail_out;
            for (size_t b = 0; b < got && passIndex < passes.size(); ++b) {
                if (byteInRow == 0 && buffer[b] > 4) badFilter = true;
                if (++byteInRow == 1 + passes[passIndex].rowBytes) {
                    byteInRow = 0;
                    if (++rowInPass == passes[passIndex].rows) {
                        rowInPass = 0;
                        ++passIndex;
                    }
                }
            }
            produced += got;
            if (produced > expected) break;
            if (status == Z_BUF_ERROR && got == 0) break;
        }
        if (status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR) break;
    }
    inflateEnd(&stream);
    if (badFilter)
        throw FileError(path, "is corrupt (a PNG row has an invalid filter type).", kCopyAgain);
    if (produced < expected)
        throw FileError(path,
                        "is truncated or corrupt: its PNG image data holds " +
                            std::to_string(produced) + " of the " + std::to_string(expected) +
                            " bytes its header describes.",
                        kCopyAgain);
}

// ---- NIfTI-1 ------------------------------------------------------------------

namespace {

struct NiftiReader {
    const uint8_t* p;
    bool swap;
    int16_t i16(size_t at) const {
        uint8_t b[2] = {p[at], p[at + 1]};
        if (swap) std::swap(b[0], b[1]);
        int16_t v;
        std::memcpy(&v, b, 2);
        return v;
    }
    int32_t i32(size_t at) const {
        uint8_t b[4] = {p[at], p[at + 1], p[at + 2], p[at + 3]};
        if (swap) std::reverse(b, b + 4);
        int32_t v;
        std::memcpy(&v, b, 4);
        return v;
    }
    float f32(size_t at) const {
        const int32_t bits = i32(at);
        float v;
        std::memcpy(&v, &bits, 4);
        return v;
    }
};

}  // namespace

NiftiFacts checkNiftiHeader(const std::string& path, const uint8_t* header, size_t size) {
    if (size < 348)
        throw FileError(path, "is too short for a NIfTI header (348 bytes).", kCopyAgain);
    NiftiReader r{header, false};
    if (r.i32(0) != 348) {
        r.swap = true;
        if (r.i32(0) != 348) {
            r.swap = false;
            if (r.i32(0) == 540 || (r.swap = true, r.i32(0) == 540))
                throw FileError(path, "is NIfTI-2, which this reader does not support.",
                                "Save it as NIfTI-1 (e.g. nibabel's Nifti1Image).");
            throw FileError(path, "is not a NIfTI-1 file (its header size field is wrong).",
                            "It may be corrupt or misnamed.");
        }
    }
    NiftiFacts facts;
    const std::string magic(reinterpret_cast<const char*>(header + 344), 3);
    if (magic == "n+1")
        facts.singleFile = true;
    else if (magic == "ni1")
        facts.singleFile = false;
    else
        throw FileError(path, "has no NIfTI-1 magic ('n+1' or 'ni1'); it is ANALYZE or corrupt.",
                        "Convert it to NIfTI-1.");
    const int dims = r.i16(40);
    if (dims < 1 || dims > 7)
        throw FileError(path, "declares " + std::to_string(dims) + " dimensions (1 to 7 allowed).",
                        "Its header is corrupt.");
    std::vector<int64_t> extent;
    for (int d = 1; d <= dims; ++d) {
        const int16_t n = r.i16(40 + 2 * d);
        if (n < 1)
            throw FileError(path,
                            "declares a size of " + std::to_string(n) + " along axis " +
                                std::to_string(d) + ".",
                            "Its header is corrupt.");
        extent.push_back(n);
    }
    const int datatype = r.i16(70), bitpix = r.i16(72);
    const std::map<int, int> bitsOf = {{2, 8},     {4, 16},    {8, 32},   {16, 32},
                                       {64, 64},   {256, 8},   {512, 16}, {768, 32},
                                       {1024, 64}, {1280, 64}, {128, 24}, {2304, 32}};
    auto known = bitsOf.find(datatype);
    if (known == bitsOf.end())
        throw FileError(path, "has NIfTI data type " + std::to_string(datatype) +
                                  ", which is not supported (complex and 128-bit types are not).");
    if (bitpix != known->second)
        throw FileError(path,
                        "says " + std::to_string(bitpix) + " bits per voxel for data type " +
                            std::to_string(datatype) + ", which has " +
                            std::to_string(known->second) + ".",
                        "Its header is corrupt.");
    uint64_t voxels = 0;
    if (!checkedProduct(extent, voxels))
        throw FileError(path, "declares a size that overflows.", "Its header is corrupt.");
    const uint64_t components = datatype == 128 ? 3 : datatype == 2304 ? 4 : 1;
    requireImageFits(path, voxels, components);
    facts.voxelBytes = voxels * uint64_t(bitpix / 8);

    // Geometry within a kilometre and voxels between a nanometre and a
    // kilometre: finite values far outside (1.7e38 as an sform offset) make
    // ITK's orientation SVD loop forever (found by the fuzzer).
    constexpr float kMaxMillimetres = 1e6f;
    for (int d = 1; d <= std::min(dims, 3); ++d) {
        const float spacing = r.f32(76 + 4 * d);
        if (!std::isfinite(spacing) || std::abs(spacing) < 1e-6f ||
            std::abs(spacing) > kMaxMillimetres)
            throw FileError(path,
                            "has a voxel size of " + std::to_string(spacing) + " along axis " +
                                std::to_string(d) + ".",
                            "Its header is corrupt.");
    }
    const float offset = r.f32(108);
    if (!std::isfinite(offset) || offset < 0 || offset > 1e15f)
        throw FileError(path, "has an invalid voxel offset (vox_offset).",
                        "Its header is corrupt.");
    facts.voxelOffset = static_cast<uint64_t>(offset);
    if (facts.singleFile && facts.voxelOffset < 348)
        throw FileError(path,
                        "says its voxels start at byte " + std::to_string(facts.voxelOffset) +
                            ", inside its own header.",
                        "Its header is corrupt.");
    const float slope = r.f32(112), intercept = r.f32(116);
    if (!std::isfinite(slope) || (slope != 0 && !std::isfinite(intercept)))
        throw FileError(path,
                        "has a non-finite intensity scaling (scl_slope " + std::to_string(slope) +
                            ", scl_inter " + std::to_string(intercept) + ").",
                        "Its header is corrupt; fix scl_slope and scl_inter.");
    const int qform = r.i16(252), sform = r.i16(254);
    if (qform > 0) {
        for (size_t at = 256; at < 280; at += 4)
            if (!std::isfinite(r.f32(at)) || std::abs(r.f32(at)) > kMaxMillimetres)
                throw FileError(path,
                                "has a qform (orientation) holding NaN, infinity or "
                                "values beyond a kilometre.",
                                "Its header is corrupt; set qform_code to 0 or fix the qform.");
        const double b = r.f32(256), c = r.f32(260), d = r.f32(264);
        if (b * b + c * c + d * d > 1.0 + 1e-4)
            throw FileError(path, "has a qform quaternion longer than 1 (not a rotation).",
                            "Its header is corrupt; set qform_code to 0 or fix the qform.");
    }
    if (sform > 0) {
        double m[3][3];
        for (int row = 0; row < 3; ++row)
            for (int col = 0; col < 4; ++col) {
                const float v = r.f32(280 + 16 * row + 4 * col);
                if (!std::isfinite(v) || std::abs(v) > kMaxMillimetres)
                    throw FileError(path,
                                    "has an sform (orientation) holding NaN, infinity or "
                                    "values beyond a kilometre.",
                                    "Its header is corrupt; set sform_code to 0 or fix the sform.");
                if (col < 3) m[row][col] = v;
            }
        const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                           m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                           m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        double scale = 1;  // product of the column lengths: det relative to it
        for (int col = 0; col < 3; ++col)
            scale *=
                std::sqrt(m[0][col] * m[0][col] + m[1][col] * m[1][col] + m[2][col] * m[2][col]);
        if (!std::isfinite(det) || std::abs(det) <= 1e-6 * scale)
            throw FileError(path, "has a singular sform (its axes are not independent).",
                            "Its header is corrupt; set sform_code to 0 or fix the sform.");
    }
    return facts;
}

void checkNiftiData(const std::string& path, const NiftiFacts& facts, uint64_t dataBytesAvailable) {
    // A .nii keeps its voxels from vox_offset; an .img beside a .hdr from vox_offset too.
    const uint64_t start = facts.voxelOffset;
    if (start > dataBytesAvailable || facts.voxelBytes > dataBytesAvailable - start)
        throw FileError(path,
                        "is truncated: its header describes " + std::to_string(facts.voxelBytes) +
                            " bytes of voxels from byte " + std::to_string(start) + ", but only " +
                            std::to_string(dataBytesAvailable) + " bytes are there.",
                        kCopyAgain);
}

// ---- MetaImage -------------------------------------------------------------------

MetaImageFacts checkMetaImageHeader(const std::string& path, const uint8_t* bytes, size_t size) {
    std::map<std::string, std::string> fields;
    MetaImageFacts facts;
    size_t pos = 0;
    bool sawData = false;
    while (pos < size && !sawData) {
        size_t end = pos;
        while (end < size && bytes[end] != '\n') ++end;
        if (end == size) break;  // ElementDataFile must end with a newline
        std::string line(reinterpret_cast<const char*>(bytes + pos), end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const size_t equals = line.find('=');
        if (equals == std::string::npos) continue;
        auto trim = [](std::string s) {
            while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
            size_t first = 0;
            while (first < s.size() && std::isspace(static_cast<unsigned char>(s[first]))) ++first;
            return s.substr(first);
        };
        std::string key = trim(line.substr(0, equals));
        std::transform(key.begin(), key.end(), key.begin(), ::tolower);
        fields[key] = trim(line.substr(equals + 1));
        if (key == "elementdatafile") sawData = true;
    }
    if (!sawData)
        throw FileError(path, "has no ElementDataFile line ending its MetaImage header.",
                        kCopyAgain);
    facts.headerBytes = pos;
    facts.dataFile = fields["elementdatafile"];
    auto numbers = [&](const std::string& key) {
        std::vector<double> values;
        std::istringstream in(fields[key]);
        std::string word;
        while (in >> word) {
            char* end = nullptr;
            const double v = std::strtod(word.c_str(), &end);
            if (!end || *end != '\0' || !std::isfinite(v))
                throw FileError(path,
                                "has a non-numeric or non-finite value in its " + key +
                                    " field ('" + word + "').",
                                "Its header is corrupt.");
            values.push_back(v);
        }
        return values;
    };
    const std::vector<double> ndims = numbers("ndims");
    const std::vector<double> dimSize = numbers("dimsize");
    if (ndims.size() != 1 || ndims[0] < 1 || ndims[0] > 4 || dimSize.size() != size_t(ndims[0]))
        throw FileError(path, "has inconsistent NDims and DimSize fields.",
                        "Its header is corrupt.");
    std::vector<int64_t> extent;
    for (double d : dimSize) {
        if (d < 1 || d > 1e12 || d != std::floor(d))
            throw FileError(path, "has an invalid DimSize.", "Its header is corrupt.");
        extent.push_back(static_cast<int64_t>(d));
    }
    // Finite and within a kilometre (as for NIfTI: ITK's orientation code
    // does not cope with 1e38).
    for (const char* key : {"elementspacing", "elementsize", "offset", "position", "origin",
                            "transformmatrix", "rotation", "orientation", "centerofrotation"})
        if (fields.count(key))
            for (double v : numbers(key))
                if (std::abs(v) > 1e6)
                    throw FileError(
                        path,
                        std::string("has a value beyond a kilometre in its ") + key + " field.",
                        "Its header is corrupt.");
    for (double s : numbers("elementspacing"))
        if (std::abs(s) < 1e-6)
            throw FileError(path, "has an ElementSpacing of 0.", "Its header is corrupt.");
    const std::map<std::string, int> typeBytes = {
        {"met_uchar", 1}, {"met_char", 1}, {"met_ushort", 2},     {"met_short", 2},
        {"met_uint", 4},  {"met_int", 4},  {"met_float", 4},      {"met_double", 8},
        {"met_ulong", 8}, {"met_long", 8}, {"met_ulong_long", 8}, {"met_long_long", 8}};
    std::string type = fields["elementtype"];
    std::transform(type.begin(), type.end(), type.begin(), ::tolower);
    auto t = typeBytes.find(type);
    if (t == typeBytes.end())
        throw FileError(path, "has an unsupported ElementType '" + fields["elementtype"] + "'.");
    double channels = 1;
    if (fields.count("elementnumberofchannels")) {
        const auto c = numbers("elementnumberofchannels");
        if (c.size() != 1 || c[0] < 1 || c[0] > 4 || c[0] != std::floor(c[0]))
            throw FileError(path, "has an unsupported ElementNumberOfChannels.");
        channels = c[0];
    }
    uint64_t voxels = 0;
    if (!checkedProduct(extent, voxels))
        throw FileError(path, "declares a size that overflows.", "Its header is corrupt.");
    requireImageFits(path, voxels, static_cast<uint64_t>(channels));
    facts.voxelBytes = voxels * static_cast<uint64_t>(channels) * t->second;
    std::string compressed = fields["compresseddata"];
    std::transform(compressed.begin(), compressed.end(), compressed.begin(), ::tolower);
    facts.compressed = compressed == "true";
    if (fields.count("compresseddatasize")) {
        const auto c = numbers("compresseddatasize");
        if (c.size() == 1 && c[0] >= 0 && c[0] < 1e15) facts.compressedBytes = uint64_t(c[0]);
    }
    std::string lowerData = facts.dataFile;
    std::transform(lowerData.begin(), lowerData.end(), lowerData.begin(), ::tolower);
    if (lowerData == "list" || lowerData.find('%') != std::string::npos ||
        lowerData.find(' ') != std::string::npos)
        throw FileError(path,
                        "keeps its voxels in a list of files ('" + facts.dataFile +
                            "'), which is not supported.",
                        "Save it as one .mha or .mhd/.raw.");
    if (facts.dataFile.empty())
        throw FileError(path, "names no data file in ElementDataFile.", "Its header is corrupt.");
    return facts;
}

// ---- JPEG 2000 ------------------------------------------------------------------

void checkJpeg2000Frame(const std::string& path, const uint8_t* bytes, size_t size, long rows,
                        long columns, long samples, long frame) {
    const std::string which = "frame " + std::to_string(frame + 1);
    // Fragments have even lengths: the codestream may carry one padding byte.
    while (size > 2 && bytes[size - 1] == 0 &&
           !(bytes[size - 2] == 0xFF && bytes[size - 1] == 0xD9))
        --size;
    if (size < 4 + 42 || bytes[0] != 0xFF || bytes[1] != 0x4F || bytes[2] != 0xFF ||
        bytes[3] != 0x51)
        throw FileError(path,
                        "has a JPEG 2000 " + which + " that does not start like one (SOC, SIZ).",
                        kCopyAgain);
    if (bytes[size - 2] != 0xFF || bytes[size - 1] != 0xD9)
        throw FileError(path, "has a JPEG 2000 " + which + " that is cut short (no end marker).",
                        kCopyAgain);
    const uint8_t* siz = bytes + 4;  // Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, ..., Csiz
    const uint16_t length = be16(siz);
    const uint64_t x = be32(siz + 4), y = be32(siz + 8), x0 = be32(siz + 12), y0 = be32(siz + 16);
    const uint16_t components = be16(siz + 36);
    if (length != 38 + 3 * components || size_t(length) + 4 > size || x <= x0 || y <= y0)
        throw FileError(path, "has a JPEG 2000 " + which + " with a malformed SIZ marker.",
                        kCopyAgain);
    if (long(x - x0) != columns || long(y - y0) != rows || long(components) != samples)
        throw FileError(path,
                        "has a JPEG 2000 " + which + " of " + std::to_string(x - x0) + " x " +
                            std::to_string(y - y0) + " pixels and " + std::to_string(components) +
                            " component(s), but its DICOM header says " + std::to_string(columns) +
                            " x " + std::to_string(rows) + " and " + std::to_string(samples) + ".",
                        "The file is corrupt.");
}

void requireFiniteRescale(const std::string& path, double slope, double intercept,
                          const char* what) {
    if (!std::isfinite(slope) || !std::isfinite(intercept) || slope == 0)
        throw FileError(path,
                        std::string("has an unusable ") + what + " (slope " +
                            std::to_string(slope) + ", intercept " + std::to_string(intercept) +
                            "): its values cannot be scaled.",
                        "The header is corrupt.");
}

std::string toValidUtf8(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    for (size_t i = 0; i < n;) {
        const unsigned char c = s[i];
        size_t length = c < 0x80           ? 1
                        : (c >> 5) == 0x6  ? 2
                        : (c >> 4) == 0xE  ? 3
                        : (c >> 3) == 0x1E ? 4
                                           : 0;
        bool valid = length > 0 && i + length <= n;
        for (size_t k = 1; valid && k < length; ++k) valid = (s[i + k] & 0xC0) == 0x80;
        if (valid && length > 1) {
            uint32_t cp = c & (0x7F >> length);
            for (size_t k = 1; k < length; ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
            const uint32_t minimum[5] = {0, 0, 0x80, 0x800, 0x10000};
            valid = cp >= minimum[length] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (valid) {
            out.append(text, i, length);
            i += length;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

}  // namespace rllm
