#include "ui/pacs/PacsBrowser.h"

#include "core/pacs/SeriesCache.h"
#include "ui/pacs/PacsJobs.h"
#include "ui/pacs/PacsNodeDialog.h"

#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

namespace rllm {

namespace {

QString q(const std::string& s) {
    return QString::fromStdString(s);
}

// "20240115" as "2024-01-15"; anything else as it is.
QString displayDate(const std::string& date) {
    if (date.size() != 8) return q(date);
    return q(date.substr(0, 4) + "-" + date.substr(4, 2) + "-" + date.substr(6, 2));
}

QString count(int n) {
    return n < 0 ? QStringLiteral("?") : QString::number(n);
}

enum StudyColumn { kPatient, kPatientId, kDate, kDescription, kModalities, kSeries, kImages };
enum SeriesColumn { kNumber, kModality, kSeriesDescription, kSeriesImages, kState };

}  // namespace

PacsBrowser::PacsBrowser(QWidget* parent) : QDialog(parent), jobs_(new PacsJobs(this)) {
    setWindowTitle(tr("PACS"));
    setObjectName("pacsBrowser");
    QSettings settings;
    jobs_->setCache(settings.value("pacs/cacheFolder", PacsJobs::defaultCacheRoot()).toString(),
                    settings.value("pacs/cacheLimitMB", 5000).toLongLong() << 20);

    // Nodes.
    nodes_ = new QComboBox(this);
    nodes_->setObjectName("pacsNode");
    nodes_->setMinimumContentsLength(28);
    auto button = [&](const QString& text, const char* name) {
        auto* b = new QPushButton(text, this);
        b->setObjectName(name);
        b->setAutoDefault(false);
        return b;
    };
    QPushButton* add = button(tr("Add..."), "pacsAddNode");
    QPushButton* edit = button(tr("Edit..."), "pacsEditNode");
    QPushButton* remove = button(tr("Remove"), "pacsRemoveNode");
    QPushButton* test = button(tr("Test (echo)"), "pacsTest");
    auto* nodeRow = new QHBoxLayout;
    nodeRow->addWidget(new QLabel(tr("Node"), this));
    nodeRow->addWidget(nodes_, 1);
    for (QPushButton* b : {add, edit, remove, test}) nodeRow->addWidget(b);
    connect(add, &QPushButton::clicked, this, &PacsBrowser::addNode);
    connect(edit, &QPushButton::clicked, this, &PacsBrowser::editNode);
    connect(remove, &QPushButton::clicked, this, &PacsBrowser::removeNode);
    connect(test, &QPushButton::clicked, this, &PacsBrowser::testNode);

    // Query form.
    auto field = [&](const char* name, const QString& placeholder) {
        auto* e = new QLineEdit(this);
        e->setObjectName(name);
        e->setPlaceholderText(placeholder);
        e->setClearButtonEnabled(true);
        connect(e, &QLineEdit::returnPressed, this, &PacsBrowser::search);
        return e;
    };
    patientName_ = field("pacsPatientName", tr("e.g. DOE^J*"));
    patientId_ = field("pacsPatientId", tr("ID, * and ? allowed"));
    dateFrom_ = field("pacsDateFrom", tr("YYYYMMDD"));
    dateTo_ = field("pacsDateTo", tr("YYYYMMDD"));
    modality_ = field("pacsModality", tr("CT, MR, ..."));
    accession_ = field("pacsAccession", tr("accession number"));
    limit_ = new QSpinBox(this);
    limit_->setObjectName("pacsLimit");
    limit_->setRange(10, 100000);
    limit_->setValue(500);
    limit_->setToolTip(
        tr("At most this many studies are listed; a narrower query finds the rest."));
    QPushButton* searchButton = button(tr("Search"), "pacsSearch");
    connect(searchButton, &QPushButton::clicked, this, &PacsBrowser::search);
    auto* form = new QGridLayout;
    form->addWidget(new QLabel(tr("Patient name"), this), 0, 0);
    form->addWidget(patientName_, 0, 1);
    form->addWidget(new QLabel(tr("Patient ID"), this), 0, 2);
    form->addWidget(patientId_, 0, 3);
    form->addWidget(new QLabel(tr("Accession"), this), 0, 4);
    form->addWidget(accession_, 0, 5);
    form->addWidget(new QLabel(tr("Study date from"), this), 1, 0);
    form->addWidget(dateFrom_, 1, 1);
    form->addWidget(new QLabel(tr("to"), this), 1, 2);
    form->addWidget(dateTo_, 1, 3);
    form->addWidget(new QLabel(tr("Modality"), this), 1, 4);
    form->addWidget(modality_, 1, 5);
    form->addWidget(new QLabel(tr("At most"), this), 2, 0);
    form->addWidget(limit_, 2, 1);
    form->addWidget(searchButton, 2, 5);

    // Results.
    studies_ = new QTableWidget(0, 7, this);
    studies_->setObjectName("pacsStudies");
    studies_->setHorizontalHeaderLabels({tr("Patient"), tr("ID"), tr("Study date"),
                                         tr("Description"), tr("Modalities"), tr("Series"),
                                         tr("Images")});
    series_ = new QTableWidget(0, 5, this);
    series_->setObjectName("pacsSeries");
    series_->setHorizontalHeaderLabels(
        {tr("#"), tr("Modality"), tr("Description"), tr("Images"), tr("Here")});
    for (QTableWidget* t : {studies_, series_}) {
        t->setSelectionBehavior(QAbstractItemView::SelectRows);
        t->setEditTriggers(QAbstractItemView::NoEditTriggers);
        t->verticalHeader()->hide();
        t->horizontalHeader()->setStretchLastSection(true);
        t->setAlternatingRowColors(true);
    }
    studies_->setSelectionMode(QAbstractItemView::SingleSelection);
    series_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    connect(studies_, &QTableWidget::currentCellChanged, this,
            [this](int row, int, int previous, int) {
                if (row >= 0 && row != previous) showSeriesOf(row);
            });
    connect(series_, &QTableWidget::cellDoubleClicked, this, [this] { retrieveSelected(); });
    studiesInfo_ = new QLabel(this);
    studiesInfo_->setObjectName("pacsStudiesInfo");
    studiesInfo_->setTextFormat(Qt::PlainText);
    auto* studiesBox = new QWidget(this);
    auto* studiesLayout = new QVBoxLayout(studiesBox);
    studiesLayout->setContentsMargins(0, 0, 0, 0);
    studiesLayout->addWidget(studies_, 1);
    studiesLayout->addWidget(studiesInfo_);
    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(studiesBox);
    splitter->addWidget(series_);

    method_ = new QComboBox(this);
    method_->setObjectName("pacsMethod");
    method_->addItem(tr("C-GET"), int(RetrieveMethod::Get));
    method_->addItem(tr("C-MOVE (to our storage port)"), int(RetrieveMethod::Move));
    method_->addItem(tr("DICOMweb (QIDO-RS / WADO-RS)"), int(RetrieveMethod::WadoRs));
    method_->setToolTip(
        tr("How to search and retrieve: DIMSE (C-FIND with C-GET or C-MOVE) or "
           "DICOMweb (the node's DICOMweb root)."));
    method_->setCurrentIndex(settings.value("pacs/method", 0).toInt());
    retrieve_ = button(tr("Retrieve and open"), "pacsRetrieve");
    cancel_ = button(tr("Cancel"), "pacsCancel");
    cancel_->setEnabled(false);
    connect(retrieve_, &QPushButton::clicked, this, &PacsBrowser::retrieveSelected);
    connect(cancel_, &QPushButton::clicked, this, [this] {
        jobs_->cancelRetrievals();
        setStatus(tr("Cancelling..."));
    });
    status_ = new QLabel(this);
    status_->setObjectName("pacsStatus");
    status_->setWordWrap(true);
    // Messages quote what peers send: shown as text, never as rich text.
    status_->setTextFormat(Qt::PlainText);
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* actions = new QHBoxLayout;
    actions->addWidget(status_, 1);
    actions->addWidget(method_);
    actions->addWidget(retrieve_);
    actions->addWidget(cancel_);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(nodeRow);
    layout->addLayout(form);
    layout->addWidget(splitter, 1);
    layout->addLayout(actions);
    resize(900, 650);

    connect(jobs_, &PacsJobs::echoFinished, this,
            [this](bool ok, const QString& message) { setStatus(message, !ok); });
    connect(jobs_, &PacsJobs::matchesArrived, this, &PacsBrowser::onMatches);
    connect(jobs_, &PacsJobs::findFinished, this, &PacsBrowser::onFindFinished);
    connect(jobs_, &PacsJobs::retrieveProgress, this, &PacsBrowser::onRetrieveProgress);
    connect(jobs_, &PacsJobs::retrieveFinished, this, &PacsBrowser::onRetrieveFinished);
    reloadNodes(settings.value("pacs/node").toString());
}

PacsBrowser::~PacsBrowser() {
    QSettings settings;
    settings.setValue("pacs/node", nodes_->currentText());
    settings.setValue("pacs/method", method_->currentIndex());
}

void PacsBrowser::reloadNodes(const QString& select) {
    nodes_->clear();
    nodeList_ = PacsNodeList();
    try {
        nodeList_ = PacsNodeList::load(PacsNodeList::defaultPath());
        for (const PacsNode& n : nodeList_.nodes()) nodes_->addItem(q(n.name), q(n.address()));
    } catch (const std::exception& e) {
        setStatus(q(e.what()), true);
    }
    const int index = nodes_->findText(select);
    if (index >= 0) nodes_->setCurrentIndex(index);
    if (nodes_->count() == 0 && status_->text().isEmpty())
        setStatus(tr("No PACS node yet: add one (its AE title, host and port)."));
}

bool PacsBrowser::currentNode(PacsNode* node) const {
    const PacsNode* n = nodeList_.find(nodes_->currentText().toStdString());
    if (n) *node = *n;
    return n != nullptr;
}

void PacsBrowser::changeNodes(const std::function<void(PacsNodeList&)>& change,
                              const QString& select) {
    // Read again (the command line may have changed the file); a file that
    // cannot be read is left as it is rather than overwritten.
    try {
        PacsNodeList list = PacsNodeList::load(PacsNodeList::defaultPath());
        change(list);
        list.save(PacsNodeList::defaultPath());
    } catch (const std::exception& e) {
        setStatus(q(e.what()), true);
        return;
    }
    reloadNodes(select);
}

void PacsBrowser::addNode() {
    PacsNode fresh;
    fresh.name = "pacs";
    fresh.aeTitle = "ORTHANC";
    fresh.port = 4242;
    PacsNodeDialog dialog(fresh, this);
    if (dialog.exec() != QDialog::Accepted) return;
    changeNodes([&](PacsNodeList& list) { list.put(dialog.node()); }, q(dialog.node().name));
}

void PacsBrowser::editNode() {
    PacsNode node;
    if (!currentNode(&node)) return;
    PacsNodeDialog dialog(node, this);
    if (dialog.exec() != QDialog::Accepted) return;
    changeNodes(
        [&](PacsNodeList& list) {
            list.remove(node.name);
            list.put(dialog.node());
        },
        q(dialog.node().name));
}

void PacsBrowser::removeNode() {
    PacsNode node;
    if (!currentNode(&node)) return;
    changeNodes([&](PacsNodeList& list) { list.remove(node.name); });
}

void PacsBrowser::testNode() {
    PacsNode node;
    if (!currentNode(&node)) {
        setStatus(tr("Choose or add a node first."), true);
        return;
    }
    setStatus(tr("Asking %1...").arg(q(node.address())));
    jobs_->echo(node);
}

bool PacsBrowser::overDicomWeb() const {
    return RetrieveMethod(method_->currentData().toInt()) == RetrieveMethod::WadoRs;
}

void PacsBrowser::setStatus(const QString& text, bool error) {
    status_->setText(text);
    status_->setStyleSheet(error ? "color: #c0392b" : QString());
}

void PacsBrowser::search() {
    PacsNode node;
    if (!currentNode(&node)) {
        setStatus(tr("Choose or add a node first."), true);
        return;
    }
    QueryKeys keys;
    keys.patientName = patientName_->text().trimmed().toStdString();
    keys.patientId = patientId_->text().trimmed().toStdString();
    keys.studyDateFrom = dateFrom_->text().trimmed().toStdString();
    keys.studyDateTo = dateTo_->text().trimmed().toStdString();
    keys.modality = modality_->text().trimmed().toUpper().toStdString();
    keys.accessionNumber = accession_->text().trimmed().toStdString();
    for (const std::string& date : {keys.studyDateFrom, keys.studyDateTo})
        if (!date.empty() &&
            (date.size() != 8 || date.find_first_not_of("0123456789") != std::string::npos)) {
            setStatus(tr("Dates are YYYYMMDD (e.g. 20240115)."), true);
            return;
        }
    studies_->setRowCount(0);
    studiesInfo_->clear();
    series_->setRowCount(0);
    studyMatches_.clear();
    setStatus(tr("Searching %1...").arg(q(node.address())));
    studyQuery_ = jobs_->find(node, QueryLevel::Study, keys, limit_->value(), overDicomWeb());
}

void PacsBrowser::onMatches(quint64 query, const std::vector<QueryMatch>& matches) {
    QTableWidget* table = query == studyQuery_    ? studies_
                          : query == seriesQuery_ ? series_
                                                  : nullptr;
    if (!table) return;  // an older query's late answer
    table->setUpdatesEnabled(false);
    table->setSortingEnabled(false);
    for (const QueryMatch& m : matches) {
        const int row = table->rowCount();
        table->insertRow(row);
        auto set = [&](int column, const QString& text) {
            table->setItem(row, column, new QTableWidgetItem(text));
        };
        if (table == studies_) {
            studyMatches_.push_back(m);
            set(kPatient, q(m.patientName).replace('^', ' '));
            set(kPatientId, q(m.patientId));
            set(kDate, displayDate(m.studyDate));
            set(kDescription, q(m.studyDescription));
            set(kModalities, q(m.modalitiesInStudy).replace('\\', ' '));
            set(kSeries, count(m.series));
            set(kImages, count(m.instances));
            // The row remembers which match it shows, whatever the sorting.
            table->item(row, kPatient)->setData(Qt::UserRole, int(studyMatches_.size() - 1));
        } else {
            seriesMatches_.push_back(m);
            set(kNumber, q(m.seriesNumber));
            set(kModality, q(m.modality));
            set(kSeriesDescription, q(m.seriesDescription));
            set(kSeriesImages, count(m.instances));
            table->item(row, kNumber)->setData(Qt::UserRole, int(seriesMatches_.size() - 1));
            const CachedSeries cached =
                SeriesCache(jobs_->cacheRoot().toStdString(), jobs_->cacheLimitBytes())
                    .lookup(m.studyInstanceUid.empty() ? seriesStudyUid_.toStdString()
                                                       : m.studyInstanceUid,
                            m.seriesInstanceUid);
            set(kState,
                cached.complete ? tr("in the cache")
                : cached.instances > 0
                    ? tr("incomplete (%1 of %2)").arg(cached.instances).arg(count(m.instances))
                    : QString());
        }
    }
    table->setUpdatesEnabled(true);
}

void PacsBrowser::onFindFinished(quint64 query, bool truncated, const QString& error) {
    if (query != studyQuery_ && query != seriesQuery_) return;
    if (!error.isEmpty()) {
        setStatus(error, true);
        return;
    }
    if (query == studyQuery_) {
        studies_->setSortingEnabled(true);
        studies_->resizeColumnsToContents();
        // Beside the table, not in the status line: the series query that
        // follows at once would replace it there.
        studiesInfo_->setText(
            truncated ? tr("%1 studies shown; more matched: narrow the query or raise the limit.")
                            .arg(studies_->rowCount())
                      : tr("%n study(ies) found.", nullptr, studies_->rowCount()));
        studiesInfo_->setStyleSheet(truncated ? "color: #c0392b" : QString());
        setStatus({});
        if (studies_->rowCount() > 0 && studies_->currentRow() < 0) studies_->selectRow(0);
    } else {
        series_->resizeColumnsToContents();
        setStatus(tr("%n series in this study.", nullptr, series_->rowCount()));
    }
}

void PacsBrowser::showSeriesOf(int studyRow) {
    QTableWidgetItem* item = studies_->item(studyRow, kPatient);
    PacsNode node;
    if (!item || !currentNode(&node)) return;
    const QueryMatch& study = studyMatches_.at(size_t(item->data(Qt::UserRole).toInt()));
    series_->setRowCount(0);
    seriesMatches_.clear();
    seriesStudyUid_ = q(study.studyInstanceUid);
    QueryKeys keys;
    keys.studyInstanceUid = study.studyInstanceUid;
    seriesQuery_ = jobs_->find(node, QueryLevel::Series, keys, 10000, overDicomWeb());
}

int PacsBrowser::seriesRow(const QString& seriesUid) const {
    for (int row = 0; row < series_->rowCount(); ++row) {
        const int index = series_->item(row, kNumber)->data(Qt::UserRole).toInt();
        if (q(seriesMatches_.at(size_t(index)).seriesInstanceUid) == seriesUid) return row;
    }
    return -1;
}

void PacsBrowser::retrieveSelected() {
    PacsNode node;
    if (!currentNode(&node)) {
        setStatus(tr("Choose or add a node first."), true);
        return;
    }
    QList<int> rows;
    for (const QModelIndex& index : series_->selectionModel()->selectedRows()) rows << index.row();
    if (rows.isEmpty() && series_->currentRow() >= 0) rows << series_->currentRow();
    if (rows.isEmpty()) {
        setStatus(tr("Choose a study, then the series to retrieve."), true);
        return;
    }
    std::sort(rows.begin(), rows.end());
    const auto method = RetrieveMethod(method_->currentData().toInt());
    if (method == RetrieveMethod::Move && node.storagePort <= 0) {
        setStatus(tr("C-MOVE needs our storage port in the node's settings (Edit...); or use "
                     "C-GET."),
                  true);
        return;
    }
    bool first = true;
    for (int row : rows) {
        const QueryMatch& m =
            seriesMatches_.at(size_t(series_->item(row, kNumber)->data(Qt::UserRole).toInt()));
        const QString uid = q(m.seriesInstanceUid);
        // The first series chosen opens when it arrives.
        openWhenReady_[uid] = first;
        first = false;
        series_->item(row, kState)->setText(tr("waiting"));
        const QString description = m.seriesDescription.empty()
                                        ? tr("series %1").arg(q(m.seriesNumber))
                                        : q(m.seriesDescription);
        jobs_->retrieve(node, method, {seriesStudyUid_.toStdString(), m.seriesInstanceUid},
                        m.instances, description);
    }
    cancel_->setEnabled(true);
    setStatus(tr("Retrieving %n series by %1...", nullptr, int(rows.size()))
                  .arg(retrieveMethodName(method).c_str()));
}

void PacsBrowser::onRetrieveProgress(const QString& seriesUid, int done, int total) {
    const int row = seriesRow(seriesUid);
    if (row < 0) return;
    series_->item(row, kState)
        ->setText(total > 0 ? tr("%1 of %2").arg(done).arg(total) : tr("%1 arrived").arg(done));
}

void PacsBrowser::onRetrieveFinished(const RetrievalReport& report) {
    const int row = seriesRow(report.seriesUid);
    if (row >= 0)
        series_->item(row, kState)
            ->setText(report.complete    ? (report.fromCache ? tr("in the cache") : tr("arrived"))
                      : report.cancelled ? tr("cancelled (%1 arrived)").arg(report.instances)
                                         : tr("INCOMPLETE (%1 arrived)").arg(report.instances));
    const bool open = openWhenReady_[report.seriesUid];
    openWhenReady_.erase(report.seriesUid);
    if (openWhenReady_.empty()) cancel_->setEnabled(false);
    if (report.complete) {
        setStatus(report.fromCache ? tr("Opened from the cache: %1").arg(report.folder)
                                   : tr("Arrived whole: %1").arg(report.folder));
        if (open) emit seriesReady(report.folder);
    } else {
        setStatus(
            report.message.isEmpty() ? tr("The series did not arrive whole.") : report.message,
            true);
    }
}

}  // namespace rllm
