#pragma once
// The Cohort view: the two compared models over a whole split (or a folder
// of labelled images). ROC curves with AUCs and CIs, the reliability diagram,
// both confusion matrices, the paired tests in words, and a table of cases
// sortable by disagreement and by |P_B - P_A|; clicking a row opens that case
// in the views, where the session shows both models' CAMs. Computed in the
// background with progress and cancel; pairs that answer different
// questions are refused before any work.

#include <QWidget>

#include <memory>

class QChartView;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QTableWidget;

namespace rllm {

class AnalysisService;
class CohortRunner;
class CaseSource;
class ConfusionMatrixView;
class ViewerSession;
struct CohortComparison;

class CohortView : public QWidget {
    Q_OBJECT
  public:
    CohortView(ViewerSession* session, AnalysisService* service, QWidget* parent = nullptr);
    ~CohortView() override;

    // Compares the session's two compared models on `dataPath` (a MedMNIST
    // archive: its `split`; or a folder with labels.csv). Empty path: the
    // archive open in the viewer.
    void run(const QString& dataPath = {}, const QString& split = {});
    void cancel();
    bool running() const;
    std::shared_ptr<const CohortComparison> result() const { return result_; }
    // Opens row `row` (as sorted on screen) in the views.
    void openRow(int row);

    bool saveReport(const QString& path, QString* error) const;
    bool saveCharts(const QString& stem, QString* error) const;
    bool saveCases(const QString& path, QString* error) const;

  signals:
    void finished();  // a result is shown, or the run failed or was refused

  private:
    void updateModels();
    void showResult(std::shared_ptr<const CohortComparison> result);
    void showFailure(const QString& message);
    void fillTable();
    void showRocEntry(int entry);
    void chooseData();

    ViewerSession* session_;
    AnalysisService* service_;
    CohortRunner* runner_;
    std::shared_ptr<const CohortComparison> result_;
    std::shared_ptr<const CaseSource> cases_;
    QString dataPath_;

    QLabel* modelsLabel_;
    QLabel* dataLabel_;
    QComboBox* splitCombo_;
    QPushButton* runButton_;
    QPushButton* cancelButton_;
    QProgressBar* progress_;
    QLabel* message_;
    QLabel* verdict_;
    QLabel* figures_;
    QComboBox* rocClass_;
    QChartView* rocView_;
    QChartView* reliabilityView_;
    ConfusionMatrixView* confusionA_;
    ConfusionMatrixView* confusionB_;
    QTableWidget* table_;
    QPushButton* reportButton_;
    QPushButton* chartsButton_;
    QPushButton* csvButton_;
};

}  // namespace rllm
