#include "ui/ComparisonReport.h"

#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>

namespace rllm {

namespace {

const char* kNotForDiagnosis =
    "Research software. NOT FOR DIAGNOSTIC USE: these models and maps must not guide the care "
    "of any patient.";

// Paints the whole report into `page` (any paint device; `width` x `height` units).
void paintReport(QPainter& p, const ComparisonReport& r, double width, double height) {
    const double margin = width * 0.05, unit = width / 100.0;
    QFont title = p.font();
    title.setPixelSize(static_cast<int>(unit * 2.6));
    title.setBold(true);
    QFont body = p.font();
    body.setPixelSize(static_cast<int>(unit * 1.5));
    QFont small = body;
    small.setPixelSize(static_cast<int>(unit * 1.2));

    p.fillRect(QRectF(0, 0, width, height), Qt::white);
    p.setPen(Qt::black);
    double y = margin;
    p.setFont(title);
    p.drawText(QRectF(margin, y, width - 2 * margin, unit * 4), Qt::AlignLeft,
               QObject::tr("R-LLM Viewer: baseline vs booster comparison"));
    y += unit * 4;
    p.setFont(body);
    p.setPen(QColor(160, 0, 0));
    QRectF warning(margin, y, width - 2 * margin, unit * 4);
    p.drawText(warning, Qt::TextWordWrap, QObject::tr(kNotForDiagnosis));
    y += unit * 4;
    p.setPen(Qt::black);
    p.drawText(QRectF(margin, y, width - 2 * margin, unit * 5), Qt::TextWordWrap,
               r.caseTitle + "\n" + r.caseDetails);
    y += unit * 6;
    p.setFont(title);
    p.drawText(QRectF(margin, y, width - 2 * margin, unit * 4), Qt::AlignLeft, r.agreement);
    y += unit * 5;

    // Four images in a row: the case, the two CAMs, their difference.
    const double gap = unit * 1.5;
    const double side = (width - 2 * margin - 3 * gap) / 4;
    const std::array<std::pair<QString, QImage>, 4> images{
        {{QObject::tr("Image"), r.image},
         {QObject::tr("CAM %1: %2").arg(r.models[0].letter, r.models[0].name), r.cams[0]},
         {QObject::tr("CAM %1: %2").arg(r.models[1].letter, r.models[1].name), r.cams[1]},
         {QObject::tr("%1 - %2 (red: %1 looks more)").arg(r.models[0].letter, r.models[1].letter),
          r.difference}}};
    p.setFont(small);
    for (int i = 0; i < 4; ++i) {
        const QRectF box(margin + i * (side + gap), y, side, side);
        p.fillRect(box, Qt::black);
        const QImage& image = images[i].second;
        if (!image.isNull()) {
            QSizeF size = image.size();
            size.scale(box.size(), Qt::KeepAspectRatio);
            p.drawImage(QRectF(box.center() - QPointF(size.width() / 2, size.height() / 2), size),
                        image);
        }
        p.drawText(QRectF(box.left(), box.bottom() + unit * 0.3, side, unit * 3), Qt::TextWordWrap,
                   images[i].first);
    }
    y += side + unit * 4;

    // Two columns: each model's prediction, probabilities, CAM scores, provenance.
    const double column = (width - 2 * margin - gap) / 2;
    // (the pair of models the comparison panel shows).
    for (int which = 0; which < 2; ++which) {
        const ReportModel& m = r.models[which];
        const double x = margin + which * (column + gap);
        double cy = y;
        p.setFont(body);
        QFont bold = body;
        bold.setBold(true);
        p.setFont(bold);
        p.drawText(QRectF(x, cy, column, unit * 2.5), Qt::AlignLeft,
                   QStringLiteral("%1: %2 (%3)").arg(m.letter, m.name, m.kind));
        cy += unit * 2.6;
        p.setFont(body);
        for (size_t c = 0; c < m.probabilities.size(); ++c) {
            const QString name = c < m.classNames.size() ? QString::fromStdString(m.classNames[c])
                                                         : QString::number(c);
            const QRectF bar(x + column * 0.35, cy + unit * 0.3, column * 0.45, unit * 1.6);
            p.drawText(QRectF(x, cy, column * 0.34, unit * 2.2), Qt::AlignLeft | Qt::AlignVCenter,
                       name);
            p.fillRect(bar, QColor(225, 225, 225));
            p.fillRect(
                QRectF(bar.topLeft(), QSizeF(bar.width() * m.probabilities[c], bar.height())),
                int(c) == m.predicted ? QColor(30, 100, 200) : QColor(140, 140, 140));
            p.drawText(QRectF(bar.right() + unit, cy, column * 0.18, unit * 2.2),
                       Qt::AlignLeft | Qt::AlignVCenter,
                       QString::number(m.probabilities[c], 'f', 3));
            cy += unit * 2.3;
        }
        p.setFont(small);
        QRectF text(x, cy + unit, column, height - cy - margin - unit * 3);
        p.drawText(text, Qt::TextWordWrap, m.camLine + "\n\n" + m.provenance);
    }
    p.setFont(small);
    p.setPen(QColor(160, 0, 0));
    p.drawText(QRectF(margin, height - margin, width - 2 * margin, unit * 2.5), Qt::AlignLeft,
               QObject::tr(kNotForDiagnosis));
}

}  // namespace

QImage renderComparisonReport(const ComparisonReport& report, int width) {
    const int height = static_cast<int>(width * 297.0 / 210.0);
    QImage page(width, height, QImage::Format_RGB32);
    QPainter painter(&page);
    painter.setRenderHint(QPainter::Antialiasing);
    painter.setRenderHint(QPainter::SmoothPixmapTransform);
    paintReport(painter, report, width, height);
    return page;
}

bool writeComparisonReport(const ComparisonReport& report, const QString& path, QString* error) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        if (error) *error = file.errorString();
        return false;
    }
    bool drawn = false;
    if (path.endsWith(".pdf", Qt::CaseInsensitive)) {
        QPdfWriter pdf(&file);
        pdf.setPageSize(QPageSize(QPageSize::A4));
        pdf.setResolution(150);
        pdf.setTitle("R-LLM Viewer comparison report");
        pdf.setCreator("R-LLM Viewer");
        QPainter painter(&pdf);
        const QRect area = painter.viewport();
        paintReport(painter, report, area.width(), area.height());
        drawn = painter.end();
    } else {
        drawn = renderComparisonReport(report).save(&file, "PNG");
    }
    if (!drawn || !file.commit()) {
        if (error)
            *error = drawn ? file.errorString() : QObject::tr("the report could not be drawn");
        return false;
    }
    return true;
}

}  // namespace rllm
