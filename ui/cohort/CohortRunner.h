#pragma once
// Runs a cohort comparison (models/CohortRun.h) on a worker thread with
// progress and cancel, delivering the result on the GUI thread. One run at a
// time: starting another cancels the first, whose answer is then dropped.

#include <QObject>
#include <QString>

#include <atomic>
#include <memory>

namespace rllm {

class LoadedModel;
class CaseSource;
struct CohortComparison;

class CohortRunner : public QObject {
    Q_OBJECT
  public:
    explicit CohortRunner(QObject* parent = nullptr);
    ~CohortRunner() override;

    // Scores every case of `cases` with both models (shared with the viewer's
    // analyses: calls on one model are serialised) and compares them.
    void start(std::shared_ptr<LoadedModel> a, std::shared_ptr<LoadedModel> b,
               std::shared_ptr<const CaseSource> cases, int bootstrapSamples = 2000);
    void cancel();
    bool running() const { return running_; }

  signals:
    void progress(qint64 done, qint64 total);
    void finished(std::shared_ptr<const CohortComparison> comparison);
    // `message` says what went wrong; `cancelled` when the user stopped it.
    void failed(const QString& message, bool cancelled);

  private:
    std::shared_ptr<std::atomic<bool>> cancel_;
    quint64 generation_ = 0;
    bool running_ = false;
};

}  // namespace rllm
