#include "ui/AnalysisService.h"

#include "core/Volume.h"
#include "models/BundleDescription.h"
#include "models/CamResult.h"
#include "models/LoadedModel.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QMetaObject>
#include <QThread>

namespace rllm {

AnalysisService::AnalysisService(QObject* parent) : AnalysisBackend(parent) {
    qRegisterMetaType<std::shared_ptr<const CaseAnalysis>>();
    // One job at a time: LibTorch already spreads each one over the cores,
    // and two models computing at once would only fight over them.
    pool_.setMaxThreadCount(1);
}

AnalysisService::~AnalysisService() {
    cancelPending();
    pool_.waitForDone();
}

void AnalysisService::startJob(const QString& what, std::function<void()> work,
                               std::function<void()> onGuiThread, Cancel cancel) {
    ++running_;
    emit activityChanged(true, what);
    const int generation = generation_.load();
    const bool cancellable = cancel == Cancel::Allowed;
    pool_.start([this, what, generation, cancellable, work = std::move(work),
                 onGuiThread = std::move(onGuiThread)] {
        QString error;
        const bool cancelled = cancellable && generation != generation_.load();
        if (!cancelled) {
            try {
                work();
            } catch (const std::exception& e) {
                error = QString::fromStdString(e.what());
            }
        }
        QMetaObject::invokeMethod(
            this,
            [this, what, error, generation, cancellable, onGuiThread] {
                running_ = std::max(0, running_ - 1);
                if (!cancellable || generation == generation_.load()) {
                    if (!error.isEmpty())
                        emit failed(tr("%1: %2").arg(what, error));
                    else
                        onGuiThread();
                }
                emit activityChanged(running_ > 0, running_ > 0 ? tr("working") : QString());
            },
            Qt::QueuedConnection);
    });
}

void AnalysisService::setDevice(const QString& device) {
    if (device == device_) return;
    device_ = device;
    for (const Model& m : models_) loadModel(m.path);
}

void AnalysisService::loadModel(const QString& path) {
    auto loaded = std::make_shared<std::shared_ptr<LoadedModel>>();
    DeviceOptions options;
    options.device = device_.toStdString();
    // Leave one core to the GUI thread, so drawing never waits for LibTorch.
    options.threads = std::max(1, QThread::idealThreadCount() - 1);
    const QString name = QFileInfo(path).fileName();
    startJob(
        tr("loading %1").arg(name),
        [loaded, path, options] {
            *loaded = std::make_shared<LoadedModel>(path.toStdString(), options);
        },
        [this, loaded, path] {
            const int existing = indexOf(path);
            if (existing >= 0) {
                models_[existing].loaded = *loaded;
                models_[existing].autoChosenHere = false;  // read again from the bundle
            } else {
                models_.push_back({path, *loaded});
            }
            emit modelsChanged();
        });
}

std::shared_ptr<LoadedModel> AnalysisService::model(int index) const {
    if (index < 0 || index >= modelCount()) return nullptr;
    return models_[index].loaded;
}

ModelInfo AnalysisService::modelInfo(int index) const {
    ModelInfo info;
    const std::shared_ptr<LoadedModel> loaded = model(index);
    if (!loaded) return info;
    info.name = modelName(index);
    info.path = models_[index].path;
    info.boosted = loaded->boosted();
    info.volumetric = loaded->volumetric();
    info.device = QString::fromStdString(loaded->device());
    info.deviceNote = QString::fromStdString(loaded->deviceNote());
    info.description = std::shared_ptr<const BundleDescription>(loaded, &loaded->description());
    if (loaded->description().dataset)
        info.trainedOn = QString::fromStdString(loaded->description().dataset->file);
    info.autoChosenHere = models_[index].autoChosenHere;
    return info;
}

QString AnalysisService::modelName(int index) const {
    if (index < 0 || index >= modelCount()) return {};
    return QFileInfo(models_[index].path).fileName();
}

int AnalysisService::indexOf(const QString& path) const {
    for (int i = 0; i < modelCount(); ++i)
        if (QFileInfo(models_[i].path) == QFileInfo(path)) return i;
    return -1;
}

QString AnalysisService::cacheKey(quint64 caseId, int modelIndex, const CamRequest& cam) const {
    // `auto` is the model's recorded choice where it has one, and that can
    // change in a session (chooseAutoCam): the key says which map it meant.
    QString automatic;
    const std::shared_ptr<LoadedModel> loaded = model(modelIndex);
    if (cam.method == "auto" && loaded && loaded->description().explanation) {
        const ExplanationChoice& e = *loaded->description().explanation;
        automatic =
            QString::fromStdString(e.method + "@" + e.layer + "x" + std::to_string(e.shifts));
    }
    return QStringLiteral("%1|%2|%3|%4|%5")
        .arg(caseId)
        .arg(loaded ? models_[modelIndex].path : QString())
        .arg(cam.method, cam.layer, automatic);
}

std::shared_ptr<const CaseAnalysis> AnalysisService::cached(quint64 caseId, int modelIndex,
                                                            const CamRequest& cam) const {
    return cache_.find(cacheKey(caseId, modelIndex, cam));
}

void AnalysisService::request(quint64 caseId, std::shared_ptr<const Volume> volume, int modelIndex,
                              const CamRequest& cam) {
    std::shared_ptr<LoadedModel> loaded = model(modelIndex);
    if (!loaded || !volume) return;
    const QString key = cacheKey(caseId, modelIndex, cam);
    if (auto hit = cache_.find(key)) {
        QMetaObject::invokeMethod(
            this,
            [this, caseId, modelIndex, cam, hit] {
                emit resultReady(caseId, modelIndex, cam, hit);
            },
            Qt::QueuedConnection);
        return;
    }
    if (pending_.contains(key)) return;
    pending_.insert(key);
    auto result = std::make_shared<CaseAnalysis>();
    CamOptions options;
    options.method = cam.method.toStdString();
    options.layer = cam.layer.toStdString();
    options.faithfulnessSteps = 10;
    startJob(
        tr("%1 on the case (%2)").arg(modelName(modelIndex), cam.method),
        [this, caseId, loaded, volume, options, result] {
            const quint64 focus = focusCase_.load();
            if (focus != 0 && focus != caseId) return;  // skipped: no result
            QElapsedTimer clock;
            clock.start();
            CamResult r = loaded->cam(*volume, options);
            result->classNames = r.classNames;
            result->probabilities = r.probabilities;
            result->predicted =
                static_cast<int>(std::max_element(r.probabilities.begin(), r.probabilities.end()) -
                                 r.probabilities.begin());
            result->cam = std::make_shared<const Volume>(std::move(r.cam));
            result->method = QString::fromStdString(r.method);
            result->layer = QString::fromStdString(r.layer);
            result->shifts = r.shifts;
            result->device = QString::fromStdString(r.device);
            result->deletionAuc = r.deletionAuc;
            result->insertionAuc = r.insertionAuc;
            result->seconds = clock.elapsed() / 1000.0;
        },
        [this, key, caseId, modelIndex, cam, result] {
            pending_.remove(key);
            if (!result->cam) return;  // skipped while another case was on screen
            cache_.insert(key, result);
            emit resultReady(caseId, modelIndex, cam, result);
        });
}

void AnalysisService::chooseAutoCam(int modelIndex, const QString& archive) {
    std::shared_ptr<LoadedModel> loaded = model(modelIndex);
    if (!loaded) return;
    const QString name = modelName(modelIndex);
    if (!choosingFor_.isEmpty()) {
        emit autoCamChoiceEnded(modelIndex, tr("A choice for %1 is running; wait for it or "
                                               "cancel it first.")
                                                .arg(QFileInfo(choosingFor_).fileName()));
        return;
    }
    choosingFor_ = models_[modelIndex].path;
    const QString what = tr("choosing auto for %1 on %2").arg(name, QFileInfo(archive).fileName());
    CamChoiceOptions options;
    options.maxCases = kAutoCamCases;
    options.cancel = stopChoice_.get();
    auto keepStopFlag = stopChoice_;  // alive while the job runs
    options.progress = [this, what](int measured, int total) {
        QMetaObject::invokeMethod(
            this,
            [this, what, measured, total] {
                emit activityChanged(
                    true, tr("%1: %2 of %3 maps measured").arg(what).arg(measured).arg(total));
            },
            Qt::QueuedConnection);
    };
    auto choice = std::make_shared<std::optional<ExplanationChoice>>();
    auto error = std::make_shared<QString>();
    const QString path = models_[modelIndex].path;
    startJob(
        what,
        [loaded, archive, options, choice, error, keepStopFlag] {
            // Caught here, not by startJob: the choice must end (and say why)
            // for the panel that waits on it.
            try {
                *choice = loaded->chooseCam(archive.toStdString(), options);
            } catch (const std::exception& e) {
                *error = QString::fromStdString(e.what());
            }
        },
        [this, loaded, path, choice, error, name, what] {
            choosingFor_.clear();
            const int index = indexOf(path);
            if (index < 0) return;
            if (!error->isEmpty()) {
                emit failed(tr("%1: %2").arg(what, *error));
                emit autoCamChoiceEnded(index, tr("The choice failed: %1").arg(*error));
                return;
            }
            if (models_[index].loaded != loaded) {
                emit autoCamChoiceEnded(index, tr("%1 was loaded again before the choice "
                                                  "finished; auto is what its bundle says.")
                                                   .arg(name));
                return;
            }
            if (!choice->has_value()) {
                emit autoCamChoiceEnded(index,
                                        tr("no map of %1 passed its faithfulness checks on "
                                           "%2 validation cases; auto stays the default rule")
                                            .arg(name)
                                            .arg(kAutoCamCases));
                return;
            }
            loaded->setExplanation(*choice);
            models_[index].autoChosenHere = true;
            const ExplanationChoice& e = **choice;
            emit modelsChanged();
            emit autoCamChoiceEnded(index, tr("auto for %1 is now %2 at %3 (insertion - deletion "
                                              "%4, LeRF - MoRF %5 on %6 validation cases), for "
                                              "this session")
                                               .arg(name, QString::fromStdString(e.method),
                                                    QString::fromStdString(e.layer))
                                               .arg(e.insertion_minus_deletion, 0, 'f', 3)
                                               .arg(e.lerf_minus_morf, 0, 'f', 3)
                                               .arg(e.cases));
        });
}

void AnalysisService::saveModelCopy(int modelIndex, const QString& path) {
    std::shared_ptr<LoadedModel> loaded = model(modelIndex);
    if (!loaded) {  // the panel waits for an answer either way
        emit modelCopyEnded(modelIndex, false,
                            tr("No copy was written: no model is loaded there."));
        return;
    }
    const QString name = modelName(modelIndex);
    auto error = std::make_shared<QString>();
    startJob(
        tr("saving a copy of %1").arg(name),
        [loaded, path, error] {
            try {
                loaded->saveCopy(path.toStdString());
            } catch (const std::exception& e) {
                *error = QString::fromStdString(e.what());
            }
        },
        [this, modelIndex, loaded, path, error, name] {
            if (!error->isEmpty()) {
                emit modelCopyEnded(modelIndex, false,
                                    tr("No copy of %1 was written: %2").arg(name, *error));
                return;
            }
            const auto& chosen = loaded->description().explanation;
            emit modelCopyEnded(
                modelIndex, true,
                chosen ? tr("Saved %1 with auto = %2 at %3; open it to have that map as auto "
                            "in later sessions.")
                             .arg(path, QString::fromStdString(chosen->method),
                                  QString::fromStdString(chosen->layer))
                       : tr("Saved %1.").arg(path));
        },
        Cancel::Never);
}

void AnalysisService::cancelPending() {
    // A running choice stops at its next case, a queued one never starts;
    // either way it ends here, unreported by its job.
    stopChoice_->store(true);
    stopChoice_ = std::make_shared<std::atomic<bool>>(false);
    if (!choosingFor_.isEmpty()) {
        const int index = indexOf(choosingFor_);
        choosingFor_.clear();
        emit autoCamChoiceEnded(index, tr("The choice was cancelled; auto is unchanged."));
    }
    ++generation_;
    pending_.clear();
    // Queued jobs are left in the queue: each sees the new generation, skips
    // its work and reports, so running_ stays an exact count. (Clearing the
    // queue and recounting from the pool's active threads missed a job a
    // thread was just taking, and a later job's end then read as idle.)
    emit activityChanged(running_ > 0, running_ > 0 ? tr("cancelling") : QString());
}

}  // namespace rllm
