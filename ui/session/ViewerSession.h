#pragma once
// The viewer's session, without a widget in sight: the open case and where it
// came from, the MedMNIST cursor, the comparison's slots (which model, its
// result or why there is none), the two slots shown side by side and their
// difference map, and how CAMs are drawn. Widgets show it and send it
// intents (open this, move to that case, put that model in slot C); it loads
// files and asks the AnalysisBackend for analyses in the background, and
// drops answers that arrive for a case or a request no longer current.
// Everything here can be driven and checked without a window (test_session).

#include "ui/session/OverlayStyle.h"
#include "ui/session/AnalysisBackend.h"

#include <QHash>
#include <QObject>
#include <QSet>
#include <QString>

#include <array>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace rllm {

class MedMnistDataset;
struct DicomSeriesInfo;
struct ReadOptions;

// One entry of the comparison: a model and what it said about the open case.
struct ComparisonSlot {
    enum class State {
        Empty,        // no model chosen
        NoCase,       // nothing open yet
        Computing,    // asked, no answer yet
        Unavailable,  // no answer will come: note says why (a 2D model on a volume, cancelled)
        Ready,        // result holds the answer
    };
    int modelIndex = -1;
    // Drawn over the main views; only A's at first (heatmaps over one another hide each other).
    bool overlayShown = false;
    State state = State::Empty;
    QString note;  // why there is no result (Unavailable)
    std::shared_ptr<const CaseAnalysis> result;
};

class ViewerSession : public QObject {
    Q_OBJECT
  public:
    explicit ViewerSession(AnalysisBackend* backend, QObject* parent = nullptr);
    ~ViewerSession() override;

    AnalysisBackend* backend() const { return backend_; }

    // --- The case -----------------------------------------------------------
    // Opens a file, DICOM folder or MedMNIST archive in the background. A
    // folder with several series, or 4D data, asks through
    // seriesChoiceNeeded; answer with openSeries. Failures come as
    // errorOccurred; the open case stays.
    void openPath(const QString& path);
    void openSeries(const QString& path, const ReadOptions& options);
    // What the last seriesChoiceNeeded offers.
    const std::vector<DicomSeriesInfo>& seriesToChoose() const;
    // Shows an image made elsewhere (a phantom). `caseKey` names a case that
    // is the same every time it is opened (an archive case, a phantom): going
    // back to it finds the models' earlier answers. Empty for files, which may
    // change on disk between two openings.
    void showVolume(std::shared_ptr<const Volume> volume, const QString& title,
                    const QString& caseKey);
    // An archive: its test split's first case opens, and the cursor moves in it.
    void openDataset(std::shared_ptr<MedMnistDataset> dataset);
    void openDatasetCase(const QString& split, int index);
    void closeDataset();

    std::shared_ptr<const Volume> volume() const { return volume_; }
    QString caseTitle() const { return title_; }
    quint64 caseId() const { return caseId_; }
    std::shared_ptr<MedMnistDataset> dataset() const { return dataset_; }
    QString datasetSplit() const { return split_; }
    int datasetIndex() const { return index_; }
    int datasetCount() const;  // cases in the current split; 0 without an archive

    // --- The comparison -----------------------------------------------------
    int slotCount() const { return static_cast<int>(slots_.size()); }
    const ComparisonSlot& slot(int index) const { return slots_.at(index); }
    // "A", "B", ... "Z", "AA": how the views and reports name a slot.
    static QString slotLetter(int index);
    int addSlot(int modelIndex = -1);
    void removeSlot(int index);
    void setSlotModel(int slot, int modelIndex);
    // The model at `path` in `slot`: now when it is loaded, else once it has
    // loaded (the demo loads its bundles and places them).
    void setSlotModelByPath(int slot, const QString& path);
    void setOverlayShown(int slot, bool shown);
    // The two slots shown side by side (and differenced, first minus second).
    std::array<int, 2> comparedSlots() const { return compared_; }
    void setComparedSlots(int first, int second);
    // The compared slots' CAM difference, or nullptr with the reason.
    std::shared_ptr<const Volume> differenceMap() const { return difference_; }
    QString differenceNote() const;
    // "AGREE: both predict x" / "DISAGREE: ..." / "NOT COMPARABLE: ..." (the
    // two models have different class names); empty until both have answered.
    QString agreementText() const;
    bool comparedComparable() const;
    bool comparedAgree() const;
    // The open archive case's ground truth: "label 1 (lesion)" when a slot's
    // model was trained on this archive (its class names are the labels'
    // meanings), else "labels: 1"; empty for images without labels.
    QString caseLabelText() const;
    // Whether the slot's model predicted the archive case's label; nothing
    // when that cannot be said (no label, several labels, or a model trained
    // on other data, whose class numbers mean something else).
    std::optional<bool> slotCorrect(int slot) const;
    // A warning when the slot's model was trained on another archive than the
    // open case comes from ("trained on phantom2d.npz, not on breastmnist.npz");
    // empty when they match or nothing says.
    QString slotDataWarning(int slot) const;

    // The CAM every slot asks for.
    CamRequest camRequest() const { return camRequest_; }
    void setCamRequest(const CamRequest& request);
    OverlayStyle overlayStyle() const { return overlayStyle_; }
    void setOverlayStyle(const OverlayStyle& style);
    int cam3dSlot() const { return cam3dSlot_; }  // -1: no CAM in the 3D view
    void setCam3dSlot(int slot);
    // The 3D view's transfer function (VolumeView3D's preset names).
    QString transferPreset() const { return transferPreset_; }
    void setTransferPreset(const QString& name);

    // --- Work ---------------------------------------------------------------
    // Drops loads in flight and queued analyses.
    void cancel();
    bool loading() const { return !activeLoads_.isEmpty(); }
    bool busy() const { return loading() || backend_->busy(); }
    QString lastError() const { return lastError_; }
    // Counts cases shown, so a caller can tell whether an open succeeded.
    quint64 shownCount() const { return shownCount_; }

  signals:
    void caseChanged();
    void pathOpened(const QString& path);  // read without error (for the recent files)
    void datasetChanged();                 // an archive opened or closed, or the cursor moved
    void slotsChanged();         // slots added, removed, a model or the compared pair changed
    void slotUpdated(int slot);  // a slot's state or result changed
    void comparisonChanged();    // the compared pair's results or difference changed
    void displayChanged();       // overlay style, shown overlays, 3D CAM, transfer preset
    void camRequestChanged();
    // `path` holds several series or volumes: seriesToChoose() lists them.
    void seriesChoiceNeeded(const QString& path);
    void errorOccurred(const QString& message);
    void activityChanged(bool busy, const QString& what);
    // No file is loading any more (the last load landed, failed or was cancelled).
    void loadsFinished();
    // Nothing is loading or computing any more.
    void idle();

  private:
    void startLoad(const QString& what, std::function<void()> work,
                   std::function<void()> onSuccess);
    void requestAnalyses();
    void requestSlot(int slot);
    void onModelsChanged();
    void onResult(quint64 caseId, int modelIndex, const CamRequest& cam,
                  std::shared_ptr<const CaseAnalysis> result);
    void setSlotState(int slot, ComparisonSlot::State state, const QString& note = {},
                      std::shared_ptr<const CaseAnalysis> result = nullptr);
    void updateDifference();
    void onBackendActivity(bool busy);
    void reportActivity(const QString& what = {});
    void fail(const QString& message);
    QString archiveName() const;                 // the open archive's file name, or empty
    std::optional<int> singleCaseLabel() const;  // the case's one label, if it has exactly one
    bool trainedOnOpenArchive(int slot) const;

    AnalysisBackend* backend_;
    std::shared_ptr<const Volume> volume_;
    QString title_;
    quint64 caseId_ = 0, nextCaseId_ = 0, shownCount_ = 0;
    QHash<QString, quint64> caseIds_;
    std::shared_ptr<MedMnistDataset> dataset_;
    QString split_ = "test";
    int index_ = 0;

    std::vector<ComparisonSlot> slots_;
    std::array<int, 2> compared_{0, 1};
    std::shared_ptr<const Volume> difference_;
    std::array<const Volume*, 2> differenceOf_{};  // the CAMs difference_ was made from
    CamRequest camRequest_;
    OverlayStyle overlayStyle_;
    int cam3dSlot_ = 0;
    QString transferPreset_;

    std::shared_ptr<std::vector<DicomSeriesInfo>> seriesToChoose_;
    QHash<QString, int> slotForPath_;  // setSlotModelByPath before the model loaded
    int knownModels_ = 0;              // models placed in slots so far
    int loadGeneration_ = 0;
    QSet<int> activeLoads_;  // generations of loads in flight and not cancelled
    QString lastError_;
};

}  // namespace rllm
