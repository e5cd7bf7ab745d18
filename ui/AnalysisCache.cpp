#include "ui/AnalysisCache.h"

#include "core/Volume.h"
#include "ui/AnalysisService.h"

namespace rllm {

qint64 analysisBytes(const CaseAnalysis& analysis) {
    qint64 bytes =
        qint64(sizeof(CaseAnalysis)) + qint64(analysis.probabilities.size() * sizeof(float));
    if (analysis.cam) bytes += qint64(analysis.cam->voxels().size() * sizeof(float));
    return bytes;
}

AnalysisCache::AnalysisCache(qint64 maxBytes) : cache_(maxBytes) {}

std::shared_ptr<const CaseAnalysis> AnalysisCache::find(const QString& key) const {
    const auto* held = cache_.object(key);
    return held ? *held : nullptr;
}

void AnalysisCache::insert(const QString& key, std::shared_ptr<const CaseAnalysis> analysis) {
    if (!analysis) return;
    const qint64 cost = analysisBytes(*analysis);
    cache_.insert(key, new std::shared_ptr<const CaseAnalysis>(std::move(analysis)), cost);
}

void AnalysisCache::setMaxBytes(qint64 maxBytes) {
    cache_.setMaxCost(maxBytes);
}

}  // namespace rllm
