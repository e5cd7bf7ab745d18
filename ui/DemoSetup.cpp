#include "ui/DemoSetup.h"

#include "core/Error.h"

#include "core/io/MedMnist.h"
#include "core/io/Npz.h"
#include "models/Engine.h"

#include <QCoreApplication>
#include <QDir>
#include <QEventLoop>
#include <QPointer>
#include <QProgressDialog>
#include <QStandardPaths>
#include <QThreadPool>

#include <cmath>
#include <memory>
#include <ostream>
#include <streambuf>

namespace rllm {

namespace {

// Hands each finished line of a std::ostream (ended by \n or a progress bar's \r) to a callback.
class LineBuffer : public std::streambuf {
  public:
    explicit LineBuffer(std::function<void(const std::string&)> onLine)
        : onLine_(std::move(onLine)) {}

  protected:
    int overflow(int c) override {
        if (c == '\n' || c == '\r') {
            if (!line_.empty()) onLine_(line_);
            line_.clear();
        } else if (c != EOF) {
            line_.push_back(static_cast<char>(c));
        }
        return c;
    }

  private:
    std::function<void(const std::string&)> onLine_;
    std::string line_;
};

QString firstMatch(const QDir& dir, const QString& pattern) {
    const QStringList found = dir.entryList({pattern}, QDir::Files, QDir::Name);
    return found.isEmpty() ? QString() : dir.filePath(found.front());
}

}  // namespace

QString defaultDemoFolder() {
    const QString env = qEnvironmentVariable("RLLM_DEMO_DIR");
    if (!env.isEmpty()) return env;
    return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/demo";
}

DemoFiles demoFiles(const QString& folder, bool threeD) {
    const QDir dir(folder);
    const QString prefix = threeD ? "phantom3d" : "phantom2d";
    DemoFiles files;
    if (dir.exists(prefix + ".npz")) files.dataset = dir.filePath(prefix + ".npz");
    files.baseline = firstMatch(dir, prefix + "_vit_baseline.safetensors");
    files.booster = firstMatch(dir, prefix + "_rllm_booster*.safetensors");
    return files;
}

int firstLesionCase(const MedMnistDataset& dataset, const std::string& split) {
    for (int64_t i = 0; i < dataset.count(split); ++i) {
        const std::vector<int> labels = dataset.labels(split, i);
        if (!labels.empty() && labels.front() == 1) return static_cast<int>(i);
    }
    return 0;
}

bool lesionCentre(const QString& archive, const std::string& split, int index,
                  std::array<int64_t, 3>& voxel) {
    try {
        NpzArchive npz(archive.toStdString());
        if (!npz.contains(split + "_masks")) return false;
        const NpyArray masks = npz.readArray(split + "_masks");
        const auto& shape = masks.header.shape;  // (N, H, W) or (N, D, H, W)
        if (shape.size() < 3 || index < 0 || index >= shape[0]) return false;
        const int64_t w = shape.back(), h = shape[shape.size() - 2],
                      d = shape.size() == 4 ? shape[1] : 1;
        const uint8_t* mask = masks.data.data() + static_cast<size_t>(index) * w * h * d;
        double sum[3] = {0, 0, 0};
        int64_t count = 0;
        for (int64_t i = 0; i < w * h * d; ++i)
            if (mask[i]) {
                sum[0] += i % w, sum[1] += (i / w) % h, sum[2] += i / (w * h);
                ++count;
            }
        if (count == 0) return false;
        for (int a = 0; a < 3; ++a) voxel[a] = static_cast<int64_t>(std::lround(sum[a] / count));
        return true;
    } catch (const std::exception&) {
        return false;  // no usable mask: the caller keeps its default view
    }
}

bool makeDemoWithProgress(const QString& folder, QWidget* parent, QString* error) {
    if (!QDir().mkpath(folder)) {
        if (error) *error = QObject::tr("the folder cannot be created");
        return false;
    }
    QProgressDialog dialog(QObject::tr("Making the demo: synthetic phantoms and two small models "
                                       "per phantom set (a few minutes, once)..."),
                           QObject::tr("Cancel"), 0, 0, parent);
    dialog.setWindowTitle(QObject::tr("R-LLM Viewer demo"));
    dialog.setWindowModality(Qt::WindowModal);
    dialog.setMinimumDuration(0);
    dialog.setMinimumWidth(560);
    dialog.show();
    QPointer<QProgressDialog> guard(&dialog);
    // Cancel stops the training before its next batch (TrainOptions::cancel).
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    QObject::connect(&dialog, &QProgressDialog::canceled, [cancel] { *cancel = true; });

    // The worker shares only a plain result with the caller (no QObject, so
    // it may die on either thread) and reaches the loop through a pointer
    // checked on the GUI thread: nothing it touches dies if the loop is left
    // early (the application quitting).
    struct Result {
        QString failure;
        bool finished = false;
    };
    auto state = std::make_shared<Result>();
    QEventLoop loop;
    QPointer<QEventLoop> loopGuard(&loop);
    QThreadPool::globalInstance()->start([state, loopGuard, folder, guard, cancel] {
        LineBuffer buffer([guard](const std::string& line) {
            const QString text = QString::fromStdString(line);
            QMetaObject::invokeMethod(
                QCoreApplication::instance(),
                [guard, text] {
                    if (guard) guard->setLabelText(text);
                },
                Qt::QueuedConnection);
        });
        std::ostream progress(&buffer);
        QString message;
        try {
            DemoOptions options;
            options.outDir = folder.toStdString();
            options.cancel = cancel.get();
            makeDemo(options, progress);
        } catch (const Cancelled&) {
            message = QObject::tr("cancelled; the demo is made again next time");
        } catch (const std::exception& e) {
            message = QString::fromStdString(e.what());
        }
        QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [state, loopGuard, message] {
                state->failure = message;
                state->finished = true;
                if (loopGuard) loopGuard->quit();
            },
            Qt::QueuedConnection);
    });
    if (!state->finished) loop.exec();
    if (!state->finished) {
        if (error) *error = QObject::tr("the demo was not finished (the application is closing)");
        return false;
    }
    if (error) *error = state->failure;
    return state->failure.isEmpty();
}

}  // namespace rllm
