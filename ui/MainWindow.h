#pragma once
// The viewer's main window: a 2D slice view beside a 3D view of the same
// image, menus to open files, DICOM folders, MedMNIST cases and the embedded
// demo, and an in-window banner for load errors (the viewer keeps running).

#include <QMainWindow>

#include <memory>

class QComboBox;
class QLabel;
class QSlider;
class QSpinBox;
class QWidget;

namespace rllm {

class MedMnistDataset;
class SliceView;
class Volume;
class VolumeView3D;

class MainWindow : public QMainWindow {
    Q_OBJECT
  public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens a file or DICOM folder. On failure the error is shown in the
    // window, the current image stays, and false is returned.
    bool openPath(const QString& path);
    // The synthetic phantom (2D or 3D) the project generates itself.
    void openDemo(bool threeD);
    // Writes the whole window as PNG, atomically. Returns false and shows why on failure.
    bool saveScreenshot(const QString& path);

    QString lastError() const { return lastError_; }
    std::shared_ptr<const Volume> volume() const { return volume_; }
    SliceView* sliceView() const { return sliceView_; }
    VolumeView3D* volumeView() const { return volumeView_; }

  protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

  private:
    void buildMenus();
    void showVolume(std::shared_ptr<const Volume> volume, const QString& title);
    void showError(const QString& message);
    void openDatasetCase();
    void updateSliceControls();

    SliceView* sliceView_ = nullptr;
    VolumeView3D* volumeView_ = nullptr;
    QLabel* errorBanner_ = nullptr;
    QLabel* syntheticBanner_ = nullptr;
    QLabel* infoLabel_ = nullptr;
    QComboBox* axisCombo_ = nullptr;
    QSlider* sliceSlider_ = nullptr;
    QWidget* caseBar_ = nullptr;
    QComboBox* splitCombo_ = nullptr;
    QSpinBox* indexSpin_ = nullptr;
    QLabel* caseLabel_ = nullptr;

    std::shared_ptr<const Volume> volume_;
    std::shared_ptr<MedMnistDataset> dataset_;
    QString lastError_;
};

}  // namespace rllm
