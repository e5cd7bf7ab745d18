#pragma once
// The comparison report: the case, both CAMs and their difference, each
// model's prediction, probabilities, faithfulness and provenance, and a line
// saying it is not for diagnostic use. Drawn with QPainter onto a PNG page or
// a PDF, written atomically.

#include <QImage>
#include <QString>
#include <QStringList>

#include <array>
#include <string>
#include <vector>

namespace rllm {

struct ReportModel {
    QString letter;                  // the comparison slot: "A", "B", ...
    QString name, kind, provenance;  // provenance: plain text lines
    std::vector<std::string> classNames;
    std::vector<float> probabilities;
    int predicted = -1;
    QString camLine;  // method, layer, deletion/insertion AUC
};

struct ComparisonReport {
    QString caseTitle, caseDetails, agreement;
    QImage image, difference;
    std::array<QImage, 2> cams;
    std::array<ReportModel, 2> models;
};

// Writes `report` as PDF when `path` ends in .pdf, else PNG. Returns false
// with the reason in `error`.
bool writeComparisonReport(const ComparisonReport& report, const QString& path, QString* error);

// Renders the report onto one A4-proportioned page image (also what the PNG holds).
QImage renderComparisonReport(const ComparisonReport& report, int width = 1240);

}  // namespace rllm
