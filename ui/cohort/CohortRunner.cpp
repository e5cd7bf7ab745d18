#include "ui/cohort/CohortRunner.h"

#include "core/CaseSource.h"
#include "core/Error.h"
#include "models/CohortRun.h"
#include "models/LoadedModel.h"

#include <QMetaObject>
#include <QPointer>
#include <QThreadPool>

#include <chrono>

namespace rllm {

CohortRunner::CohortRunner(QObject* parent) : QObject(parent) {}

CohortRunner::~CohortRunner() {
    cancel();
}

void CohortRunner::cancel() {
    if (cancel_) cancel_->store(true);
}

void CohortRunner::start(std::shared_ptr<LoadedModel> a, std::shared_ptr<LoadedModel> b,
                         std::shared_ptr<const CaseSource> cases, int bootstrapSamples) {
    cancel();
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    const quint64 generation = ++generation_;
    running_ = true;
    // The worker holds only shared state and a guarded pointer: a runner
    // destroyed mid-run (the window closed) is never touched.
    QPointer<CohortRunner> self(this);
    auto stop = cancel_;
    QThreadPool::globalInstance()->start([self, stop, generation, a, b, cases, bootstrapSamples] {
        auto deliver = [self, generation](auto onGuiThread) {
            QMetaObject::invokeMethod(
                self.data(),
                [self, generation, onGuiThread] {
                    if (self && self->generation_ == generation) onGuiThread(*self);
                },
                Qt::QueuedConnection);
        };
        CohortRunOptions options;
        options.statistics.bootstrapSamples = bootstrapSamples;
        options.cancel = stop.get();
        // A few progress events a second are enough for a bar.
        auto lastReport = std::chrono::steady_clock::now();
        options.progress = [&](int64_t done, int64_t total) {
            const auto now = std::chrono::steady_clock::now();
            if (done != total && now - lastReport < std::chrono::milliseconds(100)) return;
            lastReport = now;
            deliver([done, total](CohortRunner& r) { emit r.progress(done, total); });
        };
        try {
            auto result =
                std::make_shared<const CohortComparison>(compareModels(*a, *b, *cases, options));
            deliver([result](CohortRunner& r) {
                r.running_ = false;
                emit r.finished(result);
            });
        } catch (const Cancelled&) {
            deliver([](CohortRunner& r) {
                r.running_ = false;
                emit r.failed(tr("Cancelled."), true);
            });
        } catch (const std::exception& e) {
            const QString message = QString::fromStdString(e.what());
            deliver([message](CohortRunner& r) {
                r.running_ = false;
                emit r.failed(message, false);
            });
        }
    });
}

}  // namespace rllm
