#include "models/CohortRun.h"

#include "core/CaseSource.h"
#include "core/Error.h"
#include "core/Volume.h"
#include "models/DataParallel.h"
#include "models/LoadedModel.h"

#include <algorithm>
#include <filesystem>

namespace rllm {

namespace {

std::string quotedList(const std::vector<std::string>& names) {
    std::string s;
    for (size_t i = 0; i < names.size(); ++i) s += (i ? ", \"" : "\"") + names[i] + "\"";
    return s;
}

// Where a model was trained on another archive than the cases come from,
// or on images of another size, the reader should know before the figures.
void noteTrainingData(const std::string& letter, const BundleDescription& d,
                      const CaseSource& cases, std::vector<std::string>& notes) {
    if (!d.dataset) return;
    const std::string trainedOn = std::filesystem::path(d.dataset->file).filename().string();
    const std::string source = std::filesystem::path(cases.path()).filename().string();
    if (std::filesystem::path(cases.path()).extension() == ".npz" && trainedOn != source)
        notes.push_back(letter + " was trained on " + trainedOn + ", the cases come from " +
                        source + ".");
}

}  // namespace

std::string labelSpaceMismatch(const BundleDescription& a, const BundleDescription& b) {
    if (a.task != b.task)
        return "A is a " + a.task + " model and B a " + b.task +
               " one: they answer different questions.";
    if (a.class_names != b.class_names)
        return "A's classes (" + quotedList(a.class_names) + ") are not B's (" +
               quotedList(b.class_names) + "): they answer different questions.";
    return {};
}

CohortComparison compareModels(LoadedModel& a, LoadedModel& b, const CaseSource& cases,
                               const CohortRunOptions& options) {
    const std::string mismatch = labelSpaceMismatch(a.description(), b.description());
    if (!mismatch.empty()) throw Error("cannot compare these models: " + mismatch);
    CohortCases cohort;
    cohort.task = parseTaskType(a.description().task);
    cohort.classNames = a.classNames();
    cohort.source = cases.description();
    noteTrainingData("A", a.description(), cases, cohort.notes);
    noteTrainingData("B", b.description(), cases, cohort.notes);
    CohortModel modelA{std::filesystem::path(a.path()).filename().string(), {}};
    CohortModel modelB{std::filesystem::path(b.path()).filename().string(), {}};
    const int64_t n = cases.count();
    const std::shared_ptr<DataParallelGroup> group = joinDataParallelGroup(options.distributed);
    const RankShard mine = group ? shardOf(n, group->rank(), group->size()) : RankShard{0, n};
    for (int64_t i = 0; i < n; ++i) {  // cheap; the images are what the workers share
        cohort.ids.push_back(cases.id(i));
        cohort.labels.push_back(cases.labels(i));
    }
    // Cases go through in batches: one forward pass per model and batch is
    // several times faster than one per case, and a batch is short enough
    // for progress and cancel to answer quickly.
    constexpr int64_t kBatch = 32;
    const int64_t last = mine.start + mine.count;
    for (int64_t start = mine.start; start < last; start += kBatch) {
        if (options.cancel && options.cancel->load()) throw Cancelled();
        const int64_t end = std::min(last, start + kBatch);
        std::vector<Volume> volumes;
        for (int64_t i = start; i < end; ++i) volumes.push_back(cases.image(i));
        for (auto [model, scores] : {std::pair{&a, &modelA}, std::pair{&b, &modelB}})
            for (auto& p : model->probabilities(volumes))
                scores->probabilities.push_back(std::move(p));
        if (options.progress) options.progress(end - mine.start, mine.count);
    }
    if (group) {
        const int64_t columns = static_cast<int64_t>(cohort.classNames.size());
        for (CohortModel* scores : {&modelA, &modelB})
            scores->probabilities = group->gatherShards(scores->probabilities, n, columns);
    }
    return compareCohort(cohort, modelA, modelB, options.statistics);
}

}  // namespace rllm
