// rllm compare: two models over a whole data set, with the statistics of
// their difference (models/CohortComparison.h).

#include "app/Commands.h"
#include "app/ModelCliSupport.h"
#include "app/Workers.h"
#include "core/CaseSource.h"
#include "core/Error.h"
#include "core/io/AtomicFile.h"
#include "models/CohortRun.h"
#include "models/LoadedModel.h"
#ifdef RLLM_HAVE_MEDICAL_IO
#include "core/io/ImageReader.h"
#endif
#ifdef RLLM_HAVE_COHORT_REPORT
#include "ui/cohort/CohortCharts.h"

#include <QApplication>
#endif

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>

namespace rllm::cli {

namespace {

const char* kUsage =
    "Usage: rllm compare A.safetensors B.safetensors --data DATA [--split test] [--json]\n"
    "                    [--csv cases.csv] [--report report.pdf] [--charts STEM]\n"
    "                    [--bootstrap N] [--seed S] [--confidence C]\n"
    "                    [--max-cases N] [--device D] [--llm-precision P] [--threads T]\n"
    "Compares two models (A, the reference, and B) on the same cases: per model ACC and\n"
    "AUC as MedMNIST's evaluator defines them, with 95 % CIs (DeLong; bootstrap for a mean\n"
    "over classes), sensitivity/specificity, confusion matrix, calibration (ECE); paired:\n"
    "the AUC difference B - A with its CI and p-value (DeLong's test; a paired bootstrap\n"
    "of the mean over classes for multi-class and multi-label tasks), McNemar's exact\n"
    "test on right/wrong, the cases where they disagree.\n"
    "DATA: a MedMNIST .npz (cases of --split), or a folder of images with labels.csv\n"
    "(columns file,label; a label is a class index or a class name).\n"
    "--csv writes one row per case; --report the PDF report (figures, tests in words, ROC\n"
    "curves, reliability diagram, confusion matrices, the most different cases); --charts\n"
    "the plots as STEM_roc.png, STEM_reliability.png, STEM_confusion.png. --bootstrap: resamples "
    "(default 2000), --seed: their\n"
    "seed (default 0). Both models must share task and class names.\n";

std::unique_ptr<CaseSource> openCases(const std::string& data, const ParsedArgs& p,
                                      const std::vector<std::string>& classNames) {
    if (std::filesystem::is_directory(data)) {
#ifdef RLLM_HAVE_MEDICAL_IO
        return std::make_unique<FolderCases>(
            data, classNames, [](const std::string& path) { return readImage(path); });
#else
        (void)classNames;
        throw FileError(data, "is a folder of images; this build reads only MedMNIST archives.",
                        "Use a build with the medical readers (RLLM_WITH_MEDICAL_IO=ON).");
#endif
    }
    return std::make_unique<MedMnistCases>(data, splitOption(p), p.getInt("max-cases", 0));
}

std::string fixed(double v, int digits = 3) {
    if (std::isnan(v)) return "n/a";
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

void printModel(const char* letter, const CohortModelResult& r, const CohortCases& cases) {
    std::cout << letter << ": " << r.name << "\n"
              << "   ACC " << fixed(r.acc) << "   AUC " << fixed(r.auc) << " (95 % CI "
              << fixed(r.aucLow) << " to " << fixed(r.aucHigh) << ", " << r.aucInterval << ")"
              << "   ECE " << fixed(r.calibration.expectedCalibrationError) << "\n";
    for (size_t c = 0; c < r.operatingPoints.size(); ++c)
        std::cout << "   " << std::left << std::setw(24) << cases.classNames[c] << " sensitivity "
                  << fixed(r.operatingPoints[c].sensitivity) << "  specificity "
                  << fixed(r.operatingPoints[c].specificity) << "\n";
    if (cases.task != TaskType::MultiLabel) {
        std::cout << "   confusion (rows: true class, columns: predicted)\n";
        for (const auto& row : r.confusion) {
            std::cout << "   ";
            for (int64_t v : row) std::cout << std::right << std::setw(7) << v;
            std::cout << "\n";
        }
    }
}

void printReport(const CohortComparison& c) {
    std::cout << "Data: " << c.cases.source << ", " << taskTypeName(c.cases.task) << "\n";
    for (const std::string& note : c.cases.notes) std::cout << "Note: " << note << "\n";
    printModel("A", c.a, c.cases);
    printModel("B", c.b, c.cases);
    std::cout << "B - A\n   " << aucVerdict(c) << "\n   " << accuracyVerdict(c) << "\n"
              << "   They disagree on " << c.disagreements << " of " << c.rows.size()
              << " cases.\n";
    if (c.classTests.size() > 1)
        for (size_t k = 0; k < c.classTests.size(); ++k)
            std::cout << "   " << std::left << std::setw(24) << c.cases.classNames[k] << " AUC "
                      << (c.classTests[k].difference >= 0 ? "+" : "")
                      << fixed(c.classTests[k].difference) << " (CI "
                      << fixed(c.classTests[k].ciLow) << " to " << fixed(c.classTests[k].ciHigh)
                      << ", DeLong p " << fixed(c.classTests[k].pValue, 3) << ")\n";
    std::cout << "Not for diagnostic use.\n";
}

// The report and charts are drawn by the viewer's Qt Charts code, offscreen:
// a build without the viewer says so before any work is done.
void checkReportWriter(const ParsedArgs& p) {
#ifndef RLLM_HAVE_COHORT_REPORT
    if (p.has("report") || p.has("charts"))
        throw UsageError(
            "--report and --charts need a build with the viewer (RLLM_BUILD_GUI=ON); "
            "--json and --csv work in every build");
#else
    (void)p;
#endif
}

void writeReportAndCharts(const ParsedArgs& p, const CohortComparison& c) {
#ifdef RLLM_HAVE_COHORT_REPORT
    if (!p.has("report") && !p.has("charts")) return;
    // Fonts and charts need a QApplication; nothing is shown.
    qputenv("QT_QPA_PLATFORM", "offscreen");
    int argc = 1;
    char name[] = "rllm";
    char* argv[] = {name, nullptr};
    QApplication application(argc, argv);
    QString error;
    if (p.has("report") && !writeCohortReport(c, QString::fromStdString(p.get("report")), &error))
        throw Error("the report could not be written: " + error.toStdString());
    if (p.has("charts") && !saveCohortCharts(c, QString::fromStdString(p.get("charts")), &error))
        throw Error("the charts could not be written: " + error.toStdString());
#else
    (void)p;
    (void)c;
#endif
}

}  // namespace

int runCompare(const std::vector<std::string>& args) {
    ParsedArgs p =
        parseArgs(args, {"help", "json"},
                  {"data", "split", "csv", "report", "charts", "bootstrap", "seed", "confidence",
                   "max-cases", "device", "threads", "llm-precision", "nproc", "worker-timeout"});
    if (p.has("help")) {
        std::cout << kUsage << kWorkerOptionsHelp;
        return kOk;
    }
    if (p.positional.size() != 2 || !p.has("data"))
        throw UsageError(std::string("expected two bundles and --data\n") + kUsage);
    checkReportWriter(p);
    CohortRunOptions options;
    if (auto status = startWorkersIfAsked("compare", p, args, options.distributed)) return *status;
    options.statistics.bootstrapSamples = static_cast<int>(p.getInt("bootstrap", 2000));
    options.statistics.seed = static_cast<uint64_t>(p.getInt("seed", 0));
    if (options.statistics.bootstrapSamples < 1) throw UsageError("--bootstrap must be at least 1");
    if (p.has("confidence")) {
        try {
            options.statistics.confidence = std::stod(p.get("confidence"));
        } catch (const std::exception&) {
            throw UsageError("--confidence must be a number in (0, 1), e.g. 0.95");
        }
        if (!(options.statistics.confidence > 0 && options.statistics.confidence < 1))
            throw UsageError("--confidence must be a number in (0, 1), e.g. 0.95");
    }
    const DeviceOptions device = deviceOptions(p);
    LoadedModel a(p.positional[0], device);
    LoadedModel b(p.positional[1], device);
    // compareModels refuses two label spaces before scoring any case.
    const std::unique_ptr<CaseSource> cases = openCases(p.get("data"), p, a.classNames());
    const bool terminal = isatty(STDERR_FILENO) && options.distributed.rank == 0;
    options.progress = [&](int64_t done, int64_t total) {
        if (terminal)
            std::cerr << "\rscoring " << done << "/" << total << (done == total ? "\n" : "")
                      << std::flush;
    };
    const CohortComparison c = compareModels(a, b, *cases, options);
    if (options.distributed.rank != 0) return kOk;  // rank 0 writes and reports for the workers
    if (p.has("csv")) writeCohortCsv(c, p.get("csv"));
    writeReportAndCharts(p, c);
    if (p.has("json"))
        std::cout << cohortToJson(c).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                  << "\n";
    else
        printReport(c);
    return kOk;
}

}  // namespace rllm::cli
