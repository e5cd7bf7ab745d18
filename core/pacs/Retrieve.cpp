#include "core/pacs/Retrieve.h"

#include "core/pacs/SeriesCache.h"
#include "core/pacs/StorageServer.h"

namespace rllm {

std::string retrieveMethodName(RetrieveMethod method) {
    switch (method) {
        case RetrieveMethod::Get:
            return "C-GET";
        case RetrieveMethod::Move:
            return "C-MOVE";
        case RetrieveMethod::WadoRs:
            return "WADO-RS";
    }
    return "?";
}

SeriesRetrieval retrieveIntoCache(const RetrieveTarget& target, int expectedInstances,
                                  const std::string& description, SeriesCache& cache,
                                  const SeriesTransfer& transfer,
                                  const TransferCallback& progress) {
    if (target.seriesInstanceUid.empty())
        throw PacsError("retrieving into the cache needs a series instance UID");
    SeriesRetrieval r;
    const std::string& study = target.studyInstanceUid;
    const std::string& series = target.seriesInstanceUid;
    CachedSeries cached = cache.lookup(study, series);
    r.folder = cached.folder;
    if (cached.complete && (expectedInstances < 0 || cached.instances == expectedInstances)) {
        cache.touch(study, series);
        r.fromCache = r.complete = true;
        r.instances = cached.instances;
        return r;
    }
    // Marked before the first byte arrives: a transfer that dies leaves an
    // incomplete series behind, never one that looks whole.
    cache.markIncomplete(study, series, "retrieve in progress", expectedInstances);
    r.transfer = transfer(r.folder, cache.quarantineFolder(), progress);
    cached = cache.lookup(study, series);
    r.instances = cached.instances;
    const bool countRight = expectedInstances < 0 || r.instances == expectedInstances;
    r.complete = r.transfer.complete && countRight && r.instances > 0;
    if (r.complete) {
        cache.markComplete(study, series, description, expectedInstances);
        cache.evict(study, series);
        return r;
    }
    if (!r.transfer.message.empty())
        r.message = r.transfer.message;
    else if (r.instances == 0)
        r.message = "the archive sent nothing for this series.";
    else
        r.message = std::to_string(r.instances) + " of " + std::to_string(expectedInstances) +
                    " images arrived.";
    r.message += " The series is kept as incomplete and is not opened; retrieve it again.";
    cache.markIncomplete(study, series, r.message, expectedInstances);
    return r;
}

SeriesRetrieval retrieveSeries(const DimseClient& client, RetrieveMethod method,
                               const RetrieveTarget& target, int expectedInstances,
                               const std::string& description, SeriesCache& cache,
                               StorageServer* server, const TransferCallback& progress) {
    if (method == RetrieveMethod::WadoRs)
        throw PacsError("WADO-RS goes through the DICOMweb client, not DIMSE");
    if (method == RetrieveMethod::Move && (!server || !server->running()))
        throw PacsError("C-MOVE needs the viewer's storage SCP running to receive the series");
    return retrieveIntoCache(
        target, expectedInstances, description, cache,
        [&](const std::string& folder, const std::string& quarantine,
            const TransferCallback& report) {
            return method == RetrieveMethod::Get
                       ? client.get(target, folder, quarantine, report)
                       : client.move(target, server->options().aeTitle, report);
        },
        progress);
}

}  // namespace rllm
