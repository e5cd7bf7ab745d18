#pragma once
// ACC and AUC as MedMNIST's Evaluator computes them (medmnist/evaluator.py,
// getACC/getAUC), for its four task types.

#include <string>
#include <vector>

namespace rllm {

enum class TaskType { Binary, MultiClass, MultiLabel, Ordinal };

std::string taskTypeName(TaskType type);  // "binary-class", "multi-class", ...
TaskType parseTaskType(const std::string& name);
// MedMNIST's flag for a file: ChestMNIST is multi-label, RetinaMNIST ordinal,
// two classes binary, else multi-class.
TaskType taskTypeFor(const std::string& datasetPath, int labelColumns, int classCount);

// 1-based ranks of `values`, ties sharing their mean rank.
std::vector<double> midranks(const std::vector<double>& values);

// Area under the ROC curve from ranks (ties share their mean rank), equal to
// scikit-learn's roc_auc_score. NaN when only one class is present.
double rocAuc(const std::vector<double>& scores, const std::vector<int>& positives);

struct ScoreMetrics {
    double acc = 0;
    double auc = 0;
};

// scores: N rows of per-class probabilities (softmax; sigmoid for multi-label).
// labels: N rows of label columns (one class index, or L binary labels).
ScoreMetrics evaluateScores(TaskType task, const std::vector<std::vector<float>>& scores,
                            const std::vector<std::vector<int>>& labels);

// Whether a single-label model gives every case the same class, as
// evaluateScores counts predictions (the positive column above 0.5 for a
// binary task, the largest score otherwise), on cases of more than one
// class. A multi-label task is never called that.
bool predictsOneClass(TaskType task, const std::vector<std::vector<float>>& scores,
                      const std::vector<std::vector<int>>& labels);

// One epoch's validation result, as training chooses among epochs.
struct EpochValidation {
    ScoreMetrics metrics;
    bool oneClass = false;  // predictsOneClass on the validation cases
};
// Whether `candidate` replaces `best` as the epoch a run keeps: the higher
// validation AUC, equal AUCs (common where it saturates at 1) going to the
// higher ACC; but an epoch that gives every validation case one class never
// replaces one that does not, and always loses to it. Its AUC may rank the
// cases well, yet as a classifier it is the class prior (an early epoch of a
// 3D booster won on AUC that way and then predicted one class for every test
// case; docs/results.md).
bool replacesBestEpoch(const EpochValidation& candidate, const EpochValidation& best);

// Which epoch's weights a run keeps (`rllm train --select`).
struct EpochSelection {
    enum class Rule {
        Best,  // the best validation (replacesBestEpoch)
        Last,  // the schedule's last epoch
        Mean,  // the best validation averaged over the epoch and the window - 1 before it
    };
    Rule rule = Rule::Best;
    int window = 1;  // epochs each candidate is judged on (1 unless Mean)

    // "best", "last" or "mean:K" (K >= 2); throws rllm::Error otherwise.
    static EpochSelection parse(const std::string& text);
    std::string text() const;  // as parse reads it
    // Whether `epoch` (from 1) of a run of `epochs` may be kept: under mean:K
    // only epochs with a full window (from the K-th on; every epoch when the
    // run is shorter than K), since a window of one or two early epochs is as
    // noisy as the single-epoch choice the rule replaces.
    bool canKeep(int epoch, int epochs) const;
};

// What epoch `epoch` (from 1) is judged on under a window of `window`
// epochs: the mean validation ACC and AUC of it and the window - 1 epochs
// before it (fewer at the start), `history` holding every epoch's validation
// in order; one class where the epoch itself gave one class. With a small
// validation split one epoch's AUC is partly chance, and the maximum over
// many epochs picks the luckiest; the mean of neighbouring epochs is less
// so. With --ema the weights of an epoch are themselves an average over the
// steps before it, the span this window looks back over.
EpochValidation judgedValidation(const std::vector<EpochValidation>& history, int epoch,
                                 int window);

}  // namespace rllm
