#pragma once
// What every way of receiving DICOM objects shares (C-GET, our storage SCP,
// WADO-RS): an object is kept only when the UIDs that name it are present
// and well formed and it belongs to what was asked for; it is written into
// place atomically; a refused one goes to quarantine with its reason.

#include <string>

namespace rllm {

struct RetrieveTarget;

struct Admission {
    std::string path;     // where the object now is, when kept
    std::string refusal;  // why it was not kept, when refused
};

// Takes the DICOM Part 10 file at `receivedFile` (a temporary file the
// caller wrote) into `folder` as <SOPInstanceUID>.dcm, or into `quarantine`
// with a .txt giving the reason. The received file is moved, never copied.
Admission admitReceivedFile(const std::string& receivedFile, const RetrieveTarget& target,
                            const std::string& folder, const std::string& quarantine);

}  // namespace rllm
