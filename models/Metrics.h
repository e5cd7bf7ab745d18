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

}  // namespace rllm
