#include "models/CohortComparison.h"

#include "core/Error.h"
#include "core/io/AtomicFile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>

namespace rllm {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The score columns the AUC ranks and whether each case is positive for
// them: binary tasks rank the positive class alone; others each class (or
// label) against the rest, as MedMNIST's evaluator does.
struct AucEntry {
    std::string name;
    std::vector<double> scoresA, scoresB;
    std::vector<int> positives;
};

std::vector<AucEntry> aucEntries(const CohortCases& cases, const CohortModel& a,
                                 const CohortModel& b) {
    const size_t n = cases.labels.size(), classes = cases.classNames.size();
    auto entry = [&](size_t column, const std::string& name, auto positiveOf) {
        AucEntry e;
        e.name = name;
        for (size_t i = 0; i < n; ++i) {
            e.scoresA.push_back(a.probabilities[i][column]);
            e.scoresB.push_back(b.probabilities[i][column]);
            e.positives.push_back(positiveOf(i) ? 1 : 0);
        }
        return e;
    };
    std::vector<AucEntry> entries;
    if (cases.task == TaskType::Binary) {
        entries.push_back(entry(classes - 1, cases.classNames.back(),
                                [&](size_t i) { return cases.labels[i][0] != 0; }));
    } else {
        for (size_t c = 0; c < classes; ++c)
            entries.push_back(entry(c, cases.classNames[c], [&](size_t i) {
                return cases.task == TaskType::MultiLabel ? cases.labels[i][c] != 0
                                                          : cases.labels[i][0] == int(c);
            }));
    }
    return entries;
}

std::vector<int> decide(TaskType task, const std::vector<float>& p) {
    if (task == TaskType::Binary) return {p.back() > 0.5f ? 1 : 0};
    if (task == TaskType::MultiLabel) {
        std::vector<int> d;
        for (float v : p) d.push_back(v > 0.5f ? 1 : 0);
        return d;
    }
    return {int(std::max_element(p.begin(), p.end()) - p.begin())};
}

bool isRight(TaskType task, const std::vector<int>& decision, const std::vector<int>& labels) {
    if (task == TaskType::Binary) return decision[0] == (labels[0] != 0 ? 1 : 0);
    return decision == labels;  // multi-label: every label
}

double meanDefined(const std::vector<double>& values) {
    double sum = 0;
    int count = 0;
    for (double v : values)
        if (!std::isnan(v)) {
            sum += v;
            ++count;
        }
    return count ? sum / count : kNaN;
}

CohortModelResult describeModel(const CohortCases& cases, const CohortModel& model,
                                const std::vector<AucEntry>& entries, bool isB,
                                const std::vector<std::vector<int>>& decisions,
                                const CohortOptions& options) {
    CohortModelResult r;
    r.name = model.name;
    const ScoreMetrics m = evaluateScores(cases.task, model.probabilities, cases.labels);
    r.acc = m.acc;
    r.auc = m.auc;
    for (const AucEntry& e : entries) {
        const auto& scores = isB ? e.scoresB : e.scoresA;
        r.classAuc.push_back(delongAuc(scores, e.positives, options.confidence));
        r.roc.push_back(rocCurve(scores, e.positives));
    }
    const size_t n = cases.labels.size(), classes = cases.classNames.size();
    const bool multiLabel = cases.task == TaskType::MultiLabel;
    // Operating points and confusion.
    for (size_t c = 0; c < classes; ++c) {
        int64_t tp = 0, fp = 0, fn = 0, tn = 0;
        for (size_t i = 0; i < n; ++i) {
            const bool actual = multiLabel ? cases.labels[i][c] != 0 : cases.labels[i][0] == int(c);
            const bool said = multiLabel ? decisions[i][c] != 0 : decisions[i][0] == int(c);
            (actual ? (said ? tp : fn) : (said ? fp : tn)) += 1;
        }
        ClassOperatingPoint o;
        o.positives = tp + fn;
        o.negatives = tn + fp;
        o.sensitivity = o.positives ? double(tp) / o.positives : kNaN;
        o.specificity = o.negatives ? double(tn) / o.negatives : kNaN;
        r.operatingPoints.push_back(o);
        if (multiLabel) r.confusion.push_back({tn, fp, fn, tp});
    }
    if (!multiLabel) {
        r.confusion.assign(classes, std::vector<int64_t>(classes, 0));
        for (size_t i = 0; i < n; ++i) {
            const int truth = cases.labels[i][0];
            if (truth >= 0 && truth < int(classes)) ++r.confusion[truth][decisions[i][0]];
        }
    }
    // Calibration.
    std::vector<double> predicted;
    std::vector<int> happened;
    for (size_t i = 0; i < n; ++i) {
        const auto& p = model.probabilities[i];
        if (cases.task == TaskType::Binary) {
            predicted.push_back(p.back());
            happened.push_back(cases.labels[i][0] != 0);
        } else if (multiLabel) {
            for (size_t c = 0; c < classes; ++c) {
                predicted.push_back(p[c]);
                happened.push_back(cases.labels[i][c] != 0);
            }
        } else {
            predicted.push_back(*std::max_element(p.begin(), p.end()));
            happened.push_back(isRight(cases.task, decisions[i], cases.labels[i]));
        }
    }
    r.calibration = calibrationOf(predicted, happened, options.calibrationBins);
    r.calibrationKind = cases.task == TaskType::Binary
                            ? "P(" + cases.classNames.back() + ") against its observed frequency"
                        : multiLabel ? "P(label) against its observed frequency, all labels"
                                     : "the predicted class's probability against accuracy";
    return r;
}

void checkInputs(const CohortCases& cases, const CohortModel& model) {
    const size_t n = cases.labels.size(), classes = cases.classNames.size();
    if (model.probabilities.size() != n)
        throw Error("model " + model.name + ": " + std::to_string(model.probabilities.size()) +
                    " answers for " + std::to_string(n) + " cases");
    for (const auto& row : model.probabilities)
        if (row.size() != classes)
            throw Error("model " + model.name + ": an answer has " + std::to_string(row.size()) +
                        " classes, the cases " + std::to_string(classes));
}

std::string formatNumber(double v, int digits) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

std::string formatP(double p) {
    if (std::isnan(p)) return "p undefined";
    if (p < 0.001) return "p < 0.001";
    std::ostringstream s;
    s << "p = " << std::setprecision(2) << p;
    return s.str();
}

std::string significance(double p, double confidence) {
    if (std::isnan(p)) return "not decidable";
    const double alpha = 1 - confidence;
    return p < alpha ? "significant at the " + formatNumber(alpha * 100, 0) + " % level"
                     : "not significant";
}

nlohmann::json numberOrNull(double v) {
    return std::isnan(v) || std::isinf(v) ? nlohmann::json(nullptr) : nlohmann::json(v);
}

nlohmann::json aucJson(const AucEstimate& e) {
    return {{"auc", numberOrNull(e.auc)},      {"variance", numberOrNull(e.variance)},
            {"ci_low", numberOrNull(e.ciLow)}, {"ci_high", numberOrNull(e.ciHigh)},
            {"positives", e.positives},        {"negatives", e.negatives}};
}

nlohmann::json modelJson(const CohortModelResult& r, const CohortCases& cases,
                         const std::vector<std::string>& entryNames) {
    nlohmann::json classes = nlohmann::json::array();
    for (size_t i = 0; i < r.classAuc.size(); ++i) {
        nlohmann::json e = aucJson(r.classAuc[i]);
        e["class"] = entryNames[i];
        classes.push_back(e);
    }
    nlohmann::json operating = nlohmann::json::array();
    for (size_t c = 0; c < r.operatingPoints.size(); ++c) {
        const ClassOperatingPoint& o = r.operatingPoints[c];
        operating.push_back({{"class", cases.classNames[c]},
                             {"sensitivity", numberOrNull(o.sensitivity)},
                             {"specificity", numberOrNull(o.specificity)},
                             {"positives", o.positives},
                             {"negatives", o.negatives}});
    }
    nlohmann::json bins = nlohmann::json::array();
    for (const ReliabilityBin& b : r.calibration.bins)
        bins.push_back({{"lower", b.lower},
                        {"upper", b.upper},
                        {"mean_predicted", numberOrNull(b.meanPredicted)},
                        {"observed", numberOrNull(b.observed)},
                        {"count", b.count}});
    return {{"name", r.name},
            {"acc", numberOrNull(r.acc)},
            {"auc", numberOrNull(r.auc)},
            {"auc_ci_low", numberOrNull(r.aucLow)},
            {"auc_ci_high", numberOrNull(r.aucHigh)},
            {"auc_interval", r.aucInterval},
            {"class_auc", classes},
            {"operating_points", operating},
            {"confusion", r.confusion},
            {"confusion_layout", cases.task == TaskType::MultiLabel
                                     ? "per label: [TN, FP, FN, TP]"
                                     : "rows: true class, columns: predicted class"},
            {"calibration",
             {{"ece", numberOrNull(r.calibration.expectedCalibrationError)},
              {"kind", r.calibrationKind},
              {"bins", bins}}}};
}

std::string csvField(const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

std::string joinInts(const std::vector<int>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + std::to_string(v[i]);
    return s;
}

}  // namespace

std::string CohortCaseRow::outcome() const {
    if (correctA && correctB) return "both";
    if (correctA) return "A only";
    if (correctB) return "B only";
    return "neither";
}

CohortComparison compareCohort(const CohortCases& cases, const CohortModel& a, const CohortModel& b,
                               const CohortOptions& options) {
    const size_t n = cases.labels.size();
    if (n == 0) throw Error("the cohort has no cases");
    if (cases.ids.size() != n) throw Error("the cohort's case ids and labels differ in number");
    if (cases.classNames.size() < 2) throw Error("the cohort's label space needs two classes");
    checkInputs(cases, a);
    checkInputs(cases, b);
    const size_t classes = cases.classNames.size();
    for (const auto& l : cases.labels) {
        const bool fits = cases.task == TaskType::MultiLabel
                              ? l.size() == classes
                              : l.size() == 1 && l[0] >= 0 && l[0] < int(classes);
        if (!fits)
            throw Error("a case's label does not fit the label space of " +
                        std::to_string(classes) + " classes");
    }

    CohortComparison c;
    c.cases = cases;
    c.options = options;
    const std::vector<AucEntry> entries = aucEntries(cases, a, b);
    std::vector<std::vector<int>> decisionsA, decisionsB;
    for (size_t i = 0; i < n; ++i) {
        decisionsA.push_back(decide(cases.task, a.probabilities[i]));
        decisionsB.push_back(decide(cases.task, b.probabilities[i]));
    }
    c.a = describeModel(cases, a, entries, false, decisionsA, options);
    c.b = describeModel(cases, b, entries, true, decisionsB, options);
    for (const AucEntry& e : entries)
        c.classTests.push_back(
            delongPairedTest(e.scoresA, e.scoresB, e.positives, options.confidence));

    if (cases.task == TaskType::Binary) {
        const PairedAucTest& t = c.classTests[0];
        c.aucTest = "DeLong";
        c.aucDifference = t.difference;
        c.aucDifferenceLow = t.ciLow;
        c.aucDifferenceHigh = t.ciHigh;
        c.aucDifferenceP = t.pValue;
        for (CohortModelResult* r : {&c.a, &c.b}) {
            const AucEstimate& e = r == &c.a ? t.a : t.b;
            r->aucLow = e.ciLow;
            r->aucHigh = e.ciHigh;
            r->aucInterval = "DeLong";
        }
    } else {
        // The mean over classes has no DeLong variance of its own: resample
        // the cases (the same ones for both models) and take percentiles.
        std::vector<WeightedAuc> aucA, aucB;
        for (const AucEntry& e : entries) {
            aucA.emplace_back(e.scoresA, e.positives);
            aucB.emplace_back(e.scoresB, e.positives);
        }
        const auto intervals = pairedBootstrap(
            n, 3,
            [&](const std::vector<int>& weights, double* out) {
                std::vector<double> valuesA, valuesB;
                for (size_t k = 0; k < entries.size(); ++k) {
                    valuesA.push_back(aucA[k](weights));
                    valuesB.push_back(aucB[k](weights));
                }
                out[0] = meanDefined(valuesA);
                out[1] = meanDefined(valuesB);
                out[2] = out[1] - out[0];
            },
            options.bootstrapSamples, options.seed, options.confidence);
        c.aucTest = "paired bootstrap";
        c.aucDifference = c.b.auc - c.a.auc;
        c.aucDifferenceLow = intervals[2].ciLow;
        c.aucDifferenceHigh = intervals[2].ciHigh;
        c.aucDifferenceP = intervals[2].pValue;
        c.bootstrapSamplesUsed = intervals[2].samples;
        c.a.aucLow = intervals[0].ciLow;
        c.a.aucHigh = intervals[0].ciHigh;
        c.b.aucLow = intervals[1].ciLow;
        c.b.aucHigh = intervals[1].ciHigh;
        c.a.aucInterval = c.b.aucInterval = "bootstrap";
    }

    std::vector<bool> rightA(n), rightB(n);
    for (size_t i = 0; i < n; ++i) {
        CohortCaseRow row;
        row.id = cases.ids[i];
        row.labels = cases.labels[i];
        row.predictedA = decisionsA[i];
        row.predictedB = decisionsB[i];
        row.probabilitiesA = a.probabilities[i];
        row.probabilitiesB = b.probabilities[i];
        row.correctA = rightA[i] = isRight(cases.task, decisionsA[i], cases.labels[i]);
        row.correctB = rightB[i] = isRight(cases.task, decisionsB[i], cases.labels[i]);
        const auto& pa = row.probabilitiesA;
        const auto& pb = row.probabilitiesB;
        if (cases.task == TaskType::Binary)
            row.probabilityGap = std::fabs(double(pb.back()) - pa.back());
        else if (cases.task == TaskType::MultiLabel)
            for (size_t k = 0; k < classes; ++k)
                row.probabilityGap = std::max(row.probabilityGap, std::fabs(double(pb[k]) - pa[k]));
        else
            row.probabilityGap = std::fabs(double(pb[cases.labels[i][0]]) - pa[cases.labels[i][0]]);
        c.disagreements += row.disagree();
        c.rows.push_back(std::move(row));
    }
    c.mcnemar = mcnemarExact(rightA, rightB);
    c.accDifference = c.b.acc - c.a.acc;
    return c;
}

std::string aucVerdict(const CohortComparison& c) {
    if (std::isnan(c.aucDifference))
        return "The AUCs cannot be compared: the cases hold only one class.";
    const double d = c.aucDifference;
    const std::string direction = d > 0 ? "higher" : d < 0 ? "lower" : "the same as A's";
    const int percent = static_cast<int>(std::lround(c.options.confidence * 100));
    std::string s = "B's AUC is ";
    s += d == 0 ? direction : formatNumber(std::fabs(d), 3) + " " + direction;
    s += ", " + std::to_string(percent) + " % CI " + formatNumber(c.aucDifferenceLow, 3) + " to " +
         formatNumber(c.aucDifferenceHigh, 3) + ", " + formatP(c.aucDifferenceP) + " (" +
         c.aucTest + "): " + significance(c.aucDifferenceP, c.options.confidence) + ".";
    return s;
}

std::string accuracyVerdict(const CohortComparison& c) {
    const McNemarTest& m = c.mcnemar;
    return "B is right on " + std::to_string(m.onlyBCorrect) + " case" +
           (m.onlyBCorrect == 1 ? "" : "s") + " where A is wrong and wrong on " +
           std::to_string(m.onlyACorrect) + " where A is right: ACC " +
           (c.accDifference >= 0 ? "+" : "") + formatNumber(c.accDifference, 3) +
           ", McNemar's exact " + formatP(m.pValue) + ": " +
           significance(m.pValue, c.options.confidence) + ".";
}

nlohmann::json cohortToJson(const CohortComparison& c) {
    std::vector<std::string> entryNames;
    if (c.cases.task == TaskType::Binary)
        entryNames = {c.cases.classNames.back()};
    else
        entryNames = c.cases.classNames;
    nlohmann::json tests = nlohmann::json::array();
    for (size_t i = 0; i < c.classTests.size(); ++i) {
        const PairedAucTest& t = c.classTests[i];
        tests.push_back({{"class", entryNames[i]},
                         {"difference", numberOrNull(t.difference)},
                         {"ci_low", numberOrNull(t.ciLow)},
                         {"ci_high", numberOrNull(t.ciHigh)},
                         {"z", numberOrNull(t.z)},
                         {"p", numberOrNull(t.pValue)}});
    }
    nlohmann::json rows = nlohmann::json::array();
    for (const CohortCaseRow& r : c.rows)
        rows.push_back({{"id", r.id},
                        {"labels", r.labels},
                        {"predicted_a", r.predictedA},
                        {"predicted_b", r.predictedB},
                        {"probabilities_a", r.probabilitiesA},
                        {"probabilities_b", r.probabilitiesB},
                        {"outcome", r.outcome()},
                        {"probability_gap", r.probabilityGap}});
    return {{"data", c.cases.source},
            {"notes", c.cases.notes},
            {"task", taskTypeName(c.cases.task)},
            {"classes", c.cases.classNames},
            {"cases", c.cases.labels.size()},
            {"confidence", c.options.confidence},
            {"a", modelJson(c.a, c.cases, entryNames)},
            {"b", modelJson(c.b, c.cases, entryNames)},
            {"paired",
             {{"auc_difference", numberOrNull(c.aucDifference)},
              {"auc_difference_ci_low", numberOrNull(c.aucDifferenceLow)},
              {"auc_difference_ci_high", numberOrNull(c.aucDifferenceHigh)},
              {"auc_difference_p", numberOrNull(c.aucDifferenceP)},
              {"auc_test", c.aucTest},
              {"bootstrap_samples", c.bootstrapSamplesUsed},
              {"bootstrap_seed", c.options.seed},
              {"class_tests", tests},
              {"acc_difference", numberOrNull(c.accDifference)},
              {"mcnemar",
               {{"only_a_correct", c.mcnemar.onlyACorrect},
                {"only_b_correct", c.mcnemar.onlyBCorrect},
                {"p", numberOrNull(c.mcnemar.pValue)}}},
              {"disagreements", c.disagreements},
              {"auc_verdict", aucVerdict(c)},
              {"acc_verdict", accuracyVerdict(c)}}},
            {"per_case", rows}};
}

void writeCohortCsv(const CohortComparison& c, const std::string& path) {
    writeAtomically(path, [&](const std::string& temporary) {
        std::ofstream out(temporary);
        out << "case,label,predicted_a,predicted_b,outcome,disagree,probability_gap";
        for (const char* model : {"a", "b"})
            for (const std::string& name : c.cases.classNames)
                out << "," << csvField(std::string("p_") + model + "_" + name);
        out << "\n" << std::setprecision(7);
        for (const CohortCaseRow& r : c.rows) {
            out << csvField(r.id) << "," << joinInts(r.labels) << "," << joinInts(r.predictedA)
                << "," << joinInts(r.predictedB) << "," << r.outcome() << ","
                << (r.disagree() ? 1 : 0) << "," << r.probabilityGap;
            for (const auto* p : {&r.probabilitiesA, &r.probabilitiesB})
                for (float v : *p) out << "," << v;
            out << "\n";
        }
        if (!out.flush()) throw FileError(path, "could not be written (disk full?)");
    });
}

}  // namespace rllm
