#pragma once
// DICOMweb over Qt Network: QIDO-RS searches (studies, and the series of a
// study) and WADO-RS retrieve of a series as multipart/related, parsed as
// it streams in so memory holds one object at a time. Basic authentication
// and https (with or without checking the server's certificate) come from
// the node. Calls block their thread with a local event loop: they are made
// from PacsJobs' workers, never on the GUI thread. Errors are PacsError.

#include "core/pacs/Dimse.h"

namespace rllm {

class DicomWebClient {
  public:
    explicit DicomWebClient(PacsNode node);

    // QIDO-RS /studies with the same keys as C-FIND at study level.
    QueryResult searchStudies(const QueryKeys& keys, int maxMatches = 5000) const;
    // QIDO-RS /studies/{uid}/series.
    QueryResult searchSeries(const std::string& studyInstanceUid) const;
    // WADO-RS /studies/{uid}/series/{uid}: each object is checked and kept
    // in `folder` as <SOPInstanceUID>.dcm (refused ones go to `quarantine`).
    TransferResult retrieve(const RetrieveTarget& target, const std::string& folder,
                            const std::string& quarantine, const TransferCallback& progress) const;

  private:
    PacsNode node_;
};

}  // namespace rllm
