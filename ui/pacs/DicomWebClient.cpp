#include "ui/pacs/DicomWebClient.h"

#include "core/pacs/ReceivedObjects.h"

#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSslConfiguration>
#include <QTemporaryFile>
#include <QUrl>
#include <QUrlQuery>

#include <functional>

namespace rllm {

namespace {

QString q(const std::string& s) {
    return QString::fromStdString(s);
}

std::string where(const PacsNode& node) {
    return "DICOMweb service " + node.dicomWebUrl;
}

QNetworkRequest requestFor(const PacsNode& node, const QUrl& url, const QByteArray& accept) {
    QNetworkRequest request(url);
    request.setRawHeader("Accept", accept);
    if (!node.username.empty())
        request.setRawHeader(
            "Authorization",
            "Basic " + QByteArray::fromStdString(node.username + ":" + node.password).toBase64());
    // Qt's transfer time-out restarts whenever data arrives: it bounds silence, not size.
    request.setTransferTimeout(node.timeoutSeconds * 1000);
    if (url.scheme() == "https" && !node.verifyTlsPeer) {
        QSslConfiguration tls = request.sslConfiguration();
        tls.setPeerVerifyMode(QSslSocket::VerifyNone);
        request.setSslConfiguration(tls);
    }
    return request;
}

std::string noDicomWebAddress(const PacsNode& node) {
    return "PACS node '" + node.name + "' has no DICOMweb address: set its DICOMweb root (e.g. " +
           "http://host:8042/dicom-web) or use C-FIND / C-GET.";
}

QUrl serviceUrl(const PacsNode& node, const QString& path) {
    if (node.dicomWebUrl.empty()) throw PacsError(noDicomWebAddress(node));
    QString root = q(node.dicomWebUrl);
    while (root.endsWith('/')) root.chop(1);
    const QUrl url(root + path);
    if (!url.isValid() || (url.scheme() != "http" && url.scheme() != "https"))
        throw PacsError("'" + node.dicomWebUrl + "' is not an http(s) address");
    return url;
}

// Runs `reply` to its end in a local event loop; `onData` sees the bytes
// as they come and may abort. Throws PacsError for HTTP and network errors.
void runReply(const PacsNode& node, QNetworkReply* reply,
              const std::function<bool(QNetworkReply*)>& onData = {}) {
    QEventLoop loop;
    bool aborted = false;
    if (onData)
        QObject::connect(reply, &QNetworkReply::readyRead, [&] {
            if (!aborted && !onData(reply)) {
                aborted = true;
                reply->abort();
            }
        });
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    if (!reply->isFinished()) loop.exec();
    if (onData && !aborted && reply->bytesAvailable() > 0) onData(reply);
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (aborted) return;
    if (reply->error() == QNetworkReply::NoError) return;
    std::string message = where(node) + ": ";
    if (status == 401 || status == 403)
        message += "the server refused our credentials (HTTP " + std::to_string(status) +
                   "): check the node's user and password.";
    else if (reply->error() == QNetworkReply::OperationCanceledError ||
             reply->error() == QNetworkReply::TimeoutError)
        message += "no answer within the time-out (" + std::to_string(node.timeoutSeconds) + " s).";
    else if (reply->error() == QNetworkReply::SslHandshakeFailedError)
        message += "the TLS handshake failed (" + reply->errorString().toStdString() +
                   "). If the server's certificate is self-signed and you trust it, turn off "
                   "certificate checking for this node.";
    else if (status > 0)
        message +=
            "HTTP " + std::to_string(status) + " (" + reply->errorString().toStdString() + ")";
    else
        message += reply->errorString().toStdString();
    throw PacsError(message);
}

// One attribute of a DICOM JSON object as text: PN as its alphabetic
// form, several values joined with backslashes, numbers as written.
std::string jsonValue(const QJsonObject& object, const char* tag) {
    const QJsonArray values = object.value(tag).toObject().value("Value").toArray();
    QStringList parts;
    for (const QJsonValue& v : values) {
        if (v.isObject())
            parts << v.toObject().value("Alphabetic").toString();
        else if (v.isDouble())
            parts << QString::number(v.toDouble(), 'g', 15);
        else
            parts << v.toString();
    }
    return parts.join('\\').toStdString();
}

int jsonCount(const QJsonObject& object, const char* tag) {
    const std::string text = jsonValue(object, tag);
    bool ok = false;
    const int value = q(text).toInt(&ok);
    return ok ? value : -1;
}

QueryMatch matchFromJson(const QJsonObject& o, QueryLevel level) {
    QueryMatch m;
    m.level = level;
    m.patientName = jsonValue(o, "00100010");
    m.patientId = jsonValue(o, "00100020");
    m.patientBirthDate = jsonValue(o, "00100030");
    m.patientSex = jsonValue(o, "00100040");
    m.studyInstanceUid = jsonValue(o, "0020000D");
    m.studyDate = jsonValue(o, "00080020");
    m.studyTime = jsonValue(o, "00080030");
    m.studyDescription = jsonValue(o, "00081030");
    m.accessionNumber = jsonValue(o, "00080050");
    m.modalitiesInStudy = jsonValue(o, "00080061");
    m.seriesInstanceUid = jsonValue(o, "0020000E");
    m.seriesNumber = jsonValue(o, "00200011");
    m.seriesDescription = jsonValue(o, "0008103E");
    m.modality = jsonValue(o, "00080060");
    m.series = jsonCount(o, "00201206");
    m.instances = jsonCount(o, level == QueryLevel::Series ? "00201209" : "00201208");
    return m;
}

QueryResult search(const PacsNode& node, const QUrl& url, QueryLevel level, int maxMatches) {
    QNetworkAccessManager network;
    std::unique_ptr<QNetworkReply> reply(
        network.get(requestFor(node, url, "application/dicom+json")));
    runReply(node, reply.get());
    const QByteArray body = reply->readAll();
    QueryResult result;
    if (body.trimmed().isEmpty()) return result;  // 204 No Content: no match
    QJsonParseError error{};
    const QJsonDocument document = QJsonDocument::fromJson(body, &error);
    if (!document.isArray())
        throw PacsError(where(node) +
                        " answered the search with something other than DICOM JSON (" +
                        error.errorString().toStdString() + ")");
    for (const QJsonValue& v : document.array()) {
        if (static_cast<int>(result.matches.size()) >= maxMatches) {
            result.truncated = true;
            break;
        }
        result.matches.push_back(matchFromJson(v.toObject(), level));
    }
    return result;
}

}  // namespace

DicomWebClient::DicomWebClient(PacsNode node) : node_(std::move(node)) {}

QueryResult DicomWebClient::searchStudies(const QueryKeys& keys, int maxMatches) const {
    QUrl url = serviceUrl(node_, "/studies");
    QUrlQuery query;
    auto add = [&](const char* key, const std::string& value) {
        if (!value.empty()) query.addQueryItem(key, q(value));
    };
    add("PatientName", keys.patientName);
    add("PatientID", keys.patientId);
    if (!keys.studyDateFrom.empty() || !keys.studyDateTo.empty())
        add("StudyDate", keys.studyDateFrom + "-" + keys.studyDateTo);
    add("ModalitiesInStudy", keys.modality);
    add("AccessionNumber", keys.accessionNumber);
    add("StudyInstanceUID", keys.studyInstanceUid);
    // One more than wanted: its presence says that more matched.
    query.addQueryItem("limit", QString::number(maxMatches + 1));
    for (const char* field : {"StudyDescription", "ModalitiesInStudy", "NumberOfStudyRelatedSeries",
                              "NumberOfStudyRelatedInstances", "PatientBirthDate", "PatientSex"})
        query.addQueryItem("includefield", field);
    url.setQuery(query);
    return search(node_, url, QueryLevel::Study, maxMatches);
}

QueryResult DicomWebClient::searchSeries(const std::string& studyInstanceUid) const {
    if (!isValidUid(studyInstanceUid))
        throw PacsError("'" + studyInstanceUid + "' is not a study instance UID");
    QUrl url = serviceUrl(node_, "/studies/" + q(studyInstanceUid) + "/series");
    QUrlQuery query;
    for (const char* field :
         {"SeriesDescription", "SeriesNumber", "Modality", "NumberOfSeriesRelatedInstances"})
        query.addQueryItem("includefield", field);
    url.setQuery(query);
    QueryResult r = search(node_, url, QueryLevel::Series, 100000);
    for (QueryMatch& m : r.matches)
        if (m.studyInstanceUid.empty()) m.studyInstanceUid = studyInstanceUid;
    return r;
}

namespace {

// Splits a multipart/related body into its parts as bytes arrive.
class MultipartReader {
  public:
    explicit MultipartReader(QByteArray boundary) : delimiter_("--" + boundary) {}

    // Appends `data`; calls `onPart` for every part now complete. False once
    // `onPart` returned false.
    bool feed(const QByteArray& data, const std::function<bool(const QByteArray&)>& onPart) {
        buffer_ += data;
        for (;;) {
            if (!inPart_) {
                const int start = buffer_.indexOf(delimiter_);
                if (start < 0) return true;
                const int afterDelimiter = start + delimiter_.size();
                if (buffer_.size() < afterDelimiter + 2) return true;
                if (buffer_.mid(afterDelimiter, 2) == "--") {  // the closing delimiter
                    buffer_.clear();
                    finished_ = true;
                    return true;
                }
                const int headersEnd = buffer_.indexOf("\r\n\r\n", afterDelimiter);
                if (headersEnd < 0) return true;
                const QByteArray headers = buffer_.mid(afterDelimiter, headersEnd - afterDelimiter);
                length_ = -1;
                for (const QByteArray& line : headers.split('\n')) {
                    const QByteArray l = line.trimmed();
                    if (l.toLower().startsWith("content-length:"))
                        length_ = l.mid(15).trimmed().toLongLong();
                }
                buffer_.remove(0, headersEnd + 4);
                inPart_ = true;
            }
            qsizetype end;
            if (length_ >= 0) {
                if (buffer_.size() < length_) return true;
                end = length_;
            } else {
                end = buffer_.indexOf("\r\n" + delimiter_);
                if (end < 0) return true;
            }
            const QByteArray part = buffer_.left(end);
            buffer_.remove(0, end);
            inPart_ = false;
            ++parts_;
            if (!onPart(part)) return false;
        }
    }
    bool finished() const { return finished_; }
    int parts() const { return parts_; }

  private:
    QByteArray delimiter_, buffer_;
    bool inPart_ = false, finished_ = false;
    qint64 length_ = -1;
    int parts_ = 0;
};

QByteArray boundaryOf(const QByteArray& contentType) {
    for (const QByteArray& parameter : contentType.split(';')) {
        const QByteArray p = parameter.trimmed();
        if (p.toLower().startsWith("boundary=")) {
            QByteArray value = p.mid(9);
            if (value.startsWith('"') && value.endsWith('"'))
                value = value.mid(1, value.size() - 2);
            return value;
        }
    }
    return {};
}

}  // namespace

TransferResult DicomWebClient::retrieve(const RetrieveTarget& target, const std::string& folder,
                                        const std::string& quarantine,
                                        const TransferCallback& progress) const {
    if (!isValidUid(target.studyInstanceUid) || !isValidUid(target.seriesInstanceUid))
        throw PacsError("WADO-RS needs a study and a series instance UID");
    const QUrl url = serviceUrl(
        node_, "/studies/" + q(target.studyInstanceUid) + "/series/" + q(target.seriesInstanceUid));
    QNetworkAccessManager network;
    std::unique_ptr<QNetworkReply> reply(network.get(requestFor(
        node_, url, "multipart/related; type=\"application/dicom\"; transfer-syntax=*")));
    TransferResult result;
    std::unique_ptr<MultipartReader> reader;
    std::string problem;
    auto onPart = [&](const QByteArray& part) {
        // Each object goes to disk as it arrives, then is checked and moved into place.
        QTemporaryFile temporary(q(folder) + "/.wado-XXXXXX");
        temporary.setAutoRemove(false);
        if (!temporary.open() || temporary.write(part) != part.size() || !temporary.flush()) {
            problem = "could not write into " + folder;
            return false;
        }
        temporary.close();
        const Admission admitted =
            admitReceivedFile(temporary.fileName().toStdString(), target, folder, quarantine);
        if (admitted.path.empty()) {
            ++result.progress.failed;
        } else {
            ++result.progress.completed;
            result.files.push_back(admitted.path);
        }
        if (progress && !progress(result.progress)) {
            result.cancelled = true;
            return false;
        }
        return true;
    };
    QDir().mkpath(q(folder));
    try {
        runReply(node_, reply.get(), [&](QNetworkReply* r) {
            if (!reader) {
                const QByteArray boundary =
                    boundaryOf(r->header(QNetworkRequest::ContentTypeHeader).toString().toUtf8());
                if (boundary.isEmpty()) {
                    problem = "the answer is not multipart/related";
                    return false;
                }
                reader = std::make_unique<MultipartReader>(boundary);
            }
            return reader->feed(r->readAll(), onPart);
        });
    } catch (const PacsError& e) {
        result.message = std::string(e.what()) + " after " +
                         std::to_string(result.progress.completed) + " object(s).";
        return result;
    }
    if (result.cancelled) {
        result.message = "WADO-RS cancelled: " + std::to_string(result.progress.completed) +
                         " object(s) had arrived.";
    } else if (!problem.empty()) {
        result.message = where(node_) + ": " + problem + ".";
    } else if (!reader || !reader->finished()) {
        result.message = where(node_) + ": the answer ended before its closing boundary (" +
                         std::to_string(result.progress.completed) + " object(s) arrived).";
    } else if (result.progress.failed > 0) {
        result.message = std::to_string(result.progress.failed) +
                         " object(s) were refused and are in quarantine.";
    } else {
        result.complete = true;
    }
    return result;
}

}  // namespace rllm
