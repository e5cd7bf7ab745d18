#pragma once
// One horizontal bar per class with its probability; the predicted class in
// the accent colour.

#include <QWidget>

#include <string>
#include <vector>

namespace rllm {

class ProbabilityBars : public QWidget {
    Q_OBJECT
  public:
    explicit ProbabilityBars(QWidget* parent = nullptr);

    void setProbabilities(const std::vector<std::string>& classNames,
                          const std::vector<float>& probabilities, int predicted);
    void clear();
    const std::vector<float>& probabilities() const { return probabilities_; }
    // The bar's drawn length for class `index` as a share of the full length.
    double drawnShare(int index) const;

    QSize sizeHint() const override;

  protected:
    void paintEvent(QPaintEvent* event) override;

  private:
    QRect barArea(int index) const;

    std::vector<std::string> names_;
    std::vector<float> probabilities_;
    int predicted_ = -1;
};

}  // namespace rllm
