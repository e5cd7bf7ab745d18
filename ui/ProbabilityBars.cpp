#include "ui/ProbabilityBars.h"

#include <QPainter>

#include <algorithm>
#include <cmath>

namespace rllm {

namespace {
constexpr int kRowHeight = 20;
}

ProbabilityBars::ProbabilityBars(QWidget* parent) : QWidget(parent) {
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

void ProbabilityBars::setProbabilities(const std::vector<std::string>& classNames,
                                       const std::vector<float>& probabilities, int predicted) {
    names_ = classNames;
    probabilities_ = probabilities;
    predicted_ = predicted;
    updateGeometry();
    setFixedHeight(sizeHint().height());
    update();
}

void ProbabilityBars::clear() {
    setProbabilities({}, {}, -1);
}

QSize ProbabilityBars::sizeHint() const {
    return {240, std::max<int>(1, static_cast<int>(probabilities_.size())) * kRowHeight + 4};
}

QRect ProbabilityBars::barArea(int index) const {
    const int labelWidth = std::min(width() / 2, 130);
    return {labelWidth, 2 + index * kRowHeight + 3, width() - labelWidth - 50, kRowHeight - 6};
}

double ProbabilityBars::drawnShare(int index) const {
    if (index < 0 || index >= static_cast<int>(probabilities_.size())) return 0;
    return std::clamp(double(probabilities_[index]), 0.0, 1.0);
}

void ProbabilityBars::paintEvent(QPaintEvent*) {
    QPainter painter(this);
    const QPalette& pal = palette();
    if (probabilities_.empty()) {
        painter.setPen(pal.color(QPalette::PlaceholderText));
        painter.drawText(rect(), Qt::AlignLeft | Qt::AlignVCenter, tr("no result yet"));
        return;
    }
    for (int i = 0; i < static_cast<int>(probabilities_.size()); ++i) {
        const QRect bar = barArea(i);
        const QString name = i < static_cast<int>(names_.size()) ? QString::fromStdString(names_[i])
                                                                 : QString::number(i);
        painter.setPen(pal.color(QPalette::WindowText));
        painter.drawText(QRect(0, bar.top() - 3, bar.left() - 6, kRowHeight),
                         Qt::AlignRight | Qt::AlignVCenter,
                         painter.fontMetrics().elidedText(name, Qt::ElideRight, bar.left() - 6));
        painter.fillRect(bar, pal.color(QPalette::AlternateBase));
        QRect filled = bar;
        filled.setWidth(static_cast<int>(std::lround(bar.width() * drawnShare(i))));
        painter.fillRect(
            filled, i == predicted_ ? pal.color(QPalette::Highlight) : pal.color(QPalette::Mid));
        painter.drawText(QRect(bar.right() + 6, bar.top() - 3, 48, kRowHeight),
                         Qt::AlignLeft | Qt::AlignVCenter,
                         QString::number(probabilities_[i], 'f', 3));
    }
}

}  // namespace rllm
