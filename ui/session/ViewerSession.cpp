#include "ui/session/ViewerSession.h"

#include "core/CamDifference.h"
#include "core/Volume.h"
#include "core/io/Dicom.h"
#include "core/io/ImageReader.h"
#include "core/io/MedMnist.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QPointer>
#include <QThreadPool>

#include <algorithm>

namespace rllm {

ViewerSession::ViewerSession(AnalysisBackend* backend, QObject* parent)
    : QObject(parent),
      backend_(backend),
      seriesToChoose_(std::make_shared<std::vector<DicomSeriesInfo>>()) {
    qRegisterMetaType<std::shared_ptr<const CaseAnalysis>>();
    // A and B from the start: the comparison is what the viewer is for.
    slots_.resize(2);
    slots_[0].overlayShown = true;
    connect(backend_, &AnalysisBackend::modelsChanged, this, &ViewerSession::onModelsChanged);
    connect(backend_, &AnalysisBackend::resultReady, this, &ViewerSession::onResult);
    connect(backend_, &AnalysisBackend::failed, this, &ViewerSession::fail);
    connect(backend_, &AnalysisBackend::activityChanged, this,
            [this](bool busy, const QString& what) {
                onBackendActivity(busy);
                reportActivity(what);
            });
    onModelsChanged();
}

ViewerSession::~ViewerSession() = default;

// --- Loading ------------------------------------------------------------------

void ViewerSession::startLoad(const QString& what, std::function<void()> work,
                              std::function<void()> onSuccess) {
    const int generation = ++loadGeneration_;
    activeLoads_.insert(generation);
    reportActivity(what);
    // The worker never touches the session: it reports through the event
    // loop, and the guard (checked on the GUI thread, where the session is
    // destroyed) drops the answer of a load that outlived its window.
    QPointer<ViewerSession> guard(this);
    QThreadPool::globalInstance()->start(
        [guard, generation, work = std::move(work), onSuccess = std::move(onSuccess)] {
            QString error;
            try {
                work();
            } catch (const std::exception& e) {
                error = QString::fromStdString(e.what());
            }
            QMetaObject::invokeMethod(
                QCoreApplication::instance(),
                [guard, generation, error, onSuccess] {
                    if (!guard) return;
                    // Not in the set: cancelled or superseded; the user has moved on.
                    if (!guard->activeLoads_.remove(generation)) return;
                    if (generation == guard->loadGeneration_) {
                        if (error.isEmpty())
                            onSuccess();
                        else
                            guard->fail(error);
                    }
                    if (guard->activeLoads_.isEmpty()) emit guard->loadsFinished();
                    guard->reportActivity();
                },
                Qt::QueuedConnection);
        });
}

void ViewerSession::openPath(const QString& path) {
    struct Loaded {
        std::shared_ptr<MedMnistDataset> dataset;
        std::vector<DicomSeriesInfo> series;
        std::shared_ptr<Volume> volume;
    };
    auto loaded = std::make_shared<Loaded>();
    const std::string file = path.toStdString();
    startLoad(
        tr("opening %1").arg(QFileInfo(path).fileName()),
        [loaded, file] {
            const InputKind kind = detectInputKind(file);
            if (kind == InputKind::MedMnist) {
                loaded->dataset = std::make_shared<MedMnistDataset>(file);
            } else if (kind == InputKind::DicomFolder) {
                loaded->series = scanDicomFolder(file);
                // One ordinary series opens at once; several, or a 4D one, are chosen first.
                if (loaded->series.size() == 1 && loaded->series.front().volumeCount <= 1)
                    loaded->volume = std::make_shared<Volume>(readImage(file, {}));
            } else {
                if (kind == InputKind::DicomFile) {
                    // An enhanced multi-frame file holding 4D data: its volumes are chosen first.
                    loaded->series = scanDicomFiles({file});
                    if (loaded->series.size() == 1 && loaded->series.front().volumeCount > 1)
                        return;
                    loaded->series.clear();
                }
                loaded->volume = std::make_shared<Volume>(readImage(file, {}));
            }
        },
        [this, loaded, path] {
            emit pathOpened(path);
            if (loaded->dataset) {
                openDataset(loaded->dataset);
            } else if (loaded->volume) {
                closeDataset();
                showVolume(loaded->volume, QFileInfo(path).fileName(), {});
            } else {
                *seriesToChoose_ = loaded->series;
                emit seriesChoiceNeeded(path);
            }
        });
}

const std::vector<DicomSeriesInfo>& ViewerSession::seriesToChoose() const {
    return *seriesToChoose_;
}

void ViewerSession::openSeries(const QString& path, const ReadOptions& options) {
    auto volume = std::make_shared<std::shared_ptr<Volume>>();
    const std::string file = path.toStdString();
    startLoad(
        tr("reading the series"),
        [volume, file, options] { *volume = std::make_shared<Volume>(readImage(file, options)); },
        [this, volume, path] {
            closeDataset();
            showVolume(*volume, QFileInfo(path).fileName(), {});
        });
}

void ViewerSession::showVolume(std::shared_ptr<const Volume> volume, const QString& title,
                               const QString& caseKey) {
    if (!volume) return;
    volume_ = std::move(volume);
    title_ = title;
    ++shownCount_;
    if (!caseKey.isEmpty() && caseIds_.contains(caseKey)) {
        caseId_ = caseIds_.value(caseKey);
    } else {
        caseId_ = ++nextCaseId_;
        if (!caseKey.isEmpty()) caseIds_.insert(caseKey, caseId_);
    }
    backend_->setFocusCase(caseId_);
    lastError_.clear();
    for (ComparisonSlot& s : slots_) {
        s.result.reset();
        s.note.clear();
    }
    emit caseChanged();
    requestAnalyses();
}

void ViewerSession::openDataset(std::shared_ptr<MedMnistDataset> dataset) {
    dataset_ = std::move(dataset);
    openDatasetCase("test", 0);
}

void ViewerSession::closeDataset() {
    if (!dataset_) return;
    dataset_.reset();
    emit datasetChanged();
}

int ViewerSession::datasetCount() const {
    return dataset_ ? static_cast<int>(dataset_->count(split_.toStdString())) : 0;
}

void ViewerSession::openDatasetCase(const QString& splitName, int index) {
    if (!dataset_) return;
    try {
        const std::string split = splitName.toStdString();
        const int count = static_cast<int>(dataset_->count(split));
        if (count == 0)
            throw std::runtime_error(tr("The '%1' split is empty.").arg(splitName).toStdString());
        index = std::clamp(index, 0, count - 1);
        auto volume = std::make_shared<Volume>(dataset_->image(split, index));
        split_ = splitName;
        index_ = index;
        emit datasetChanged();
        const QFileInfo archive(QString::fromStdString(dataset_->path()));
        const QString where = QStringLiteral(" [%1 #%2]").arg(splitName).arg(index);
        showVolume(volume, archive.fileName() + where, archive.absoluteFilePath() + where);
    } catch (const std::exception& e) {
        fail(QString::fromStdString(e.what()));
    }
}

// --- The comparison -------------------------------------------------------------

QString ViewerSession::slotLetter(int index) {
    QString letters;
    for (int i = index; i >= 0; i = i / 26 - 1) letters.prepend(QChar('A' + i % 26));
    return letters;
}

int ViewerSession::addSlot(int modelIndex) {
    slots_.push_back({});
    slots_.back().modelIndex = modelIndex;
    const int index = slotCount() - 1;
    emit slotsChanged();
    requestSlot(index);
    return index;
}

void ViewerSession::removeSlot(int index) {
    if (index < 0 || index >= slotCount()) return;
    slots_.erase(slots_.begin() + index);
    // Indices after the removed slot move down; a compared slot that went is
    // replaced by another, so the panel keeps showing two when there are two.
    for (int& c : compared_) {
        if (c > index)
            --c;
        else if (c == index)
            c = -1;
    }
    for (int& c : compared_)
        if (c < 0 || c >= slotCount()) {
            c = -1;
            for (int i = 0; i < slotCount(); ++i)
                if (i != compared_[0] && i != compared_[1]) {
                    c = i;
                    break;
                }
        }
    if (cam3dSlot_ > index)
        --cam3dSlot_;
    else if (cam3dSlot_ == index)
        cam3dSlot_ = -1;
    emit slotsChanged();
    emit displayChanged();
    updateDifference();
}

void ViewerSession::setSlotModel(int slot, int modelIndex) {
    if (slot < 0 || slot >= slotCount() || slots_[slot].modelIndex == modelIndex) return;
    slots_[slot].modelIndex = modelIndex;
    slots_[slot].result.reset();
    emit slotsChanged();
    requestSlot(slot);
}

void ViewerSession::setSlotModelByPath(int slot, const QString& path) {
    for (int i = 0; i < backend_->modelCount(); ++i)
        if (QFileInfo(backend_->modelInfo(i).path) == QFileInfo(path)) return setSlotModel(slot, i);
    slotForPath_.insert(QFileInfo(path).absoluteFilePath(), slot);
}

void ViewerSession::setOverlayShown(int slot, bool shown) {
    if (slot < 0 || slot >= slotCount() || slots_[slot].overlayShown == shown) return;
    slots_[slot].overlayShown = shown;
    emit displayChanged();
}

void ViewerSession::setComparedSlots(int first, int second) {
    auto valid = [this](int s) { return s >= -1 && s < slotCount(); };
    if (!valid(first) || !valid(second) || compared_ == std::array<int, 2>{first, second}) return;
    compared_ = {first, second};
    emit slotsChanged();
    updateDifference();
}

void ViewerSession::setCamRequest(const CamRequest& request) {
    if (request == camRequest_) return;
    camRequest_ = request;
    emit camRequestChanged();
    requestAnalyses();
}

void ViewerSession::setOverlayStyle(const OverlayStyle& style) {
    if (style == overlayStyle_) return;
    overlayStyle_ = style;
    emit displayChanged();
}

void ViewerSession::setCam3dSlot(int slot) {
    if (slot == cam3dSlot_ || slot < -1 || slot >= slotCount()) return;
    cam3dSlot_ = slot;
    emit displayChanged();
}

void ViewerSession::setTransferPreset(const QString& name) {
    if (name == transferPreset_) return;
    transferPreset_ = name;
    emit displayChanged();
}

void ViewerSession::onModelsChanged() {
    // Models new since the last time go where setSlotModelByPath asked, else
    // into the first empty slot, else into a new one: loading a third
    // bundle adds a third column to the comparison.
    const int count = backend_->modelCount();
    for (int model = knownModels_; model < count; ++model) {
        const QString path = QFileInfo(backend_->modelInfo(model).path).absoluteFilePath();
        if (slotForPath_.contains(path)) {
            const int slot = slotForPath_.take(path);
            if (slot < slotCount()) {
                slots_[slot].modelIndex = model;
                continue;
            }
        }
        auto empty = std::find_if(slots_.begin(), slots_.end(),
                                  [](const ComparisonSlot& s) { return s.modelIndex < 0; });
        if (empty == slots_.end()) empty = slots_.insert(slots_.end(), ComparisonSlot());
        empty->modelIndex = model;
    }
    knownModels_ = std::max(knownModels_, count);
    emit slotsChanged();
    // Reloaded models (another device) answer again; cached answers come at once.
    requestAnalyses();
}

void ViewerSession::requestAnalyses() {
    for (int slot = 0; slot < slotCount(); ++slot) requestSlot(slot);
}

void ViewerSession::requestSlot(int slot) {
    const ComparisonSlot& s = slots_[slot];
    const ModelInfo model = backend_->modelInfo(s.modelIndex);
    if (model.name.isEmpty()) return setSlotState(slot, ComparisonSlot::State::Empty);
    if (!volume_) return setSlotState(slot, ComparisonSlot::State::NoCase);
    if (model.volumetric == volume_->is2D()) {
        const QString takes = model.volumetric ? tr("3D volumes") : tr("2D images");
        setSlotState(slot, ComparisonSlot::State::Unavailable, tr("takes %1").arg(takes));
        fail(tr("Model %1 (%2) takes %3 but the open image is %4; choose a matching model or "
                "image.")
                 .arg(slotLetter(slot), model.name, takes, volume_->is2D() ? tr("2D") : tr("3D")));
        return;
    }
    if (auto hit = backend_->cached(caseId_, s.modelIndex, camRequest_))
        return setSlotState(slot, ComparisonSlot::State::Ready, {}, hit);
    setSlotState(slot, ComparisonSlot::State::Computing);
    backend_->request(caseId_, volume_, s.modelIndex, camRequest_);
}

void ViewerSession::onResult(quint64 caseId, int modelIndex, const CamRequest& cam,
                             std::shared_ptr<const CaseAnalysis> result) {
    // An answer for a case or a CAM request no longer on screen stays in the
    // backend's cache and is found there when the user goes back.
    if (caseId != caseId_ || cam != camRequest_ || !result) return;
    for (int slot = 0; slot < slotCount(); ++slot)
        if (slots_[slot].modelIndex == modelIndex)
            setSlotState(slot, ComparisonSlot::State::Ready, {}, result);
}

void ViewerSession::onBackendActivity(bool busy) {
    if (busy) return;
    // The backend has finished everything it was given: a slot still waiting
    // will not be answered (its job failed, or was cancelled).
    for (int slot = 0; slot < slotCount(); ++slot)
        if (slots_[slot].state == ComparisonSlot::State::Computing)
            setSlotState(slot, ComparisonSlot::State::Unavailable,
                         tr("no answer (failed or cancelled)"));
}

void ViewerSession::setSlotState(int slot, ComparisonSlot::State state, const QString& note,
                                 std::shared_ptr<const CaseAnalysis> result) {
    ComparisonSlot& s = slots_[slot];
    if (s.state == state && s.note == note && s.result == result) return;
    s.state = state;
    s.note = note;
    s.result = std::move(result);
    emit slotUpdated(slot);
    if (slot == compared_[0] || slot == compared_[1]) updateDifference();
    if (s.overlayShown || slot == cam3dSlot_) emit displayChanged();
}

void ViewerSession::updateDifference() {
    auto camOf = [this](int slot) -> const Volume* {
        if (slot < 0 || slot >= slotCount() || !slots_[slot].result) return nullptr;
        return slots_[slot].result->cam.get();
    };
    const std::array<const Volume*, 2> cams{camOf(compared_[0]), camOf(compared_[1])};
    // Recomputed only when a CAM changed, not on every state change.
    if (cams != differenceOf_) {
        differenceOf_ = cams;
        difference_ = cams[0] && cams[1] ? camDifference(*cams[0], *cams[1]) : nullptr;
    }
    emit comparisonChanged();
}

QString ViewerSession::differenceNote() const {
    if (difference_) return {};
    if (!volume_) return tr("No image open.");
    auto chosen = [this](int s) {
        return s >= 0 && s < slotCount() && slots_[s].state != ComparisonSlot::State::Empty;
    };
    if (!chosen(compared_[0]) || !chosen(compared_[1]))
        return tr("No difference map: choose two models to compare.");
    if (differenceOf_[0] && differenceOf_[1])
        return tr("No difference map: the two CAMs are on different grids.");
    return tr("No difference map yet: waiting for both models' CAMs.");
}

namespace {

QString classList(const CaseAnalysis& r) {
    QStringList names;
    for (const std::string& name : r.classNames) names << QString::fromStdString(name);
    return names.join(" / ");
}

}  // namespace

bool ViewerSession::comparedComparable() const {
    const auto& [a, b] = compared_;
    if (a < 0 || b < 0 || a >= slotCount() || b >= slotCount()) return false;
    const auto& ra = slots_[a].result;
    const auto& rb = slots_[b].result;
    // Class 1 of a lesion detector and class 1 of a tumour grader are not the
    // same answer: predictions compare only within one label space.
    return ra && rb && ra->classNames == rb->classNames;
}

bool ViewerSession::comparedAgree() const {
    if (!comparedComparable()) return false;
    return slots_[compared_[0]].result->predicted == slots_[compared_[1]].result->predicted;
}

QString ViewerSession::agreementText() const {
    const auto& [a, b] = compared_;
    if (a < 0 || b < 0 || a >= slotCount() || b >= slotCount()) return {};
    const auto& ra = slots_[a].result;
    const auto& rb = slots_[b].result;
    if (!ra || !rb) return {};
    if (!comparedComparable())
        return tr("NOT COMPARABLE: %1 and %2 answer different questions (%1: %3; %2: %4)")
            .arg(slotLetter(a), slotLetter(b), classList(*ra), classList(*rb));
    if (ra->predicted == rb->predicted)
        return tr("AGREE: both predict %1").arg(ra->predictedName());
    return tr("DISAGREE: %1 predicts %2, %3 predicts %4")
        .arg(slotLetter(a), ra->predictedName(), slotLetter(b), rb->predictedName());
}

QString ViewerSession::archiveName() const {
    return dataset_ ? QFileInfo(QString::fromStdString(dataset_->path())).fileName() : QString();
}

std::optional<int> ViewerSession::singleCaseLabel() const {
    if (!volume_) return std::nullopt;
    auto it = volume_->metadata.find("Labels");
    if (it == volume_->metadata.end()) return std::nullopt;
    bool single = false;
    const int label = QString::fromStdString(it->second).toInt(&single);
    // Multi-label cases ("0,1,1") have no one right class.
    return single ? std::optional<int>(label) : std::nullopt;
}

bool ViewerSession::trainedOnOpenArchive(int slot) const {
    const QString archive = archiveName();
    return !archive.isEmpty() && slot >= 0 && slot < slotCount() &&
           backend_->modelInfo(slots_[slot].modelIndex).trainedOn == archive;
}

QString ViewerSession::caseLabelText() const {
    if (!volume_) return {};
    auto it = volume_->metadata.find("Labels");
    if (it == volume_->metadata.end() || it->second.empty()) return {};
    // The label's name comes from a model trained on this very archive: its
    // class names are the archive's label meanings.
    if (const std::optional<int> label = singleCaseLabel())
        for (int slot = 0; slot < slotCount(); ++slot) {
            const auto& r = slots_[slot].result;
            if (r && trainedOnOpenArchive(slot) && *label >= 0 &&
                *label < static_cast<int>(r->classNames.size()))
                return tr("label %1 (%2)")
                    .arg(*label)
                    .arg(QString::fromStdString(r->classNames[size_t(*label)]));
        }
    return tr("labels: %1").arg(QString::fromStdString(it->second));
}

std::optional<bool> ViewerSession::slotCorrect(int slot) const {
    const std::optional<int> label = singleCaseLabel();
    if (!label || !trainedOnOpenArchive(slot) || !slots_[slot].result) return std::nullopt;
    return slots_[slot].result->predicted == *label;
}

QString ViewerSession::slotDataWarning(int slot) const {
    if (!dataset_ || slot < 0 || slot >= slotCount()) return {};
    const ModelInfo model = backend_->modelInfo(slots_[slot].modelIndex);
    if (model.trainedOn.isEmpty() || trainedOnOpenArchive(slot)) return {};
    return tr("trained on %1, not on %2").arg(model.trainedOn, archiveName());
}

// --- Work -----------------------------------------------------------------------

void ViewerSession::cancel() {
    const bool wasLoading = loading();
    activeLoads_.clear();  // loads in flight are dropped when they land
    if (wasLoading) emit loadsFinished();
    backend_->cancelPending();
    reportActivity(tr("cancelled"));
}

void ViewerSession::reportActivity(const QString& what) {
    const bool nowBusy = busy();
    emit activityChanged(nowBusy, nowBusy ? what : QString());
    if (!nowBusy) emit idle();
}

void ViewerSession::fail(const QString& message) {
    lastError_ = message;
    emit errorOccurred(message);
}

}  // namespace rllm
