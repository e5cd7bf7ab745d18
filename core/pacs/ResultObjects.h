#pragma once
// The viewer's results as DICOM objects that belong to the study they were
// computed from, so any viewer reading the archive shows them beside it:
// - a CAM burned into its image as a Secondary Capture series, one image per
//   slice, carrying the source's geometry (Image Position / Orientation,
//   Pixel Spacing, Frame of Reference) so viewers can link it;
// - the comparison report as an Encapsulated PDF.
// Both copy the source's patient and study modules, get new series and SOP
// instance UIDs, and say "not for diagnostic use" in the series description.

#include "core/Volume.h"

#include <string>
#include <vector>

namespace rllm {

struct ResultSeriesInfo {
    std::string
        sourceFile;  // one DICOM file of the source series (patient, study, frame of reference)
    std::string description;  // e.g. "R-LLM CAM: boosted ViT (gradcam)"; the disclaimer is appended
    int seriesNumber = 9001;
};

// The disclaimer every result series carries.
extern const char* const kNotForDiagnosticUse;

// A DICOM file of the series `volume` was read from (its sourcePath is the
// file, or the folder holding the series: then the first file whose Series
// Instance UID is metadata["SeriesInstanceUID"]). Throws FileError when the
// volume did not come from DICOM.
std::string dicomSourceFileOf(const Volume& volume);

// Writes one Secondary Capture image per slice of `rgb` (an RGB volume on
// the source's grid, e.g. burnInCam's) into `folder`; returns the files in
// slice order. Throws FileError naming the source when it is not DICOM.
std::vector<std::string> writeSecondaryCaptureSeries(const ResultSeriesInfo& info,
                                                     const Volume& rgb, const std::string& folder);

// Writes the CAM's values themselves (a one-component volume on the
// source's grid, 0..1) as one floating-point Parametric Map: an enhanced
// multi-frame object, one frame per slice with its Image Position, the
// source's orientation, spacing and frame of reference, a real-world value
// mapping of identity ("no units"), for viewers and tools that compute on
// the map rather than look at colours.
void writeParametricMap(const ResultSeriesInfo& info, const Volume& cam,
                        const std::string& outFile);

// Wraps the PDF at `pdfPath` as an Encapsulated PDF object, written to `outFile`.
void writeEncapsulatedPdf(const ResultSeriesInfo& info, const std::string& pdfPath,
                          const std::string& documentTitle, const std::string& outFile);

}  // namespace rllm
