#pragma once
// The viewer's main window: linked axial/coronal/sagittal and 3D views of
// the open image (ViewGrid), the model panel and the comparison panel as
// docks, menus to open files, DICOM folders, MedMNIST cases and the demo,
// exports, themes, and an in-window banner for every failure (the viewer
// keeps running). Files load and models run off the GUI thread.

#include <QMainWindow>

#include <array>
#include <memory>

class QComboBox;
class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QWidget;
class QTemporaryDir;

namespace rllm {

class AnalysisService;
class ComparisonPanel;
class CohortView;
class PacsBrowser;
struct PacsNode;
class ModelPanel;
class SliceView;
class ViewGrid;
class ViewerSession;
class Volume;
class VolumeView3D;

class MainWindow : public QMainWindow {
    Q_OBJECT
  public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Starts opening a file or DICOM folder in the background. Failures show
    // in the window; the current image stays.
    void openPath(const QString& path);
    // openPath, then waits (in a local event loop) until it has finished.
    // Returns false when it failed; lastError() says why.
    bool openPathAndWait(const QString& path, int timeoutMs = 60000);
    // One case of the open MedMNIST archive.
    void openDatasetCase(const QString& split, int index);
    // The synthetic phantom (2D or 3D) alone, without models.
    void openDemo(bool threeD);
    // The demo with models: phantoms and demo bundles from `folder`, made there
    // first (with a progress dialog) when missing. Shows the comparison.
    void openDemoWithModels(const QString& folder, bool threeD);

    // Loads a bundle in the background (AnalysisService).
    void loadModel(const QString& path);
    // Waits (in a local event loop) until files are loaded and models have answered.
    bool waitUntilIdle(int timeoutMs = 120000);

    bool saveScreenshot(const QString& path);
    bool saveViewScreenshot(QWidget* view, const QString& path);
    bool saveReport(const QString& path);
    // Writes each slot's CAM as NIfTI in the input's geometry: <stem>_A.nii.gz,
    // <stem>_B.nii.gz, ... Returns the files written.
    QStringList saveCams(const QString& stem);
    // File > PACS: the browser (made on first use). A series it retrieved
    // whole opens here.
    PacsBrowser* pacsBrowser();
    // The comparison's results for the open DICOM series, sent to `node` in
    // the series' own study: each compared model's CAM burned into the image
    // as a Secondary Capture series and its values as a Parametric Map, and
    // the comparison report as Encapsulated PDF. Starts the transfer and returns true; false (with
    // the reason shown) when there is nothing to send. The outcome comes as the browser's
    // jobs()->storeFinished and in the status bar.
    bool sendResultsToPacs(const PacsNode& node);

    void setDarkTheme(bool dark);
    bool darkTheme() const { return dark_; }
    // True when the window took the size and place remembered from the last run.
    bool restoredGeometry() const { return restoredGeometry_; }

    QString lastError() const { return lastError_; }
    std::shared_ptr<const Volume> volume() const;
    ViewerSession* session() const { return session_; }
    ViewGrid* viewGrid() const { return grid_; }
    SliceView* sliceView() const;
    VolumeView3D* volumeView() const;
    ModelPanel* modelPanel() const { return modelPanel_; }
    ComparisonPanel* comparisonPanel() const { return comparison_; }
    CohortView* cohortView() const { return cohort_; }
    QDockWidget* cohortDock() const { return cohortDock_; }
    AnalysisService* analysis() const { return service_; }

  protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

  private:
    void buildMenus();
    void rebuildRecentMenu();
    void rememberRecent(const QString& path);
    void showCase();
    void showDatasetCursor();
    void chooseSeries(const QString& path);
    void showError(const QString& message);
    void updateOverlays();
    void updateDeviceLabel();
    void setBusy(bool busy, const QString& what);
    void applyWindowPreset(double center, double width);
    void loadSettings();
    void saveSettings() const;

    ViewGrid* grid_ = nullptr;
    ModelPanel* modelPanel_ = nullptr;
    ComparisonPanel* comparison_ = nullptr;
    CohortView* cohort_ = nullptr;
    QDockWidget* cohortDock_ = nullptr;
    PacsBrowser* pacs_ = nullptr;
    std::unique_ptr<QTemporaryDir> pacsOutbox_;  // result objects until they are sent
    AnalysisService* service_ = nullptr;
    ViewerSession* session_ = nullptr;
    QLabel* errorBanner_ = nullptr;
    QLabel* syntheticBanner_ = nullptr;
    QLabel* infoLabel_ = nullptr;
    QLabel* deviceLabel_ = nullptr;
    QLabel* busyLabel_ = nullptr;
    QProgressBar* progress_ = nullptr;
    QPushButton* cancel_ = nullptr;
    QWidget* caseBar_ = nullptr;
    QComboBox* splitCombo_ = nullptr;
    QSpinBox* indexSpin_ = nullptr;
    QLabel* caseLabel_ = nullptr;
    QMenu* recentMenu_ = nullptr;

    bool dark_ = true;
    QString lastError_;
    bool restoredGeometry_ = false;
};

}  // namespace rllm
