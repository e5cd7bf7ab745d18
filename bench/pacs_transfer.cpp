// pacs-transfer: images per second retrieving one CT series (512 x 512 x 300
// by default, generated here) from a local Orthanc, by our C-GET, C-MOVE
// and WADO-RS, next to DCMTK's getscu and movescu (and curl for WADO-RS) on
// the same series in the same run. Also C-STORE of the series (ours against
// storescu).
//
//   build/bin/pacs-transfer [--slices 300] [--size 512] [--repeats 3]
//
// Every figure is the median of --repeats runs, each into a fresh folder.
// Debian's DCMTK leaves Nagle's algorithm on unless TCP_NODELAY=1 is in the
// environment (our client sets it); the peers are run both ways, so the
// comparison shows what the setting is worth and how the rest compares.

#include "OrthancServer.h"
#include "PacsTestData.h"

#include "core/pacs/Dimse.h"
#include "core/pacs/Retrieve.h"
#include "core/pacs/SeriesCache.h"
#include "core/pacs/StorageServer.h"
#include "ui/pacs/DicomWebClient.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <vector>

using namespace rllm;
namespace fs = std::filesystem;

namespace {

int dicomFilesIn(const QString& folder) {
    int count = 0;
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(folder.toStdString(), ec))
        if (e.is_regular_file() && e.path().extension() != ".json" &&
            e.path().extension() != ".txt")
            ++count;
    return count;
}

// Median seconds of `repeats` runs; each run gets a fresh folder and must
// bring (or send) `expected` objects, else the figure is not printed.
double medianSeconds(int repeats, int expected, const QString& scratch,
                     const std::function<int(const QString& folder)>& run) {
    std::vector<double> seconds;
    for (int i = 0; i < repeats; ++i) {
        const QString folder = scratch + "/run-" + QString::number(i);
        QDir(folder).removeRecursively();
        QDir().mkpath(folder);
        QElapsedTimer timer;
        timer.start();
        const int got = run(folder);
        seconds.push_back(timer.nsecsElapsed() / 1e9);
        QDir(folder).removeRecursively();
        if (got != expected) {
            std::printf("    run %d: %d of %d objects: not counted\n", i, got, expected);
            return -1;
        }
    }
    std::sort(seconds.begin(), seconds.end());
    return seconds[seconds.size() / 2];
}

int runTool(const QString& program, const QStringList& args, bool noDelay) {
    QProcess process;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (noDelay)
        env.insert("TCP_NODELAY", "1");
    else
        env.remove("TCP_NODELAY");
    process.setProcessEnvironment(env);
    process.start(program, args);
    if (!process.waitForFinished(600000) || process.exitCode() != 0) {
        std::printf("    %s failed: %s\n", qPrintable(program),
                    process.readAllStandardError().left(300).constData());
        return -1;
    }
    return 0;
}

void print(const char* what, double seconds, int images, double peerSeconds = -1) {
    if (seconds < 0) return;
    std::printf("  %-44s %7.2f s  %7.1f images/s", what, seconds, images / seconds);
    if (peerSeconds > 0) std::printf("  (%.2fx the peer's rate)", peerSeconds / seconds);
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    QCommandLineOption slicesOption("slices", "Slices of the series (default 300).", "N", "300");
    QCommandLineOption sizeOption("size", "Rows and columns (default 512).", "N", "512");
    QCommandLineOption repeatsOption("repeats", "Runs per figure (default 3).", "N", "3");
    parser.addOptions({slicesOption, sizeOption, repeatsOption});
    parser.process(app);
    const int slices = parser.value(slicesOption).toInt();
    const int size = parser.value(sizeOption).toInt();
    const int repeats = std::max(1, parser.value(repeatsOption).toInt());
    if (test::orthancBinary().isEmpty()) {
        std::fprintf(stderr, "pacs-transfer: Orthanc is not installed (scripts/install-deps)\n");
        return 1;
    }
    QTemporaryDir work;
    test::StudySpec spec;
    spec.rows = spec.columns = size;
    spec.slices = slices;
    std::printf("writing a %d x %d x %d CT series ...\n", size, size, slices);
    const auto files = test::writeStudy(work.filePath("series").toStdString(), spec);
    test::OrthancServer orthanc;
    const QString problem = orthanc.start();
    if (!problem.isEmpty()) {
        std::fprintf(stderr, "pacs-transfer: %s\n", qPrintable(problem));
        return 1;
    }
    const PacsNode node = orthanc.node();
    const QString peer = QString::number(node.port);
    const QStringList keys{"-S",
                           "-k",
                           "QueryRetrieveLevel=SERIES",
                           "-k",
                           "StudyInstanceUID=" + QString::fromStdString(spec.studyUid),
                           "-k",
                           "SeriesInstanceUID=" + QString::fromStdString(spec.seriesUid)};
    const QStringList addressing{"-aet",          orthanc.viewerAeTitle, "-aec",
                                 orthanc.aeTitle, "127.0.0.1",           peer};
    std::printf("Orthanc %s on 127.0.0.1:%d; %d images, %d run(s) per figure (median)\n\n",
                qPrintable(test::orthancBinary()), node.port, slices, repeats);

    // The archive is loaded once, untimed; the timed C-STOREs then all send
    // objects Orthanc already holds, for ours and storescu alike.
    const TransferResult loaded = DimseClient(node).store(files, {});
    if (!loaded.complete) {
        std::fprintf(stderr, "pacs-transfer: loading Orthanc failed: %s\n", loaded.message.c_str());
        return 1;
    }
    const QString scratch = work.filePath("scratch");
    std::printf("C-STORE of the series (objects the archive already holds)\n");
    const double ours = medianSeconds(repeats, slices, scratch, [&](const QString&) {
        return DimseClient(node).store(files, {}).progress.completed;
    });
    for (bool noDelay : {false, true}) {
        const double theirs = medianSeconds(repeats, slices, scratch, [&](const QString&) {
            QStringList args{
                "-aet", orthanc.viewerAeTitle,  "-aec", orthanc.aeTitle, "127.0.0.1", peer,
                "+sd",  work.filePath("series")};
            return runTool("storescu", args, noDelay) == 0 ? slices : -1;
        });
        print(noDelay ? "storescu (TCP_NODELAY=1)" : "storescu (Debian default)", theirs, slices);
        if (noDelay) print("ours (DimseClient::store)", ours, slices, theirs);
    }

    std::printf("\nC-GET\n");
    const double getOurs = medianSeconds(repeats, slices, scratch, [&](const QString& folder) {
        return DimseClient(node)
            .get({spec.studyUid, spec.seriesUid}, folder.toStdString(), "", {})
            .progress.completed;
    });
    for (bool noDelay : {false, true}) {
        const double theirs = medianSeconds(repeats, slices, scratch, [&](const QString& folder) {
            QStringList args = addressing;
            args << keys << "-od" << folder;
            return runTool("getscu", args, noDelay) == 0 ? dicomFilesIn(folder) : -1;
        });
        print(noDelay ? "getscu (TCP_NODELAY=1)" : "getscu (Debian default)", theirs, slices);
        if (noDelay) print("ours (DimseClient::get)", getOurs, slices, theirs);
    }

    std::printf("\nC-MOVE to a storage SCP on the same machine\n");
    double moveOurs;
    {
        StorageServerOptions options;
        options.aeTitle = orthanc.viewerAeTitle.toStdString();
        options.port = orthanc.viewerPort;
        options.folder = work.filePath("move-ours").toStdString();
        StorageServer server(options);
        server.start();
        moveOurs = medianSeconds(repeats, slices, scratch, [&](const QString&) {
            const int before = server.storedCount();
            const TransferResult r =
                DimseClient(node).move({spec.studyUid, spec.seriesUid}, options.aeTitle, {});
            fs::remove_all(options.folder);
            return r.complete ? server.storedCount() - before : -1;
        });
    }
    for (bool noDelay : {false, true}) {
        const double theirs = medianSeconds(repeats, slices, scratch, [&](const QString& folder) {
            QStringList args = addressing;
            args << keys << "-aem" << orthanc.viewerAeTitle << "+P"
                 << QString::number(orthanc.viewerPort) << "-od" << folder;
            return runTool("movescu", args, noDelay) == 0 ? dicomFilesIn(folder) : -1;
        });
        print(noDelay ? "movescu (TCP_NODELAY=1)" : "movescu (Debian default)", theirs, slices);
        if (noDelay) print("ours (DimseClient::move + StorageServer)", moveOurs, slices, theirs);
    }

    std::printf("\nWADO-RS (multipart/related, Orthanc's DICOMweb plugin)\n");
    const DicomWebClient web(node);
    const double wadoOurs = medianSeconds(repeats, slices, scratch, [&](const QString& folder) {
        return web
            .retrieve({spec.studyUid, spec.seriesUid}, folder.toStdString(),
                      (folder + "/quarantine").toStdString(), {})
            .progress.completed;
    });
    const QString url = QString::fromStdString(node.dicomWebUrl) + "/studies/" +
                        QString::fromStdString(spec.studyUid) + "/series/" +
                        QString::fromStdString(spec.seriesUid);
    const double curl = medianSeconds(repeats, slices, scratch, [&](const QString& folder) {
        QStringList args{"-sf",
                         "-u",
                         orthanc.username + ":" + orthanc.password,
                         "-H",
                         "Accept: multipart/related; type=\"application/dicom\"; transfer-syntax=*",
                         "-o",
                         folder + "/series.multipart",
                         url};
        return runTool("curl", args, false) == 0 ? slices : -1;
    });
    print("curl (download only: no parsing, no files)", curl, slices);
    print("ours (DicomWebClient::retrieve)", wadoOurs, slices, curl);
    return 0;
}
