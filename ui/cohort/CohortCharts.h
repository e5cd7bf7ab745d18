#pragma once
// The cohort comparison drawn: ROC curves and the reliability diagram as Qt
// Charts, confusion matrices painted with QPainter, and the PDF report that
// holds them all. The viewer's Cohort view shows the same charts on screen;
// `rllm compare --report` writes the same report (offscreen). No LibTorch.

#include <QImage>
#include <QRectF>
#include <QString>

class QChart;
class QPainter;

namespace rllm {

struct CohortComparison;
struct CohortModelResult;

// A's and B's ROC curves of one entry of classAuc (binary: the positive
// class), named with their AUCs and CIs, and the chance diagonal.
QChart* makeRocChart(const CohortComparison& c, int entry = 0);
// Mean predicted probability against observed frequency per bin, both models.
QChart* makeReliabilityChart(const CohortComparison& c);

// Counts in a grid, rows the true class, columns the predicted one, each
// cell shaded by its share of the row; multi-label: one row per label with
// TN, FP, FN, TP.
void paintConfusion(QPainter& painter, const QRectF& area, const CohortComparison& c,
                    const CohortModelResult& model, const QString& title);

// A chart (owned by the caller) rendered onto an image of that size.
QImage renderChart(QChart* chart, const QSize& size);

// The PDF report: the data, both models' figures, the tests in words, the ROC
// curves, reliability diagram and confusion matrices, the cases where the
// models differ most, and "not for diagnostic use". Written atomically.
// Returns false with the reason in `error`.
bool writeCohortReport(const CohortComparison& c, const QString& path, QString* error);

// The charts as PNG files beside `stem`: <stem>_roc.png, _reliability.png,
// _confusion.png. Returns false with the reason in `error`.
bool saveCohortCharts(const CohortComparison& c, const QString& stem, QString* error);

}  // namespace rllm
