#pragma once
// Our own storage SCP: where a PACS sends the objects of a C-MOVE. It
// listens on a thread of its own, accepts only the AE title it was given,
// checks every object before keeping it (UIDs present and well formed) and
// writes it to <folder>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm
// atomically. What it refuses goes to a quarantine folder with the reason.

#include <functional>
#include <memory>
#include <string>

namespace rllm {

struct StoredObject {
    std::string studyInstanceUid, seriesInstanceUid, sopInstanceUid;
    std::string path;  // empty when refused
    std::string refusal;
};

struct StorageServerOptions {
    std::string aeTitle = "RLLMVIEWER";
    int port = 11112;  // 0: a free port, chosen when it starts
    std::string folder;
    std::string quarantineFolder;  // empty: <folder>/quarantine
    int timeoutSeconds = 10;
};

class StorageServer {
  public:
    explicit StorageServer(StorageServerOptions options);
    ~StorageServer();  // stops
    StorageServer(const StorageServer&) = delete;
    StorageServer& operator=(const StorageServer&) = delete;

    // Opens the port and starts listening; throws PacsError when the port
    // cannot be opened (in use, privileged).
    void start();
    // Stops after the association in progress (at most about a second when idle).
    void stop();
    bool running() const;
    int port() const;  // the port listened on (chosen when the options said 0)

    const StorageServerOptions& options() const;

    // Called on the server's thread for every object received or refused.
    void setObserver(std::function<void(const StoredObject&)> observer);

    int storedCount() const;
    int refusedCount() const;

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

// A TCP port on 127.0.0.1 that nothing listens on right now.
int findFreePort();

}  // namespace rllm
