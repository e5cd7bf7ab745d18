#include "ui/cohort/CohortView.h"

#include "core/CaseSource.h"
#include "core/Error.h"
#include "core/io/ImageReader.h"
#include "core/io/MedMnist.h"
#include "models/BundleDescription.h"
#include "models/CohortComparison.h"
#include "models/CohortRun.h"
#include "ui/AnalysisService.h"
#include "ui/cohort/CohortCharts.h"
#include "ui/cohort/CohortRunner.h"
#include "ui/session/ViewerSession.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>

namespace rllm {

// A confusion matrix painted by the report's own code (ui/cohort/CohortCharts).
class ConfusionMatrixView : public QWidget {
  public:
    ConfusionMatrixView(const QString& letter, QWidget* parent) : QWidget(parent), letter_(letter) {
        setMinimumSize(220, 160);
    }
    void show(std::shared_ptr<const CohortComparison> c) {
        comparison_ = std::move(c);
        update();
    }

  protected:
    void paintEvent(QPaintEvent*) override {
        QPainter p(this);
        p.fillRect(rect(), Qt::white);
        if (!comparison_) return;
        const CohortModelResult& model = letter_ == "A" ? comparison_->a : comparison_->b;
        paintConfusion(p, QRectF(rect()).adjusted(4, 4, -4, -4), *comparison_, model, letter_);
    }

  private:
    QString letter_;
    std::shared_ptr<const CohortComparison> comparison_;
};

namespace {

// Sorts by a number kept in Qt::UserRole, whatever the cell shows.
class SortableItem : public QTableWidgetItem {
  public:
    SortableItem(const QString& text, double key) : QTableWidgetItem(text) {
        setData(Qt::UserRole, key);
        setFlags(flags() & ~Qt::ItemIsEditable);
    }
    bool operator<(const QTableWidgetItem& other) const override {
        return data(Qt::UserRole).toDouble() < other.data(Qt::UserRole).toDouble();
    }
};

constexpr int kRowIndexRole = Qt::UserRole + 1;
enum Column {
    CaseColumn,
    LabelColumn,
    AColumn,
    BColumn,
    PAColumn,
    PBColumn,
    GapColumn,
    RightColumn,
    DisagreeColumn,
    ColumnCount
};

QString number(double v, int digits = 3) {
    return std::isnan(v) ? QStringLiteral("n/a") : QString::number(v, 'f', digits);
}

QString classText(const CohortCases& cases, const std::vector<int>& values) {
    if (cases.task == TaskType::MultiLabel) {
        QStringList on;
        for (size_t k = 0; k < values.size(); ++k)
            if (values[k]) on << QString::fromStdString(cases.classNames[k]);
        return on.isEmpty() ? QObject::tr("none") : on.join(", ");
    }
    const int v = values.at(0);
    return QString("%1 %2").arg(v).arg(QString::fromStdString(cases.classNames.at(v)));
}

// The probability the AUC ranks for a row: the positive class (binary) or
// the true class (multi-class); multi-label rows show none.
double rankedProbability(const CohortCases& cases, const CohortCaseRow& row,
                         const std::vector<float>& p) {
    if (cases.task == TaskType::Binary) return p.back();
    if (cases.task == TaskType::MultiLabel) return std::nan("");
    return p.at(row.labels.at(0));
}

}  // namespace

CohortView::CohortView(ViewerSession* session, AnalysisService* service, QWidget* parent)
    : QWidget(parent), session_(session), service_(service), runner_(new CohortRunner(this)) {
    auto* layout = new QHBoxLayout(this);
    auto* left = new QVBoxLayout;
    layout->addLayout(left, 3);

    modelsLabel_ = new QLabel(this);
    modelsLabel_->setObjectName("cohortModels");
    left->addWidget(modelsLabel_);
    auto* dataRow = new QHBoxLayout;
    dataLabel_ = new QLabel(this);
    dataLabel_->setObjectName("cohortData");
    dataRow->addWidget(dataLabel_, 1);
    splitCombo_ = new QComboBox(this);
    splitCombo_->setObjectName("cohortSplit");
    for (const std::string& split : MedMnistDataset::splitNames())
        splitCombo_->addItem(QString::fromStdString(split));
    splitCombo_->setCurrentText("test");
    dataRow->addWidget(splitCombo_);
    auto* otherData = new QPushButton(tr("Other data..."), this);
    otherData->setToolTip(
        tr("A MedMNIST .npz archive, or a folder of images with labels.csv "
           "(columns file,label)"));
    dataRow->addWidget(otherData);
    runButton_ = new QPushButton(tr("Run"), this);
    runButton_->setObjectName("cohortRun");
    dataRow->addWidget(runButton_);
    cancelButton_ = new QPushButton(tr("Cancel"), this);
    cancelButton_->setObjectName("cohortCancel");
    cancelButton_->setEnabled(false);
    dataRow->addWidget(cancelButton_);
    left->addLayout(dataRow);
    progress_ = new QProgressBar(this);
    progress_->setObjectName("cohortProgress");
    progress_->setFormat(tr("scoring %v / %m cases"));
    progress_->hide();
    left->addWidget(progress_);
    message_ = new QLabel(this);
    message_->setObjectName("cohortMessage");
    message_->setWordWrap(true);
    message_->setStyleSheet("QLabel { color: #9a3412; }");
    left->addWidget(message_);
    verdict_ = new QLabel(this);
    verdict_->setObjectName("cohortVerdict");
    verdict_->setWordWrap(true);
    verdict_->setStyleSheet("QLabel { font-weight: bold; }");
    left->addWidget(verdict_);
    figures_ = new QLabel(this);
    figures_->setObjectName("cohortFigures");
    figures_->setTextFormat(Qt::RichText);
    left->addWidget(figures_);
    table_ = new QTableWidget(0, ColumnCount, this);
    table_->setObjectName("cohortCases");
    table_->setHorizontalHeaderLabels({tr("case"), tr("label"), tr("A says"), tr("B says"),
                                       tr("P_A"), tr("P_B"), tr("|P_B - P_A|"), tr("right"),
                                       tr("disagree")});
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->verticalHeader()->hide();
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->setSortingEnabled(true);
    left->addWidget(table_, 1);
    auto* exportRow = new QHBoxLayout;
    reportButton_ = new QPushButton(tr("Save report (PDF)..."), this);
    chartsButton_ = new QPushButton(tr("Save charts (PNG)..."), this);
    csvButton_ = new QPushButton(tr("Save cases (CSV)..."), this);
    for (QPushButton* b : {reportButton_, chartsButton_, csvButton_}) {
        b->setEnabled(false);
        exportRow->addWidget(b);
    }
    exportRow->addStretch(1);
    left->addLayout(exportRow);

    auto* rocColumn = new QVBoxLayout;
    rocClass_ = new QComboBox(this);
    rocClass_->setObjectName("cohortRocClass");
    rocClass_->setToolTip(tr("The class whose one-against-the-rest ROC curve is shown"));
    rocColumn->addWidget(rocClass_);
    rocView_ = new QChartView(this);
    rocView_->setObjectName("cohortRoc");
    rocView_->setRenderHint(QPainter::Antialiasing);
    rocView_->setMinimumSize(280, 240);
    rocColumn->addWidget(rocView_, 1);
    layout->addLayout(rocColumn, 3);
    reliabilityView_ = new QChartView(this);
    reliabilityView_->setObjectName("cohortReliability");
    reliabilityView_->setRenderHint(QPainter::Antialiasing);
    reliabilityView_->setMinimumSize(280, 240);
    layout->addWidget(reliabilityView_, 3);
    auto* confusions = new QVBoxLayout;
    confusionA_ = new ConfusionMatrixView("A", this);
    confusionA_->setObjectName("cohortConfusionA");
    confusionB_ = new ConfusionMatrixView("B", this);
    confusionB_->setObjectName("cohortConfusionB");
    confusions->addWidget(confusionA_);
    confusions->addWidget(confusionB_);
    layout->addLayout(confusions, 2);
    setMinimumHeight(380);

    connect(runButton_, &QPushButton::clicked, this, [this] { run(); });
    connect(cancelButton_, &QPushButton::clicked, this, &CohortView::cancel);
    connect(otherData, &QPushButton::clicked, this, &CohortView::chooseData);
    connect(rocClass_, &QComboBox::currentIndexChanged, this, &CohortView::showRocEntry);
    connect(table_, &QTableWidget::cellClicked, this, [this](int row, int) { openRow(row); });
    connect(runner_, &CohortRunner::progress, this, [this](qint64 done, qint64 total) {
        progress_->setRange(0, static_cast<int>(total));
        progress_->setValue(static_cast<int>(done));
    });
    connect(runner_, &CohortRunner::finished, this, &CohortView::showResult);
    connect(runner_, &CohortRunner::failed, this,
            [this](const QString& message, bool) { showFailure(message); });
    connect(reportButton_, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save cohort report"),
                                                          "cohort.pdf", tr("PDF (*.pdf)"));
        QString error;
        if (!path.isEmpty() && !saveReport(path, &error)) message_->setText(error);
    });
    connect(chartsButton_, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(
            this, tr("Save charts: name stem (_roc.png, _reliability.png, _confusion.png)"),
            "cohort");
        QString error;
        if (!path.isEmpty() && !saveCharts(path, &error)) message_->setText(error);
    });
    connect(csvButton_, &QPushButton::clicked, this, [this] {
        const QString path =
            QFileDialog::getSaveFileName(this, tr("Save cases"), "cases.csv", tr("CSV (*.csv)"));
        QString error;
        if (!path.isEmpty() && !saveCases(path, &error)) message_->setText(error);
    });
    connect(session_, &ViewerSession::slotsChanged, this, &CohortView::updateModels);
    connect(session_, &ViewerSession::datasetChanged, this, &CohortView::updateModels);
    connect(service_, &AnalysisService::modelsChanged, this, &CohortView::updateModels);
    updateModels();
}

CohortView::~CohortView() = default;

bool CohortView::running() const {
    return runner_->running();
}

void CohortView::cancel() {
    runner_->cancel();
}

void CohortView::updateModels() {
    const auto [a, b] = session_->comparedSlots();
    auto nameOf = [&](int slot) {
        if (slot < 0 || slot >= session_->slotCount()) return tr("(none)");
        const ModelInfo info = service_->modelInfo(session_->slot(slot).modelIndex);
        return info.name.isEmpty() ? tr("(none)") : info.name;
    };
    modelsLabel_->setText(tr("A: %1    B: %2").arg(nameOf(a), nameOf(b)));
    // A result belongs to the pair it was computed for: say when the
    // comparison now shows another pair.
    if (result_ && !running() &&
        (QString::fromStdString(result_->a.name) != nameOf(a) ||
         QString::fromStdString(result_->b.name) != nameOf(b)))
        message_->setText(tr("These figures are for A: %1 and B: %2; the comparison now holds "
                             "other models. Run to compare those.")
                              .arg(QString::fromStdString(result_->a.name),
                                   QString::fromStdString(result_->b.name)));
    QString data = dataPath_;
    if (data.isEmpty() && session_->dataset())
        data = QString::fromStdString(session_->dataset()->path());
    dataLabel_->setText(data.isEmpty() ? tr("Data: open a MedMNIST archive, or choose other data")
                                       : tr("Data: %1").arg(QFileInfo(data).fileName()));
    splitCombo_->setEnabled(!QFileInfo(data).isDir());
}

void CohortView::chooseData() {
    QFileDialog dialog(this, tr("Data for the cohort comparison"));
    dialog.setNameFilter(tr("MedMNIST archives (*.npz);;Folders with labels.csv (*)"));
    dialog.setFileMode(QFileDialog::AnyFile);
    if (dialog.exec() != QDialog::Accepted || dialog.selectedFiles().isEmpty()) return;
    dataPath_ = dialog.selectedFiles().front();
    updateModels();
}

void CohortView::run(const QString& dataPath, const QString& split) {
    if (!dataPath.isEmpty()) dataPath_ = dataPath;
    if (!split.isEmpty()) splitCombo_->setCurrentText(split);
    updateModels();
    const auto [slotA, slotB] = session_->comparedSlots();
    const int modelA =
        slotA >= 0 && slotA < session_->slotCount() ? session_->slot(slotA).modelIndex : -1;
    const int modelB =
        slotB >= 0 && slotB < session_->slotCount() ? session_->slot(slotB).modelIndex : -1;
    if (modelA < 0 || modelB < 0) {
        showFailure(tr("Choose two models in the comparison first."));
        return;
    }
    const ModelInfo infoA = service_->modelInfo(modelA), infoB = service_->modelInfo(modelB);
    if (!infoA.description || !infoB.description) {
        showFailure(tr("The models' descriptions are not available."));
        return;
    }
    // Class 1 of one model is not class 1 of another: refuse before any work.
    const std::string mismatch = labelSpaceMismatch(*infoA.description, *infoB.description);
    if (!mismatch.empty()) {
        showFailure(tr("Cannot compare these models over a cohort: %1")
                        .arg(QString::fromStdString(mismatch)));
        return;
    }
    QString data = dataPath_;
    if (data.isEmpty() && session_->dataset())
        data = QString::fromStdString(session_->dataset()->path());
    if (data.isEmpty()) {
        showFailure(tr("Open a MedMNIST archive, or choose a folder of images with labels.csv."));
        return;
    }
    try {
        if (QFileInfo(data).isDir())
            cases_ = std::make_shared<FolderCases>(
                data.toStdString(), infoA.description->class_names,
                [](const std::string& path) { return readImage(path); });
        else
            cases_ = std::make_shared<MedMnistCases>(data.toStdString(),
                                                     splitCombo_->currentText().toStdString());
    } catch (const std::exception& e) {
        showFailure(QString::fromStdString(e.what()));
        return;
    }
    result_.reset();
    message_->clear();
    verdict_->setText(
        tr("Scoring %1 with A and B...").arg(QString::fromStdString(cases_->description())));
    progress_->setRange(0, static_cast<int>(cases_->count()));
    progress_->setValue(0);
    progress_->show();
    runButton_->setEnabled(false);
    cancelButton_->setEnabled(true);
    runner_->start(service_->model(modelA), service_->model(modelB), cases_);
}

void CohortView::showFailure(const QString& message) {
    progress_->hide();
    runButton_->setEnabled(true);
    cancelButton_->setEnabled(false);
    message_->setText(message);
    if (!result_) verdict_->clear();
    emit finished();
}

void CohortView::showResult(std::shared_ptr<const CohortComparison> result) {
    result_ = std::move(result);
    const CohortComparison& c = *result_;
    progress_->hide();
    runButton_->setEnabled(true);
    cancelButton_->setEnabled(false);
    QStringList notes;
    for (const std::string& note : c.cases.notes) notes << QString::fromStdString(note);
    message_->setText(notes.join("\n"));
    verdict_->setText(QString("%1\n%2\n%3")
                          .arg(QString::fromStdString(aucVerdict(c)),
                               QString::fromStdString(accuracyVerdict(c)),
                               tr("A and B disagree on %1 of %2 cases (%3).")
                                   .arg(c.disagreements)
                                   .arg(c.rows.size())
                                   .arg(QString::fromStdString(c.cases.source))));
    QString html =
        "<table cellspacing='6'><tr><th></th><th>ACC</th><th>AUC (95 % CI)</th>"
        "<th>ECE</th></tr>";
    for (const auto& [letter, m] : {std::pair{"A", &c.a}, std::pair{"B", &c.b}})
        html +=
            QString("<tr><td><b>%1</b></td><td>%2</td><td>%3 (%4 to %5, %6)</td><td>%7</td></tr>")
                .arg(letter, number(m->acc), number(m->auc), number(m->aucLow), number(m->aucHigh),
                     QString::fromStdString(m->aucInterval),
                     number(m->calibration.expectedCalibrationError));
    figures_->setText(html + "</table>");

    QSignalBlocker block(rocClass_);
    rocClass_->clear();
    if (c.cases.task == TaskType::Binary)
        rocClass_->addItem(QString::fromStdString(c.cases.classNames.back()));
    else
        for (const std::string& name : c.cases.classNames)
            rocClass_->addItem(QString::fromStdString(name));
    rocClass_->setEnabled(rocClass_->count() > 1);
    showRocEntry(0);
    QChart* old = reliabilityView_->chart();
    reliabilityView_->setChart(makeReliabilityChart(c));
    delete old;
    confusionA_->show(result_);
    confusionB_->show(result_);
    fillTable();
    for (QPushButton* b : {reportButton_, chartsButton_, csvButton_}) b->setEnabled(true);
    emit finished();
}

void CohortView::showRocEntry(int entry) {
    if (!result_ || entry < 0) return;
    QChart* old = rocView_->chart();
    rocView_->setChart(makeRocChart(*result_, entry));
    delete old;
}

void CohortView::fillTable() {
    const CohortComparison& c = *result_;
    table_->setSortingEnabled(false);
    table_->setRowCount(static_cast<int>(c.rows.size()));
    const QString scored = c.cases.task == TaskType::Binary
                               ? QString::fromStdString(c.cases.classNames.back())
                               : tr("true class");
    table_->horizontalHeaderItem(PAColumn)->setText(tr("P_A(%1)").arg(scored));
    table_->horizontalHeaderItem(PBColumn)->setText(tr("P_B(%1)").arg(scored));
    for (int i = 0; i < static_cast<int>(c.rows.size()); ++i) {
        const CohortCaseRow& r = c.rows[i];
        const double pa = rankedProbability(c.cases, r, r.probabilitiesA);
        const double pb = rankedProbability(c.cases, r, r.probabilitiesB);
        auto* id = new SortableItem(QString::fromStdString(r.id), i);
        id->setData(kRowIndexRole, i);
        table_->setItem(i, CaseColumn, id);
        table_->setItem(i, LabelColumn,
                        new SortableItem(classText(c.cases, r.labels), r.labels[0]));
        table_->setItem(i, AColumn,
                        new SortableItem(classText(c.cases, r.predictedA), r.predictedA[0]));
        table_->setItem(i, BColumn,
                        new SortableItem(classText(c.cases, r.predictedB), r.predictedB[0]));
        table_->setItem(i, PAColumn, new SortableItem(number(pa), std::isnan(pa) ? -1 : pa));
        table_->setItem(i, PBColumn, new SortableItem(number(pb), std::isnan(pb) ? -1 : pb));
        table_->setItem(i, GapColumn, new SortableItem(number(r.probabilityGap), r.probabilityGap));
        static const QHash<QString, int> order = {
            {"neither", 0}, {"A only", 1}, {"B only", 2}, {"both", 3}};
        const QString outcome = QString::fromStdString(r.outcome());
        table_->setItem(i, RightColumn, new SortableItem(outcome, order.value(outcome)));
        // Disagreements first, and within each group the larger gap: one key.
        table_->setItem(i, DisagreeColumn,
                        new SortableItem(r.disagree() ? tr("yes") : QString(),
                                         (r.disagree() ? 10 : 0) + r.probabilityGap));
    }
    table_->setSortingEnabled(true);
    table_->sortItems(DisagreeColumn, Qt::DescendingOrder);
}

void CohortView::openRow(int row) {
    if (!result_ || !cases_ || row < 0 || row >= table_->rowCount()) return;
    const int index = table_->item(row, CaseColumn)->data(kRowIndexRole).toInt();
    const std::string& id = result_->rows.at(index).id;
    if (const auto* archive = dynamic_cast<const MedMnistCases*>(cases_.get())) {
        const int caseIndex = std::stoi(id.substr(id.find('/') + 1));
        if (!session_->dataset() || session_->dataset()->path() != archive->path()) {
            try {
                session_->openDataset(std::make_shared<MedMnistDataset>(archive->path()));
            } catch (const std::exception& e) {
                message_->setText(QString::fromStdString(e.what()));
                return;
            }
        }
        session_->openDatasetCase(QString::fromStdString(archive->split()), caseIndex);
    } else {
        session_->openPath(
            QDir(QString::fromStdString(cases_->path())).filePath(QString::fromStdString(id)));
    }
}

bool CohortView::saveReport(const QString& path, QString* error) const {
    if (!result_) {
        if (error) *error = tr("Nothing to save: run the comparison first.");
        return false;
    }
    return writeCohortReport(*result_, path, error);
}

bool CohortView::saveCharts(const QString& stem, QString* error) const {
    if (!result_) {
        if (error) *error = tr("Nothing to save: run the comparison first.");
        return false;
    }
    return saveCohortCharts(*result_, stem, error);
}

bool CohortView::saveCases(const QString& path, QString* error) const {
    if (!result_) {
        if (error) *error = tr("Nothing to save: run the comparison first.");
        return false;
    }
    try {
        writeCohortCsv(*result_, path.toStdString());
    } catch (const std::exception& e) {
        if (error) *error = QString::fromStdString(e.what());
        return false;
    }
    return true;
}

}  // namespace rllm
