#pragma once
// The model panel: load bundles (any number), read their configuration and
// provenance, pick the two to compare, the device, the CAM method and layer,
// and how the CAMs are drawn (colour map, opacity, threshold, per model on or
// off; fused into the 3D view or not). It holds choices only; MainWindow acts
// on settingsChanged().

#include "ui/OverlayStyle.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QListWidget;
class QSlider;
class QTextBrowser;

namespace rllm {

class AnalysisService;
struct CamRequest;

class ModelPanel : public QWidget {
    Q_OBJECT
  public:
    ModelPanel(AnalysisService* service, QWidget* parent = nullptr);

    int modelIndex(int slot) const;  // slot 0: A, 1: B; -1 when none
    void setModelIndex(int slot, int index);
    CamRequest camRequest() const;
    void setCamMethod(const QString& method);
    OverlayStyle overlayStyle() const;
    void setOverlayStyle(const OverlayStyle& style);
    bool overlayShown(int slot) const;
    int cam3dSlot() const;  // -1: no CAM in 3D
    QString transferPreset() const;
    QString device() const;
    void setDevice(const QString& device);

    // A short "task, classes, architecture, LLM source, metrics" summary of a bundle description.
    static QString summarise(const QString& descriptionJson);

  signals:
    void settingsChanged();
    void loadRequested();
    void deviceChosen(const QString& device);

  private:
    void refreshModels();
    void showDetails(int index);

    AnalysisService* service_;
    QListWidget* list_ = nullptr;
    QTextBrowser* details_ = nullptr;
    QComboBox* slotCombo_[2] = {nullptr, nullptr};
    QCheckBox* showOverlay_[2] = {nullptr, nullptr};
    QComboBox* device_ = nullptr;
    QComboBox* method_ = nullptr;
    QComboBox* layer_ = nullptr;
    QComboBox* colormap_ = nullptr;
    QSlider* opacity_ = nullptr;
    QSlider* threshold_ = nullptr;
    QComboBox* cam3d_ = nullptr;
    QComboBox* transfer_ = nullptr;
};

}  // namespace rllm
