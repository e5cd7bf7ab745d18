#pragma once
// The viewer's PACS work off the GUI thread: echo, query (matches delivered
// in batches as they arrive, so a table of thousands stays responsive),
// retrieve into the local cache by C-GET or C-MOVE (our storage SCP is
// started when a C-MOVE needs it) and store. Results come back as signals
// on the GUI thread; a PacsJobs destroyed mid-transfer cancels and waits
// (every network call is bounded by the node's time-out).

#include "core/pacs/Dimse.h"
#include "core/pacs/Retrieve.h"

#include <QObject>
#include <QString>
#include <QStringList>

#include <memory>
#include <vector>

class QThreadPool;

namespace rllm {

struct RetrievalReport {
    QString studyUid, seriesUid, folder, message;
    bool complete = false, fromCache = false, cancelled = false;
    int instances = 0;
};

class PacsJobs : public QObject {
    Q_OBJECT
  public:
    explicit PacsJobs(QObject* parent = nullptr);
    ~PacsJobs() override;

    // <user cache>/rllm/pacs (XDG_CACHE_HOME is honoured).
    static QString defaultCacheRoot();
    void setCache(const QString& root, qint64 limitBytes);
    QString cacheRoot() const;
    qint64 cacheLimitBytes() const;

    void echo(const PacsNode& node);
    // Returns the query's number, which its signals carry: a newer query
    // makes the older one's late batches easy to drop.
    // `dicomWeb`: QIDO-RS (study and series level) instead of C-FIND.
    quint64 find(const PacsNode& node, QueryLevel level, const QueryKeys& keys, int limit,
                 bool dicomWeb = false);
    void retrieve(const PacsNode& node, RetrieveMethod method, const RetrieveTarget& target,
                  int expectedInstances, const QString& description);
    void cancelRetrievals();
    void store(const PacsNode& node, const QStringList& files);
    // Jobs started and not yet finished.
    int pending() const { return pending_; }

  signals:
    void echoFinished(bool ok, const QString& message);
    void matchesArrived(quint64 query, const std::vector<rllm::QueryMatch>& matches);
    void findFinished(quint64 query, bool truncated, const QString& error);
    void retrieveProgress(const QString& seriesUid, int done, int total);
    void retrieveFinished(const rllm::RetrievalReport& report);
    void storeFinished(bool complete, int sent, const QString& message);

  private:
    template <typename Work>
    void run(Work work);
    struct Shared;
    std::shared_ptr<Shared> shared_;
    std::unique_ptr<QThreadPool> pool_;
    quint64 queries_ = 0;
    int pending_ = 0;
};

}  // namespace rllm
