#pragma once
// DICOM through DCMTK: single files (also multi-frame), and folders holding
// one or more series. Compressed transfer syntaxes are decoded with DCMTK's
// JPEG, JPEG-LS and RLE codecs; JPEG 2000, which DCMTK cannot decode without
// a commercial module, goes through ITK's GDCM reader.

#include "core/Volume.h"

#include <string>
#include <vector>

namespace rllm {

struct DicomSeriesInfo {
    std::string seriesInstanceUid;
    std::string seriesDescription;
    std::string seriesNumber;
    std::string modality;
    std::string patientName;
    std::string patientId;
    std::string studyDescription;
    std::string studyDate;
    std::vector<std::string> files;  // every file of the series, unsorted
    int64_t imageCount = 0;          // frames over all files
    // A 4D series holds several volumes at the same slice positions: how
    // many (1 for an ordinary series) and what tells them apart (e.g. "echo
    // number"); readDicomSeries' volumeIndex picks one.
    int volumeCount = 1;
    std::string volumesDifferIn;
};

// True when the file starts like DICOM Part 10 ("DICM" after the preamble).
bool looksLikeDicomFile(const std::string& path);

// Every series under `folder` (recursively), by SeriesInstanceUID, with the
// display fields of its first file. Files that are not DICOM images are skipped.
// Throws FileError when the folder holds no DICOM image at all.
std::vector<DicomSeriesInfo> scanDicomFolder(const std::string& folder);
// The same for a list of files; files that are not DICOM images are skipped
// (the result may be empty).
std::vector<DicomSeriesInfo> scanDicomFiles(const std::vector<std::string>& paths);

// One file; multi-frame files become a volume with one slice per frame, a
// Siemens MOSAIC the volume tiled into it (from its CSA header). An
// enhanced multi-frame file holding several volumes at the same positions
// (temporal positions, echoes, b-values or frame types, told apart by its
// per-frame functional groups) is 4D data: `volumeIndex` (from 0) chooses
// one, and without it the file is refused, saying how many it holds.
Volume readDicomFile(const std::string& path, int volumeIndex = -1);

// One series, slices sorted by ImagePositionPatient projected on the slice
// normal. Refuses series of mixed size or orientation, duplicate positions,
// irregular spacing (a missing slice) and gantry tilt, saying which.
// A 4D series (several images at every position, told apart by temporal
// position, echo, b-value and direction, trigger time, image type or
// acquisition number) is split into its volumes; `volumeIndex` (from 0)
// chooses one, and without it the series is refused with a message that
// says how many volumes it holds and what tells them apart. The volume read
// from 4D data says which it is in metadata["Volume"] ("2 of 3 (volumes
// differ in echo number)").
Volume readDicomSeries(const DicomSeriesInfo& series, int volumeIndex = -1);

}  // namespace rllm
