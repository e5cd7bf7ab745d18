#pragma once
// The models' results kept for going back to a case: least recently used
// first out, bounded by the bytes the results hold (a 3D CAM of a CT series
// is hundreds of megabytes, so a count would not bound anything).

#include <QCache>
#include <QString>

#include <memory>

namespace rllm {

struct CaseAnalysis;

// The bytes one result holds: its CAM's voxels and its probabilities.
qint64 analysisBytes(const CaseAnalysis& analysis);

class AnalysisCache {
  public:
    // The default bound, and the QSettings key that changes it (megabytes).
    static constexpr qint64 kDefaultMegabytes = 1024;
    static constexpr const char* kSettingsKey = "analysis/cacheMegabytes";

    explicit AnalysisCache(qint64 maxBytes = kDefaultMegabytes << 20);

    // nullptr when absent; a hit becomes the most recently used.
    std::shared_ptr<const CaseAnalysis> find(const QString& key) const;
    // A result larger than the whole bound is not kept.
    void insert(const QString& key, std::shared_ptr<const CaseAnalysis> analysis);
    void setMaxBytes(qint64 maxBytes);
    qint64 maxBytes() const { return cache_.maxCost(); }
    qint64 bytes() const { return cache_.totalCost(); }
    int count() const { return int(cache_.count()); }

  private:
    // QCache owns what it holds: a heap copy of the shared pointer.
    mutable QCache<QString, std::shared_ptr<const CaseAnalysis>> cache_;
};

}  // namespace rllm
