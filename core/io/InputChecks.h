#pragma once
// Checks an input must pass before a third-party reader sees it.
//
// ITK, libpng, GDCM and DCMTK trust the sizes a header declares: a PNG cut
// short makes libpng abort the process inside ITK, a NIfTI whose qform holds
// NaN trips an assertion, a JPEG 2000 stream whose SIZ marker disagrees with
// the DICOM Rows writes past its buffer, and a header can ask for gigabytes
// the file does not hold. These functions look at the bytes themselves (zlib
// only, no ITK or DCMTK, so the fuzz targets under tests/fuzz reach them
// directly) and throw FileError naming the file and the problem; they never
// allocate more than the file can justify.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rllm {

// Refuses a path that is not a regular file (a FIFO, device or socket would
// block or never end; a folder is not a file) before anything opens it.
void requireRegularFile(const std::string& path);

// The most bytes of decoded voxels (as float32, every component) one image
// may take: 4 GiB, or $RLLM_MAX_IMAGE_MB megabytes when set.
uint64_t maxImageBytes();
// Throws when `voxels` x `components` float32 values exceed maxImageBytes()
// or overflow; `what` names the file.
void requireImageFits(const std::string& what, uint64_t voxels, uint64_t components);
// Product of `dims` with overflow checking; false on overflow or a negative dimension.
bool checkedProduct(const std::vector<int64_t>& dims, uint64_t& product);

// PNG: signature, every chunk inside the file with a correct CRC, a valid
// IHDR first, IDAT present, IEND last, and the image data inflating to
// exactly the rows the header describes with valid filter bytes.
void checkPng(const std::string& path, const uint8_t* bytes, size_t size);

// NIfTI-1: what ITK's reader would otherwise trust. `header` is the first 348
// (or more) bytes of the (decompressed) file; `dataBytesAvailable` how many
// bytes the voxels can come from: the decompressed length of a .nii(.gz), or
// the length of the .img beside a .hdr.
struct NiftiFacts {
    bool singleFile = true;  // "n+1": voxels in the same file at vox_offset
    uint64_t voxelOffset = 0, voxelBytes = 0;
};
NiftiFacts checkNiftiHeader(const std::string& path, const uint8_t* header, size_t size);
void checkNiftiData(const std::string& path, const NiftiFacts& facts, uint64_t dataBytesAvailable);

// MetaImage (.mha/.mhd) header text up to and including ElementDataFile.
struct MetaImageFacts {
    std::string dataFile;      // "LOCAL" or a path relative to the header's folder
    uint64_t headerBytes = 0;  // LOCAL: where the voxels start
    uint64_t voxelBytes = 0;   // as stored, uncompressed
    bool compressed = false;
    uint64_t compressedBytes = 0;  // CompressedDataSize when given
};
MetaImageFacts checkMetaImageHeader(const std::string& path, const uint8_t* bytes, size_t size);

// One JPEG 2000 codestream of a DICOM frame: starts with SOC and SIZ, ends
// with EOC, and SIZ's size and component count match the DICOM header.
void checkJpeg2000Frame(const std::string& path, const uint8_t* bytes, size_t size, long rows,
                        long columns, long samples, long frame);

// A rescale (slope, intercept) that can turn stored values into real ones.
void requireFiniteRescale(const std::string& path, double slope, double intercept,
                          const char* what);

// Text for JSON and terminals: invalid UTF-8 bytes become U+FFFD, so a file
// name that is not UTF-8 is still shown (and named) instead of breaking output.
std::string toValidUtf8(const std::string& text);

}  // namespace rllm
