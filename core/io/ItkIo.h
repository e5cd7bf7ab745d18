#pragma once
// ITK-backed readers and writers: NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr),
// MetaImage (.mha, .mhd), PNG, JPEG, TIFF; and the GDCM fallback for JPEG 2000
// DICOM. ITK headers stay inside ItkIo.cpp.

#include "core/Volume.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rllm {

// Name of the format ITK would use for `path` judged by its extension
// ("NIfTI", "NRRD", ...), or empty when none applies.
std::string itkFormatForPath(const std::string& path);

Volume readWithItk(const std::string& path);

// A DICOM file through ITK's GDCM IO (used for JPEG 2000 transfer syntaxes).
Volume readDicomWithGdcm(const std::string& path);

// Writes voxels as float32 NIfTI with the volume's geometry. The file appears
// atomically: written to a temporary name beside it, then renamed.
void writeNifti(const Volume& volume, const std::string& path);

// Writes 8-bit grey (components 1) or RGB (3) pixels as PNG, atomically.
void writePng(const std::vector<uint8_t>& pixels, int width, int height, int components,
              const std::string& path);

}  // namespace rllm
