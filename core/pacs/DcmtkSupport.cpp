#include "core/pacs/DcmtkSupport.h"

#include "core/pacs/Dimse.h"
#include "core/pacs/ReceivedObjects.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmnet/cond.h>
#include <dcmtk/oflog/oflog.h>

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace fs = std::filesystem;

namespace rllm {

void initDcmtk() {
    static std::once_flag once;
    std::call_once(once, [] {
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        // Debian builds DCMTK with Nagle's algorithm left on: every C-STORE
        // then waits for a delayed ACK, about 90 ms per object on loopback
        // (20 times slower than with it off, measured with storescu). DCMTK
        // reads this variable per association; a value the user set wins.
        ::setenv("TCP_NODELAY", "1", 0);
        // Loads the data dictionary before any thread needs it.
        (void)dcmDataDict.isDictionaryLoaded();
    });
}

std::string dicomTrim(const std::string& value) {
    const auto first = value.find_first_not_of(std::string(" \0", 2));
    if (first == std::string::npos) return {};
    const auto last = value.find_last_not_of(std::string(" \0", 2));
    return value.substr(first, last - first + 1);
}

std::string dicomValue(DcmItem* item, const DcmTagKey& tag) {
    OFString value;
    if (item && item->findAndGetOFStringArray(tag, value).good()) return dicomTrim(value.c_str());
    return {};
}

std::string describeNode(const PacsNode& node) {
    if (node.name.empty() || node.name == node.address()) return "PACS " + node.address();
    return "PACS '" + node.name + "' (" + node.address() + ")";
}

std::string connectionFailure(const PacsNode& node, const OFCondition& condition) {
    const std::string where = describeNode(node);
    const std::string detail = condition.text();
    if (condition == DUL_ASSOCIATIONREJECTED)
        return where + " refused the association (" + detail + "). Check that its AE title is '" +
               node.aeTitle + "' and that it accepts calls from AE title '" + node.callingAeTitle +
               "'.";
    if (detail.find("refused") != std::string::npos ||
        detail.find("TCP Initialization") != std::string::npos ||
        detail.find("Timeout") != std::string::npos || detail.find("timeout") != std::string::npos)
        return where + " does not answer (" + detail +
               "). Check that the archive is running and that host and port are right; "
               "the time-out is " +
               std::to_string(node.timeoutSeconds) + " s.";
    if (node.useTls)
        return where + ": the DICOM TLS connection failed (" + detail +
               "). Check that the archive speaks TLS on this port and that its certificate is "
               "in the node's trusted certificates.";
    return where + ": could not open an association: " + detail + ".";
}

std::string checkReceived(DcmDataset* dataset, const RetrieveTarget& target) {
    if (!dataset) return "no data set";
    auto uid = [&](const DcmTagKey& tag) { return dicomValue(dataset, tag); };
    const std::string sop = uid(DCM_SOPInstanceUID), sopClass = uid(DCM_SOPClassUID);
    const std::string study = uid(DCM_StudyInstanceUID), series = uid(DCM_SeriesInstanceUID);
    if (!isValidUid(sop)) return "SOP instance UID '" + sop + "' is missing or malformed";
    if (!isValidUid(sopClass)) return "SOP class UID '" + sopClass + "' is missing or malformed";
    if (!isValidUid(study)) return "study instance UID '" + study + "' is missing or malformed";
    if (!isValidUid(series)) return "series instance UID '" + series + "' is missing or malformed";
    if (!target.studyInstanceUid.empty() && study != target.studyInstanceUid)
        return "it belongs to study " + study + ", not to the study asked for";
    if (!target.seriesInstanceUid.empty() && series != target.seriesInstanceUid)
        return "it belongs to series " + series + ", not to the series asked for";
    return {};
}

bool saveDatasetAtomically(DcmDataset& dataset, const std::string& path, std::string* error) {
    static std::atomic<unsigned> counter{0};
    const std::string temporary =
        path + ".part" + std::to_string(counter++) + "-" +
        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    DcmFileFormat file(&dataset, OFFalse);
    const E_TransferSyntax syntax = dataset.getOriginalXfer();
    OFCondition status =
        file.saveFile(temporary.c_str(), syntax == EXS_Unknown ? EXS_LittleEndianExplicit : syntax);
    // The file format must not delete the caller's data set.
    file.getAndRemoveDataset();
    std::error_code ec;
    if (status.good()) fs::rename(temporary, path, ec);
    if (status.bad() || ec) {
        fs::remove(temporary, ec);
        if (error) *error = status.bad() ? status.text() : "could not rename into " + path;
        return false;
    }
    return true;
}

namespace {

// A name in `folder` no other refused object has: time and a counter.
std::string freshQuarantineStem(const std::string& folder) {
    static std::atomic<unsigned> counter{0};
    std::error_code ec;
    fs::create_directories(folder, ec);
    return (fs::path(folder) /
            ("refused-" +
             std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "-" +
             std::to_string(counter++)))
        .string();
}

}  // namespace

void quarantineDataset(DcmDataset& dataset, const std::string& folder, const std::string& reason) {
    const std::string stem = freshQuarantineStem(folder);
    std::string error;
    saveDatasetAtomically(dataset, stem + ".dcm", &error);
    std::ofstream(stem + ".txt") << reason << "\n";
}

Admission admitReceivedFile(const std::string& receivedFile, const RetrieveTarget& target,
                            const std::string& folder, const std::string& quarantine) {
    initDcmtk();
    Admission admission;
    DcmFileFormat file;
    std::error_code ec;
    // The header is enough to know what the object is; pixel data stays on disk.
    if (file.loadFile(receivedFile.c_str(), EXS_Unknown, EGL_noChange, 1024).bad()) {
        admission.refusal = "it is not a DICOM file";
    } else {
        admission.refusal = checkReceived(file.getDataset(), target);
    }
    if (admission.refusal.empty()) {
        const std::string sop = dicomValue(file.getDataset(), DCM_SOPInstanceUID);
        fs::create_directories(folder, ec);
        const fs::path path = fs::path(folder) / (sop + ".dcm");
        fs::rename(receivedFile, path, ec);
        if (!ec) {
            admission.path = path.string();
            return admission;
        }
        admission.refusal = "could not be moved into " + folder + ": " + ec.message();
    }
    const std::string stem = freshQuarantineStem(quarantine);
    fs::rename(receivedFile, stem + ".dcm", ec);
    if (ec) fs::remove(receivedFile, ec);
    std::ofstream(stem + ".txt") << admission.refusal << "\n";
    return admission;
}

}  // namespace rllm
