#include "ui/pacs/PacsJobs.h"

#include "core/pacs/SeriesCache.h"
#include "core/pacs/StorageServer.h"
#include "ui/pacs/DicomWebClient.h"

#include <QDir>
#include <QMetaObject>
#include <QPointer>
#include <QStandardPaths>
#include <QThreadPool>

#include <atomic>
#include <chrono>
#include <mutex>

namespace rllm {

// What the workers share with the object; it outlives both.
struct PacsJobs::Shared {
    std::mutex mutex;
    QString cacheRoot = PacsJobs::defaultCacheRoot();
    qint64 cacheLimit = qint64(5) << 30;
    // Bumped by cancelRetrievals(): a retrieve started under an older value stops.
    std::atomic<quint64> retrievalGeneration{0};
    std::unique_ptr<StorageServer> server;  // for C-MOVE, started on first need

    // Our storage SCP for `node`: restarted when the AE title or port changed.
    StorageServer& serverFor(const PacsNode& node, const QString& root) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!server || server->options().aeTitle != node.callingAeTitle ||
            server->options().port != node.storagePort ||
            server->options().folder != root.toStdString()) {
            server.reset();
            StorageServerOptions options;
            options.aeTitle = node.callingAeTitle;
            options.port = node.storagePort;
            options.folder = root.toStdString();
            options.timeoutSeconds = node.timeoutSeconds;
            auto fresh = std::make_unique<StorageServer>(options);
            fresh->start();
            server = std::move(fresh);
        }
        return *server;
    }
};

QString PacsJobs::defaultCacheRoot() {
    return QStandardPaths::writableLocation(QStandardPaths::GenericCacheLocation) + "/rllm/pacs";
}

PacsJobs::PacsJobs(QObject* parent)
    : QObject(parent), shared_(std::make_shared<Shared>()), pool_(std::make_unique<QThreadPool>()) {
    // A query may run beside a retrieve; retrieves queue behind each other.
    pool_->setMaxThreadCount(3);
}

PacsJobs::~PacsJobs() {
    ++shared_->retrievalGeneration;
    pool_->waitForDone();
}

void PacsJobs::setCache(const QString& root, qint64 limitBytes) {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->cacheRoot = root;
    shared_->cacheLimit = limitBytes;
}

QString PacsJobs::cacheRoot() const {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return shared_->cacheRoot;
}

qint64 PacsJobs::cacheLimitBytes() const {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return shared_->cacheLimit;
}

template <typename Work>
void PacsJobs::run(Work work) {
    ++pending_;
    QPointer<PacsJobs> self(this);
    // `deliver` runs a function on the GUI thread if this object still exists.
    auto deliver = [self](auto onGuiThread) {
        QMetaObject::invokeMethod(
            self.data(),
            [self, onGuiThread] {
                if (self) onGuiThread(*self);
            },
            Qt::QueuedConnection);
    };
    pool_->start([work, deliver, shared = shared_] {
        work(*shared, deliver);
        deliver([](PacsJobs& jobs) { --jobs.pending_; });
    });
}

void PacsJobs::echo(const PacsNode& node) {
    run([node](Shared&, auto deliver) {
        try {
            DimseClient(node).echo();
            const QString message =
                tr("%1 answered C-ECHO.").arg(QString::fromStdString(node.address()));
            deliver([message](PacsJobs& j) { emit j.echoFinished(true, message); });
        } catch (const std::exception& e) {
            const QString message = QString::fromStdString(e.what());
            deliver([message](PacsJobs& j) { emit j.echoFinished(false, message); });
        }
    });
}

quint64 PacsJobs::find(const PacsNode& node, QueryLevel level, const QueryKeys& keys, int limit,
                       bool dicomWeb) {
    const quint64 query = ++queries_;
    run([node, level, keys, limit, query, dicomWeb](Shared&, auto deliver) {
        std::vector<QueryMatch> batch;
        auto last = std::chrono::steady_clock::now();
        auto flush = [&] {
            if (batch.empty()) return;
            deliver([query, matches = std::move(batch)](PacsJobs& j) {
                emit j.matchesArrived(query, matches);
            });
            batch.clear();
            last = std::chrono::steady_clock::now();
        };
        try {
            QueryResult result;
            if (dicomWeb) {
                // QIDO-RS answers in one document: it is shown in batches all the same.
                const DicomWebClient web(node);
                result = level == QueryLevel::Series ? web.searchSeries(keys.studyInstanceUid)
                                                     : web.searchStudies(keys, limit);
                for (const QueryMatch& m : result.matches) {
                    batch.push_back(m);
                    if (batch.size() >= 200) flush();
                }
            } else {
                result = DimseClient(node).find(level, keys, limit, [&](const QueryMatch& m) {
                    batch.push_back(m);
                    // A few batches a second: the table grows while the archive answers.
                    if (batch.size() >= 200 ||
                        std::chrono::steady_clock::now() - last > std::chrono::milliseconds(150))
                        flush();
                });
            }
            flush();
            const bool truncated = result.truncated;
            deliver([query, truncated](PacsJobs& j) { emit j.findFinished(query, truncated, {}); });
        } catch (const std::exception& e) {
            flush();
            const QString message = QString::fromStdString(e.what());
            deliver([query, message](PacsJobs& j) { emit j.findFinished(query, false, message); });
        }
    });
    return query;
}

void PacsJobs::retrieve(const PacsNode& node, RetrieveMethod method, const RetrieveTarget& target,
                        int expectedInstances, const QString& description) {
    const quint64 generation = shared_->retrievalGeneration;
    run([node, method, target, expectedInstances, description, generation](Shared& shared,
                                                                           auto deliver) {
        auto cancelled = [&] { return shared.retrievalGeneration != generation; };
        RetrievalReport report;
        report.studyUid = QString::fromStdString(target.studyInstanceUid);
        report.seriesUid = QString::fromStdString(target.seriesInstanceUid);
        if (cancelled()) {
            report.cancelled = true;
            report.message = tr("Cancelled before it started.");
            deliver([report](PacsJobs& j) { emit j.retrieveFinished(report); });
            return;
        }
        QString root;
        qint64 limit;
        {
            std::lock_guard<std::mutex> lock(shared.mutex);
            root = shared.cacheRoot;
            limit = shared.cacheLimit;
        }
        try {
            QDir().mkpath(root);
            SeriesCache cache(root.toStdString(), limit);
            const QString seriesUid = report.seriesUid;
            auto last = std::chrono::steady_clock::now();
            const TransferCallback progress = [&](const TransferProgress& p) {
                const auto now = std::chrono::steady_clock::now();
                if (now - last > std::chrono::milliseconds(100) || p.remaining == 0) {
                    last = now;
                    const int done = p.completed;
                    const int total = expectedInstances > 0
                                          ? expectedInstances
                                          : (p.remaining >= 0 ? p.completed + p.remaining : 0);
                    deliver([seriesUid, done, total](PacsJobs& j) {
                        emit j.retrieveProgress(seriesUid, done, total);
                    });
                }
                return !cancelled();
            };
            SeriesRetrieval r;
            if (method == RetrieveMethod::WadoRs) {
                const DicomWebClient web(node);
                r = retrieveIntoCache(
                    target, expectedInstances, description.toStdString(), cache,
                    [&](const std::string& folder, const std::string& quarantine,
                        const TransferCallback& report) {
                        return web.retrieve(target, folder, quarantine, report);
                    },
                    progress);
            } else {
                StorageServer* server =
                    method == RetrieveMethod::Move ? &shared.serverFor(node, root) : nullptr;
                r = retrieveSeries(DimseClient(node), method, target, expectedInstances,
                                   description.toStdString(), cache, server, progress);
            }
            report.folder = QString::fromStdString(r.folder);
            report.complete = r.complete;
            report.fromCache = r.fromCache;
            report.cancelled = r.transfer.cancelled;
            report.instances = r.instances;
            report.message = QString::fromStdString(r.message);
        } catch (const std::exception& e) {
            report.message = QString::fromStdString(e.what());
        }
        deliver([report](PacsJobs& j) { emit j.retrieveFinished(report); });
    });
}

void PacsJobs::cancelRetrievals() {
    ++shared_->retrievalGeneration;
}

void PacsJobs::store(const PacsNode& node, const QStringList& files) {
    std::vector<std::string> paths;
    for (const QString& f : files) paths.push_back(f.toStdString());
    run([node, paths](Shared&, auto deliver) {
        try {
            const TransferResult r = DimseClient(node).store(paths, {});
            const bool complete = r.complete;
            const int sent = r.progress.completed;
            const QString message = QString::fromStdString(r.message);
            deliver([complete, sent, message](PacsJobs& j) {
                emit j.storeFinished(complete, sent, message);
            });
        } catch (const std::exception& e) {
            const QString message = QString::fromStdString(e.what());
            deliver([message](PacsJobs& j) { emit j.storeFinished(false, 0, message); });
        }
    });
}

}  // namespace rllm
