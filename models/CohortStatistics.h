#pragma once
// The statistics behind a cohort comparison of two classifiers on the same
// cases, in plain C++ (no LibTorch, no Qt): DeLong's variance of an AUC and
// his test for two correlated ROC curves, McNemar's exact test, a paired
// bootstrap, ROC curves and calibration. tests/test_cohort.cpp checks them
// against independent forms written in the test and against pROC.

#include <cstdint>
#include <functional>
#include <vector>

namespace rllm {

// The z of a two-sided normal interval, e.g. 1.95996 for 0.95.
double normalQuantileTwoSided(double confidence);
// Two-sided p-value of a standard normal statistic.
double normalTwoSidedP(double z);

struct AucEstimate {
    double auc = 0, variance = 0;  // NaN when the cases hold only one class
    double ciLow = 0, ciHigh = 0;  // auc -+ z sqrt(variance), clipped to [0, 1]
    int64_t positives = 0, negatives = 0;
};

// DeLong, DeLong & Clarke-Pearson (1988), computed with Sun & Xu's (2014)
// mid-rank algorithm in O(n log n). Higher scores mean "positive"; ties count
// one half, as in the Mann-Whitney statistic.
AucEstimate delongAuc(const std::vector<double>& scores, const std::vector<int>& positives,
                      double confidence = 0.95);

struct PairedAucTest {
    AucEstimate a, b;
    double difference = 0;  // B - A
    double variance = 0, ciLow = 0, ciHigh = 0, z = 0, pValue = 1;
};

// DeLong's test for two correlated ROC curves: both models scored the same
// cases. NaN fields when a class is absent; p = 1 when the curves are equal.
PairedAucTest delongPairedTest(const std::vector<double>& scoresA,
                               const std::vector<double>& scoresB,
                               const std::vector<int>& positives, double confidence = 0.95);

struct McNemarTest {
    int64_t onlyACorrect = 0, onlyBCorrect = 0;  // the discordant pairs
    double pValue = 1;                           // exact, two-sided
};

// McNemar's exact (binomial) test on paired right/wrong outcomes:
// p = min(1, 2 P(X <= min(b, c))) for X ~ Binomial(b + c, 1/2).
McNemarTest mcnemarExact(const std::vector<bool>& correctA, const std::vector<bool>& correctB);

struct BootstrapInterval {
    double estimate = 0;           // on the cases as they are
    double ciLow = 0, ciHigh = 0;  // percentile interval
    // Two-sided: twice the smaller share of resampled values on either side
    // of 0 (for a difference, the test of "no difference"), at most 1.
    double pValue = 1;
    int samples = 0;  // resamples used (those where the statistic was defined)
};

// Paired bootstrap: `samples` resamples of the n cases with replacement,
// drawn from a 64-bit Mersenne Twister seeded with `seed` (the same seed gives
// the same intervals on every platform). `statistic` gets each case's
// multiplicity in the resample (all 1 for the original cases) and writes
// `count` values; NaN marks a resample on which a value is undefined.
using WeightedStatistic = std::function<void(const std::vector<int>& weights, double* out)>;
std::vector<BootstrapInterval> pairedBootstrap(size_t cases, int count,
                                               const WeightedStatistic& statistic, int samples,
                                               uint64_t seed, double confidence = 0.95);

// Cases sorted once by score, so that the AUC of any resample (cases weighted
// by their multiplicity) costs one pass; equal to rocAuc for unit weights.
class WeightedAuc {
  public:
    WeightedAuc(const std::vector<double>& scores, const std::vector<int>& positives);
    double operator()(const std::vector<int>& weights) const;

  private:
    std::vector<size_t> order_;
    std::vector<double> scores_;
    std::vector<int> positives_;
};

struct RocPoint {
    double falsePositiveRate = 0, truePositiveRate = 0, threshold = 0;
};
// The empirical ROC curve from (0, 0) to (1, 1), one point per distinct score.
std::vector<RocPoint> rocCurve(const std::vector<double>& scores,
                               const std::vector<int>& positives);

struct ReliabilityBin {
    double lower = 0, upper = 0;
    double meanPredicted = 0, observed = 0;  // NaN when the bin is empty
    int64_t count = 0;
};
struct Calibration {
    double expectedCalibrationError = 0;  // sum over bins of count/N |observed - meanPredicted|
    std::vector<ReliabilityBin> bins;
};
// `predicted` in [0, 1] and whether the event happened (0/1), in `bins`
// equal-width bins; 1.0 falls in the last.
Calibration calibrationOf(const std::vector<double>& predicted, const std::vector<int>& happened,
                          int bins = 10);

}  // namespace rllm
