#pragma once
// The model panel: load bundles (any number), read their configuration and
// provenance, put them in the comparison's slots (A, B, C...; any number,
// each one's CAM shown over the views or not), the device, the CAM method and
// layer, and how CAMs are drawn (colour map, opacity, threshold; which slot's
// CAM goes into the 3D view). It holds no state of its own: it shows the
// ViewerSession and sends it what the user chose.

#include <QWidget>

#include <vector>

class QCheckBox;
class QComboBox;
class QGridLayout;
class QLabel;
class QListWidget;
class QPushButton;
class QSlider;
class QTextBrowser;
class QToolButton;

namespace rllm {

class ViewerSession;
struct BundleDescription;

class ModelPanel : public QWidget {
    Q_OBJECT
  public:
    explicit ModelPanel(ViewerSession* session, QWidget* parent = nullptr);

    QString device() const;
    void setDevice(const QString& device);

    // A short "task, classes, architecture, LLM source, metrics" summary of a bundle description.
    static QString summarise(const BundleDescription& description);
    // Where the `auto` CAM of this model comes from: the recipe `rllm
    // cam-choose` (or train --choose-cam) recorded for it, with what it scored,
    // or the default rule measured on the synthetic phantoms.
    static QString autoCamOrigin(const BundleDescription& description);

  signals:
    void loadRequested();
    void deviceChosen(const QString& device);

  private:
    struct SlotRow {
        QLabel* letter = nullptr;
        QComboBox* model = nullptr;
        QCheckBox* shown = nullptr;
        QToolButton* remove = nullptr;
    };
    void refreshModels();
    void syncSlots();
    void syncDisplay();
    void sendCamRequest();
    void sendOverlayStyle();
    void showDetails(int index);
    void chooseAutoCam();
    void finishAutoCam(const QString& summary);
    void saveChosenCopy();

    ViewerSession* session_;
    QListWidget* list_ = nullptr;
    QTextBrowser* details_ = nullptr;
    QPushButton* chooseAuto_ = nullptr;
    QPushButton* saveChosen_ = nullptr;
    QLabel* autoNote_ = nullptr;
    bool choosingAuto_ = false;
    bool savingCopy_ = false;
    QGridLayout* slotGrid_ = nullptr;
    std::vector<SlotRow> rows_;
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
