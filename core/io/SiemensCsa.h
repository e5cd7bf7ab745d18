#pragma once
// Siemens' private CSA header (the "SIEMENS CSA HEADER" block of group 0029):
// a small binary table of named elements that Siemens MR scanners store
// beside the DICOM attributes. A MOSAIC image needs two of them to be
// unpacked: NumberOfImagesInMosaic and SliceNormalVector.
//
// Layout of the version this reads ("SV10", every scanner since VB): the
// signature, 4 bytes, a uint32 element count and 4 unused bytes; then per
// element a 64-byte NUL-padded name, int32 VM, a 4-byte VR, int32 SyngoDT,
// int32 item count and 4 unused bytes; then per item four int32 (the second
// is the value's length) and the value, NUL-terminated text padded to a
// multiple of 4 bytes. All little-endian.
//
// No DCMTK here (the parser is fuzzed on its own).

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rllm {

struct CsaElement {
    std::string vr;
    std::vector<std::string> values;  // the non-empty items, as written
};

using CsaHeader = std::map<std::string, CsaElement>;

// Throws rllm::Error saying what is wrong when the bytes are not an SV10
// header (an older version, cut short, or counts that do not fit the bytes).
CsaHeader parseSiemensCsa(const uint8_t* data, size_t size);

// The element's values as numbers; empty when it is absent. Throws
// rllm::Error when a value is not a finite number.
std::vector<double> csaNumbers(const CsaHeader& header, const std::string& name);

}  // namespace rllm
