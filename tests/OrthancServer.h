#pragma once
// A real PACS for the tests: Orthanc (Debian's package) started on
// 127.0.0.1 with free ports, a temporary storage folder and a generated
// configuration that knows the test's own storage SCP. It never listens on
// anything but loopback, and it is stopped when the object goes.

#include "core/pacs/Dimse.h"
#include "core/pacs/StorageServer.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>

#include <csignal>
#include <memory>

namespace rllm::test {

inline QString orthancBinary() {
    for (const char* path : {"/usr/sbin/Orthanc", "/usr/bin/Orthanc"})
        if (QFile::exists(path)) return path;
    return {};
}

class OrthancServer {
  public:
    QString aeTitle = "ORTHANCTEST";
    QString viewerAeTitle = "RLLMTEST";
    int dicomPort = 0, httpPort = 0, viewerPort = 0;
    QString username = "rllm", password = "s3cret";
    // PEM files: when set, the DICOM port speaks TLS only.
    QString tlsCertificate, tlsPrivateKey;

    // Ports are chosen here; the storage folder lives as long as the object.
    OrthancServer() {
        dicomPort = findFreePort();
        httpPort = findFreePort();
        viewerPort = findFreePort();
    }
    ~OrthancServer() { stop(); }

    QString storageFolder() const { return dir_.path() + "/storage"; }

    // Starts Orthanc and waits (up to 30 s) until it answers C-ECHO.
    // Returns an empty string, or why it did not start.
    QString start() {
        const QString binary = orthancBinary();
        if (binary.isEmpty()) return "Orthanc is not installed (scripts/install-deps installs it)";
        QJsonObject config;
        config["Name"] = "rllm-test";
        config["StorageDirectory"] = storageFolder();
        config["IndexDirectory"] = storageFolder();
        config["DicomAet"] = aeTitle;
        config["DicomPort"] = dicomPort;
        config["HttpPort"] = httpPort;
        config["RemoteAccessAllowed"] = false;  // loopback only
        config["DicomCheckCalledAet"] = true;
        config["AuthenticationEnabled"] = true;
        config["RegisteredUsers"] = QJsonObject{{username, password}};
        config["DicomModalities"] =
            QJsonObject{{"viewer", QJsonArray{viewerAeTitle, "127.0.0.1", viewerPort}}};
        // Answers to C-FIND are not capped by Orthanc: the client's limit is what is tested.
        config["LimitFindResults"] = 0;
        config["LimitFindInstances"] = 0;
        config["DicomAssociationCloseDelay"] = 0;
        config["DicomScuTimeout"] = 5;
        config["StorageCompression"] = false;
        config["SyncStorageArea"] = false;  // tests need no durability
        config["Plugins"] = QJsonArray{"/usr/share/orthanc/plugins/libOrthancDicomWeb.so"};
        config["DicomWeb"] = QJsonObject{{"Enable", true}, {"Root", "/dicom-web/"}};
        if (!tlsCertificate.isEmpty()) {
            config["DicomTlsEnabled"] = true;
            config["DicomTlsCertificate"] = tlsCertificate;
            config["DicomTlsPrivateKey"] = tlsPrivateKey;
            config["DicomTlsTrustedCertificates"] = tlsCertificate;
            config["DicomTlsRemoteCertificateRequired"] = false;
        }
        QFile file(dir_.path() + "/orthanc.json");
        if (!file.open(QIODevice::WriteOnly)) return "cannot write Orthanc's configuration";
        file.write(QJsonDocument(config).toJson());
        file.close();
        QDir().mkpath(storageFolder());
        process_ = std::make_unique<QProcess>();
        process_->setProcessChannelMode(QProcess::MergedChannels);
        // Orthanc's DCMTK keeps Nagle's algorithm on unless told (see core/pacs/DcmtkSupport.cpp).
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert("TCP_NODELAY", "1");
        process_->setProcessEnvironment(environment);
        process_->setStandardOutputFile(dir_.path() + "/orthanc.log");
        process_->start(binary, {dir_.path() + "/orthanc.json"});
        if (!process_->waitForStarted(10000)) return "Orthanc did not start";
        QElapsedTimer timer;
        timer.start();
        while (timer.elapsed() < 30000) {
            if (process_->state() != QProcess::Running)
                return "Orthanc exited: " + log().right(2000);
            try {
                DimseClient(node()).echo();
                return {};
            } catch (const PacsError&) {
                QThread::msleep(100);
            }
        }
        return "Orthanc did not answer C-ECHO within 30 s: " + log().right(2000);
    }

    // SIGKILL: the archive dies in the middle of whatever it does.
    void kill() {
        if (process_ && process_->state() == QProcess::Running) {
            ::kill(static_cast<pid_t>(process_->processId()), SIGKILL);
            process_->waitForFinished(10000);
        }
    }
    qint64 pid() const { return process_ ? process_->processId() : 0; }

    void stop() {
        if (process_ && process_->state() == QProcess::Running) {
            process_->terminate();
            if (!process_->waitForFinished(15000)) process_->kill();
            process_->waitForFinished(5000);
        }
        process_.reset();
    }

    QString log() const {
        QFile file(dir_.path() + "/orthanc.log");
        return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()) : QString();
    }

    PacsNode node() const {
        PacsNode n;
        n.name = "orthanc-test";
        n.aeTitle = aeTitle.toStdString();
        n.host = "127.0.0.1";
        n.port = dicomPort;
        n.callingAeTitle = viewerAeTitle.toStdString();
        n.storagePort = viewerPort;
        n.timeoutSeconds = 10;
        n.useTls = !tlsCertificate.isEmpty();
        n.tlsTrustedCertificates = tlsCertificate.toStdString();
        n.dicomWebUrl = "http://127.0.0.1:" + std::to_string(httpPort) + "/dicom-web";
        n.username = username.toStdString();
        n.password = password.toStdString();
        return n;
    }

  private:
    QTemporaryDir dir_;
    std::unique_ptr<QProcess> process_;
};

}  // namespace rllm::test
