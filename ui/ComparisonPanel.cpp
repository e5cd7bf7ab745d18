#include "ui/ComparisonPanel.h"

#include "core/Volume.h"
#include "models/BundleDescription.h"
#include "ui/ProbabilityBars.h"
#include "ui/SliceView.h"
#include "ui/session/ViewerSession.h"

#include <QComboBox>
#include <QGridLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>

namespace rllm {

QString unfaithfulMapWarning() {
    return QObject::tr(
        "This map fails its own faithfulness check: insertion AUC is not above deletion "
        "AUC, so it ranks the pixels no better than chance for this prediction. Do not "
        "read it as where the model looks; try another CAM method or layer.");
}

ComparisonPanel::ComparisonPanel(ViewerSession* session, QWidget* parent)
    : QWidget(parent), session_(session) {
    auto* layout = new QVBoxLayout(this);
    agreement_ = new QLabel(this);
    agreement_->setObjectName("agreementLabel");
    agreement_->setWordWrap(true);
    layout->addWidget(agreement_);
    auto* grid = new QGridLayout;
    layout->addLayout(grid, 1);
    for (int column = 0; column < 2; ++column) {
        Column& c = columns_[column];
        const QString side = column ? "Second" : "First";
        c.chooser = new QComboBox(this);
        c.chooser->setObjectName("compared" + side + "Combo");
        c.chooser->setToolTip(tr("Which of the comparison's models this column shows"));
        connect(c.chooser, &QComboBox::activated, this, [this] {
            session_->setComparedSlots(columns_[0].chooser->currentData().toInt(),
                                       columns_[1].chooser->currentData().toInt());
        });
        c.title = new QLabel(this);
        c.title->setWordWrap(true);
        c.title->setTextFormat(Qt::PlainText);
        c.verdict = new QLabel(this);
        c.verdict->setObjectName("verdict" + side);
        c.bars = new ProbabilityBars(this);
        c.bars->setObjectName("probabilities" + side);
        c.faithfulness = new QLabel(this);
        c.faithfulness->setObjectName("faithfulness" + side);
        c.faithfulness->setWordWrap(true);
        c.faithfulness->setToolTip(
            tr("Deletion AUC: class probability while the most attended pixels are removed "
               "(lower is better). Insertion AUC: while they are revealed (higher is better)."));
        c.view = new SliceView(this);
        c.view->setObjectName("camView" + side);
        c.view->setMinimumSize(150, 150);
        c.view->setCrosshairVisible(false);
        grid->addWidget(c.chooser, 0, column);
        grid->addWidget(c.title, 1, column);
        grid->addWidget(c.verdict, 2, column);
        grid->addWidget(c.bars, 3, column);
        grid->addWidget(c.faithfulness, 4, column);
        grid->addWidget(c.view, 5, column);
    }
    grid->setRowStretch(5, 1);
    differenceTitle_ = new QLabel(this);
    layout->addWidget(differenceTitle_);
    differenceView_ = new SliceView(this);
    differenceView_->setObjectName("differenceView");
    differenceView_->setMinimumSize(150, 150);
    differenceView_->setCrosshairVisible(false);
    layout->addWidget(differenceView_, 1);
    // One case says little about a model: the same pair over every case.
    auto* cohort = new QPushButton(tr("Compare over the whole data set..."), this);
    cohort->setObjectName("cohortButton");
    cohort->setToolTip(
        tr("Both models over a whole split: ROC, calibration, confusion, "
           "and whether their difference is more than chance (Cohort view)"));
    connect(cohort, &QPushButton::clicked, this, &ComparisonPanel::cohortRequested);
    layout->addWidget(cohort);

    connect(session_, &ViewerSession::caseChanged, this, &ComparisonPanel::showCase);
    connect(session_, &ViewerSession::slotsChanged, this, &ComparisonPanel::syncChoosers);
    connect(session_, &ViewerSession::slotUpdated, this, &ComparisonPanel::refresh);
    connect(session_, &ViewerSession::comparisonChanged, this, &ComparisonPanel::refresh);
    connect(session_, &ViewerSession::displayChanged, this, &ComparisonPanel::refresh);
    // (New models reach the choosers through slotsChanged: the session places them first.)
    showCase();
    syncChoosers();
}

ComparisonPanel::~ComparisonPanel() = default;

void ComparisonPanel::showCase() {
    for (Column& c : columns_) c.view->setVolume(session_->volume());
    differenceView_->setVolume(session_->volume());
    if (master_) syncTo(master_);
    refresh();
}

void ComparisonPanel::syncChoosers() {
    const auto compared = session_->comparedSlots();
    for (int column = 0; column < 2; ++column) {
        QComboBox* chooser = columns_[column].chooser;
        QSignalBlocker block(chooser);
        chooser->clear();
        for (int slot = 0; slot < session_->slotCount(); ++slot) {
            const QString model =
                session_->backend()->modelInfo(session_->slot(slot).modelIndex).name;
            chooser->addItem(QStringLiteral("%1: %2").arg(ViewerSession::slotLetter(slot),
                                                          model.isEmpty() ? tr("none") : model),
                             slot);
        }
        chooser->setCurrentIndex(chooser->findData(compared[column]));
    }
    refresh();
}

QString ComparisonPanel::agreementText() const {
    return agreement_->text();
}

QString ComparisonPanel::columnTitle(int column) const {
    return columns_[column].title->text();
}

void ComparisonPanel::refresh() {
    const auto compared = session_->comparedSlots();
    const OverlayStyle style = session_->overlayStyle();
    for (int column = 0; column < 2; ++column) {
        Column& c = columns_[column];
        const int slotIndex = compared[column];
        const bool exists = slotIndex >= 0 && slotIndex < session_->slotCount();
        const QString letter = exists ? ViewerSession::slotLetter(slotIndex) : QString("-");
        const ComparisonSlot empty;
        const ComparisonSlot& slot = exists ? session_->slot(slotIndex) : empty;
        const ModelInfo model = session_->backend()->modelInfo(slot.modelIndex);
        // A model trained on other data says so under its name.
        const QString warning = exists ? session_->slotDataWarning(slotIndex) : QString();
        c.title->setText(model.name.isEmpty()
                             ? tr("Model %1: none chosen").arg(letter)
                             : tr("%1: %2 (%3)%4")
                                   .arg(letter, model.name,
                                        model.boosted ? tr("R-LLM booster") : tr("ViT baseline"),
                                        warning.isEmpty() ? QString() : "\n! " + warning));
        const auto& r = slot.result;
        if (!r) {
            using State = ComparisonSlot::State;
            c.verdict->setText(slot.state == State::Computing     ? tr("computing...")
                               : slot.state == State::Unavailable ? slot.note
                               : slot.state == State::NoCase      ? tr("waiting for an image")
                                                                  : QString());
            c.bars->clear();
            c.faithfulness->clear();
            c.faithfulness->setStyleSheet({});
            c.view->setOverlays({});
            continue;
        }
        const std::optional<bool> correct = session_->slotCorrect(slotIndex);
        c.verdict->setText(tr("Predicts <b>%1</b> (%2)%3")
                               .arg(r->predictedName().toHtmlEscaped())
                               .arg(r->probabilities[r->predicted], 0, 'f', 3)
                               .arg(!correct   ? QString()
                                    : *correct ? tr(": right")
                                               : tr(": <b>wrong</b>")));
        c.bars->setProbabilities(r->classNames, r->probabilities, r->predicted);
        // Under `auto`, whether the map was chosen for this model or is the default rule.
        QString origin;
        if (session_->camRequest().method == "auto")
            origin = model.description && model.description->explanation
                         ? tr(" (auto: chosen for this model)")
                         : tr(" (auto: the default rule, not chosen for this model)");
        const QString numbers = tr("%1%2: deletion AUC %3, insertion AUC %4  (%5 s, %6)")
                                    .arg(r->camDescription(), origin)
                                    .arg(r->deletionAuc, 0, 'f', 3)
                                    .arg(r->insertionAuc, 0, 'f', 3)
                                    .arg(r->seconds, 0, 'f', 2)
                                    .arg(r->device);
        if (r->failsFaithfulnessCheck()) {
            c.faithfulness->setText(numbers + "\n" + unfaithfulMapWarning());
            c.faithfulness->setStyleSheet(
                "QLabel { background: #8a2a00; color: white; padding: 3px; }");
        } else {
            c.faithfulness->setText(numbers);
            c.faithfulness->setStyleSheet({});
        }
        c.view->setOverlays({{r->cam, style}});
    }

    const QString first = compared[0] >= 0 ? ViewerSession::slotLetter(compared[0]) : "-";
    const QString second = compared[1] >= 0 ? ViewerSession::slotLetter(compared[1]) : "-";
    differenceTitle_->setText(
        tr("Difference of the CAMs, %1 - %2 (red: %1 looks more)").arg(first, second));
    if (auto difference = session_->differenceMap()) {
        OverlayStyle diverging = style;
        diverging.colormap = HeatColormap::Diverging;
        differenceView_->setOverlays({{difference, diverging}});
        differenceView_->setNotice({});
    } else {
        // Without a difference map the plain image would read as "no
        // difference"; say what is missing instead.
        differenceView_->setOverlays({});
        differenceView_->setNotice(session_->differenceNote());
    }

    const QString agreement = session_->agreementText();
    if (!agreement.isEmpty()) {
        agreement_->setText(agreement);
        agreement_->setStyleSheet(
            !session_->comparedComparable()
                ? "QLabel { background: #5a5a5a; color: white; padding: 4px; }"
            : session_->comparedAgree()
                ? "QLabel { background: #1f6b35; color: white; padding: 4px; }"
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
    const auto volume = session_->volume();
    if (!master || !volume || master->volume() != volume) return;
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
