#pragma once
// The local cache of retrieved series: <root>/<StudyUID>/<SeriesUID>/ holds
// the series' files and a manifest (series.json) that says whether the
// series arrived whole. A series is marked incomplete before its transfer
// starts, so one that broke off (or a crash) is never taken for whole; it
// is retrieved again. Over the size limit, the least recently used series
// go first.

#include <cstdint>
#include <string>
#include <vector>

namespace rllm {

struct CachedSeries {
    std::string studyInstanceUid, seriesInstanceUid;
    std::string folder;
    bool complete = false;
    int instances = 0;           // files present
    int expectedInstances = -1;  // what the archive said, -1 unknown
    int64_t bytes = 0;
    int64_t lastUsed = 0;  // seconds since the epoch
    std::string description;
    std::string problem;  // why it is incomplete, when it is
};

class SeriesCache {
  public:
    SeriesCache(std::string root, int64_t limitBytes);

    const std::string& root() const { return root_; }
    int64_t limitBytes() const { return limit_; }
    std::string seriesFolder(const std::string& study, const std::string& series) const;
    std::string quarantineFolder() const;

    // The series as the cache has it (complete == false and instances == 0 when absent).
    CachedSeries lookup(const std::string& study, const std::string& series) const;
    std::vector<CachedSeries> list() const;
    int64_t totalBytes() const;

    void markIncomplete(const std::string& study, const std::string& series,
                        const std::string& problem, int expectedInstances = -1);
    void markComplete(const std::string& study, const std::string& series,
                      const std::string& description, int expectedInstances = -1);
    void touch(const std::string& study, const std::string& series);
    void remove(const std::string& study, const std::string& series);

    // Removes least recently used series until the cache fits its limit,
    // never the series `keepStudy`/`keepSeries`. Returns the folders removed.
    std::vector<std::string> evict(const std::string& keepStudy = {},
                                   const std::string& keepSeries = {});

  private:
    void writeManifest(const CachedSeries& series) const;
    std::string root_;
    int64_t limit_;
};

}  // namespace rllm
