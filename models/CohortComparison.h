#pragma once
// Two classifiers compared over the same cases: each model's ACC and AUC (as
// MedMNIST's evaluator defines them for the task type) with confidence
// intervals, operating point, confusion matrix and calibration; the paired
// tests of their difference; and a row per case. Plain C++: the command line
// (`rllm compare`) and the viewer's Cohort view build the same report from
// the two models' probabilities.

#include "models/CohortStatistics.h"
#include "models/Metrics.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace rllm {

struct CohortModel {
    std::string name;  // shown in reports, e.g. the bundle's file name
    // Per case, per class: softmax probabilities (sigmoid for multi-label).
    std::vector<std::vector<float>> probabilities;
};

struct CohortCases {
    TaskType task = TaskType::Binary;
    std::vector<std::string> classNames;   // the label space both models share
    std::vector<std::string> ids;          // e.g. "test/17" or a file name
    std::vector<std::vector<int>> labels;  // one class index, or L binary columns
    std::string source;                    // the data set, as the user named it
    // Anything a reader must know before trusting the figures, e.g. that a
    // model was trained on another archive than these cases come from.
    std::vector<std::string> notes;
};

struct CohortOptions {
    double confidence = 0.95;
    int bootstrapSamples = 2000;
    uint64_t seed = 0;
    int calibrationBins = 10;
};

struct ClassOperatingPoint {
    // One class against the rest, at the model's decision (argmax, or
    // probability > 0.5 for binary and multi-label tasks, as the evaluator).
    double sensitivity = 0, specificity = 0;
    int64_t positives = 0, negatives = 0;
};

struct CohortModelResult {
    std::string name;
    double acc = 0;  // as MedMNIST's evaluator
    // MedMNIST's AUC (binary: of the positive class; else the mean of the
    // classes' one-vs-rest AUCs) with its interval: DeLong for a binary task,
    // the paired bootstrap for a mean over classes.
    double auc = 0, aucLow = 0, aucHigh = 0;
    std::string aucInterval;            // "DeLong" or "bootstrap"
    std::vector<AucEstimate> classAuc;  // DeLong, per class (binary: the positive class only)
    std::vector<ClassOperatingPoint> operatingPoints;  // per class
    // Single-label tasks: rows are the true class, columns the predicted one.
    // Multi-label: one row per label, [TN, FP, FN, TP].
    std::vector<std::vector<int64_t>> confusion;
    // Binary and multi-label: P(positive) against how often it was;
    // multi-class: the predicted class's probability against how often it was right.
    Calibration calibration;
    std::string calibrationKind;
    std::vector<std::vector<RocPoint>> roc;  // per entry of classAuc
};

struct CohortCaseRow {
    std::string id;
    std::vector<int> labels;
    std::vector<int> predictedA, predictedB;  // one class index, or L 0/1 decisions
    std::vector<float> probabilitiesA, probabilitiesB;
    bool correctA = false, correctB = false;  // multi-label: every label right
    // |P_B - P_A| for the score the AUC ranks (binary: the positive class;
    // else the true class's probability; multi-label: the largest over labels).
    double probabilityGap = 0;
    bool disagree() const { return predictedA != predictedB; }
    std::string outcome() const;  // "both", "A only", "B only", "neither"
};

struct CohortComparison {
    CohortCases cases;
    CohortOptions options;
    CohortModelResult a, b;
    // AUC B - A. Binary: DeLong's paired test; otherwise the paired bootstrap
    // of the mean over classes (per-class DeLong tests in classTests).
    double aucDifference = 0, aucDifferenceLow = 0, aucDifferenceHigh = 0, aucDifferenceP = 1;
    std::string aucTest;                    // "DeLong" or "paired bootstrap"
    std::vector<PairedAucTest> classTests;  // DeLong, per entry of classAuc
    McNemarTest mcnemar;                    // on the per-case right/wrong
    double accDifference = 0;               // B - A
    int64_t disagreements = 0;
    int bootstrapSamplesUsed = 0;
    std::vector<CohortCaseRow> rows;
};

// Refuses (Error) when the probabilities do not fit the cases or the class names.
CohortComparison compareCohort(const CohortCases& cases, const CohortModel& a, const CohortModel& b,
                               const CohortOptions& options = {});

// "B's AUC is 0.031 higher, 95 % CI -0.012 to 0.074, p = 0.16: not significant."
std::string aucVerdict(const CohortComparison& c);
// "B is right on 12 cases where A is wrong and wrong on 7 where A is right (McNemar p = 0.36)."
std::string accuracyVerdict(const CohortComparison& c);

nlohmann::json cohortToJson(const CohortComparison& c);
// One row per case: id, labels, both models' probabilities and predictions, outcome.
void writeCohortCsv(const CohortComparison& c, const std::string& path);

}  // namespace rllm
