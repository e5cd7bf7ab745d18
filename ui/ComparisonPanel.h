#pragma once
// Two models side by side on the current case: each one's predicted class, a
// probability bar per class, its CAM over the image and the CAM's deletion /
// insertion AUC; their difference map (A - B); and whether they agree. The
// three small views follow one slice view of the main grid (same plane,
// slice, zoom and window).

#include "ui/OverlayStyle.h"

#include <QWidget>

#include <array>
#include <memory>

class QLabel;

namespace rllm {

class ProbabilityBars;
class SliceView;
class Volume;
struct CaseAnalysis;

class ComparisonPanel : public QWidget {
    Q_OBJECT
  public:
    explicit ComparisonPanel(QWidget* parent = nullptr);
    ~ComparisonPanel() override;

    void setCase(std::shared_ptr<const Volume> volume);
    // slot 0 is model A, 1 is model B; an empty name means no model chosen.
    void setModel(int slot, const QString& name, const QString& kind);
    // No result for `slot` yet: "computing...", or `why` there will be none.
    void setPending(int slot, const QString& why = {});
    void setResult(int slot, std::shared_ptr<const CaseAnalysis> result);
    std::shared_ptr<const CaseAnalysis> result(int slot) const { return results_[slot]; }
    void setOverlayStyle(const OverlayStyle& style);

    // Keep the small views on `master`'s plane, slice, zoom and window.
    void follow(SliceView* master);
    // Catch up with the master now (when it changed with its signals blocked,
    // e.g. moved by the linked crosshair).
    void resync() { syncTo(master_); }

    ProbabilityBars* bars(int slot) const { return columns_[slot].bars; }
    SliceView* camView(int slot) const { return columns_[slot].view; }
    SliceView* differenceView() const { return differenceView_; }
    std::shared_ptr<const Volume> differenceMap() const { return difference_; }
    QString agreementText() const;
    QString modelName(int slot) const { return columns_[slot].name; }

  private:
    void refresh();
    void syncTo(SliceView* master);

    struct Column {
        QString name;
        QLabel* title = nullptr;
        QLabel* verdict = nullptr;
        QLabel* faithfulness = nullptr;
        ProbabilityBars* bars = nullptr;
        SliceView* view = nullptr;
    };
    std::array<Column, 2> columns_;
    std::array<std::shared_ptr<const CaseAnalysis>, 2> results_;
    SliceView* differenceView_ = nullptr;
    QLabel* agreement_ = nullptr;
    std::shared_ptr<const Volume> volume_, difference_;
    std::array<const Volume*, 2> differenceOf_{};  // the CAMs difference_ was computed from
    OverlayStyle style_;
    SliceView* master_ = nullptr;
};

}  // namespace rllm
