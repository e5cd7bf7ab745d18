#pragma once
// One entry point for opening anything the viewer and the CLI accept: it
// decides the format from the path (folder, DICOM magic, extension) and hands
// over to the DCMTK, ITK or npz reader.

#include "core/Volume.h"

#include <cstdint>
#include <string>

namespace rllm {

enum class InputKind { DicomFolder, DicomFile, MedMnist, ItkImage, Unsupported };

InputKind detectInputKind(const std::string& path);
std::string inputKindName(InputKind kind);

struct ReadOptions {
    // DICOM folders with several series: which one (empty: the folder must hold exactly one).
    std::string seriesInstanceUid;
    // 4D DICOM (a series or an enhanced multi-frame file): which of its
    // volumes (from 0; -1: it must hold one).
    int volume = -1;
    // MedMNIST archives: which case.
    std::string split = "test";
    int64_t index = 0;
};

// Throws FileError with a message naming the file and the problem.
Volume readImage(const std::string& path, const ReadOptions& options = {});

}  // namespace rllm
