#pragma once
// Runs the models off the GUI thread: loads bundles, and computes each case's
// prediction, CAM and faithfulness scores in a worker thread, one job at a
// time, delivering results back on the GUI thread. Results are cached per
// case, model, CAM method, layer and target, so switching back and forth
// recomputes nothing, and changing the method recomputes only that method;
// the cache is bounded by bytes (ui/AnalysisCache.h), least recently used
// results leaving first.
//
// The torch-free models/LoadedModel.h is the only door to the engine here.

#include "ui/AnalysisCache.h"

#include <QHash>
#include <QSet>
#include <QObject>
#include <QString>
#include <QThreadPool>

#include <atomic>
#include <memory>
#include <vector>

namespace rllm {

class LoadedModel;
class Volume;

// One model's answer for one case.
struct CaseAnalysis {
    std::vector<std::string> classNames;
    std::vector<float> probabilities;
    int predicted = 0;
    std::shared_ptr<const Volume> cam;         // on the case's grid, 0..1
    QString method, layer, device;             // the method and layer used ("auto" resolved)
    int shifts = 1;                            // sub-patch shifts per axis averaged into the CAM
    double deletionAuc = 0, insertionAuc = 0;  // of the CAM, 10 steps

    // "rollout at block:*:attn, 3 shifts per axis".
    QString camDescription() const {
        const QString base = QStringLiteral("%1 at %2").arg(method, layer);
        return shifts > 1 ? QStringLiteral("%1, %2 shifts per axis").arg(base).arg(shifts) : base;
    }
    double seconds = 0;  // wall time of the job
};

struct CamRequest {
    QString method = "auto";  // auto: the engine chooses by the model (models/Cam.h)
    QString layer;            // empty: the engine's default
};

class AnalysisService : public QObject {
    Q_OBJECT
  public:
    explicit AnalysisService(QObject* parent = nullptr);
    ~AnalysisService() override;

    // "auto", "cpu" or "cuda:N". Models already loaded are reloaded on it.
    void setDevice(const QString& device);
    QString device() const { return device_; }

    // Loads a bundle in the background; modelsChanged() or failed() follows.
    void loadModel(const QString& path);
    int modelCount() const { return static_cast<int>(models_.size()); }
    std::shared_ptr<LoadedModel> model(int index) const;
    QString modelName(int index) const;  // the file name
    int indexOf(const QString& path) const;

    // Asks for model `modelIndex`'s analysis of case `caseId`. A cached result
    // is delivered at once (through the event loop); otherwise a job is queued.
    void request(quint64 caseId, std::shared_ptr<const Volume> volume, int modelIndex,
                 const CamRequest& cam);
    std::shared_ptr<const CaseAnalysis> cached(quint64 caseId, int modelIndex,
                                               const CamRequest& cam) const;
    // The case on screen: queued jobs for other cases are skipped when their
    // turn comes (the user has moved on), so the current case is not kept
    // waiting behind them. 0: no preference.
    void setFocusCase(quint64 caseId) { focusCase_ = caseId; }
    // Drops queued jobs; a running job finishes but its result is ignored.
    void cancelPending();
    bool busy() const { return running_ > 0; }
    // Blocks until queued work is done (tests and shutdown).
    bool waitForIdle(int milliseconds);
    // How many bytes of results are kept for going back to a case.
    void setCacheLimit(qint64 bytes) { cache_.setMaxBytes(bytes); }
    const AnalysisCache& cache() const { return cache_; }

  signals:
    void modelsChanged();
    void resultReady(quint64 caseId, int modelIndex, std::shared_ptr<const CaseAnalysis> result);
    void failed(const QString& message);
    // busy: a job is queued or running; `what` says which.
    void activityChanged(bool busy, const QString& what);

  private:
    QString cacheKey(quint64 caseId, int modelIndex, const CamRequest& cam) const;
    void startJob(const QString& what, std::function<void()> work,
                  std::function<void()> onGuiThread);

    struct Model {
        QString path;
        std::shared_ptr<LoadedModel> loaded;
    };
    std::vector<Model> models_;
    AnalysisCache cache_;
    QSet<QString> pending_;
    QString device_ = "auto";
    QThreadPool pool_;
    std::atomic<int> generation_{0};
    std::atomic<quint64> focusCase_{0};
    int running_ = 0;
};

}  // namespace rllm

Q_DECLARE_METATYPE(std::shared_ptr<const rllm::CaseAnalysis>)
