#include "core/pacs/Dimse.h"

#include "core/pacs/DcmtkSupport.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scu.h>
#include <dcmtk/dcmtls/tlslayer.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace fs = std::filesystem;

namespace rllm {

std::string queryLevelName(QueryLevel level) {
    switch (level) {
        case QueryLevel::Patient:
            return "PATIENT";
        case QueryLevel::Study:
            return "STUDY";
        case QueryLevel::Series:
            return "SERIES";
    }
    return "STUDY";
}

bool isValidUid(const std::string& uid) {
    if (uid.empty() || uid.size() > 64 || uid.front() == '.' || uid.back() == '.') return false;
    for (size_t i = 0; i < uid.size(); ++i) {
        const char c = uid[i];
        if (c == '.') {
            if (uid[i + 1] == '.') return false;
        } else if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

namespace {

const char* kQueryRootFind = UID_FINDStudyRootQueryRetrieveInformationModel;
const char* kPatientRootFind = UID_FINDPatientRootQueryRetrieveInformationModel;
const char* kStudyRootMove = UID_MOVEStudyRootQueryRetrieveInformationModel;
const char* kStudyRootGet = UID_GETStudyRootQueryRetrieveInformationModel;

OFList<OFString> uncompressedSyntaxes() {
    OFList<OFString> syntaxes;
    syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
    syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
    return syntaxes;
}

// What we accept when an archive sends us objects: uncompressed first, then
// the compressed syntaxes the viewer's reader decodes.
OFList<OFString> acceptedStorageSyntaxes() {
    OFList<OFString> syntaxes = uncompressedSyntaxes();
    for (const char* uid : {UID_JPEGProcess14SV1TransferSyntax, UID_JPEGProcess1TransferSyntax,
                            UID_JPEGLSLosslessTransferSyntax, UID_RLELosslessTransferSyntax,
                            UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax})
        syntaxes.push_back(uid);
    return syntaxes;
}

int number(DcmItem* item, const DcmTagKey& tag) {
    const std::string value = dicomValue(item, tag);
    if (value.empty()) return -1;
    try {
        return std::stoi(value);
    } catch (const std::exception&) {
        return -1;
    }
}

// DcmSCU with the node's addressing and time-outs, and the hooks this file
// needs: matches streamed out of C-FIND, progress out of C-GET / C-MOVE, and
// objects received during C-GET checked before they are written.
class Scu : public DcmSCU {
  public:
    explicit Scu(const PacsNode& node) : node_(node) {
        initDcmtk();
        setAETitle(node.callingAeTitle.c_str());
        setPeerAETitle(node.aeTitle.c_str());
        setPeerHostName(node.host.c_str());
        setPeerPort(static_cast<Uint16>(node.port));
        setConnectionTimeout(node.timeoutSeconds);
        setACSETimeout(static_cast<Uint32>(node.timeoutSeconds));
        setDIMSETimeout(static_cast<Uint32>(node.timeoutSeconds));
        setDIMSEBlockingMode(DIMSE_NONBLOCKING);
        setVerbosePCMode(OFFalse);
    }

    void connect() {
        if (std::string problem = nodeProblem(node_); !problem.empty())
            throw PacsError(describeNode(node_) + ": " + problem);
        OFCondition status = initNetwork();
        if (status.good() && node_.useTls) status = secure();
        if (status.good()) status = negotiateAssociation();
        if (status.bad()) throw PacsError(connectionFailure(node_, status));
    }

    // DICOM TLS on this association: BCP 195 ciphers, the archive's
    // certificate checked against the node's trusted certificates.
    OFCondition secure() {
        tls_ = std::make_unique<DcmTLSTransportLayer>(NET_REQUESTOR, nullptr, OFTrue);
        auto file = [&](const std::string& path, const char* what, OFCondition status) {
            if (status.bad())
                throw PacsError(describeNode(node_) + ": the " + what + " '" + path +
                                "' could not be used for TLS: " + status.text());
        };
        file("", "TLS profile", tls_->setTLSProfile(TSP_Profile_BCP195));
        file("", "TLS cipher list", tls_->activateCipherSuites());
        if (!node_.tlsTrustedCertificates.empty())
            file(node_.tlsTrustedCertificates, "trusted certificate file",
                 tls_->addTrustedCertificateFile(node_.tlsTrustedCertificates.c_str(),
                                                 DCF_Filetype_PEM));
        else
            tls_->addTrustedCertificateDir("/etc/ssl/certs", DCF_Filetype_PEM);
        if (!node_.tlsCertificate.empty()) {
            file(node_.tlsPrivateKey, "private key",
                 tls_->setPrivateKeyFile(node_.tlsPrivateKey.c_str(), DCF_Filetype_PEM));
            file(node_.tlsCertificate, "certificate",
                 tls_->setCertificateFile(node_.tlsCertificate.c_str(), DCF_Filetype_PEM));
            if (!tls_->checkPrivateKeyMatchesCertificate())
                throw PacsError(describeNode(node_) + ": the TLS private key '" +
                                node_.tlsPrivateKey + "' does not belong to the certificate '" +
                                node_.tlsCertificate + "'.");
        }
        tls_->setCertificateVerification(node_.verifyTlsPeer ? DCV_requireCertificate
                                                             : DCV_ignoreCertificate);
        return useSecureConnection(tls_.get());
    }

    T_ASC_PresentationContextID context(const char* abstractSyntax) {
        const T_ASC_PresentationContextID id = findAnyPresentationContextID(abstractSyntax, "");
        if (id == 0)
            throw PacsError(describeNode(node_) + " does not offer " +
                            std::string(dcmFindNameOfUID(abstractSyntax, abstractSyntax)) +
                            ": the archive's configuration does not allow it.");
        return id;
    }

    ~Scu() override {
        if (isConnected()) releaseAssociation();
        // The network refers to the TLS layer: both go before the layer does.
        freeNetwork();
    }

    // --- C-FIND ---
    std::function<void(DcmDataset*)> onFindMatch;
    Uint16 lastStatus = 0;
    bool cancelRequested = false;

    OFCondition handleFINDResponse(const T_ASC_PresentationContextID presID, QRResponse* response,
                                   OFBool& waitForNextResponse) override {
        const OFCondition status =
            DcmSCU::handleFINDResponse(presID, response, waitForNextResponse);
        lastStatus = response->m_status;
        if (DICOM_PENDING_STATUS(response->m_status) && response->m_dataset && onFindMatch)
            onFindMatch(response->m_dataset);
        return status;
    }

    // --- C-GET / C-MOVE ---
    TransferCallback onProgress;
    TransferProgress progress;
    bool cancelled = false;
    T_ASC_PresentationContextID retrievePresentation = 0;
    // C-GET: where objects go, what they must belong to.
    std::string folder, quarantine;
    RetrieveTarget target;
    std::vector<std::string> written;
    int refused = 0;

    void reportProgress() {
        if (onProgress && !cancelled && !onProgress(progress)) {
            cancelled = true;
            sendCANCELRequest(retrievePresentation);
        }
    }

    void countResponse(const RetrieveResponse* response) {
        lastStatus = response->m_status;
        progress.completed = std::max<int>(progress.completed, response->m_numberOfCompletedSubops);
        progress.failed = std::max<int>(progress.failed, response->m_numberOfFailedSubops);
        progress.warnings = std::max<int>(progress.warnings, response->m_numberOfWarningSubops);
        if (DICOM_PENDING_STATUS(response->m_status))
            progress.remaining = response->m_numberOfRemainingSubops;
        else
            progress.remaining = 0;
    }

    OFCondition handleMOVEResponse(const T_ASC_PresentationContextID presID,
                                   RetrieveResponse* response,
                                   OFBool& waitForNextResponse) override {
        const OFCondition status =
            DcmSCU::handleMOVEResponse(presID, response, waitForNextResponse);
        countResponse(response);
        reportProgress();
        return status;
    }

    OFCondition handleCGETResponse(const T_ASC_PresentationContextID presID,
                                   RetrieveResponse* response, OFBool& continueSession) override {
        const OFCondition status = DcmSCU::handleCGETResponse(presID, response, continueSession);
        countResponse(response);
        reportProgress();
        return status;
    }

    OFCondition handleSTORERequest(const T_ASC_PresentationContextID, DcmDataset* incoming,
                                   OFBool& continueSession, Uint16& storeStatus) override {
        std::unique_ptr<DcmDataset> dataset(incoming);
        continueSession = OFTrue;
        const std::string problem = checkReceived(dataset.get(), target);
        const std::string sop = dicomValue(dataset.get(), DCM_SOPInstanceUID);
        if (!problem.empty()) {
            ++refused;
            storeStatus = STATUS_STORE_Refused_SOPClassNotSupported;
            if (!quarantine.empty()) quarantineDataset(*dataset, quarantine, problem);
        } else {
            const std::string path = (fs::path(folder) / (sop + ".dcm")).string();
            std::string error;
            if (saveDatasetAtomically(*dataset, path, &error)) {
                written.push_back(path);
                storeStatus = STATUS_Success;
            } else {
                ++refused;
                storeStatus = STATUS_STORE_Refused_OutOfResources;
            }
        }
        if (onProgress && !cancelled) {
            TransferProgress local = progress;
            local.completed = static_cast<int>(written.size());
            local.failed = std::max(progress.failed, refused);
            if (local.remaining > 0) local.remaining = std::max(0, local.remaining - 1);
            if (!onProgress(local)) {
                cancelled = true;
                continueSession = OFFalse;
            }
        }
        return EC_Normal;
    }

  private:
    PacsNode node_;
    std::unique_ptr<DcmTLSTransportLayer> tls_;
};

void addQueryKeys(DcmDataset& query, QueryLevel level, const QueryKeys& keys) {
    query.putAndInsertString(DCM_QueryRetrieveLevel, queryLevelName(level).c_str());
    auto put = [&](const DcmTagKey& tag, const std::string& value) {
        query.putAndInsertString(tag, value.c_str());
    };
    put(DCM_PatientName, level == QueryLevel::Series ? "" : keys.patientName);
    put(DCM_PatientID, level == QueryLevel::Series ? "" : keys.patientId);
    if (level == QueryLevel::Patient) {
        put(DCM_PatientBirthDate, "");
        put(DCM_PatientSex, "");
        put(DCM_NumberOfPatientRelatedStudies, "");
        return;
    }
    put(DCM_StudyInstanceUID, keys.studyInstanceUid);
    if (level == QueryLevel::Study) {
        std::string range;
        if (!keys.studyDateFrom.empty() || !keys.studyDateTo.empty())
            range = keys.studyDateFrom + "-" + keys.studyDateTo;
        put(DCM_StudyDate, range);
        put(DCM_StudyTime, "");
        put(DCM_StudyDescription, "");
        put(DCM_AccessionNumber, keys.accessionNumber);
        put(DCM_ModalitiesInStudy, keys.modality);
        put(DCM_PatientBirthDate, "");
        put(DCM_PatientSex, "");
        put(DCM_NumberOfStudyRelatedSeries, "");
        put(DCM_NumberOfStudyRelatedInstances, "");
    } else {
        put(DCM_SeriesInstanceUID, "");
        put(DCM_SeriesNumber, "");
        put(DCM_SeriesDescription, "");
        put(DCM_Modality, keys.modality);
        put(DCM_NumberOfSeriesRelatedInstances, "");
    }
}

QueryMatch matchFrom(DcmDataset* d, QueryLevel level) {
    QueryMatch m;
    m.level = level;
    m.patientName = dicomValue(d, DCM_PatientName);
    m.patientId = dicomValue(d, DCM_PatientID);
    m.patientBirthDate = dicomValue(d, DCM_PatientBirthDate);
    m.patientSex = dicomValue(d, DCM_PatientSex);
    m.studyInstanceUid = dicomValue(d, DCM_StudyInstanceUID);
    m.studyDate = dicomValue(d, DCM_StudyDate);
    m.studyTime = dicomValue(d, DCM_StudyTime);
    m.studyDescription = dicomValue(d, DCM_StudyDescription);
    m.accessionNumber = dicomValue(d, DCM_AccessionNumber);
    m.modalitiesInStudy = dicomValue(d, DCM_ModalitiesInStudy);
    m.seriesInstanceUid = dicomValue(d, DCM_SeriesInstanceUID);
    m.seriesNumber = dicomValue(d, DCM_SeriesNumber);
    m.seriesDescription = dicomValue(d, DCM_SeriesDescription);
    m.modality = dicomValue(d, DCM_Modality);
    m.studies = number(d, DCM_NumberOfPatientRelatedStudies);
    m.series = number(d, DCM_NumberOfStudyRelatedSeries);
    m.instances = number(d, level == QueryLevel::Series ? DCM_NumberOfSeriesRelatedInstances
                                                        : DCM_NumberOfStudyRelatedInstances);
    return m;
}

void retrieveKeys(DcmDataset& keys, const RetrieveTarget& target) {
    if (!isValidUid(target.studyInstanceUid))
        throw PacsError("'" + target.studyInstanceUid + "' is not a study instance UID");
    if (!target.seriesInstanceUid.empty() && !isValidUid(target.seriesInstanceUid))
        throw PacsError("'" + target.seriesInstanceUid + "' is not a series instance UID");
    const bool series = !target.seriesInstanceUid.empty();
    keys.putAndInsertString(DCM_QueryRetrieveLevel, series ? "SERIES" : "STUDY");
    keys.putAndInsertString(DCM_StudyInstanceUID, target.studyInstanceUid.c_str());
    if (series) keys.putAndInsertString(DCM_SeriesInstanceUID, target.seriesInstanceUid.c_str());
}

std::string statusProblem(Uint16 status, const std::string& operation) {
    if (status == STATUS_Success) return {};
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%04X", status);
    std::string what = DU_cmoveStatusString(status);
    return operation + " ended with status " + hex + " (" + what + ")";
}

TransferResult finish(Scu& scu, const OFCondition& condition, const std::string& operation,
                      const PacsNode& node) {
    TransferResult result;
    result.progress = scu.progress;
    result.cancelled = scu.cancelled;
    result.files = scu.written;
    if (scu.cancelled) {
        result.message = operation + " cancelled: " + std::to_string(result.progress.completed) +
                         " object(s) had arrived.";
    } else if (condition.bad()) {
        result.message = describeNode(node) + ": " + operation + " broke off after " +
                         std::to_string(result.progress.completed) +
                         " object(s): " + condition.text() +
                         ". Retry when the archive answers again.";
    } else if (scu.lastStatus != STATUS_Success) {
        result.message = describeNode(node) + ": " + statusProblem(scu.lastStatus, operation) +
                         "; " + std::to_string(result.progress.failed) + " object(s) failed.";
    } else if (result.progress.failed > 0 || scu.refused > 0) {
        result.message = operation + ": " +
                         std::to_string(std::max(result.progress.failed, scu.refused)) +
                         " object(s) failed or were refused.";
    } else {
        result.complete = true;
    }
    return result;
}

}  // namespace

DimseClient::DimseClient(PacsNode node) : node_(std::move(node)) {}

void DimseClient::echo() const {
    Scu scu(node_);
    scu.addPresentationContext(UID_VerificationSOPClass, uncompressedSyntaxes());
    scu.connect();
    const OFCondition status = scu.sendECHORequest(0);
    if (status.bad())
        throw PacsError(describeNode(node_) +
                        " accepted the association but not C-ECHO: " + status.text());
}

QueryResult DimseClient::find(QueryLevel level, const QueryKeys& keys, int maxMatches,
                              const std::function<void(const QueryMatch&)>& onMatch) const {
    if (level == QueryLevel::Series && !isValidUid(keys.studyInstanceUid))
        throw PacsError("a series query needs the study instance UID of the study to list");
    const char* model = level == QueryLevel::Patient ? kPatientRootFind : kQueryRootFind;
    Scu scu(node_);
    scu.addPresentationContext(model, uncompressedSyntaxes());
    scu.connect();
    const T_ASC_PresentationContextID id = scu.context(model);
    DcmDataset query;
    addQueryKeys(query, level, keys);
    QueryResult result;
    scu.onFindMatch = [&](DcmDataset* d) {
        if (static_cast<int>(result.matches.size()) >= maxMatches) {
            // The archive may keep answering after our C-CANCEL: those are dropped.
            if (!scu.cancelRequested) {
                scu.cancelRequested = true;
                scu.sendCANCELRequest(id);
            }
            result.truncated = true;
            return;
        }
        result.matches.push_back(matchFrom(d, level));
        if (onMatch) onMatch(result.matches.back());
    };
    const OFCondition status = scu.sendFINDRequest(id, &query, nullptr);
    if (status.bad())
        throw PacsError(describeNode(node_) + ": the query broke off: " + status.text());
    if (scu.lastStatus != STATUS_Success && !DICOM_PENDING_STATUS(scu.lastStatus) &&
        scu.lastStatus != STATUS_FIND_Cancel_MatchingTerminatedDueToCancelRequest) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%04X", scu.lastStatus);
        throw PacsError(describeNode(node_) + " refused the query (status " + hex + ", " +
                        DU_cfindStatusString(scu.lastStatus) + ").");
    }
    return result;
}

TransferResult DimseClient::get(const RetrieveTarget& target, const std::string& folder,
                                const std::string& quarantineFolder,
                                const TransferCallback& progress) const {
    DcmDataset keys;
    retrieveKeys(keys, target);
    Scu scu(node_);
    scu.addPresentationContext(kStudyRootGet, uncompressedSyntaxes());
    // C-GET sends the objects back on this association: we must offer to be
    // the storage SCP for every kind of image the archive may hold.
    // DCMTK's list of the common ones, and what the viewer itself sends
    // back, within the 128 contexts an association may have.
    std::set<std::string> storageClasses;
    for (const char* uid :
         {UID_ParametricMapStorage, UID_SecondaryCaptureImageStorage, UID_EncapsulatedPDFStorage})
        storageClasses.insert(uid);
    for (int i = 0; i < numberOfDcmLongSCUStorageSOPClassUIDs && storageClasses.size() < 120; ++i)
        storageClasses.insert(dcmLongSCUStorageSOPClassUIDs[i]);
    for (const std::string& uid : storageClasses)
        scu.addPresentationContext(uid.c_str(), acceptedStorageSyntaxes(), ASC_SC_ROLE_SCP);
    scu.connect();
    scu.retrievePresentation = scu.context(kStudyRootGet);
    fs::create_directories(folder);
    scu.folder = folder;
    scu.quarantine = quarantineFolder;
    scu.target = target;
    scu.onProgress = progress;
    const OFCondition status = scu.sendCGETRequest(scu.retrievePresentation, &keys, nullptr);
    if (scu.cancelled) scu.abortAssociation();
    return finish(scu, status, "C-GET", node_);
}

TransferResult DimseClient::move(const RetrieveTarget& target,
                                 const std::string& destinationAeTitle,
                                 const TransferCallback& progress) const {
    DcmDataset keys;
    retrieveKeys(keys, target);
    Scu scu(node_);
    scu.addPresentationContext(kStudyRootMove, uncompressedSyntaxes());
    scu.connect();
    scu.retrievePresentation = scu.context(kStudyRootMove);
    scu.onProgress = progress;
    const OFCondition status =
        scu.sendMOVERequest(scu.retrievePresentation, destinationAeTitle.c_str(), &keys, nullptr);
    TransferResult result = finish(scu, status, "C-MOVE", node_);
    // Archives answer an unknown destination with A801 or, as Orthanc does,
    // with a plain failure: either way this is the likely cause.
    const bool failedOutright = status.good() && result.progress.completed == 0 &&
                                (scu.lastStatus == STATUS_MOVE_Failed_MoveDestinationUnknown ||
                                 (scu.lastStatus & 0xf000) == 0xc000);
    if (failedOutright)
        result.message += " Check that the archive knows the destination AE title '" +
                          destinationAeTitle +
                          "' (with this computer's address and storage port), or retrieve "
                          "with C-GET.";
    return result;
}

TransferResult DimseClient::store(const std::vector<std::string>& files,
                                  const TransferCallback& progress) const {
    // One presentation context per SOP class, proposing the file's own
    // transfer syntax and the uncompressed ones.
    struct FileInfo {
        std::string path, sopClass, transferSyntax;
    };
    std::vector<FileInfo> infos;
    TransferResult result;
    std::map<std::string, std::set<std::string>> syntaxesByClass;
    for (const std::string& path : files) {
        DcmFileFormat file;
        OFString sopClass, syntax;
        if (file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_metaOnly)
                .bad() ||
            file.getMetaInfo()->findAndGetOFString(DCM_MediaStorageSOPClassUID, sopClass).bad() ||
            file.getMetaInfo()->findAndGetOFString(DCM_TransferSyntaxUID, syntax).bad()) {
            ++result.progress.failed;
            result.message += "'" + path + "' is not a DICOM file with a meta header; skipped.\n";
            continue;
        }
        infos.push_back({path, sopClass.c_str(), syntax.c_str()});
        syntaxesByClass[sopClass.c_str()].insert(syntax.c_str());
    }
    if (infos.empty()) {
        result.message += "Nothing to send.";
        return result;
    }
    if (syntaxesByClass.size() > 120)
        throw PacsError("more than 120 kinds of DICOM object in one send: split it up");
    Scu scu(node_);
    for (const auto& [sopClass, syntaxes] : syntaxesByClass) {
        OFList<OFString> proposed;
        for (const std::string& s : syntaxes) proposed.push_back(s.c_str());
        for (const OFString& s : uncompressedSyntaxes())
            if (!syntaxes.count(s.c_str())) proposed.push_back(s);
        scu.addPresentationContext(sopClass.c_str(), proposed);
    }
    scu.connect();
    result.progress.remaining = static_cast<int>(infos.size());
    for (const FileInfo& info : infos) {
        T_ASC_PresentationContextID id =
            scu.findPresentationContextID(info.sopClass.c_str(), info.transferSyntax.c_str());
        if (id == 0) id = scu.findAnyPresentationContextID(info.sopClass.c_str(), "");
        Uint16 status = 0;
        OFCondition condition = id == 0
                                    ? NET_EC_NoAcceptablePresentationContexts
                                    : scu.sendSTORERequest(id, info.path.c_str(), nullptr, status);
        --result.progress.remaining;
        if (condition.good() && (status == STATUS_Success || (status & 0xf000) == 0xb000)) {
            ++result.progress.completed;
            if (status != STATUS_Success) ++result.progress.warnings;
            result.files.push_back(info.path);
        } else {
            ++result.progress.failed;
            char hex[16];
            std::snprintf(hex, sizeof hex, "0x%04X", status);
            result.message +=
                "'" + info.path + "' was not stored: " +
                (condition.bad() ? std::string(condition.text()) : "status " + std::string(hex)) +
                "\n";
            if (condition.bad() && !scu.isConnected()) break;
        }
        if (progress && !progress(result.progress)) {
            result.cancelled = true;
            break;
        }
    }
    result.complete = !result.cancelled && result.progress.failed == 0 &&
                      result.progress.completed == static_cast<int>(files.size());
    if (!result.message.empty() && result.message.back() == '\n') result.message.pop_back();
    return result;
}

}  // namespace rllm
