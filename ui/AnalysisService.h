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
#include "ui/session/AnalysisBackend.h"

#include <QHash>
#include <QSet>
#include <QString>
#include <QThreadPool>

#include <atomic>
#include <memory>
#include <vector>

namespace rllm {

class LoadedModel;
class Volume;

class AnalysisService : public AnalysisBackend {
    Q_OBJECT
  public:
    explicit AnalysisService(QObject* parent = nullptr);
    ~AnalysisService() override;

    // "auto", "cpu" or "cuda:N". Models already loaded are reloaded on it.
    void setDevice(const QString& device);
    QString device() const { return device_; }

    // Loads a bundle in the background; modelsChanged() or failed() follows.
    void loadModel(const QString& path);
    int modelCount() const override { return static_cast<int>(models_.size()); }
    ModelInfo modelInfo(int index) const override;
    std::shared_ptr<LoadedModel> model(int index) const;
    QString modelName(int index) const;  // the file name
    int indexOf(const QString& path) const;

    // Asks for model `modelIndex`'s analysis of case `caseId`. A cached result
    // is delivered at once (through the event loop); otherwise a job is queued.
    void request(quint64 caseId, std::shared_ptr<const Volume> volume, int modelIndex,
                 const CamRequest& cam) override;
    std::shared_ptr<const CaseAnalysis> cached(quint64 caseId, int modelIndex,
                                               const CamRequest& cam) const override;
    // The case on screen: queued jobs for other cases are skipped when their
    // turn comes (the user has moved on), so the current case is not kept
    // waiting behind them. 0: no preference.
    void setFocusCase(quint64 caseId) override { focusCase_ = caseId; }
    // Drops queued jobs; a running job finishes but its result is ignored.
    void cancelPending() override;
    bool busy() const override { return running_ > 0; }
    void chooseAutoCam(int modelIndex, const QString& archive) override;
    void saveModelCopy(int modelIndex, const QString& path) override;
    // How many bytes of results are kept for going back to a case.
    void setCacheLimit(qint64 bytes) { cache_.setMaxBytes(bytes); }
    const AnalysisCache& cache() const { return cache_; }

  private:
    QString cacheKey(quint64 caseId, int modelIndex, const CamRequest& cam) const;
    // Runs `work` in the pool, then `onGuiThread`. A cancellable job is
    // skipped, and its answer dropped, once cancelPending has been called; a
    // job that is not (writing a file the user asked for) always runs and
    // answers.
    enum class Cancel { Allowed, Never };
    void startJob(const QString& what, std::function<void()> work,
                  std::function<void()> onGuiThread, Cancel cancel = Cancel::Allowed);

    struct Model {
        QString path;
        std::shared_ptr<LoadedModel> loaded;
        bool autoChosenHere = false;
    };
    std::vector<Model> models_;
    AnalysisCache cache_;
    QSet<QString> pending_;
    QString device_ = "auto";
    QThreadPool pool_;
    std::atomic<int> generation_{0};
    // Set by cancelPending: a running choice (minutes in 3D) stops at its next case.
    std::shared_ptr<std::atomic<bool>> stopChoice_ = std::make_shared<std::atomic<bool>>(false);
    QString choosingFor_;  // the bundle whose auto is being chosen; empty when none
    std::atomic<quint64> focusCase_{0};
    int running_ = 0;
};

}  // namespace rllm
