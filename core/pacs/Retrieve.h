#pragma once
// Retrieving one series into the cache, by C-GET or by C-MOVE to our own
// storage SCP, and saying honestly whether it arrived whole.

#include "core/pacs/Dimse.h"

#include <string>

namespace rllm {

class SeriesCache;
class StorageServer;

enum class RetrieveMethod { Get, Move };
std::string retrieveMethodName(RetrieveMethod method);  // "C-GET", "C-MOVE"

struct SeriesRetrieval {
    TransferResult transfer;
    std::string folder;      // the series' folder in the cache
    bool fromCache = false;  // it was there, whole: nothing was pulled
    bool complete = false;   // every object is there (the series may be opened)
    int instances = 0;       // files in the folder now
    std::string message;     // for the user when not complete
};

// `expectedInstances` is the archive's NumberOfSeriesRelatedInstances (-1
// if unknown): a whole series must have that many files. C-MOVE needs
// `server` running with the AE title the archive sends to.
SeriesRetrieval retrieveSeries(const DimseClient& client, RetrieveMethod method,
                               const RetrieveTarget& target, int expectedInstances,
                               const std::string& description, SeriesCache& cache,
                               StorageServer* server, const TransferCallback& progress);

}  // namespace rllm
