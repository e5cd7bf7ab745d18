#include "ui/cohort/CohortCharts.h"

#include "models/CohortComparison.h"

#include <QChart>
#include <QFileInfo>
#include <QGraphicsScene>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QPainter>
#include <QPdfWriter>
#include <QSaveFile>
#include <QScatterSeries>
#include <QValueAxis>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rllm {

namespace {

// The two models' colours everywhere (views, charts, report): A blue, B orange.
const QColor kColourA(31, 119, 180), kColourB(255, 127, 14);

// A's lines are drawn wider and first, B's over them: where the two curves
// coincide (two equally good models), A still shows as B's border.
qreal letterWidth(const char* letter) {
    return letter[0] == 'A' ? 5.0 : 2.0;
}

QString number(double v, int digits = 3) {
    return std::isnan(v) ? QStringLiteral("n/a") : QString::number(v, 'f', digits);
}

QString letterAndName(const char* letter, const CohortModelResult& m) {
    return QString("%1: %2").arg(letter, QString::fromStdString(m.name));
}

void addAxes(QChart* chart, const QString& x, const QString& y) {
    auto* axisX = new QValueAxis(chart);
    auto* axisY = new QValueAxis(chart);
    axisX->setRange(0, 1);
    axisY->setRange(0, 1);
    axisX->setTitleText(x);
    axisY->setTitleText(y);
    axisX->setTickCount(6);
    axisY->setTickCount(6);
    chart->addAxis(axisX, Qt::AlignBottom);
    chart->addAxis(axisY, Qt::AlignLeft);
    for (QAbstractSeries* s : chart->series()) {
        s->attachAxis(axisX);
        s->attachAxis(axisY);
    }
}

QLineSeries* diagonal(QChart* chart, const QString& name) {
    auto* line = new QLineSeries(chart);
    line->setName(name);
    line->append(0, 0);
    line->append(1, 1);
    QPen pen(Qt::gray);
    pen.setStyle(Qt::DashLine);
    line->setPen(pen);
    return line;
}

QChart* newChart(const QString& title) {
    auto* chart = new QChart;
    chart->setTitle(title);
    chart->setAnimationOptions(QChart::NoAnimation);
    chart->legend()->setAlignment(Qt::AlignBottom);
    QFont small = chart->legend()->font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    chart->legend()->setFont(small);
    chart->setBackgroundRoundness(0);
    return chart;
}

QString entryName(const CohortComparison& c, int entry) {
    const auto& names = c.cases.classNames;
    if (c.cases.task == TaskType::Binary) return QString::fromStdString(names.back());
    return QString::fromStdString(names.at(entry));
}

// Rows of text: label and value columns, from `top`; returns the next free y.
qreal paintLines(QPainter& p, const QStringList& lines, qreal x, qreal top, qreal width) {
    const QFontMetricsF metrics(p.font(), p.device());
    qreal y = top;
    for (const QString& line : lines) {
        const QRectF box = metrics.boundingRect(QRectF(x, y, width, 10000), Qt::TextWordWrap, line);
        p.drawText(QRectF(x, y, width, box.height()), Qt::TextWordWrap, line);
        y += box.height() + metrics.height() * 0.25;
    }
    return y;
}

// Charts lay out in screen pixels (fonts, margins); on a 150 dpi page they
// are laid out at 96 dpi and scaled, so they read as they do on screen.
void paintChart(QPainter& p, QChart* chart, const QRectF& target) {
    const qreal scale = std::max(1.0, p.device()->logicalDpiX() / 96.0);
    const QSizeF logical = target.size() / scale;
    QGraphicsScene scene;
    scene.addItem(chart);
    chart->setGeometry(QRectF(QPointF(0, 0), logical));
    scene.setSceneRect(QRectF(QPointF(0, 0), logical));
    scene.render(&p, target, scene.sceneRect());
    scene.removeItem(chart);
}

QStringList modelLines(const char* letter, const CohortModelResult& m, const CohortCases& cases) {
    QStringList lines;
    lines << QString("%1 — ACC %2, AUC %3 (95 % CI %4 to %5, %6), ECE %7")
                 .arg(letterAndName(letter, m), number(m.acc), number(m.auc), number(m.aucLow),
                      number(m.aucHigh), QString::fromStdString(m.aucInterval),
                      number(m.calibration.expectedCalibrationError));
    QStringList operating;
    for (size_t k = 0; k < m.operatingPoints.size(); ++k)
        operating << QString("%1: sensitivity %2, specificity %3")
                         .arg(QString::fromStdString(cases.classNames[k]),
                              number(m.operatingPoints[k].sensitivity),
                              number(m.operatingPoints[k].specificity));
    lines << "    " + operating.join("; ");
    return lines;
}

void paintReportPage1(QPainter& p, const CohortComparison& c, const QRectF& page) {
    const qreal margin = page.width() * 0.06, width = page.width() - 2 * margin;
    QFont title = p.font();
    title.setPointSizeF(16);
    title.setBold(true);
    QFont body = p.font();
    body.setPointSizeF(9);
    p.setFont(title);
    qreal y = paintLines(p, {QObject::tr("Cohort comparison: A vs B")}, margin, margin, width);
    p.setFont(body);
    QStringList head;
    head << QObject::tr("Data: %1; task %2; %3 cases. Not for diagnostic use.")
                .arg(QString::fromStdString(c.cases.source),
                     QString::fromStdString(taskTypeName(c.cases.task)))
                .arg(c.rows.size());
    for (const std::string& note : c.cases.notes)
        head << QObject::tr("Note: %1").arg(QString::fromStdString(note));
    head << modelLines("A", c.a, c.cases) << modelLines("B", c.b, c.cases);
    head << QString::fromStdString(aucVerdict(c)) << QString::fromStdString(accuracyVerdict(c))
         << QObject::tr("A and B disagree on %1 of %2 cases.")
                .arg(c.disagreements)
                .arg(c.rows.size());
    y = paintLines(p, head, margin, y + 4, width) + 6;

    // Full-width charts: side by side their legends would not fit on A4.
    const qreal rocHeight = std::min(page.bottom() - margin - y, width * 0.7);
    QChart* roc = makeRocChart(c);
    paintChart(p, roc, QRectF(margin, y, width, rocHeight));
    delete roc;
}

void paintChartsPage(QPainter& p, const CohortComparison& c, const QRectF& page) {
    const qreal margin = page.width() * 0.06, width = page.width() - 2 * margin;
    qreal y = margin;
    const qreal chartHeight = std::min(page.height() * 0.45, width * 0.7);
    QChart* reliability = makeReliabilityChart(c);
    paintChart(p, reliability, QRectF(margin, y, width, chartHeight));
    delete reliability;
    y += chartHeight + 20;
    QFont body = p.font();
    body.setPointSizeF(9);
    p.setFont(body);
    const qreal confusionHeight = std::min(page.bottom() - margin - y, width / 2);
    paintConfusion(p, QRectF(margin, y, width / 2 - 6, confusionHeight), c, c.a, "A");
    paintConfusion(p, QRectF(margin + width / 2 + 6, y, width / 2 - 6, confusionHeight), c, c.b,
                   "B");
}

void paintReportPage2(QPainter& p, const CohortComparison& c, const QRectF& page) {
    const qreal margin = page.width() * 0.06, width = page.width() - 2 * margin;
    QFont body = p.font();
    body.setPointSizeF(8);
    p.setFont(body);
    QStringList lines;
    if (c.classTests.size() > 1) {
        lines << QObject::tr("Per class, one against the rest (DeLong):");
        for (size_t k = 0; k < c.classTests.size(); ++k) {
            const PairedAucTest& t = c.classTests[k];
            lines << QString("    %1: A %2, B %3, B - A %4 (95 % CI %5 to %6), p = %7")
                         .arg(entryName(c, static_cast<int>(k)), number(t.a.auc), number(t.b.auc),
                              number(t.difference), number(t.ciLow), number(t.ciHigh),
                              number(t.pValue, 3));
        }
    }
    // The cases where the two differ most: what a reader opens first.
    std::vector<size_t> order(c.rows.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
        if (c.rows[x].disagree() != c.rows[y].disagree()) return c.rows[x].disagree();
        return c.rows[x].probabilityGap > c.rows[y].probabilityGap;
    });
    lines << QObject::tr(
        "The cases where A and B differ most (disagreements first, then |P_B - P_A|):");
    const size_t shown = std::min<size_t>(40, order.size());
    for (size_t i = 0; i < shown; ++i) {
        const CohortCaseRow& r = c.rows[order[i]];
        auto ints = [](const std::vector<int>& v) {
            QStringList s;
            for (int x : v) s << QString::number(x);
            return s.join(' ');
        };
        lines << QString("    %1   label %2   A %3   B %4   |P_B - P_A| %5   right: %6")
                     .arg(QString::fromStdString(r.id), ints(r.labels), ints(r.predictedA),
                          ints(r.predictedB), number(r.probabilityGap),
                          QString::fromStdString(r.outcome()));
    }
    paintLines(p, lines, margin, margin, width);
}

}  // namespace

QChart* makeRocChart(const CohortComparison& c, int entry) {
    QChart* chart = newChart(QObject::tr("ROC: %1").arg(entryName(c, entry)));
    for (const auto& [letter, model, colour] :
         {std::tuple{"A", &c.a, kColourA}, std::tuple{"B", &c.b, kColourB}}) {
        auto* series = new QLineSeries(chart);
        const AucEstimate& e = model->classAuc.at(entry);
        // Letters only: the names are in the panel and the report's text.
        series->setName(QString("%1: AUC %2 (%3-%4)")
                            .arg(letter, number(e.auc), number(e.ciLow), number(e.ciHigh)));
        for (const RocPoint& point : model->roc.at(entry))
            series->append(point.falsePositiveRate, point.truePositiveRate);
        QPen pen(colour);
        pen.setWidthF(letterWidth(letter));
        series->setPen(pen);
        chart->addSeries(series);
    }
    chart->addSeries(diagonal(chart, QObject::tr("chance")));
    addAxes(chart, QObject::tr("1 - specificity"), QObject::tr("sensitivity"));
    return chart;
}

QChart* makeReliabilityChart(const CohortComparison& c) {
    QChart* chart =
        newChart(QObject::tr("Reliability: %1").arg(QString::fromStdString(c.a.calibrationKind)));
    for (const auto& [letter, model, colour] :
         {std::tuple{"A", &c.a, kColourA}, std::tuple{"B", &c.b, kColourB}}) {
        auto* line = new QLineSeries(chart);
        auto* points = new QScatterSeries(chart);
        line->setName(
            QString("%1: ECE %2").arg(letter, number(model->calibration.expectedCalibrationError)));
        for (const ReliabilityBin& b : model->calibration.bins) {
            if (b.count == 0) continue;
            line->append(b.meanPredicted, b.observed);
            points->append(b.meanPredicted, b.observed);
        }
        QPen pen(colour);
        pen.setWidthF(letterWidth(letter));
        line->setPen(pen);
        points->setColor(colour);
        points->setMarkerSize(7);
        chart->addSeries(line);
        chart->addSeries(points);
        chart->legend()->markers(points).front()->setVisible(false);
    }
    chart->addSeries(diagonal(chart, QObject::tr("perfect calibration")));
    addAxes(chart, QObject::tr("predicted probability"), QObject::tr("observed frequency"));
    return chart;
}

void paintConfusion(QPainter& p, const QRectF& area, const CohortComparison& c,
                    const CohortModelResult& model, const QString& title) {
    p.save();
    p.setRenderHint(QPainter::Antialiasing, false);
    const bool multiLabel = c.cases.task == TaskType::MultiLabel;
    const int rows = static_cast<int>(model.confusion.size());
    const int columns = rows ? static_cast<int>(model.confusion[0].size()) : 0;
    QFont font = p.font();
    const QFontMetricsF metrics(font, p.device());
    const qreal titleHeight = metrics.height() * 1.6;
    p.setPen(Qt::black);
    const QString heading =
        QObject::tr("%1: rows true class, columns %2")
            .arg(title, multiLabel ? QObject::tr("TN FP FN TP") : QObject::tr("predicted"));
    p.drawText(QRectF(area.left(), area.top(), area.width(), titleHeight), Qt::AlignCenter,
               metrics.elidedText(heading, Qt::ElideMiddle, area.width()));
    // Row labels take a third of the width at most; long class names are elided.
    const qreal labelWidth = area.width() / 3;
    const qreal headerHeight = metrics.height() * 1.4;
    const QRectF grid(area.left() + labelWidth, area.top() + titleHeight + headerHeight,
                      area.width() - labelWidth, area.height() - titleHeight - headerHeight);
    if (rows == 0 || columns == 0 || grid.height() <= 0) {
        p.restore();
        return;
    }
    const qreal cellW = grid.width() / columns, cellH = std::min(grid.height() / rows, cellW);
    const QStringList headers = multiLabel ? QStringList{"TN", "FP", "FN", "TP"} : QStringList();
    for (int col = 0; col < columns; ++col) {
        const QString h = multiLabel ? headers[col] : QString::number(col);
        p.drawText(
            QRectF(grid.left() + col * cellW, grid.top() - headerHeight, cellW, headerHeight),
            Qt::AlignCenter, h);
    }
    for (int row = 0; row < rows; ++row) {
        const QString name = QString::fromStdString(c.cases.classNames.at(row));
        const QString label = multiLabel ? name : QString("%1 %2").arg(row).arg(name);
        p.setPen(Qt::black);
        p.drawText(QRectF(area.left(), grid.top() + row * cellH, labelWidth - 4, cellH),
                   Qt::AlignRight | Qt::AlignVCenter,
                   metrics.elidedText(label, Qt::ElideRight, labelWidth - 4));
        const double total =
            std::accumulate(model.confusion[row].begin(), model.confusion[row].end(), 0.0);
        for (int col = 0; col < columns; ++col) {
            const int64_t v = model.confusion[row][col];
            const double share = total > 0 ? v / total : 0;
            const QRectF cell(grid.left() + col * cellW, grid.top() + row * cellH, cellW, cellH);
            // Right answers (the diagonal; TN and TP) green, the rest red, by share.
            const bool right = multiLabel ? (col == 0 || col == 3) : row == col;
            const QColor base = right ? QColor(44, 160, 44) : QColor(214, 39, 40);
            QColor fill = base;
            fill.setAlphaF(0.12 + 0.75 * share);
            p.fillRect(cell, fill);
            p.setPen(QColor(90, 90, 90));
            p.drawRect(cell);
            p.setPen(share > 0.55 ? Qt::white : Qt::black);
            p.drawText(cell, Qt::AlignCenter, QString::number(v));
        }
    }
    p.restore();
}

QImage renderChart(QChart* chart, const QSize& size) {
    QImage image(size, QImage::Format_ARGB32_Premultiplied);
    image.fill(Qt::white);
    QPainter painter(&image);
    painter.setRenderHint(QPainter::Antialiasing);
    paintChart(painter, chart, QRectF(QPointF(0, 0), size));
    return image;
}

bool writeCohortReport(const CohortComparison& c, const QString& path, QString* error) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        if (error) *error = QString("'%1': %2").arg(path, file.errorString());
        return false;
    }
    bool drawn = false;
    {
        QPdfWriter pdf(&file);
        pdf.setPageSize(QPageSize(QPageSize::A4));
        pdf.setResolution(150);
        pdf.setTitle("R-LLM Viewer cohort comparison");
        pdf.setCreator("R-LLM Viewer");
        QPainter painter(&pdf);
        painter.setRenderHint(QPainter::Antialiasing);
        const QRectF page = painter.viewport();
        paintReportPage1(painter, c, page);
        pdf.newPage();
        paintChartsPage(painter, c, page);
        pdf.newPage();
        paintReportPage2(painter, c, page);
        drawn = painter.end();
    }
    if (!drawn || !file.commit()) {
        if (error)
            *error = QString("'%1': %2")
                         .arg(path, drawn ? file.errorString()
                                          : QObject::tr("the report could not be drawn"));
        return false;
    }
    return true;
}

bool saveCohortCharts(const CohortComparison& c, const QString& stem, QString* error) {
    auto save = [&](const QImage& image, const QString& suffix) {
        const QString path = stem + suffix;
        QSaveFile file(path);
        if (!file.open(QIODevice::WriteOnly) || !image.save(&file, "PNG") || !file.commit()) {
            if (error) *error = QString("'%1': %2").arg(path, file.errorString());
            return false;
        }
        return true;
    };
    const QSize size(900, 700);
    QChart* roc = makeRocChart(c);
    const QImage rocImage = renderChart(roc, size);
    delete roc;
    QChart* reliability = makeReliabilityChart(c);
    const QImage reliabilityImage = renderChart(reliability, size);
    delete reliability;
    QImage confusion(1400, 600, QImage::Format_ARGB32_Premultiplied);
    confusion.fill(Qt::white);
    {
        QPainter p(&confusion);
        p.setRenderHint(QPainter::Antialiasing);
        paintConfusion(p, QRectF(10, 10, 680, 580), c, c.a, "A");
        paintConfusion(p, QRectF(710, 10, 680, 580), c, c.b, "B");
    }
    return save(rocImage, "_roc.png") && save(reliabilityImage, "_reliability.png") &&
           save(confusion, "_confusion.png");
}

}  // namespace rllm
