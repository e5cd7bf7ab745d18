#pragma once
// File > PACS: the configured nodes (add, edit, remove, test with C-ECHO),
// a query form, the matching studies as they arrive, the series of the
// chosen study with what the local cache holds of each, and retrieve with
// progress per series and cancel. A series that arrived whole is offered to
// the viewer to open (seriesReady); an incomplete one is marked so and is
// never opened as if it were whole.

#include "core/pacs/Dimse.h"
#include "core/pacs/PacsNode.h"

#include <QDialog>

#include <functional>
#include <map>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace rllm {

class PacsJobs;
struct RetrievalReport;

class PacsBrowser : public QDialog {
    Q_OBJECT
  public:
    explicit PacsBrowser(QWidget* parent = nullptr);
    ~PacsBrowser() override;

    PacsJobs* jobs() const { return jobs_; }
    // The node chosen in the list (as last read); false when there is none.
    bool currentNode(PacsNode* node) const;
    void reloadNodes(const QString& select = {});

    // The same as the buttons, for scripts and tests.
    void search();
    void showSeriesOf(int studyRow);
    void retrieveSelected();

  signals:
    // A series arrived whole (or was whole in the cache): open this folder.
    void seriesReady(const QString& folder);

  private:
    void addNode();
    void editNode();
    void removeNode();
    void testNode();
    void onMatches(quint64 query, const std::vector<QueryMatch>& matches);
    void onFindFinished(quint64 query, bool truncated, const QString& error);
    void onRetrieveProgress(const QString& seriesUid, int done, int total);
    void onRetrieveFinished(const RetrievalReport& report);
    void setStatus(const QString& text, bool error = false);
    bool overDicomWeb() const;
    int seriesRow(const QString& seriesUid) const;
    // Applies `change` to the saved list (read afresh) and saves it; refuses
    // when the file cannot be read, so it is never overwritten.
    void changeNodes(const std::function<void(PacsNodeList&)>& change, const QString& select = {});

    PacsJobs* jobs_;
    PacsNodeList nodeList_;  // as last read; reloadNodes() reads the file again
    QComboBox* nodes_;
    QLineEdit *patientName_, *patientId_, *dateFrom_, *dateTo_, *modality_, *accession_;
    QSpinBox* limit_;
    QTableWidget *studies_, *series_;
    QComboBox* method_;
    QPushButton *retrieve_, *cancel_;
    QLabel *status_, *studiesInfo_;
    quint64 studyQuery_ = 0, seriesQuery_ = 0;
    std::vector<QueryMatch> studyMatches_, seriesMatches_;
    QString seriesStudyUid_;
    // Series the user asked to open once they arrive.
    std::map<QString, bool> openWhenReady_;
};

}  // namespace rllm
