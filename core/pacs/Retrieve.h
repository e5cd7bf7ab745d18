#pragma once
// Retrieving one series into the cache, by C-GET or by C-MOVE to our own
// storage SCP, and saying honestly whether it arrived whole.

#include "core/pacs/Dimse.h"

#include <functional>
#include <string>

namespace rllm {

class SeriesCache;
class StorageServer;

// WADO-RS is DICOMweb's retrieve (ui/pacs/DicomWebClient: it needs Qt Network).
enum class RetrieveMethod { Get, Move, WadoRs };
std::string retrieveMethodName(RetrieveMethod method);  // "C-GET", "C-MOVE", "WADO-RS"

struct SeriesRetrieval {
    TransferResult transfer;
    std::string folder;      // the series' folder in the cache
    bool fromCache = false;  // it was there, whole: nothing was pulled
    bool complete = false;   // every object is there (the series may be opened)
    int instances = 0;       // files in the folder now
    std::string message;     // for the user when not complete
};

// Moves one series' objects into `folder` (refused ones into `quarantine`).
using SeriesTransfer = std::function<TransferResult(
    const std::string& folder, const std::string& quarantine, const TransferCallback& progress)>;

// The cache's side of any retrieve: a whole series already there is used as
// it is; otherwise the series is marked incomplete, `transfer` runs, and the
// series is marked complete only when the transfer says so and the files
// are all there.
SeriesRetrieval retrieveIntoCache(const RetrieveTarget& target, int expectedInstances,
                                  const std::string& description, SeriesCache& cache,
                                  const SeriesTransfer& transfer, const TransferCallback& progress);

// `expectedInstances` is the archive's NumberOfSeriesRelatedInstances (-1
// if unknown): a whole series must have that many files. C-MOVE needs
// `server` running with the AE title the archive sends to.
SeriesRetrieval retrieveSeries(const DimseClient& client, RetrieveMethod method,
                               const RetrieveTarget& target, int expectedInstances,
                               const std::string& description, SeriesCache& cache,
                               StorageServer* server, const TransferCallback& progress);

}  // namespace rllm
