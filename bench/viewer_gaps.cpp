// viewer-gaps: how long the viewer's GUI thread goes without serving its
// event loop while both models run, split into the first 3D frame (VTK
// compiles its shaders then) and the steady state (cases after the first).
// A 10 ms timer on the event loop records every gap between its ticks; each
// long gap is attributed to the 3D frames rendered inside it.
//
//   xvfb-run -a -s "-screen 0 1600x1200x24" build/bin/viewer-gaps [--demo-dir D] [--cases N]
//       [--pacs-slices N]
//
// --pacs-slices N adds a third phase: a 512 x 512 x N CT series is pulled
// from a local Orthanc through File > PACS (C-GET into the cache) and opened,
// with the models answering on it; the gaps cover the whole pull.
//
// Without --demo-dir a demo with very short training is made in a temporary
// folder first (the figures are about the GUI, not about the models).

#include "OrthancServer.h"
#include "PacsTestData.h"

#include "core/Volume.h"
#include "models/Engine.h"
#include "ui/session/ViewerSession.h"
#include "ui/MainWindow.h"
#include "ui/VolumeView3D.h"
#include "ui/VtkRenderWidget.h"
#include "ui/pacs/PacsBrowser.h"
#include "ui/pacs/PacsJobs.h"

#include <QApplication>
#include <QComboBox>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <functional>
#include <cstdio>
#include <sstream>
#include <vector>

using namespace rllm;

namespace {

// The monotonic clock VolumeView3D's frame log uses.
qint64 nowMs() {
    QElapsedTimer clock;
    clock.start();
    return clock.msecsSinceReference();
}

struct Gap {
    qint64 fromMs, toMs;
    qint64 length() const { return toMs - fromMs; }
};

// Records the gaps between the ticks of a 10 ms event-loop timer.
class GapRecorder {
  public:
    GapRecorder() {
        ticker_.setInterval(10);
        QObject::connect(&ticker_, &QTimer::timeout, [this] {
            const qint64 now = nowMs();
            gaps_.push_back({last_, now});
            last_ = now;
        });
    }
    void start() {
        gaps_.clear();
        last_ = nowMs();
        ticker_.start();
    }
    std::vector<Gap> stop() {
        ticker_.stop();
        return gaps_;
    }

  private:
    QTimer ticker_;
    qint64 last_ = 0;
    std::vector<Gap> gaps_;
};

bool waitForResults(MainWindow& window, int timeoutMs) {
    QElapsedTimer clock;
    clock.start();
    while (clock.elapsed() < timeoutMs) {
        if (window.session()->slot(0).result && window.session()->slot(1).result) return true;
        QApplication::processEvents(QEventLoop::AllEvents, 5);
    }
    return false;
}

void report(const char* phase, const std::vector<Gap>& gaps,
            const std::vector<VolumeView3D::FrameRecord>& frames) {
    std::vector<Gap> sorted = gaps;
    std::sort(sorted.begin(), sorted.end(),
              [](const Gap& a, const Gap& b) { return a.length() > b.length(); });
    std::vector<qint64> lengths;
    for (const Gap& g : gaps) lengths.push_back(g.length());
    std::sort(lengths.begin(), lengths.end());
    const qint64 median = lengths.empty() ? 0 : lengths[lengths.size() / 2];
    const qint64 p99 = lengths.empty() ? 0 : lengths[lengths.size() * 99 / 100];
    std::printf("%s: %zu ticks, longest gap %lld ms, 99th percentile %lld ms, median %lld ms\n",
                phase, gaps.size(), sorted.empty() ? 0LL : (long long)sorted[0].length(),
                (long long)p99, (long long)median);
    for (size_t i = 0; i < std::min<size_t>(3, sorted.size()); ++i) {
        const Gap& g = sorted[i];
        double frameMs = 0;
        int count = 0;
        for (const auto& f : frames)
            if (f.startedMs >= g.fromMs && f.startedMs < g.toMs) {
                frameMs += f.ms;
                ++count;
            }
        QString causes;
        for (const auto& f : frames)
            if (f.startedMs >= g.fromMs && f.startedMs < g.toMs)
                causes += QString(" [%1 ms at %2 px/ray: %3]")
                              .arg(f.ms, 0, 'f', 1)
                              .arg(f.sampleDistance, 0, 'f', 2)
                              .arg(f.cause.isEmpty() ? "camera or crosshair" : f.cause);
        std::printf("  gap %lld ms: %d 3D frame(s) inside it, %.1f ms of rendering%s\n",
                    (long long)g.length(), count, frameMs, qPrintable(causes));
    }
}

// Pulls a generated series through the PACS browser while the gaps are
// recorded: query, C-GET into the cache, opening, both models answering.
bool pacsPhase(MainWindow& window, int slices, const QTemporaryDir& temporary) {
    test::StudySpec spec;
    spec.rows = spec.columns = 512;
    spec.slices = slices;
    std::printf("PACS phase: writing a 512 x 512 x %d series and loading a local Orthanc ...\n",
                slices);
    const auto files = test::writeStudy(temporary.filePath("pacs-series").toStdString(), spec);
    test::OrthancServer orthanc;
    const QString problem = orthanc.start();
    if (!problem.isEmpty() || !DimseClient(orthanc.node()).store(files, {}).complete) {
        std::fprintf(stderr, "viewer-gaps: Orthanc: %s\n", qPrintable(problem));
        return false;
    }
    qputenv("RLLM_PACS_NODES", temporary.filePath("pacs-nodes.json").toUtf8());
    PacsNodeList nodes;
    nodes.put(orthanc.node());
    nodes.save(PacsNodeList::defaultPath());
    PacsBrowser* browser = window.pacsBrowser();
    browser->jobs()->setCache(temporary.filePath("pacs-cache"), qint64(8) << 30);
    browser->reloadNodes("orthanc-test");
    browser->show();
    auto* series = browser->findChild<QTableWidget*>("pacsSeries");
    auto waitFor = [](const std::function<bool()>& done, int timeoutMs) {
        QElapsedTimer clock;
        clock.start();
        while (!done() && clock.elapsed() < timeoutMs)
            QApplication::processEvents(QEventLoop::AllEvents, 5);
        return done();
    };
    GapRecorder recorder;
    recorder.start();
    QElapsedTimer pull;
    pull.start();
    browser->search();
    if (!waitFor([&] { return series->rowCount() == 1; }, 60000)) return false;
    series->selectRow(0);
    browser->retrieveSelected();
    const bool opened =
        waitFor([&] { return window.volume() && window.volume()->size()[2] == slices; }, 600000);
    const double pulledMs = pull.elapsed();
    const bool answered = opened && window.waitUntilIdle() && waitForResults(window, 300000);
    const auto gaps = recorder.stop();
    if (!answered) {
        std::fprintf(stderr, "viewer-gaps: the pulled series did not open: %s\n",
                     qPrintable(window.lastError()));
        return false;
    }
    std::printf("PACS phase: %d slices queried, pulled (C-GET) and opened in %.1f s\n", slices,
                pulledMs / 1000.0);
    report("PACS pull phase", gaps, window.volumeView()->frameLog());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    VtkRenderWidget::setDefaultSurfaceFormat();
    QApplication app(argc, argv);
    QApplication::setOrganizationName("R-LLM Viewer bench");
    QApplication::setApplicationName("viewer-gaps");
    QCommandLineParser parser;
    parser.addHelpOption();
    QCommandLineOption demoDir("demo-dir", "A demo made by 'rllm demo' (default: make one).", "D");
    QCommandLineOption cases("cases", "Cases in the steady-state phase (default 6).", "N", "6");
    QCommandLineOption pacsSlices(
        "pacs-slices", "Also pull a 512 x 512 x N series from a local Orthanc (0: no).", "N", "0");
    parser.addOptions({demoDir, cases, pacsSlices});
    parser.process(app);

    QTemporaryDir temporary;
    QString folder = parser.value(demoDir);
    if (folder.isEmpty()) {
        folder = temporary.filePath("demo");
        DemoOptions demo;
        demo.outDir = folder.toStdString();
        demo.epochs2d = 1;
        demo.epochs3d = 1;
        demo.include2d = false;
        std::ostringstream log;
        std::printf("making a short demo in %s ...\n", qPrintable(folder));
        makeDemo(demo, log);
    }

    MainWindow window;
    window.resize(1500, 900);
    window.show();
    QApplication::processEvents();

    GapRecorder recorder;
    // First frame: the 3D demo opens, VTK builds its pipeline and compiles
    // the shaders, both models answer and the CAM is fused.
    recorder.start();
    window.openDemoWithModels(folder, true);
    if (!window.waitUntilIdle() || !waitForResults(window, 120000)) {
        std::fprintf(stderr, "viewer-gaps: the demo did not open: %s\n",
                     qPrintable(window.lastError()));
        return 1;
    }
    const auto firstGaps = recorder.stop();
    const auto& frames = window.volumeView()->frameLog();
    if (!frames.empty())
        std::printf("first 3D frame: %.1f ms (window %dx%d)\n", frames.front().ms, window.width(),
                    window.height());
    report("first frame phase", firstGaps, frames);

    // Steady state: new cases and methods, none of them cached.
    auto* method = window.findChild<QComboBox*>("camMethodCombo");
    recorder.start();
    const int count = parser.value(cases).toInt();
    const size_t framesBefore = frames.size();
    for (int index = 1; index <= count; ++index) {
        method->setCurrentIndex(method->findData(index % 2 ? "hirescam" : "eigencam"));
        window.openDatasetCase("test", index);
        if (!waitForResults(window, 120000)) {
            std::fprintf(stderr, "viewer-gaps: case %d got no results\n", index);
            return 1;
        }
    }
    const auto steadyGaps = recorder.stop();
    double longestFrame = 0;
    for (size_t i = framesBefore; i < frames.size(); ++i)
        longestFrame = std::max(longestFrame, frames[i].ms);
    std::printf("steady state: %d cases, %zu 3D frames, longest frame %.1f ms\n", count,
                frames.size() - framesBefore, longestFrame);
    report("steady state", steadyGaps, frames);

    const int slices = parser.value(pacsSlices).toInt();
    if (slices > 0) return pacsPhase(window, slices, temporary) ? 0 : 1;
    return 0;
}
