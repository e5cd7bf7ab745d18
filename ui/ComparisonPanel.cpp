#include "ui/ComparisonPanel.h"

#include "core/Volume.h"
#include "ui/AnalysisService.h"
#include "ui/ProbabilityBars.h"
#include "ui/SliceView.h"

#include <QGridLayout>

#include <algorithm>
#include <QLabel>
#include <QVBoxLayout>

namespace rllm {

ComparisonPanel::ComparisonPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    agreement_ = new QLabel(this);
    agreement_->setObjectName("agreementLabel");
    agreement_->setWordWrap(true);
    layout->addWidget(agreement_);
    auto* grid = new QGridLayout;
    layout->addLayout(grid, 1);
    const char* slotNames[2] = {"A", "B"};
    for (int slot = 0; slot < 2; ++slot) {
        Column& c = columns_[slot];
        c.title = new QLabel(this);
        c.title->setWordWrap(true);
        c.title->setTextFormat(Qt::PlainText);
        c.verdict = new QLabel(this);
        c.verdict->setObjectName(QStringLiteral("verdict%1").arg(slotNames[slot]));
        c.bars = new ProbabilityBars(this);
        c.bars->setObjectName(QStringLiteral("probabilities%1").arg(slotNames[slot]));
        c.faithfulness = new QLabel(this);
        c.faithfulness->setWordWrap(true);
        c.faithfulness->setToolTip(
            tr("Deletion AUC: class probability while the most attended pixels are removed "
               "(lower is better). Insertion AUC: while they are revealed (higher is better)."));
        c.view = new SliceView(this);
        c.view->setObjectName(QStringLiteral("camView%1").arg(slotNames[slot]));
        c.view->setMinimumSize(150, 150);
        c.view->setCrosshairVisible(false);
        grid->addWidget(c.title, 0, slot);
        grid->addWidget(c.verdict, 1, slot);
        grid->addWidget(c.bars, 2, slot);
        grid->addWidget(c.faithfulness, 3, slot);
        grid->addWidget(c.view, 4, slot);
    }
    grid->setRowStretch(4, 1);
    auto* differenceTitle =
        new QLabel(tr("Difference of the CAMs, A - B (red: A looks more)"), this);
    layout->addWidget(differenceTitle);
    differenceView_ = new SliceView(this);
    differenceView_->setObjectName("differenceView");
    differenceView_->setMinimumSize(150, 150);
    differenceView_->setCrosshairVisible(false);
    layout->addWidget(differenceView_, 1);
    refresh();
}

ComparisonPanel::~ComparisonPanel() = default;

void ComparisonPanel::setCase(std::shared_ptr<const Volume> volume) {
    volume_ = std::move(volume);
    results_ = {};
    for (Column& c : columns_) c.view->setVolume(volume_);
    differenceView_->setVolume(volume_);
    if (master_) syncTo(master_);
    refresh();
}

void ComparisonPanel::setModel(int slot, const QString& name, const QString& kind) {
    if (name == columns_[slot].name && !columns_[slot].title->text().isEmpty()) return;
    columns_[slot].name = name;
    columns_[slot].title->setText(name.isEmpty()
                                      ? tr("Model %1: none chosen").arg(slot ? "B" : "A")
                                      : tr("%1: %2 (%3)").arg(slot ? "B" : "A", name, kind));
    results_[slot].reset();
    refresh();
}

void ComparisonPanel::setPending(int slot, const QString& why) {
    results_[slot].reset();
    refresh();
    columns_[slot].verdict->setText(why.isEmpty() ? tr("computing...") : why);
}

void ComparisonPanel::setResult(int slot, std::shared_ptr<const CaseAnalysis> result) {
    results_[slot] = std::move(result);
    refresh();
}

void ComparisonPanel::setOverlayStyle(const OverlayStyle& style) {
    style_ = style;
    refresh();
}

QString ComparisonPanel::agreementText() const {
    return agreement_->text();
}

void ComparisonPanel::refresh() {
    for (int slot = 0; slot < 2; ++slot) {
        Column& c = columns_[slot];
        const auto& r = results_[slot];
        if (!r) {
            c.verdict->setText(c.name.isEmpty() ? QString() : tr("waiting"));
            c.bars->clear();
            c.faithfulness->clear();
            c.view->setOverlays({});
            continue;
        }
        const QString predicted = r->predicted < static_cast<int>(r->classNames.size())
                                      ? QString::fromStdString(r->classNames[r->predicted])
                                      : QString::number(r->predicted);
        c.verdict->setText(tr("Predicts <b>%1</b> (%2)")
                               .arg(predicted.toHtmlEscaped())
                               .arg(r->probabilities[r->predicted], 0, 'f', 3));
        c.bars->setProbabilities(r->classNames, r->probabilities, r->predicted);
        c.faithfulness->setText(tr("%1: deletion AUC %2, insertion AUC %3  (%4 s, %5)")
                                    .arg(r->camDescription())
                                    .arg(r->deletionAuc, 0, 'f', 3)
                                    .arg(r->insertionAuc, 0, 'f', 3)
                                    .arg(r->seconds, 0, 'f', 2)
                                    .arg(r->device));
        c.view->setOverlays({{r->cam, style_}});
    }

    // The difference is recomputed only when a CAM changed, not for a new
    // overlay style (an opacity drag would otherwise copy a volume per step).
    const std::array<const Volume*, 2> cams{results_[0] ? results_[0]->cam.get() : nullptr,
                                            results_[1] ? results_[1]->cam.get() : nullptr};
    if (cams != differenceOf_) {
        differenceOf_ = cams;
        difference_.reset();
        if (cams[0] && cams[1] && cams[0]->size() == cams[1]->size()) {
            auto difference = std::make_shared<Volume>(cams[0]->size(), 1);
            difference->geometry() = cams[0]->geometry();
            const auto& a = cams[0]->voxels();
            const auto& b = cams[1]->voxels();
            auto& d = difference->voxels();
            for (size_t i = 0; i < d.size(); ++i) d[i] = a[i] - b[i];
            difference_ = difference;
        }
    }
    if (difference_) {
        OverlayStyle diverging = style_;
        diverging.colormap = HeatColormap::Diverging;
        differenceView_->setOverlays({{difference_, diverging}});
        differenceView_->setNotice({});
    } else {
        // Without a difference map the plain image would read as "no
        // difference"; say what is missing instead.
        differenceView_->setOverlays({});
        const bool bothChosen = !columns_[0].name.isEmpty() && !columns_[1].name.isEmpty();
        differenceView_->setNotice(
            !volume_             ? tr("No image open.")
            : !bothChosen        ? tr("No difference map: choose two models in the model panel.")
            : cams[0] && cams[1] ? tr("No difference map: the two CAMs are on different grids.")
                                 : tr("No difference map yet: waiting for both models' CAMs."));
    }

    if (results_[0] && results_[1]) {
        const auto& a = *results_[0];
        const auto& b = *results_[1];
        const bool agree = a.predicted == b.predicted;
        auto name = [](const CaseAnalysis& r) {
            return r.predicted < static_cast<int>(r.classNames.size())
                       ? QString::fromStdString(r.classNames[r.predicted])
                       : QString::number(r.predicted);
        };
        agreement_->setText(
            agree ? tr("AGREE: both predict %1").arg(name(a))
                  : tr("DISAGREE: A predicts %1, B predicts %2").arg(name(a), name(b)));
        agreement_->setStyleSheet(
            agree ? "QLabel { background: #1f6b35; color: white; padding: 4px; }"
                  : "QLabel { background: #8a5a00; color: white; padding: 4px; }");
    } else {
        agreement_->setText(tr("Choose two models in the model panel to compare them."));
        agreement_->setStyleSheet({});
    }
}

void ComparisonPanel::follow(SliceView* master) {
    master_ = master;
    connect(master, &SliceView::sliceChanged, this, [this] { syncTo(master_); });
    connect(master, &SliceView::windowChanged, this, [this] { syncTo(master_); });
    connect(master, &SliceView::zoomPanChanged, this, [this] { syncTo(master_); });
    syncTo(master);
}

void ComparisonPanel::syncTo(SliceView* master) {
    if (!master || !volume_ || master->volume() != volume_) return;
    for (SliceView* view : {columns_[0].view, columns_[1].view, differenceView_}) {
        QSignalBlocker block(view);
        if (view->plane() != master->plane()) view->setPlane(master->plane());
        view->setSliceIndex(master->sliceIndex());
        view->setWindow(master->windowCenter(), master->windowWidth());
        // Pan is in widget pixels: scale it to the smaller view.
        const double scale = std::min(double(view->width()) / std::max(1, master->width()),
                                      double(view->height()) / std::max(1, master->height()));
        view->setZoomPan(master->zoom(), master->pan() * scale);
    }
}

}  // namespace rllm
