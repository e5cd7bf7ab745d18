// The viewer's session without a window: ViewerSession driven by a scripted
// AnalysisBackend that answers when, and in the order, each test says, on
// real files read by the real readers. What only pixels show is in
// test_viewer.

#include "ScriptedBackend.h"
#include "core/Volume.h"
#include "core/io/Npz.h"
#include "ui/session/ViewerSession.h"

#include <QEventLoop>
#include <QFile>
#include <QImage>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThreadPool>
#include <QTimer>
#include <QtTest>

#include <map>

using namespace rllm;
using rllm::test::ScriptedBackend;

namespace {

// Runs the event loop until `session` has no load in flight (or 20 s).
bool waitForLoads(ViewerSession& session) {
    if (!session.loading()) return true;
    QEventLoop loop;
    QObject::connect(&session, &ViewerSession::loadsFinished, &loop, &QEventLoop::quit);
    QTimer::singleShot(20000, &loop, &QEventLoop::quit);
    loop.exec();
    return !session.loading();
}

std::shared_ptr<Volume> flatImage(int64_t w, int64_t h, int64_t d = 1) {
    auto v = std::make_shared<Volume>(std::array<int64_t, 3>{w, h, d}, 1);
    std::fill(v->voxels().begin(), v->voxels().end(), 100.0f);
    return v;
}

float camValue(const ComparisonSlot& slot) {
    return slot.result && slot.result->cam ? slot.result->cam->voxels().front() : -1.0f;
}

}  // namespace

class TestSession : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString pngPath_;

    QString writePng(const QString& name, int w, int h) {
        QImage image(w, h, QImage::Format_Grayscale8);
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x) image.setPixel(x, y, qRgb(x * 8, x * 8, x * 8));
        const QString path = dir_.filePath(name);
        image.save(path, "PNG");
        return path;
    }

    // A MedMNIST-shaped archive: 5 test cases (2 in train and val) of 4x4,
    // case i's pixels start at 10 i, its label is i % 2.
    QString writeArchive(const QString& name) {
        std::vector<NpzMember> members;
        for (const char* split : {"train", "val", "test"}) {
            const int64_t n = std::string(split) == "test" ? 5 : 2;
            NpzMember images{std::string(split) + "_images", {n, 4, 4}, {}};
            NpzMember labels{std::string(split) + "_labels", {n, 1}, {}};
            for (int64_t i = 0; i < n; ++i) {
                for (int p = 0; p < 16; ++p) images.values.push_back(uint8_t(i * 10 + p));
                labels.values.push_back(uint8_t(i % 2));
            }
            members.push_back(images);
            members.push_back(labels);
        }
        const QString path = dir_.filePath(name);
        writeNpzUint8(path.toStdString(), members);
        return path;
    }

  private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        pngPath_ = writePng("case.png", 24, 16);
    }

    void openingAFileShowsItAndAsksEveryModel() {
        ScriptedBackend backend;
        backend.addModel("/models/baseline.safetensors", false);
        backend.addModel("/models/booster.safetensors", false, true);
        ViewerSession session(&backend);
        QCOMPARE(session.slotCount(), 2);
        QCOMPARE(session.slot(0).modelIndex, 0);
        QCOMPARE(session.slot(1).modelIndex, 1);
        QCOMPARE(session.slot(0).state, ComparisonSlot::State::NoCase);

        QSignalSpy opened(&session, &ViewerSession::pathOpened);
        session.openPath(pngPath_);
        QVERIFY(session.loading());
        QVERIFY(waitForLoads(session));
        QVERIFY(session.volume());
        QCOMPARE(session.volume()->size(), (std::array<int64_t, 3>{24, 16, 1}));
        QCOMPARE(session.caseTitle(), QString("case.png"));
        QCOMPARE(opened.size(), 1);
        QCOMPARE(backend.focus, session.caseId());
        // One request per slot, for this case.
        QCOMPARE(backend.pending.size(), size_t(2));
        for (const auto& r : backend.pending) QCOMPARE(r.caseId, session.caseId());
        QCOMPARE(session.slot(0).state, ComparisonSlot::State::Computing);
        QVERIFY(session.busy());

        QSignalSpy idle(&session, &ViewerSession::idle);
        backend.answer(1, 0.25f, 1);
        QCOMPARE(session.slot(1).state, ComparisonSlot::State::Ready);
        QVERIFY(!session.differenceMap());
        QVERIFY(session.differenceNote().contains("waiting"));
        QVERIFY(session.agreementText().isEmpty());
        backend.answer(0, 0.75f, 0);
        QCOMPARE(camValue(session.slot(0)), 0.75f);
        QCOMPARE(camValue(session.slot(1)), 0.25f);
        // The difference is A - B on the case's grid.
        QVERIFY(session.differenceMap());
        QCOMPARE(session.differenceMap()->size(), session.volume()->size());
        for (float d : session.differenceMap()->voxels()) QCOMPARE(d, 0.5f);
        QCOMPARE(session.agreementText(),
                 QString("DISAGREE: A predicts normal, B predicts lesion"));
        QVERIFY(!session.comparedAgree());
        QVERIFY(!session.busy());
        QCOMPARE(idle.size(), 1);
    }

    void aFailedLoadKeepsTheCaseAndSaysWhy() {
        ScriptedBackend backend;
        ViewerSession session(&backend);
        session.openPath(pngPath_);
        QVERIFY(waitForLoads(session));
        const auto before = session.volume();
        const quint64 caseBefore = session.caseId();
        QVERIFY(before);

        const QString broken = dir_.filePath("broken.png");
        {
            QFile f(broken);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QByteArray("\x89PNG\r\n\x1a\n", 8) + QByteArray(40, '\0'));
        }
        for (const QString& path : {broken, dir_.filePath("nothing-here.nii")}) {
            QSignalSpy errors(&session, &ViewerSession::errorOccurred);
            QSignalSpy cases(&session, &ViewerSession::caseChanged);
            session.openPath(path);
            QVERIFY(waitForLoads(session));
            QCOMPARE(errors.size(), 1);
            const QString message = errors.front().front().toString();
            QVERIFY2(message.contains(QFileInfo(path).fileName()), qPrintable(message));
            QCOMPARE(session.lastError(), message);
            QCOMPARE(cases.size(), 0);
            QCOMPARE(session.volume(), before);
            QCOMPARE(session.caseId(), caseBefore);
        }
    }

    // Answers may come in any order; only the case on screen, with the CAM
    // request now chosen, is shown. Earlier answers are found again on return.
    void answersForAnotherCaseOrRequestAreNotShown() {
        ScriptedBackend backend;
        backend.addModel("/models/a.safetensors", false);
        ViewerSession session(&backend);
        session.showVolume(flatImage(8, 8), "first", "case:1");
        const quint64 first = session.caseId();
        session.showVolume(flatImage(8, 8), "second", "case:2");
        const quint64 second = session.caseId();
        QVERIFY(first != second);
        QCOMPARE(backend.pending.size(), size_t(2));
        QCOMPARE(backend.pending[0].caseId, first);

        backend.answer(1, 0.2f);  // the second case's answer first
        QCOMPARE(camValue(session.slot(0)), 0.2f);
        backend.answer(0, 0.9f);  // then the first case's, late
        QCOMPARE(camValue(session.slot(0)), 0.2f);
        QCOMPARE(session.caseId(), second);

        // Back to the first case: its answer is there at once, nothing is asked again.
        const int asked = backend.requestsMade;
        session.showVolume(flatImage(8, 8), "first", "case:1");
        QCOMPARE(session.caseId(), first);
        QCOMPARE(backend.requestsMade, asked);
        QCOMPARE(session.slot(0).state, ComparisonSlot::State::Ready);
        QCOMPARE(camValue(session.slot(0)), 0.9f);

        // A file opened twice is two cases: it may have changed on disk.
        session.showVolume(flatImage(8, 8), "file", {});
        const quint64 file = session.caseId();
        session.showVolume(flatImage(8, 8), "file", {});
        QVERIFY(session.caseId() != file);

        // Another CAM method: an answer to the old request is not shown.
        backend.pending.clear();
        session.showVolume(flatImage(8, 8), "third", "case:3");
        CamRequest gradcam;
        gradcam.method = "gradcam";
        session.setCamRequest(gradcam);
        QCOMPARE(backend.pending.size(), size_t(2));
        QCOMPARE(backend.pending[0].cam.method, QString("auto"));
        backend.answer(0, 0.5f);
        QCOMPARE(session.slot(0).state, ComparisonSlot::State::Computing);
        backend.answer(0, 0.6f);
        QCOMPARE(camValue(session.slot(0)), 0.6f);
        QCOMPARE(session.slot(0).result->method, QString("gradcam"));
    }

    void cancelDropsLoadsAndWork() {
        ScriptedBackend backend;
        backend.addModel("/models/a.safetensors", false);
        ViewerSession session(&backend);
        session.showVolume(flatImage(8, 8), "shown", "case:1");
        QCOMPARE(session.slot(0).state, ComparisonSlot::State::Computing);

        QSignalSpy cases(&session, &ViewerSession::caseChanged);
        QSignalSpy finished(&session, &ViewerSession::loadsFinished);
        session.openPath(pngPath_);
        QVERIFY(session.busy());
        session.cancel();
        QCOMPARE(finished.size(), 1);
        QVERIFY(!session.loading());
        QCOMPARE(backend.cancelled, 1);
        // The waiting slot says there will be no answer instead of "computing" forever.
        QCOMPARE(session.slot(0).state, ComparisonSlot::State::Unavailable);
        QVERIFY(!session.slot(0).note.isEmpty());
        // The read finishes in its worker and is dropped when it lands.
        QThreadPool::globalInstance()->waitForDone();
        QCoreApplication::processEvents();
        QCOMPARE(cases.size(), 0);
        QCOMPARE(session.caseTitle(), QString("shown"));
        QVERIFY(!session.busy());
    }

    // A load still in flight when its window (and session) goes does no harm.
    void aLoadOutlivingItsSessionIsDropped() {
        ScriptedBackend backend;
        {
            ViewerSession session(&backend);
            session.openPath(pngPath_);
        }
        QThreadPool::globalInstance()->waitForDone();
        QCoreApplication::processEvents();
        // Shown by a session that is gone, the case would have told the
        // backend to focus on it (and ASan, in scripts/sanitize, would see
        // the use after free).
        QCOMPARE(backend.focus, quint64(0));
    }

    void datasetCursorMovesThroughTheArchive() {
        const QString path = writeArchive("cases.npz");

        ScriptedBackend backend;
        ViewerSession session(&backend);
        QSignalSpy cursor(&session, &ViewerSession::datasetChanged);
        session.openPath(path);
        QVERIFY(waitForLoads(session));
        QVERIFY(session.dataset());
        QCOMPARE(session.datasetSplit(), QString("test"));
        QCOMPARE(session.datasetIndex(), 0);
        QCOMPARE(session.datasetCount(), 5);
        QVERIFY(cursor.size() >= 1);
        QCOMPARE(session.volume()->voxels().front(), 0.0f);

        session.openDatasetCase("test", 3);
        QCOMPARE(session.datasetIndex(), 3);
        QCOMPARE(session.volume()->voxels().front(), 30.0f);
        QVERIFY(session.caseTitle().endsWith("[test #3]"));
        const quint64 third = session.caseId();
        session.openDatasetCase("test", 99);  // past the end: the last case
        QCOMPARE(session.datasetIndex(), 4);
        session.openDatasetCase("val", 1);
        QCOMPARE(session.datasetSplit(), QString("val"));
        QCOMPARE(session.datasetCount(), 2);
        session.openDatasetCase("test", 3);
        QCOMPARE(session.caseId(), third);  // the same case again

        // An image file closes the archive.
        session.openPath(pngPath_);
        QVERIFY(waitForLoads(session));
        QVERIFY(!session.dataset());
        QCOMPARE(session.datasetCount(), 0);
    }

    // Any number of models: each new one gets a slot, any two are compared.
    void slotsHoldAnyNumberOfModels() {
        ScriptedBackend backend;
        ViewerSession session(&backend);
        for (const char* name : {"a", "b", "c"})
            backend.addModel(QStringLiteral("/models/%1.safetensors").arg(name), false);
        QCOMPARE(session.slotCount(), 3);
        QCOMPARE(session.slot(2).modelIndex, 2);
        QCOMPARE(ViewerSession::slotLetter(2), QString("C"));
        QCOMPARE(ViewerSession::slotLetter(27), QString("AB"));

        session.showVolume(flatImage(6, 6), "case", "case:1");
        QCOMPARE(backend.pending.size(), size_t(3));
        session.setComparedSlots(0, 2);
        backend.answer(0, 0.9f, 1);  // a
        backend.answer(0, 0.5f, 0);  // b
        QVERIFY(!session.differenceMap());
        backend.answer(0, 0.4f, 1);  // c
        QVERIFY(session.differenceMap());
        QCOMPARE(session.differenceMap()->voxels().front(), 0.9f - 0.4f);
        QCOMPARE(session.agreementText(), QString("AGREE: both predict lesion"));

        session.setCam3dSlot(2);
        session.removeSlot(1);  // B goes; C becomes the second slot
        QCOMPARE(session.slotCount(), 2);
        QCOMPARE(session.slot(1).modelIndex, 2);
        QCOMPARE(session.comparedSlots(), (std::array<int, 2>{0, 1}));
        QCOMPARE(session.cam3dSlot(), 1);
        QCOMPARE(session.differenceMap()->voxels().front(), 0.9f - 0.4f);

        // A slot added for a model already answered is filled from the cache.
        const int asked = backend.requestsMade;
        const int added = session.addSlot(1);
        QCOMPARE(added, 2);
        QCOMPARE(backend.requestsMade, asked);
        QCOMPARE(camValue(session.slot(added)), 0.5f);
        // Nothing chosen in a slot: no request, and the comparison says so.
        session.setSlotModel(1, -1);
        QCOMPARE(session.slot(1).state, ComparisonSlot::State::Empty);
        QVERIFY(!session.differenceMap());
        QVERIFY(session.differenceNote().contains("choose two models"));
    }

    void aModelThatCannotTakeTheImageSaysSo() {
        ScriptedBackend backend;
        backend.addModel("/models/organ3d.safetensors", true);
        backend.addModel("/models/chest2d.safetensors", false);
        ViewerSession session(&backend);
        QSignalSpy errors(&session, &ViewerSession::errorOccurred);
        session.showVolume(flatImage(8, 8), "2D case", {});
        QCOMPARE(session.slot(0).state, ComparisonSlot::State::Unavailable);
        QCOMPARE(session.slot(0).note, QString("takes 3D volumes"));
        QCOMPARE(errors.size(), 1);
        QVERIFY(errors.front().front().toString().contains("organ3d.safetensors"));
        QCOMPARE(backend.pending.size(), size_t(1));  // only the 2D model was asked
        QCOMPARE(backend.pending.front().modelIndex, 1);

        session.showVolume(flatImage(8, 8, 8), "3D case", {});
        QCOMPARE(session.slot(0).state, ComparisonSlot::State::Computing);
        QCOMPARE(session.slot(1).note, QString("takes 2D images"));
    }

    void aFailedAnalysisEndsTheWait() {
        ScriptedBackend backend;
        backend.addModel("/models/a.safetensors", false);
        ViewerSession session(&backend);
        QSignalSpy errors(&session, &ViewerSession::errorOccurred);
        session.showVolume(flatImage(8, 8), "case", {});
        backend.failRequest(0);
        QCOMPARE(errors.size(), 1);
        QCOMPARE(session.slot(0).state, ComparisonSlot::State::Unavailable);
        QVERIFY(!session.busy());
    }

    // Predictions compare only within one label space, and the ground truth
    // is read by name only through a model trained on the same archive.
    void labelSpacesAndGroundTruthAreRespected() {
        const QString archive = writeArchive("breast.npz");
        ScriptedBackend backend;
        backend.addModel("/models/breast_booster.safetensors", false, true, "breast.npz");
        backend.addModel("/models/phantom_baseline.safetensors", false, false, "phantom2d.npz");
        ViewerSession session(&backend);
        session.openPath(archive);
        QVERIFY(waitForLoads(session));
        backend.pending.clear();             // case 0's requests
        session.openDatasetCase("test", 3);  // label 1
        QCOMPARE(backend.pending.size(), size_t(2));
        const std::vector<std::string> breast{"malignant", "normal, benign"};
        const std::vector<std::string> phantom{"no lesion", "lesion"};
        backend.answer(0, 0.5f, 1, breast);
        backend.answer(0, 0.5f, 1, phantom);
        // Both say "class 1", but not the same thing.
        QVERIFY(!session.comparedComparable());
        QVERIFY(!session.comparedAgree());
        QVERIFY2(session.agreementText().startsWith("NOT COMPARABLE"),
                 qPrintable(session.agreementText()));
        QVERIFY(session.agreementText().contains("malignant / normal, benign"));
        QCOMPARE(session.caseLabelText(), QString("label 1 (normal, benign)"));
        QCOMPARE(session.slotCorrect(0), std::optional<bool>(true));
        QCOMPARE(session.slotCorrect(1), std::optional<bool>());  // trained on other data
        QVERIFY(session.slotDataWarning(0).isEmpty());
        QCOMPARE(session.slotDataWarning(1),
                 QString("trained on phantom2d.npz, not on breast.npz"));

        session.openDatasetCase("test", 2);  // label 0
        backend.answer(0, 0.5f, 1, breast);
        QCOMPARE(session.slotCorrect(0), std::optional<bool>(false));
        QCOMPARE(session.caseLabelText(), QString("label 0 (malignant)"));
        // A file has no label.
        session.showVolume(flatImage(4, 4), "file", {});
        QVERIFY(session.caseLabelText().isEmpty());
        QCOMPARE(session.slotCorrect(0), std::optional<bool>());
    }

    // The demo places its bundles before they have loaded.
    void aSlotCanWaitForItsModel() {
        ScriptedBackend backend;
        ViewerSession session(&backend);
        session.setSlotModelByPath(1, "/demo/booster.safetensors");
        session.setSlotModelByPath(0, "/demo/baseline.safetensors");
        backend.addModel("/demo/booster.safetensors", false, true);
        QCOMPARE(session.slot(1).modelIndex, 0);
        QCOMPARE(session.slot(0).modelIndex, -1);
        backend.addModel("/demo/baseline.safetensors", false);
        QCOMPARE(session.slot(0).modelIndex, 1);
        QCOMPARE(session.slotCount(), 2);
        // Already loaded: placed at once.
        session.setSlotModelByPath(0, "/demo/booster.safetensors");
        QCOMPARE(session.slot(0).modelIndex, 0);
    }

    void cachedDifferenceNeedsTheSameGrid() {
        ScriptedBackend backend;
        backend.addModel("/models/a.safetensors", false);
        backend.addModel("/models/b.safetensors", false);
        ViewerSession session(&backend);
        session.showVolume(flatImage(8, 8), "case", {});
        // B's answer on a grid with another spacing (a model that resampled).
        backend.answer(0, 0.5f);
        ScriptedBackend::Request& r = backend.pending.front();
        auto shifted = std::make_shared<Volume>(*r.volume);
        shifted->geometry().spacing = {2, 2, 1};
        r.volume = shifted;
        backend.answer(0, 0.1f);
        QVERIFY(!session.differenceMap());
        QVERIFY(session.differenceNote().contains("different grids"));
    }
};

QTEST_GUILESS_MAIN(TestSession)
#include "test_session.moc"
