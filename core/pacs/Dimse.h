#pragma once
// Talking DIMSE to a PACS with DCMTK: C-ECHO, C-FIND (patient, study and
// series level), C-GET and C-MOVE of a study or series, C-STORE. Every call
// opens its own association, honours the node's time-out and ends in a
// PacsError saying what failed and what to check; nothing here blocks longer
// than the time-out without a progress callback that can cancel.

#include "core/Error.h"
#include "core/pacs/PacsNode.h"

#include <functional>
#include <string>
#include <vector>

namespace rllm {

class PacsError : public Error {
  public:
    using Error::Error;
};

enum class QueryLevel { Patient, Study, Series };
std::string queryLevelName(QueryLevel level);  // "PATIENT", "STUDY", "SERIES"

// What to look for. Empty fields match anything; names and IDs take DICOM
// wildcards (* and ?); dates are YYYYMMDD, either end may be empty.
struct QueryKeys {
    std::string patientName, patientId;
    std::string studyDateFrom, studyDateTo;
    std::string modality;  // matched against ModalitiesInStudy at study level
    std::string accessionNumber;
    std::string studyInstanceUid;  // series level: the study to list
};

// One answer, with the fields of its level (and those above it that the
// archive returned). Counts are -1 when the archive did not say.
struct QueryMatch {
    QueryLevel level = QueryLevel::Study;
    std::string patientName, patientId, patientBirthDate, patientSex;
    std::string studyInstanceUid, studyDate, studyTime, studyDescription, accessionNumber;
    std::string modalitiesInStudy;
    std::string seriesInstanceUid, seriesNumber, seriesDescription, modality;
    int studies = -1, series = -1, instances = -1;
};

struct QueryResult {
    std::vector<QueryMatch> matches;
    // More matched than `maxMatches`: the query was cancelled after that many.
    bool truncated = false;
};

// Progress of a retrieve or a store: sub-operations as the peer counts them.
struct TransferProgress {
    int completed = 0, failed = 0, warnings = 0;
    int remaining = -1;  // -1: the peer did not say
};
// Called after every received object or response; return false to cancel.
using TransferCallback = std::function<bool(const TransferProgress&)>;

// What to retrieve: a whole study, or one series of it.
struct RetrieveTarget {
    std::string studyInstanceUid;
    std::string seriesInstanceUid;  // empty: the whole study
};

struct TransferResult {
    TransferProgress progress;
    bool cancelled = false;
    // True only when the peer's final response said success with no failed
    // sub-operation, and nothing was refused on our side.
    bool complete = false;
    std::string message;             // what went wrong, for the user; empty when complete
    std::vector<std::string> files;  // C-GET / C-STORE: the files written or sent
};

class DimseClient {
  public:
    explicit DimseClient(PacsNode node);

    // Throws PacsError when the node does not answer or refuses us.
    void echo() const;

    // Matches at `level`. Stops (C-CANCEL) after `maxMatches`; `onMatch`, if
    // given, sees each match as it arrives.
    QueryResult find(QueryLevel level, const QueryKeys& keys, int maxMatches = 5000,
                     const std::function<void(const QueryMatch&)>& onMatch = {}) const;

    // C-GET: the objects arrive on this association and are written into
    // `folder` as <SOPInstanceUID>.dcm. Objects of another study or series
    // than asked for, or without the identifying UIDs, are refused and go to
    // `quarantineFolder` (if not empty) for a person to look at.
    TransferResult get(const RetrieveTarget& target, const std::string& folder,
                       const std::string& quarantineFolder, const TransferCallback& progress) const;

    // C-MOVE to `destinationAeTitle` (the archive must know it: usually our
    // own StorageServer). Only the counts come back here; the files arrive
    // wherever the destination keeps them.
    TransferResult move(const RetrieveTarget& target, const std::string& destinationAeTitle,
                        const TransferCallback& progress) const;

    // C-STORE of each file (DICOM Part 10), on one association.
    TransferResult store(const std::vector<std::string>& files,
                         const TransferCallback& progress) const;

    const PacsNode& node() const { return node_; }

  private:
    PacsNode node_;
};

// DICOM UIDs are digits and dots (at most 64): what may become a file name.
bool isValidUid(const std::string& uid);

}  // namespace rllm
