// The PACS client against a real archive: Orthanc on loopback, started by
// the test with its own ports and storage (tests/OrthancServer.h). Query,
// both kinds of retrieve, the cache, results sent back as DICOM and read
// back, and the faults a hospital network brings: a dead or unwilling
// archive, too many matches, a transfer cut off midway, a malformed object.

#include "OrthancServer.h"
#include "PacsTestData.h"
#include "TestData.h"

#include "core/BurnedInOverlay.h"
#include "core/io/Dicom.h"
#include "core/pacs/Dimse.h"
#include "core/pacs/PacsNode.h"
#include "core/pacs/ResultObjects.h"
#include "core/pacs/Retrieve.h"
#include "core/pacs/SeriesCache.h"
#include "core/pacs/StorageServer.h"
#ifdef RLLM_HAVE_DICOMWEB
#include "ui/pacs/DicomWebClient.h"
#endif

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

using namespace rllm;
using namespace rllm::test;
namespace fs = std::filesystem;

namespace {

std::string path(const QTemporaryDir& dir, const char* name) {
    return (fs::path(dir.path().toStdString()) / name).string();
}

// Every voxel of a retrieved copy equals what writeStudy wrote.
void verifySeriesContent(const std::string& folder, const StudySpec& spec) {
    const std::vector<DicomSeriesInfo> series = scanDicomFolder(folder);
    QCOMPARE(series.size(), size_t(1));
    const Volume v = readDicomSeries(series[0]);
    QCOMPARE(v.size()[0], int64_t(spec.columns));
    QCOMPARE(v.size()[1], int64_t(spec.rows));
    QCOMPARE(v.size()[2], int64_t(spec.slices));
    QCOMPARE(v.geometry().spacing[2], spec.sliceSpacing);
    for (int z = 0; z < spec.slices; ++z)
        for (int r = 0; r < spec.rows; ++r)
            for (int c = 0; c < spec.columns; ++c)
                if (v.at(c, r, z) != pacsTestPixel(z, r, c) - 1024.0f)
                    QFAIL(qPrintable(QString("voxel (%1,%2,%3) differs").arg(c).arg(r).arg(z)));
}

// dicom3tools' dciodvfy, an independent IOD checker: its "Error" lines,
// without the one it cannot decide (Laterality is required only for a
// paired body part, which a synthetic study does not say). Empty when it
// is not installed (then the caller says so).
QStringList iodErrors(const std::string& file, bool* checked) {
    QProcess dciodvfy;
    dciodvfy.start("dciodvfy", {QString::fromStdString(file)});
    *checked = dciodvfy.waitForFinished(60000) && dciodvfy.exitStatus() == QProcess::NormalExit;
    QStringList errors;
    const QString report = dciodvfy.readAllStandardError() + dciodvfy.readAllStandardOutput();
    for (const QString& line : report.split('\n'))
        if (line.startsWith("Error") && !line.contains("<Laterality>")) errors << line;
    return errors;
}

std::string dicomString(const std::string& file, const DcmTagKey& tag) {
    DcmFileFormat f;
    if (f.loadFile(file.c_str()).bad()) return "<unreadable>";
    OFString value;
    f.getDataset()->findAndGetOFStringArray(tag, value);
    return value.c_str();
}

}  // namespace

class TestPacs : public QObject {
    Q_OBJECT

    std::unique_ptr<OrthancServer> orthanc_;
    QTemporaryDir work_;
    StudySpec first_, second_, third_;

    void startOrthanc() {
        const QString problem = orthanc_->start();
        if (!problem.isEmpty()) QFAIL(qPrintable(problem));
    }

  private slots:
    void initTestCase() {
        if (orthancBinary().isEmpty())
            QSKIP("Orthanc is not installed: scripts/install-deps installs it (package orthanc)");
        orthanc_ = std::make_unique<OrthancServer>();
        startOrthanc();
        // Three studies: two patients, two dates, CT and MR.
        second_.patientName = "Other^Patient";
        second_.patientId = "PACS002";
        second_.studyUid = "1.2.826.0.1.3680043.9.7778.2";
        second_.seriesUid = "1.2.826.0.1.3680043.9.7778.2.1";
        second_.studyDate = "20240320";
        second_.accession = "ACC002";
        second_.modality = "MR";
        third_ = first_;
        third_.studyUid = "1.2.826.0.1.3680043.9.7778.3";
        third_.seriesUid = "1.2.826.0.1.3680043.9.7778.3.1";
        third_.studyDate = "20231105";
        third_.accession = "ACC003";
        third_.slices = 40;
        std::vector<std::string> files;
        int index = 0;
        for (const StudySpec* spec : {&first_, &second_, &third_}) {
            const auto written =
                writeStudy(path(work_, "source") + "/" + std::to_string(index++), *spec);
            files.insert(files.end(), written.begin(), written.end());
        }
        const TransferResult stored = DimseClient(orthanc_->node()).store(files, {});
        QVERIFY2(stored.complete, stored.message.c_str());
        QCOMPARE(stored.progress.completed, int(files.size()));
    }

    void echoAndTheWaysAnAssociationFails() {
        DimseClient(orthanc_->node()).echo();
        PacsNode wrongTitle = orthanc_->node();
        wrongTitle.aeTitle = "NOTORTHANC";
        try {
            DimseClient(wrongTitle).echo();
            QFAIL("a wrong called AE title was accepted");
        } catch (const PacsError& e) {
            QVERIFY2(QString(e.what()).contains("refused the association"), e.what());
            QVERIFY(QString(e.what()).contains("NOTORTHANC"));
        }
        PacsNode nobody = orthanc_->node();
        nobody.port = findFreePort();
        nobody.timeoutSeconds = 2;
        try {
            DimseClient(nobody).echo();
            QFAIL("a port nothing listens on answered");
        } catch (const PacsError& e) {
            QVERIFY2(QString(e.what()).contains("does not answer"), e.what());
        }
        QVERIFY_THROWS_EXCEPTION(Error, parseNodeAddress("ORTHANC@localhost"));
        QVERIFY_THROWS_EXCEPTION(Error, parseNodeAddress("ORTHANC@localhost:70000"));
        QVERIFY_THROWS_EXCEPTION(Error, parseNodeAddress("A_TITLE_LONGER_THAN_16@h:104"));
        const PacsNode parsed = parseNodeAddress("PACS1@10.0.0.5:11112");
        QCOMPARE(parsed.aeTitle, std::string("PACS1"));
        QCOMPARE(parsed.host, std::string("10.0.0.5"));
        QCOMPARE(parsed.port, 11112);
    }

    // A peer that takes the connection and then says nothing: every call
    // ends at the node's time-out instead of hanging.
    void aSilentPeerEndsAtTheTimeOut() {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        QVERIFY(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        QVERIFY(::listen(fd, 4) == 0);  // the kernel completes the handshake; nobody answers
        QVERIFY(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
        PacsNode silent = orthanc_->node();
        silent.port = ntohs(address.sin_port);
        silent.timeoutSeconds = 2;
        QElapsedTimer timer;
        timer.start();
        try {
            DimseClient(silent).echo();
            QFAIL("a silent peer answered");
        } catch (const PacsError& e) {
            QVERIFY2(QString(e.what()).contains("time-out is 2 s") ||
                         QString(e.what()).contains("does not answer"),
                     e.what());
        }
        // Bounded by the time-out (2 s), not by TCP's minutes; the margin is for a loaded machine.
        QVERIFY2(timer.elapsed() < 20000, qPrintable(QString::number(timer.elapsed())));
        ::close(fd);
    }

    void findAtPatientStudyAndSeriesLevel() {
        DimseClient client(orthanc_->node());
        QueryKeys byName;
        byName.patientName = "Pacs*";
        QCOMPARE(client.find(QueryLevel::Patient, byName).matches.size(), size_t(1));
        const QueryResult patients = client.find(QueryLevel::Patient, {});
        QCOMPARE(patients.matches.size(), size_t(2));

        QueryKeys studies;
        studies.patientId = "PACS001";
        QueryResult r = client.find(QueryLevel::Study, studies);
        QCOMPARE(r.matches.size(), size_t(2));
        QueryKeys range;
        range.studyDateFrom = "20240101";
        range.studyDateTo = "20241231";
        r = client.find(QueryLevel::Study, range);
        QCOMPARE(r.matches.size(), size_t(2));  // first and second, not the 2023 one
        QueryKeys mr;
        mr.modality = "MR";
        r = client.find(QueryLevel::Study, mr);
        QCOMPARE(r.matches.size(), size_t(1));
        QCOMPARE(r.matches[0].patientName, second_.patientName);
        QCOMPARE(r.matches[0].studyDate, second_.studyDate);
        QueryKeys accession;
        accession.accessionNumber = "ACC003";
        r = client.find(QueryLevel::Study, accession);
        QCOMPARE(r.matches.size(), size_t(1));
        QCOMPARE(r.matches[0].studyInstanceUid, third_.studyUid);
        QCOMPARE(r.matches[0].instances, third_.slices);
        QCOMPARE(r.matches[0].series, 1);

        QueryKeys series;
        series.studyInstanceUid = third_.studyUid;
        r = client.find(QueryLevel::Series, series);
        QCOMPARE(r.matches.size(), size_t(1));
        QCOMPARE(r.matches[0].seriesInstanceUid, third_.seriesUid);
        QCOMPARE(r.matches[0].seriesDescription, third_.seriesDescription);
        QCOMPARE(r.matches[0].modality, std::string("CT"));
        QCOMPARE(r.matches[0].instances, third_.slices);
        QVERIFY_THROWS_EXCEPTION(PacsError, client.find(QueryLevel::Series, {}));
    }

    // DICOM TLS (Orthanc's, with a certificate made here): store, find and
    // C-GET over it; a plain association, and one that does not trust the
    // archive's certificate, are refused with the reason.
    void dicomTlsProtectsTheAssociation() {
        const QString key = work_.path() + "/tls-key.pem", cert = work_.path() + "/tls-cert.pem";
        QProcess openssl;
        openssl.start("openssl", {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                                  "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"});
        if (!openssl.waitForFinished(60000) || openssl.exitCode() != 0)
            QSKIP("openssl could not make a test certificate");
        OrthancServer secure;
        secure.tlsCertificate = cert;
        secure.tlsPrivateKey = key;
        const QString problem = secure.start();
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        const PacsNode node = secure.node();
        QVERIFY(node.useTls);
        const auto files = writeStudy(path(work_, "tls-source"), first_);
        const TransferResult stored = DimseClient(node).store(files, {});
        QVERIFY2(stored.complete, stored.message.c_str());
        QueryKeys keys;
        keys.patientId = first_.patientId;
        QCOMPARE(DimseClient(node).find(QueryLevel::Study, keys).matches.size(), size_t(1));
        SeriesCache cache(path(work_, "cache-tls"), int64_t(1) << 40);
        const SeriesRetrieval got = retrieveSeries(DimseClient(node), RetrieveMethod::Get,
                                                   {first_.studyUid, first_.seriesUid},
                                                   first_.slices, "", cache, nullptr, {});
        QVERIFY2(got.complete, got.message.c_str());
        verifySeriesContent(got.folder, first_);

        PacsNode plain = node;
        plain.useTls = false;
        plain.timeoutSeconds = 3;
        QVERIFY_THROWS_EXCEPTION(PacsError, DimseClient(plain).echo());
        PacsNode untrusting = node;
        untrusting.tlsTrustedCertificates.clear();  // the system's CAs do not know it
        try {
            DimseClient(untrusting).echo();
            QFAIL("an untrusted certificate was accepted");
        } catch (const PacsError& e) {
            QVERIFY2(QString(e.what()).contains("TLS"), e.what());
        }
        untrusting.verifyTlsPeer = false;
        DimseClient(untrusting).echo();
    }

    void getAndMoveBringTheSameVoxelsIntoTheCache() {
        DimseClient client(orthanc_->node());
        SeriesCache cache(path(work_, "cache-get"), int64_t(1) << 40);
        SeriesRetrieval got =
            retrieveSeries(client, RetrieveMethod::Get, {first_.studyUid, first_.seriesUid},
                           first_.slices, "get", cache, nullptr, {});
        QVERIFY2(got.complete, got.message.c_str());
        QVERIFY(!got.fromCache);
        QCOMPARE(got.instances, first_.slices);
        verifySeriesContent(got.folder, first_);
        // Reopening does not pull again.
        const SeriesRetrieval again =
            retrieveSeries(client, RetrieveMethod::Get, {first_.studyUid, first_.seriesUid},
                           first_.slices, "get", cache, nullptr, {});
        QVERIFY(again.fromCache && again.complete);

        StorageServerOptions options;
        options.aeTitle = orthanc_->viewerAeTitle.toStdString();
        options.port = orthanc_->viewerPort;
        options.folder = path(work_, "cache-move");
        StorageServer server(options);
        server.start();
        SeriesCache moveCache(options.folder, int64_t(1) << 40);
        std::vector<TransferProgress> seen;
        const SeriesRetrieval moved = retrieveSeries(
            client, RetrieveMethod::Move, {second_.studyUid, second_.seriesUid}, second_.slices,
            "move", moveCache, &server, [&](const TransferProgress& p) {
                seen.push_back(p);
                return true;
            });
        QVERIFY2(moved.complete, moved.message.c_str());
        QCOMPARE(server.storedCount(), second_.slices);
        QVERIFY(!seen.empty());
        QCOMPARE(seen.back().completed, second_.slices);
        verifySeriesContent(moved.folder, second_);

        // A destination the archive does not know: said so, nothing marked whole.
        const TransferResult unknown =
            client.move({third_.studyUid, third_.seriesUid}, "UNKNOWNAE", {});
        QVERIFY(!unknown.complete);
        QVERIFY2(QString::fromStdString(unknown.message).contains("'UNKNOWNAE'"),
                 unknown.message.c_str());
    }

    void thousandsOfMatchesAreCappedAndSaySo() {
        // 1200 single-image studies: a query for all of them stops at the limit.
        const std::vector<std::string> files =
            writeManyStudies(path(work_, "many"), 1200, "1.2.826.0.1.3680043.9.7779");
        const TransferResult stored = DimseClient(orthanc_->node()).store(files, {});
        QVERIFY2(stored.complete, stored.message.c_str());
        QueryKeys many;
        many.patientId = "MANY*";
        int streamed = 0;
        const QueryResult r =
            DimseClient(orthanc_->node())
                .find(QueryLevel::Study, many, 500, [&](const QueryMatch&) { ++streamed; });
        QCOMPARE(r.matches.size(), size_t(500));
        QCOMPARE(streamed, 500);
        QVERIFY(r.truncated);
        const QueryResult all = DimseClient(orthanc_->node()).find(QueryLevel::Study, many, 5000);
        QCOMPARE(all.matches.size(), size_t(1200));
        QVERIFY(!all.truncated);
    }

    void theCacheEvictsTheLeastRecentlyUsed() {
        DimseClient client(orthanc_->node());
        SeriesCache cache(path(work_, "cache-small"), int64_t(1) << 40);
        for (const StudySpec* spec : {&first_, &second_})
            QVERIFY(retrieveSeries(client, RetrieveMethod::Get, {spec->studyUid, spec->seriesUid},
                                   spec->slices, "", cache, nullptr, {})
                        .complete);
        QVERIFY(cache.lookup(first_.studyUid, first_.seriesUid).bytes > 0);
        // The first was used longest ago: it goes when one more series does
        // not fit (a one-image study of the previous test).
        QThread::sleep(1);
        cache.touch(second_.studyUid, second_.seriesUid);
        SeriesCache limited(cache.root(), cache.totalBytes() + 100);
        const std::string study = "1.2.826.0.1.3680043.9.7779.1", series = study + ".1";
        QVERIFY(retrieveSeries(client, RetrieveMethod::Get, {study, series}, 1, "", limited,
                               nullptr, {})
                    .complete);
        QVERIFY(limited.totalBytes() <= limited.limitBytes());
        QVERIFY(!fs::exists(limited.seriesFolder(first_.studyUid, first_.seriesUid)));
        QVERIFY(limited.lookup(second_.studyUid, second_.seriesUid).complete);
        QVERIFY(limited.lookup(study, series).complete);
    }

    void aMoveCutOffMidwayIsIncompleteAndCanBeRetried() {
        StorageServerOptions options;
        options.aeTitle = orthanc_->viewerAeTitle.toStdString();
        options.port = orthanc_->viewerPort;
        options.folder = path(work_, "cache-cut");
        StorageServer server(options);
        // The archive dies after the fifth image has arrived.
        const qint64 pid = orthanc_->pid();
        std::atomic<int> arrived{0};
        server.setObserver([&](const StoredObject&) {
            if (++arrived == 5) ::kill(static_cast<pid_t>(pid), SIGKILL);
        });
        server.start();
        SeriesCache cache(options.folder, int64_t(1) << 40);
        PacsNode node = orthanc_->node();
        node.timeoutSeconds = 3;
        const SeriesRetrieval cut = retrieveSeries(DimseClient(node), RetrieveMethod::Move,
                                                   {third_.studyUid, third_.seriesUid},
                                                   third_.slices, "", cache, &server, {});
        QVERIFY(!cut.complete);
        QVERIFY(cut.instances < third_.slices);
        QVERIFY2(QString::fromStdString(cut.message).contains("retrieve it again"),
                 cut.message.c_str());
        const CachedSeries kept = cache.lookup(third_.studyUid, third_.seriesUid);
        QVERIFY(!kept.complete);
        QVERIFY(!kept.problem.empty());
        // The archive comes back (same storage): the retry pulls the series whole.
        server.setObserver({});
        orthanc_->kill();
        startOrthanc();
        const SeriesRetrieval retry = retrieveSeries(
            DimseClient(orthanc_->node()), RetrieveMethod::Move,
            {third_.studyUid, third_.seriesUid}, third_.slices, "", cache, &server, {});
        QVERIFY2(retry.complete, retry.message.c_str());
        QVERIFY(!retry.fromCache);
        verifySeriesContent(retry.folder, third_);
    }

    // Cancel from the progress callback: C-GET stops, what arrived stays
    // marked incomplete, and the next retrieve pulls the series whole.
    void aCancelledGetIsIncompleteAndRetriedWhole() {
        SeriesCache cache(path(work_, "cache-cancel"), int64_t(1) << 40);
        const RetrieveTarget target{third_.studyUid, third_.seriesUid};
        int calls = 0;
        const SeriesRetrieval cancelled = retrieveSeries(
            DimseClient(orthanc_->node()), RetrieveMethod::Get, target, third_.slices, "", cache,
            nullptr, [&](const TransferProgress&) { return ++calls < 3; });
        QVERIFY(!cancelled.complete);
        QVERIFY(cancelled.transfer.cancelled);
        QVERIFY(cancelled.instances < third_.slices);
        QVERIFY2(QString::fromStdString(cancelled.message).contains("cancelled"),
                 cancelled.message.c_str());
        QVERIFY(!cache.lookup(target.studyInstanceUid, target.seriesInstanceUid).complete);
        const SeriesRetrieval again =
            retrieveSeries(DimseClient(orthanc_->node()), RetrieveMethod::Get, target,
                           third_.slices, "", cache, nullptr, {});
        QVERIFY2(again.complete, again.message.c_str());
        QVERIFY(!again.fromCache);
        verifySeriesContent(again.folder, third_);
    }

    void theStorageScpRefusesMalformedObjectsAndKeepsRunning() {
        StorageServerOptions options;
        options.aeTitle = "RLLMSCP";
        options.port = 0;
        options.folder = path(work_, "incoming");
        StorageServer server(options);
        server.start();
        PacsNode self;
        self.aeTitle = "RLLMSCP";
        self.port = server.port();
        self.callingAeTitle = "PEER";
        self.timeoutSeconds = 5;
        // A study UID that would climb out of the folder, and one without a series UID.
        StudySpec evil = first_;
        evil.studyUid = "../../escape";
        const auto evilFiles = writeStudy(path(work_, "evil"), evil);
        StudySpec noSeries = first_;
        noSeries.seriesUid = "";
        const auto noSeriesFiles = writeStudy(path(work_, "noseries"), noSeries);
        std::vector<std::string> bad{evilFiles[0], noSeriesFiles[0]};
        const TransferResult refused = DimseClient(self).store(bad, {});
        QVERIFY(!refused.complete);
        QCOMPARE(refused.progress.failed, 2);
        QCOMPARE(server.refusedCount(), 2);
        QVERIFY(!fs::exists(fs::path(options.folder).parent_path() / "escape"));
        int quarantined = 0;
        for (const auto& entry : fs::directory_iterator(options.folder + "/quarantine"))
            quarantined += entry.path().extension() == ".txt";
        QCOMPARE(quarantined, 2);
        // Still serving: a good object goes through after the bad ones.
        const auto good = writeStudy(path(work_, "good"), first_);
        QVERIFY(DimseClient(self).store({good[0]}, {}).complete);
        QCOMPARE(server.storedCount(), 1);
        // Our SCP answers only to its own AE title.
        self.aeTitle = "SOMEONEELSE";
        QVERIFY_THROWS_EXCEPTION(PacsError, DimseClient(self).echo());
    }

    void resultsGoBackIntoTheSourceStudy() {
        // The first study's series, as the viewer would have read it.
        const std::string source = path(work_, "source") + "/0";
        const Volume image = readDicomSeries(scanDicomFolder(source)[0]);
        Volume cam(image.size());
        cam.geometry() = image.geometry();
        for (int64_t z = 0; z < image.size()[2]; ++z)
            for (int64_t y = 0; y < image.size()[1]; ++y)
                for (int64_t x = 0; x < image.size()[0]; ++x)
                    cam.at(x, y, z) = float(x) / float(image.size()[0] - 1);
        const Volume burned = burnInCam(image, cam, HeatColormap::Jet, defaultWindow(image));
        ResultSeriesInfo info;
        info.sourceFile = dicomSourceFileOf(image);
        info.description = "R-LLM CAM: test model";
        info.seriesNumber = 9001;
        const std::string outFolder = path(work_, "results");
        const std::vector<std::string> camFiles =
            writeSecondaryCaptureSeries(info, burned, outFolder + "/cam");
        QCOMPARE(camFiles.size(), size_t(first_.slices));
        // A small but well-formed one-page PDF (the viewer's report is a PDF of the same kind).
        const QString pdf = work_.path() + "/report.pdf";
        {
            QFile file(pdf);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write(
                "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
                "2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
                "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
                "trailer<</Root 1 0 R>>\n%%EOF\n");
        }
        info.description = "R-LLM comparison report";
        info.seriesNumber = 9100;
        writeEncapsulatedPdf(info, pdf.toStdString(), "comparison", outFolder + "/report.dcm");
        // The map's values themselves, as a Parametric Map.
        info.description = "R-LLM CAM values: test model";
        info.seriesNumber = 9051;
        writeParametricMap(info, cam, outFolder + "/map.dcm");
        std::vector<std::string> all = camFiles;
        all.push_back(outFolder + "/report.dcm");
        all.push_back(outFolder + "/map.dcm");
        const TransferResult sent = DimseClient(orthanc_->node()).store(all, {});
        QVERIFY2(sent.complete, sent.message.c_str());

        // Query the study back: two new series, both saying what they are.
        QueryKeys keys;
        keys.studyInstanceUid = first_.studyUid;
        const QueryResult series = DimseClient(orthanc_->node()).find(QueryLevel::Series, keys);
        QCOMPARE(series.matches.size(), size_t(4));
        std::string camSeries, pdfSeries, mapSeries;
        for (const QueryMatch& m : series.matches) {
            if (m.seriesInstanceUid == first_.seriesUid) continue;
            QVERIFY2(QString::fromStdString(m.seriesDescription).contains(kNotForDiagnosticUse),
                     m.seriesDescription.c_str());
            (m.modality == "DOC"        ? pdfSeries
             : m.seriesNumber == "9051" ? mapSeries
                                        : camSeries) = m.seriesInstanceUid;
        }
        QVERIFY(!camSeries.empty() && !pdfSeries.empty() && !mapSeries.empty());
        SeriesCache cache(path(work_, "cache-results"), int64_t(1) << 40);
        const SeriesRetrieval back =
            retrieveSeries(DimseClient(orthanc_->node()), RetrieveMethod::Get,
                           {first_.studyUid, camSeries}, first_.slices, "", cache, nullptr, {});
        QVERIFY2(back.complete, back.message.c_str());
        // Read back as the viewer reads it: same grid as the source, same RGB pixels.
        const Volume retrieved = readDicomSeries(scanDicomFolder(back.folder)[0]);
        QVERIFY(retrieved.geometry().sameGridAs(image.geometry()));
        QCOMPARE(retrieved.components(), 3);
        QCOMPARE(retrieved.voxels().size(), burned.voxels().size());
        for (size_t i = 0; i < burned.voxels().size(); ++i)
            if (retrieved.voxels()[i] != std::round(burned.voxels()[i]))
                QFAIL(qPrintable(QString("RGB value %1 differs").arg(i)));
        const std::string anyBack = scanDicomFolder(back.folder)[0].files[0];
        QCOMPARE(dicomString(anyBack, DCM_PatientName), first_.patientName);
        QCOMPARE(dicomString(anyBack, DCM_PatientID), first_.patientId);
        QCOMPARE(dicomString(anyBack, DCM_StudyInstanceUID), first_.studyUid);
        QCOMPARE(dicomString(anyBack, DCM_FrameOfReferenceUID), first_.studyUid + ".9");
        QVERIFY(dicomString(anyBack, DCM_SOPInstanceUID) !=
                dicomString(info.sourceFile, DCM_SOPInstanceUID));

        const SeriesRetrieval report =
            retrieveSeries(DimseClient(orthanc_->node()), RetrieveMethod::Get,
                           {first_.studyUid, pdfSeries}, 1, "", cache, nullptr, {});
        QVERIFY(report.complete);
        QCOMPARE(report.instances, 1);
        std::string reportPath;
        for (const auto& entry : fs::directory_iterator(report.folder))
            if (entry.path().extension() == ".dcm") reportPath = entry.path().string();
        DcmFileFormat reportFile;
        QVERIFY(reportFile.loadFile(reportPath.c_str()).good());
        const Uint8* bytes = nullptr;
        unsigned long length = 0;
        QVERIFY(reportFile.getDataset()
                    ->findAndGetUint8Array(DCM_EncapsulatedDocument, bytes, &length)
                    .good());
        QFile original(pdf);
        QVERIFY(original.open(QIODevice::ReadOnly));
        const QByteArray expected = original.readAll();
        QVERIFY(length >= unsigned(expected.size()) && length <= unsigned(expected.size()) + 1);
        QCOMPARE(QByteArray(reinterpret_cast<const char*>(bytes), expected.size()), expected);

        // All three kinds of object are valid by an independent checker.
        for (const std::string& f : {scanDicomFolder(back.folder)[0].files[0], reportPath}) {
            bool checked = false;
            const QStringList errors = iodErrors(f, &checked);
            if (!checked) QSKIP("dciodvfy (dicom3tools) is not installed: scripts/install-deps");
            QVERIFY2(errors.isEmpty(), qPrintable(errors.join('\n')));
        }

        // The Parametric Map: float values equal to the CAM's, frame by frame
        // on the source's positions, in its frame of reference.
        const SeriesRetrieval map =
            retrieveSeries(DimseClient(orthanc_->node()), RetrieveMethod::Get,
                           {first_.studyUid, mapSeries}, 1, "", cache, nullptr, {});
        QVERIFY2(map.complete, map.message.c_str());
        std::string mapPath;
        for (const auto& entry : fs::directory_iterator(map.folder))
            if (entry.path().extension() == ".dcm") mapPath = entry.path().string();
        DcmFileFormat mapFile;
        QVERIFY(mapFile.loadFile(mapPath.c_str()).good());
        DcmDataset* m = mapFile.getDataset();
        QCOMPARE(dicomString(mapPath, DCM_SOPClassUID), std::string(UID_ParametricMapStorage));
        QCOMPARE(dicomString(mapPath, DCM_NumberOfFrames), std::to_string(first_.slices));
        QCOMPARE(dicomString(mapPath, DCM_FrameOfReferenceUID), first_.studyUid + ".9");
        const Float32* values = nullptr;
        unsigned long count = 0;
        QVERIFY(m->findAndGetFloat32Array(DCM_FloatPixelData, values, &count).good());
        QCOMPARE(count, (unsigned long)cam.voxels().size());
        for (size_t i = 0; i < cam.voxels().size(); ++i) QCOMPARE(values[i], cam.voxels()[i]);
        bool checked = false;
        const QStringList mapErrors = iodErrors(mapPath, &checked);
        QVERIFY2(checked && mapErrors.isEmpty(), qPrintable(mapErrors.join('\n')));
        for (int z = 0; z < first_.slices; ++z) {
            DcmItem* frame = nullptr;
            DcmItem* plane = nullptr;
            QVERIFY(
                m->findAndGetSequenceItem(DCM_PerFrameFunctionalGroupsSequence, frame, z).good());
            QVERIFY(frame->findAndGetSequenceItem(DCM_PlanePositionSequence, plane, 0).good());
            const auto expected = image.geometry().indexToPhysical({0, 0, double(z)});
            for (int a = 0; a < 3; ++a) {
                Float64 value = 0;
                QVERIFY(plane->findAndGetFloat64(DCM_ImagePositionPatient, value, a).good());
                QVERIFY(std::abs(value - expected[a]) < 1e-4);
            }
        }
    }

#ifdef RLLM_HAVE_DICOMWEB
    // DICOMweb against Orthanc's plugin: QIDO-RS with the C-FIND keys, the
    // limit, WADO-RS multipart into the cache with the same voxels as C-GET,
    // and credentials that are wrong.
    void qidoAndWadoRsReachTheSameStudies() {
        const DicomWebClient web(orthanc_->node());
        QueryKeys byId;
        byId.patientId = "PACS001";
        QueryResult r = web.searchStudies(byId);
        QCOMPARE(r.matches.size(), size_t(2));
        QVERIFY(!r.truncated);
        for (const QueryMatch& m : r.matches) {
            QCOMPARE(m.patientName, first_.patientName);
            QVERIFY(m.studyInstanceUid == first_.studyUid || m.studyInstanceUid == third_.studyUid);
        }
        r = web.searchStudies(byId, 1);
        QCOMPARE(r.matches.size(), size_t(1));
        QVERIFY(r.truncated);
        QueryKeys mr;
        mr.modality = "MR";
        mr.studyDateFrom = "20240301";
        r = web.searchStudies(mr);
        QCOMPARE(r.matches.size(), size_t(1));
        QCOMPARE(r.matches[0].studyInstanceUid, second_.studyUid);
        const QueryResult series = web.searchSeries(third_.studyUid);
        QCOMPARE(series.matches.size(), size_t(1));
        QCOMPARE(series.matches[0].seriesInstanceUid, third_.seriesUid);
        QCOMPARE(series.matches[0].instances, third_.slices);
        QCOMPARE(series.matches[0].seriesDescription, third_.seriesDescription);

        SeriesCache cache(path(work_, "cache-wado"), int64_t(1) << 40);
        int reports = 0;
        const SeriesRetrieval got = retrieveIntoCache(
            {third_.studyUid, third_.seriesUid}, third_.slices, "wado", cache,
            [&](const std::string& folder, const std::string& quarantine,
                const TransferCallback& progress) {
                return web.retrieve({third_.studyUid, third_.seriesUid}, folder, quarantine,
                                    progress);
            },
            [&](const TransferProgress&) { return ++reports > 0; });
        QVERIFY2(got.complete, got.message.c_str());
        QCOMPARE(reports, third_.slices);
        verifySeriesContent(got.folder, third_);

        PacsNode wrong = orthanc_->node();
        wrong.password = "not-the-password";
        try {
            DicomWebClient(wrong).searchStudies({});
            QFAIL("wrong credentials were accepted");
        } catch (const PacsError& e) {
            QVERIFY2(QString(e.what()).contains("refused our credentials"), e.what());
        }
        PacsNode none = orthanc_->node();
        none.dicomWebUrl.clear();
        QVERIFY_THROWS_EXCEPTION(PacsError, DicomWebClient(none).searchStudies({}));
    }
#endif

    void theCommandLineSpeaksToTheSameArchive() {
        const PacsNode node = orthanc_->node();
        const QString address = QString::fromStdString(node.address());
        QProcess rllm;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("RLLM_PACS_NODES", work_.path() + "/nodes.json");
        rllm.setProcessEnvironment(env);
        auto run = [&](const QStringList& args) {
            rllm.start(binary("rllm"), args);
            rllm.waitForFinished(120000);
            return rllm.exitCode();
        };
        QCOMPARE(run({"pacs", "nodes", "--add", "test", address, "--aet", orthanc_->viewerAeTitle}),
                 0);
        QCOMPARE(run({"pacs", "echo", "test", "--json"}), 0);
        QCOMPARE(QJsonDocument::fromJson(rllm.readAllStandardOutput())["echo"].toString(),
                 QString("ok"));
        QCOMPARE(run({"pacs", "find", "test", "--modality", "MR", "--json"}), 0);
        const QJsonArray matches =
            QJsonDocument::fromJson(rllm.readAllStandardOutput())["matches"].toArray();
        QCOMPARE(matches.size(), 1);
        QCOMPARE(matches[0]["patientId"].toString(), QString::fromStdString(second_.patientId));
        const QString cache = work_.path() + "/cli-cache";
        QCOMPARE(run({"pacs", "get", "test", "--study", QString::fromStdString(second_.studyUid),
                      "--out", cache, "--json"}),
                 0);
        const QJsonObject got = QJsonDocument::fromJson(rllm.readAllStandardOutput()).object();
        QVERIFY(got["complete"].toBool());
        verifySeriesContent(got["series"][0]["folder"].toString().toStdString(), second_);
        // A cache folder sent back: its DICOM files go, its manifests do not.
        QCOMPARE(run({"pacs", "store", "test", cache, "--json"}), 0);
        const QJsonObject sent = QJsonDocument::fromJson(rllm.readAllStandardOutput()).object();
        QCOMPARE(sent["sent"].toInt(), second_.slices);
        QCOMPARE(sent["failed"].toInt(), 0);
        QCOMPARE(run({"pacs", "echo", "WRONGAE@127.0.0.1:" + QString::number(node.port)}), 1);
        QVERIFY(rllm.readAllStandardError().contains("refused the association"));
        QCOMPARE(run({"pacs", "echo", "no-such-node"}), 1);
        QVERIFY(rllm.readAllStandardError().contains("no saved PACS node"));
        QCOMPARE(run({"pacs", "find", "test", "--date", "2024"}), 2);
    }

    void cleanupTestCase() {
        orthanc_.reset();
    }
};

QTEST_MAIN(TestPacs)
#include "test_pacs.moc"
