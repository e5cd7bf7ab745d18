#pragma once
// A scripted AnalysisBackend for the session and viewer tests.

#include "core/Volume.h"
#include "ui/session/AnalysisBackend.h"

#include <QFileInfo>
#include <QString>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rllm::test {

// An AnalysisBackend whose answers the test hands out one by one. Each
// answer's CAM is filled with a marker value, so a test can tell which
// request a shown result came from.
class ScriptedBackend : public AnalysisBackend {
  public:
    struct Request {
        quint64 caseId;
        int modelIndex;
        CamRequest cam;
        std::shared_ptr<const Volume> volume;
    };

    void addModel(const QString& path, bool volumetric, bool boosted = false,
                  const QString& trainedOn = {}) {
        ModelInfo info;
        info.trainedOn = trainedOn;
        info.path = path;
        info.name = QFileInfo(path).fileName();
        info.volumetric = volumetric;
        info.boosted = boosted;
        info.device = "cpu";
        models_.push_back(info);
        emit modelsChanged();
    }

    void setDescription(int index, std::shared_ptr<const BundleDescription> description) {
        models_.at(index).description = std::move(description);
    }

    int modelCount() const override { return static_cast<int>(models_.size()); }
    ModelInfo modelInfo(int index) const override {
        return index >= 0 && index < modelCount() ? models_[index] : ModelInfo{};
    }
    std::shared_ptr<const CaseAnalysis> cached(quint64 caseId, int modelIndex,
                                               const CamRequest& cam) const override {
        auto it = cache_.find(key(caseId, modelIndex, cam));
        return it == cache_.end() ? nullptr : it->second;
    }
    void request(quint64 caseId, std::shared_ptr<const Volume> volume, int modelIndex,
                 const CamRequest& cam) override {
        pending.push_back({caseId, modelIndex, cam, std::move(volume)});
        ++requestsMade;
        emit activityChanged(true, "working");
    }
    void setFocusCase(quint64 caseId) override { focus = caseId; }
    void cancelPending() override {
        pending.clear();
        ++cancelled;
        emit activityChanged(false, {});
    }
    bool busy() const override { return !pending.empty(); }
    // No test of the session asks for a choice; the real one is in test_viewer.
    void chooseAutoCam(int, const QString&) override {}
    void saveModelCopy(int, const QString&) override {}

    // Answers pending request `i`: predicts class `predicted` of `classes`
    // with a CAM of `marker` and the given faithfulness scores.
    void answer(size_t i, float marker, int predicted = 0,
                std::vector<std::string> classes = {"normal", "lesion"}, double deletionAuc = 0.2,
                double insertionAuc = 0.8) {
        const Request r = pending.at(i);
        pending.erase(pending.begin() + i);
        auto result = std::make_shared<CaseAnalysis>();
        result->classNames = std::move(classes);
        result->probabilities =
            predicted ? std::vector<float>{0.2f, 0.8f} : std::vector<float>{0.7f, 0.3f};
        result->predicted = predicted;
        auto cam = std::make_shared<Volume>(r.volume->size(), 1);
        cam->geometry() = r.volume->geometry();
        std::fill(cam->voxels().begin(), cam->voxels().end(), marker);
        result->cam = cam;
        result->method = r.cam.method;
        result->deletionAuc = deletionAuc;
        result->insertionAuc = insertionAuc;
        cache_[key(r.caseId, r.modelIndex, r.cam)] = result;
        emit resultReady(r.caseId, r.modelIndex, r.cam, result);
        if (pending.empty()) emit activityChanged(false, {});
    }
    // Request `i` fails the way a LibTorch error does.
    void failRequest(size_t i) {
        pending.erase(pending.begin() + i);
        emit failed("model: out of memory");
        if (pending.empty()) emit activityChanged(false, {});
    }

    std::vector<Request> pending;
    int requestsMade = 0, cancelled = 0;
    quint64 focus = 0;

  private:
    static QString key(quint64 caseId, int model, const CamRequest& cam) {
        return QStringLiteral("%1|%2|%3|%4").arg(caseId).arg(model).arg(cam.method, cam.layer);
    }
    std::vector<ModelInfo> models_;
    std::map<QString, std::shared_ptr<const CaseAnalysis>> cache_;
};

}  // namespace rllm::test
