#pragma once
// What the viewer's session needs from whatever runs the models: the list of
// loaded models, and one analysis (prediction, CAM, faithfulness) per case,
// model and CAM request, delivered later through resultReady. The real one is
// ui/AnalysisService (LibTorch in a worker thread); tests drive the session
// with a scripted one that answers when, and in the order, they say.

#include <QMetaType>
#include <QObject>
#include <QString>

#include <memory>
#include <string>
#include <vector>

namespace rllm {

class Volume;
struct BundleDescription;

// One model's answer for one case.
struct CaseAnalysis {
    std::vector<std::string> classNames;
    std::vector<float> probabilities;
    int predicted = 0;
    std::shared_ptr<const Volume> cam;         // on the case's grid, 0..1
    QString method, layer, device;             // the method and layer used ("auto" resolved)
    int shifts = 1;                            // sub-patch shifts per axis averaged into the CAM
    double deletionAuc = 0, insertionAuc = 0;  // of the CAM, 10 steps
    double seconds = 0;                        // wall time of the job

    // "rollout at block:*:attn, 3 shifts per axis".
    QString camDescription() const {
        const QString base = QStringLiteral("%1 at %2").arg(method, layer);
        return shifts > 1 ? QStringLiteral("%1, %2 shifts per axis").arg(base).arg(shifts) : base;
    }
    // A map passes its own faithfulness check when revealing the pixels it
    // ranks first raises the predicted class faster than deleting them lowers
    // it (insertion AUC above deletion AUC); otherwise it ranks the pixels no
    // better than chance for this prediction and must not be read as where
    // the model looks.
    bool failsFaithfulnessCheck() const { return !(insertionAuc > deletionAuc); }
    // The predicted class's name (its number when the model gave no names).
    QString predictedName() const {
        return predicted >= 0 && predicted < static_cast<int>(classNames.size())
                   ? QString::fromStdString(classNames[predicted])
                   : QString::number(predicted);
    }
};

struct CamRequest {
    QString method = "auto";  // auto: the engine chooses by the model (models/Cam.h)
    QString layer;            // empty: the engine's default

    bool operator==(const CamRequest& o) const { return method == o.method && layer == o.layer; }
    bool operator!=(const CamRequest& o) const { return !(*this == o); }
};

// What the session shows of a loaded model.
struct ModelInfo {
    QString name;  // the bundle's file name
    QString path;
    bool boosted = false;     // an R-LLM booster, else the ViT baseline
    bool volumetric = false;  // takes 3D volumes, else 2D images
    QString device, deviceNote;
    QString trainedOn;  // the training data's file name (a MedMNIST archive), if recorded
    // `auto` was chosen for this model in this session (chooseAutoCam), not
    // read from its bundle, which is unchanged.
    bool autoChosenHere = false;
    // The bundle's description, for the details pane and reports (null when
    // the backend has none to give).
    std::shared_ptr<const BundleDescription> description;
};

class AnalysisBackend : public QObject {
    Q_OBJECT
  public:
    using QObject::QObject;

    virtual int modelCount() const = 0;
    // Index -1 or out of range: a ModelInfo with an empty name.
    virtual ModelInfo modelInfo(int index) const = 0;
    // A finished analysis kept from before, or nullptr.
    virtual std::shared_ptr<const CaseAnalysis> cached(quint64 caseId, int modelIndex,
                                                       const CamRequest& cam) const = 0;
    // Asks for an analysis; resultReady follows (or failed, or nothing once cancelled).
    virtual void request(quint64 caseId, std::shared_ptr<const Volume> volume, int modelIndex,
                         const CamRequest& cam) = 0;
    // The case on screen: work queued for other cases may be skipped.
    virtual void setFocusCase(quint64 caseId) = 0;
    // Drops queued work; what is running finishes and is not reported.
    virtual void cancelPending() = 0;
    virtual bool busy() const = 0;
    // Chooses what `auto` shows on model `modelIndex` as `rllm cam-choose`
    // does: every CAM method and layer measured on the first validation cases
    // (kAutoCamCases)
    // of the MedMNIST archive `archive`, the most faithful map kept. In the
    // background and for this session only: the bundle file is not changed.
    // autoCamChoiceEnded follows (after modelsChanged when a map passed),
    // also when the choice is cancelled; or failed.
    virtual void chooseAutoCam(int modelIndex, const QString& archive) = 0;
    static constexpr int kAutoCamCases = 32;  // rllm cam-choose's default
    // Writes model `modelIndex` as it is in this session (with the auto
    // chosen here) to a new bundle at `path`, in the background; never over
    // the loaded bundle. modelCopyEnded follows, also when it failed.
    virtual void saveModelCopy(int modelIndex, const QString& path) = 0;

  signals:
    void modelsChanged();
    // A choice ended: the map now shown as `auto`, that none passed, or that
    // it was cancelled.
    void autoCamChoiceEnded(int modelIndex, const QString& summary);
    // A copy was written (saved) or not, and the summary says where or why.
    void modelCopyEnded(int modelIndex, bool saved, const QString& summary);
    void resultReady(quint64 caseId, int modelIndex, const rllm::CamRequest& cam,
                     std::shared_ptr<const rllm::CaseAnalysis> result);
    void failed(const QString& message);
    // busy: work is queued or running; `what` says which.
    void activityChanged(bool busy, const QString& what);
};

}  // namespace rllm

Q_DECLARE_METATYPE(std::shared_ptr<const rllm::CaseAnalysis>)
