#pragma once
// Two loaded models run over a labelled set of cases and compared
// (models/CohortComparison.h). No LibTorch header leaks from here: the viewer
// runs it on a worker thread.

#include "models/CohortComparison.h"
#include "models/Engine.h"

#include <atomic>
#include <functional>
#include <string>

namespace rllm {

class CaseSource;
class LoadedModel;
struct BundleDescription;

// Empty when both models answer the same question (task and class names);
// otherwise a sentence saying how they differ. A cohort comparison refuses
// such pairs: class 1 of one model is not class 1 of the other.
std::string labelSpaceMismatch(const BundleDescription& a, const BundleDescription& b);

struct CohortRunOptions {
    CohortOptions statistics;
    // Called after each case from the calling thread: (cases done, total).
    std::function<void(int64_t done, int64_t total)> progress;
    // Set from another thread: the run stops before its next case and throws Cancelled.
    const std::atomic<bool>* cancel = nullptr;
    // Several workers (rllm compare under --nproc or a launcher) each score
    // a share of the cases; every worker gets every case's probabilities and
    // the same comparison. Progress counts this worker's share.
    DistributedOptions distributed;
};

// Scores every case with both models as `rllm predict` does (each case
// resampled onto each model's own input grid; LoadedModel::probabilities,
// equal to predict's to float rounding) and compares them. Throws Error for different label spaces
// or labels outside them, FileError for an unreadable case.
CohortComparison compareModels(LoadedModel& a, LoadedModel& b, const CaseSource& cases,
                               const CohortRunOptions& options = {});

}  // namespace rllm
