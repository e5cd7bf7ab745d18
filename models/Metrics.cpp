#include "models/Metrics.h"

#include "core/Error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace rllm {

std::string taskTypeName(TaskType type) {
    switch (type) {
        case TaskType::Binary:
            return "binary-class";
        case TaskType::MultiClass:
            return "multi-class";
        case TaskType::MultiLabel:
            return "multi-label, binary-class";
        case TaskType::Ordinal:
            return "ordinal-regression";
    }
    return "unknown";
}

TaskType parseTaskType(const std::string& name) {
    if (name == "binary" || name == "binary-class") return TaskType::Binary;
    if (name == "multi-class" || name == "multiclass") return TaskType::MultiClass;
    if (name == "multi-label" || name == "multilabel" || name == "multi-label, binary-class")
        return TaskType::MultiLabel;
    if (name == "ordinal" || name == "ordinal-regression") return TaskType::Ordinal;
    throw Error("unknown task type '" + name +
                "': use binary, multi-class, multi-label or ordinal");
}

TaskType taskTypeFor(const std::string& datasetPath, int labelColumns, int classCount) {
    std::string name = datasetPath.substr(datasetPath.find_last_of('/') + 1);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    if (labelColumns > 1 || name.rfind("chestmnist", 0) == 0) return TaskType::MultiLabel;
    if (name.rfind("retinamnist", 0) == 0) return TaskType::Ordinal;
    return classCount <= 2 ? TaskType::Binary : TaskType::MultiClass;
}

std::vector<double> midranks(const std::vector<double>& values) {
    const size_t n = values.size();
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return values[a] < values[b]; });
    std::vector<double> rank(n);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && values[order[j + 1]] == values[order[i]]) ++j;
        for (size_t k = i; k <= j; ++k) rank[order[k]] = (i + j) / 2.0 + 1.0;
        i = j + 1;
    }
    return rank;
}

double rocAuc(const std::vector<double>& scores, const std::vector<int>& positives) {
    const size_t n = scores.size();
    const std::vector<double> rank = midranks(scores);
    double positiveRanks = 0;
    size_t nPositive = 0;
    for (size_t i = 0; i < n; ++i)
        if (positives[i]) {
            positiveRanks += rank[i];
            ++nPositive;
        }
    const size_t nNegative = n - nPositive;
    if (nPositive == 0 || nNegative == 0) return std::numeric_limits<double>::quiet_NaN();
    return (positiveRanks - nPositive * (nPositive + 1) / 2.0) / (double(nPositive) * nNegative);
}

ScoreMetrics evaluateScores(TaskType task, const std::vector<std::vector<float>>& scores,
                            const std::vector<std::vector<int>>& labels) {
    if (scores.empty() || scores.size() != labels.size())
        throw Error(
            "evaluateScores: scores and labels must have the same, non-zero number of rows");
    const size_t n = scores.size(), classes = scores[0].size();
    ScoreMetrics m;
    auto column = [&](size_t c) {
        std::vector<double> v(n);
        for (size_t i = 0; i < n; ++i) v[i] = scores[i][c];
        return v;
    };
    auto meanAuc = [&](auto positiveOf) {
        double sum = 0;
        int counted = 0;
        for (size_t c = 0; c < classes; ++c) {
            std::vector<int> positive(n);
            for (size_t i = 0; i < n; ++i) positive[i] = positiveOf(i, c);
            double auc = rocAuc(column(c), positive);
            if (!std::isnan(auc)) {
                sum += auc;
                ++counted;
            }
        }
        return counted ? sum / counted : std::numeric_limits<double>::quiet_NaN();
    };
    switch (task) {
        case TaskType::Binary: {
            std::vector<int> positive(n);
            size_t correct = 0;
            for (size_t i = 0; i < n; ++i) {
                positive[i] = labels[i][0] != 0;
                correct += (scores[i][classes - 1] > 0.5f) == (positive[i] != 0);
            }
            m.auc = rocAuc(column(classes - 1), positive);
            m.acc = double(correct) / n;
            break;
        }
        case TaskType::MultiLabel: {
            m.auc = meanAuc([&](size_t i, size_t c) { return labels[i][c] != 0 ? 1 : 0; });
            double accSum = 0;
            for (size_t c = 0; c < classes; ++c) {
                size_t correct = 0;
                for (size_t i = 0; i < n; ++i)
                    correct += (scores[i][c] > 0.5f) == (labels[i][c] != 0);
                accSum += double(correct) / n;
            }
            m.acc = accSum / classes;
            break;
        }
        case TaskType::MultiClass:
        case TaskType::Ordinal: {
            m.auc = meanAuc([&](size_t i, size_t c) { return labels[i][0] == int(c) ? 1 : 0; });
            size_t correct = 0;
            for (size_t i = 0; i < n; ++i) {
                const auto best =
                    std::max_element(scores[i].begin(), scores[i].end()) - scores[i].begin();
                correct += best == labels[i][0];
            }
            m.acc = double(correct) / n;
            break;
        }
    }
    return m;
}

bool predictsOneClass(TaskType task, const std::vector<std::vector<float>>& scores,
                      const std::vector<std::vector<int>>& labels) {
    if (task == TaskType::MultiLabel || scores.empty()) return false;
    auto predicted = [task](const std::vector<float>& row) -> std::ptrdiff_t {
        if (task == TaskType::Binary) return row.back() > 0.5f;
        return std::max_element(row.begin(), row.end()) - row.begin();
    };
    auto label = [task](const std::vector<int>& row) {
        return task == TaskType::Binary ? int(row[0] != 0) : row[0];
    };
    bool labelsDiffer = false, predictionsDiffer = false;
    for (size_t i = 1; i < scores.size(); ++i) {
        labelsDiffer = labelsDiffer || label(labels[i]) != label(labels[0]);
        predictionsDiffer = predictionsDiffer || predicted(scores[i]) != predicted(scores[0]);
    }
    return labelsDiffer && !predictionsDiffer;
}

bool replacesBestEpoch(const EpochValidation& candidate, const EpochValidation& best) {
    if (candidate.oneClass != best.oneClass) return best.oneClass;
    const ScoreMetrics &c = candidate.metrics, &b = best.metrics;
    return c.auc > b.auc || (c.auc == b.auc && c.acc > b.acc);
}

EpochSelection EpochSelection::parse(const std::string& text) {
    if (text == "best") return {};
    if (text == "last") return {Rule::Last, 1};
    const std::string prefix = "mean:";
    if (text.rfind(prefix, 0) == 0) {
        const std::string digits = text.substr(prefix.size());
        if (!digits.empty() && digits.size() <= 4 &&
            std::all_of(digits.begin(), digits.end(),
                        [](char c) { return c >= '0' && c <= '9'; })) {
            const int window = std::stoi(digits);
            if (window >= 2) return {Rule::Mean, window};
        }
    }
    throw Error("--select must be best, last or mean:K with K >= 2 epochs (e.g. mean:5), not '" +
                text + "'");
}

std::string EpochSelection::text() const {
    switch (rule) {
        case Rule::Last:
            return "last";
        case Rule::Mean:
            return "mean:" + std::to_string(window);
        case Rule::Best:
            break;
    }
    return "best";
}

bool EpochSelection::canKeep(int epoch, int epochs) const {
    if (rule == Rule::Mean) return epoch >= std::min(window, epochs);
    return true;
}

EpochValidation judgedValidation(const std::vector<EpochValidation>& history, int epoch,
                                 int window) {
    if (epoch < 1 || epoch > static_cast<int>(history.size()) || window < 1)
        throw Error("judgedValidation: epoch " + std::to_string(epoch) + " of " +
                    std::to_string(history.size()) + ", window " + std::to_string(window));
    const int first = std::max(1, epoch - window + 1);
    EpochValidation judged{{0, 0}, history[epoch - 1].oneClass};
    for (int e = first; e <= epoch; ++e) {
        judged.metrics.acc += history[e - 1].metrics.acc;
        judged.metrics.auc += history[e - 1].metrics.auc;
    }
    const double count = epoch - first + 1;
    judged.metrics.acc /= count;
    judged.metrics.auc /= count;
    return judged;
}

}  // namespace rllm
