#pragma once
// Two of the comparison's slots side by side on the current case (any two,
// chosen at the top): each one's predicted class, a probability bar per
// class, its CAM over the image and the CAM's deletion / insertion AUC; their
// difference map (first - second); and whether they agree. It shows the
// ViewerSession and holds nothing of its own. The three small views follow
// one slice view of the main grid (same plane, slice, zoom and window).

#include <QWidget>

#include <array>
#include <memory>

class QComboBox;
class QLabel;

namespace rllm {

class ProbabilityBars;
class SliceView;
class ViewerSession;

// What the viewer and its report say under a map that fails its own
// faithfulness check (CaseAnalysis::failsFaithfulnessCheck).
QString unfaithfulMapWarning();

class ComparisonPanel : public QWidget {
    Q_OBJECT
  public:
    explicit ComparisonPanel(ViewerSession* session, QWidget* parent = nullptr);
    ~ComparisonPanel() override;

    // Keep the small views on `master`'s plane, slice, zoom and window.
    void follow(SliceView* master);
    // Catch up with the master now (when it changed with its signals blocked,
    // e.g. moved by the linked crosshair).
    void resync() { syncTo(master_); }

    // column 0 shows the first compared slot, column 1 the second.
    ProbabilityBars* bars(int column) const { return columns_[column].bars; }
    SliceView* camView(int column) const { return columns_[column].view; }
    QComboBox* slotChooser(int column) const { return columns_[column].chooser; }
    SliceView* differenceView() const { return differenceView_; }
    QString agreementText() const;
    QString columnTitle(int column) const;

  signals:
    // "Over the whole data set": the user asks for the cohort comparison of this pair.
    void cohortRequested();

  private:
    void showCase();
    void syncChoosers();
    void refresh();
    void syncTo(SliceView* master);

    struct Column {
        QComboBox* chooser = nullptr;
        QLabel* title = nullptr;
        QLabel* verdict = nullptr;
        QLabel* faithfulness = nullptr;
        ProbabilityBars* bars = nullptr;
        SliceView* view = nullptr;
    };
    ViewerSession* session_;
    std::array<Column, 2> columns_;
    QLabel* differenceTitle_ = nullptr;
    SliceView* differenceView_ = nullptr;
    QLabel* agreement_ = nullptr;
    SliceView* master_ = nullptr;
};

}  // namespace rllm
