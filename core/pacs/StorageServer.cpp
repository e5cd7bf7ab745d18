#include "core/pacs/StorageServer.h"

#include "core/pacs/DcmtkSupport.h"
#include "core/pacs/Dimse.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmnet/scp.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

namespace fs = std::filesystem;

namespace rllm {

int findFreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw PacsError("could not open a socket to find a free port");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0)
        port = ntohs(address.sin_port);
    ::close(fd);
    if (port == 0) throw PacsError("no free TCP port on 127.0.0.1");
    return port;
}

namespace {

// Accepts storage (and verification) for the one AE title it serves.
class StorageScp : public DcmSCP {
  public:
    std::atomic<bool> stopRequested{false};
    std::function<void(const StoredObject&)> observer;
    std::mutex observerMutex;
    std::atomic<int> stored{0}, refused{0};
    std::string aeTitle, folder, quarantine;

  protected:
    OFBool checkCalledAETitleAccepted(const OFString& calledAE) override {
        return dicomTrim(calledAE.c_str()) == aeTitle;
    }
    OFBool stopAfterConnectionTimeout() override { return stopRequested.load(); }
    OFBool stopAfterCurrentAssociation() override { return stopRequested.load(); }

    OFCondition handleIncomingCommand(T_DIMSE_Message* message,
                                      const DcmPresentationContextInfo& info) override {
        if (message->CommandField != DIMSE_C_STORE_RQ)
            return DcmSCP::handleIncomingCommand(message, info);
        T_DIMSE_C_StoreRQ& request = message->msg.CStoreRQ;
        T_ASC_PresentationContextID id = info.presentationContextID;
        DcmDataset* received = nullptr;
        const OFCondition status = receiveSTORERequest(request, id, received);
        std::unique_ptr<DcmDataset> dataset(received);
        if (status.bad()) return status;
        StoredObject object;
        object.refusal = checkReceived(dataset.get(), RetrieveTarget{});
        object.sopInstanceUid = dicomValue(dataset.get(), DCM_SOPInstanceUID);
        object.studyInstanceUid = dicomValue(dataset.get(), DCM_StudyInstanceUID);
        object.seriesInstanceUid = dicomValue(dataset.get(), DCM_SeriesInstanceUID);
        if (object.refusal.empty() &&
            object.sopInstanceUid != dicomTrim(request.AffectedSOPInstanceUID))
            object.refusal = "its SOP instance UID differs from the one in the C-STORE request";
        Uint16 response = STATUS_Success;
        if (object.refusal.empty()) {
            const fs::path seriesFolder =
                fs::path(folder) / object.studyInstanceUid / object.seriesInstanceUid;
            std::error_code ec;
            fs::create_directories(seriesFolder, ec);
            const std::string path = (seriesFolder / (object.sopInstanceUid + ".dcm")).string();
            std::string error;
            if (saveDatasetAtomically(*dataset, path, &error)) {
                object.path = path;
                ++stored;
            } else {
                object.refusal = "could not be written: " + error;
                response = STATUS_STORE_Refused_OutOfResources;
                ++refused;
            }
        } else {
            quarantineDataset(*dataset, quarantine, object.refusal);
            response = STATUS_STORE_Error_CannotUnderstand;
            ++refused;
        }
        {
            std::lock_guard<std::mutex> lock(observerMutex);
            if (observer) observer(object);
        }
        return sendSTOREResponse(id, request, response);
    }
};

OFList<OFString> storageSyntaxes() {
    OFList<OFString> syntaxes;
    for (const char* uid :
         {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
          UID_JPEGProcess14SV1TransferSyntax, UID_JPEGProcess1TransferSyntax,
          UID_JPEGLSLosslessTransferSyntax, UID_RLELosslessTransferSyntax,
          UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax,
          UID_DeflatedExplicitVRLittleEndianTransferSyntax})
        syntaxes.push_back(uid);
    return syntaxes;
}

}  // namespace

class StorageServer::Impl {
  public:
    StorageServerOptions options;
    StorageScp scp;
    std::thread thread;
    std::atomic<bool> running{false};
};

StorageServer::StorageServer(StorageServerOptions options) : impl_(std::make_unique<Impl>()) {
    initDcmtk();
    if (options.quarantineFolder.empty())
        options.quarantineFolder = (fs::path(options.folder) / "quarantine").string();
    impl_->options = std::move(options);
}

StorageServer::~StorageServer() {
    stop();
}

void StorageServer::start() {
    if (impl_->running) return;
    StorageServerOptions& o = impl_->options;
    if (o.folder.empty()) throw PacsError("the storage SCP needs a folder to write into");
    if (o.port == 0) o.port = findFreePort();
    fs::create_directories(o.folder);
    StorageScp& scp = impl_->scp;
    scp.aeTitle = o.aeTitle;
    scp.folder = o.folder;
    scp.quarantine = o.quarantineFolder;
    scp.stopRequested = false;
    DcmSCPConfig& config = scp.getConfig();
    config.setAETitle(o.aeTitle.c_str());
    config.setPort(static_cast<Uint16>(o.port));
    config.setConnectionBlockingMode(DUL_NOBLOCK);
    config.setConnectionTimeout(1);  // how often the listener looks at stopRequested
    config.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    config.setDIMSETimeout(static_cast<Uint32>(o.timeoutSeconds));
    config.setACSETimeout(static_cast<Uint32>(o.timeoutSeconds));
    config.setHostLookupEnabled(OFFalse);
    OFList<OFString> verification;
    verification.push_back(UID_LittleEndianExplicitTransferSyntax);
    verification.push_back(UID_LittleEndianImplicitTransferSyntax);
    scp.addPresentationContext(UID_VerificationSOPClass, verification);
    const OFList<OFString> syntaxes = storageSyntaxes();
    for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i)
        scp.addPresentationContext(dcmAllStorageSOPClassUIDs[i], syntaxes);
    const OFCondition status = scp.openListenPort();
    if (status.bad())
        throw PacsError("the storage SCP could not listen on port " + std::to_string(o.port) +
                        ": " + status.text() +
                        ". Choose another port in the PACS settings, or stop what uses it.");
    impl_->running = true;
    impl_->thread = std::thread([this] {
        impl_->scp.acceptAssociations();
        impl_->running = false;
    });
}

void StorageServer::stop() {
    if (!impl_->thread.joinable()) return;
    impl_->scp.stopRequested = true;
    impl_->thread.join();
    impl_->running = false;
}

bool StorageServer::running() const {
    return impl_->running;
}
int StorageServer::port() const {
    return impl_->options.port;
}
const StorageServerOptions& StorageServer::options() const {
    return impl_->options;
}

void StorageServer::setObserver(std::function<void(const StoredObject&)> observer) {
    std::lock_guard<std::mutex> lock(impl_->scp.observerMutex);
    impl_->scp.observer = std::move(observer);
}

int StorageServer::storedCount() const {
    return impl_->scp.stored;
}
int StorageServer::refusedCount() const {
    return impl_->scp.refused;
}

}  // namespace rllm
