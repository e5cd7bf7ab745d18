#include "models/CohortStatistics.h"

#include "core/Error.h"
#include "models/Metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace rllm {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// DeLong's structural components: for each positive case the share of
// negatives it outscores (V10), for each negative the share of positives that
// outscore it (V01); ties count one half. Their means are the AUC.
struct Components {
    double auc = kNaN;
    std::vector<double> v10, v01;
};

Components structuralComponents(const std::vector<double>& scores,
                                const std::vector<int>& positives) {
    if (scores.size() != positives.size()) throw Error("AUC: scores and labels differ in length");
    std::vector<double> x, y;  // positives, negatives
    for (size_t i = 0; i < scores.size(); ++i) (positives[i] ? x : y).push_back(scores[i]);
    Components c;
    const size_t m = x.size(), n = y.size();
    if (m == 0 || n == 0) return c;
    std::vector<double> z = x;
    z.insert(z.end(), y.begin(), y.end());
    const std::vector<double> tx = midranks(x), ty = midranks(y), tz = midranks(z);
    c.v10.resize(m);
    c.v01.resize(n);
    double rankSum = 0;
    for (size_t i = 0; i < m; ++i) {
        rankSum += tz[i];
        // Rank among all minus rank among positives: negatives below (ties half).
        c.v10[i] = (tz[i] - tx[i]) / double(n);
    }
    for (size_t j = 0; j < n; ++j) c.v01[j] = 1.0 - (tz[m + j] - ty[j]) / double(m);
    c.auc = (rankSum - m * (m + 1) / 2.0) / (double(m) * n);
    return c;
}

double covariance(const std::vector<double>& a, const std::vector<double>& b) {
    const size_t n = a.size();
    if (n < 2) return 0;
    const double meanA = std::accumulate(a.begin(), a.end(), 0.0) / n;
    const double meanB = std::accumulate(b.begin(), b.end(), 0.0) / n;
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += (a[i] - meanA) * (b[i] - meanB);
    return sum / (n - 1);
}

AucEstimate estimateFrom(const Components& c, double confidence) {
    AucEstimate e;
    e.positives = static_cast<int64_t>(c.v10.size());
    e.negatives = static_cast<int64_t>(c.v01.size());
    e.auc = c.auc;
    if (std::isnan(c.auc)) {
        e.variance = e.ciLow = e.ciHigh = kNaN;
        return e;
    }
    e.variance = covariance(c.v10, c.v10) / e.positives + covariance(c.v01, c.v01) / e.negatives;
    const double half = normalQuantileTwoSided(confidence) * std::sqrt(e.variance);
    e.ciLow = std::max(0.0, e.auc - half);
    e.ciHigh = std::min(1.0, e.auc + half);
    return e;
}

}  // namespace

double normalTwoSidedP(double z) {
    return std::erfc(std::fabs(z) / std::sqrt(2.0));
}

double normalQuantileTwoSided(double confidence) {
    if (!(confidence > 0 && confidence < 1)) throw Error("a confidence level must lie in (0, 1)");
    // Bisection on the two-sided tail: erfc is accurate to the last bits, and
    // this runs once per report.
    double lo = 0, hi = 40;
    for (int i = 0; i < 200; ++i) {
        const double mid = (lo + hi) / 2;
        (normalTwoSidedP(mid) > 1 - confidence ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
}

AucEstimate delongAuc(const std::vector<double>& scores, const std::vector<int>& positives,
                      double confidence) {
    return estimateFrom(structuralComponents(scores, positives), confidence);
}

PairedAucTest delongPairedTest(const std::vector<double>& scoresA,
                               const std::vector<double>& scoresB,
                               const std::vector<int>& positives, double confidence) {
    if (scoresA.size() != scoresB.size())
        throw Error("a paired test needs both models' scores on the same cases");
    const Components a = structuralComponents(scoresA, positives);
    const Components b = structuralComponents(scoresB, positives);
    PairedAucTest t;
    t.a = estimateFrom(a, confidence);
    t.b = estimateFrom(b, confidence);
    if (std::isnan(a.auc)) {
        t.difference = t.variance = t.ciLow = t.ciHigh = t.z = t.pValue = kNaN;
        return t;
    }
    const double m = double(a.v10.size()), n = double(a.v01.size());
    const double covariance10 = covariance(a.v10, b.v10), covariance01 = covariance(a.v01, b.v01);
    t.difference = b.auc - a.auc;
    t.variance = t.a.variance + t.b.variance - 2 * (covariance10 / m + covariance01 / n);
    // Rounding can leave a tiny negative variance for identical curves.
    t.variance = std::max(0.0, t.variance);
    const double se = std::sqrt(t.variance);
    const double half = normalQuantileTwoSided(confidence) * se;
    t.ciLow = t.difference - half;
    t.ciHigh = t.difference + half;
    if (se > 0) {
        t.z = t.difference / se;
        t.pValue = normalTwoSidedP(t.z);
    } else {
        t.z = 0;
        t.pValue = t.difference == 0 ? 1.0 : 0.0;
    }
    return t;
}

McNemarTest mcnemarExact(const std::vector<bool>& correctA, const std::vector<bool>& correctB) {
    if (correctA.size() != correctB.size())
        throw Error("McNemar's test needs both models' outcomes on the same cases");
    McNemarTest t;
    for (size_t i = 0; i < correctA.size(); ++i) {
        t.onlyACorrect += correctA[i] && !correctB[i];
        t.onlyBCorrect += correctB[i] && !correctA[i];
    }
    const int64_t n = t.onlyACorrect + t.onlyBCorrect;
    const int64_t k = std::min(t.onlyACorrect, t.onlyBCorrect);
    // P(X <= k), summed in log space so thousands of discordant pairs do not underflow.
    double tail = 0;
    for (int64_t i = 0; i <= k; ++i)
        tail += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) -
                         n * std::log(2.0));
    t.pValue = std::min(1.0, 2 * tail);
    return t;
}

std::vector<BootstrapInterval> pairedBootstrap(size_t cases, int count,
                                               const WeightedStatistic& statistic, int samples,
                                               uint64_t seed, double confidence) {
    if (cases == 0 || count <= 0) throw Error("a bootstrap needs cases and a statistic");
    if (samples < 1) throw Error("a bootstrap needs at least one resample");
    std::vector<BootstrapInterval> out(count);
    std::vector<int> weights(cases, 1);
    std::vector<double> values(count);
    statistic(weights, values.data());
    for (int s = 0; s < count; ++s) out[s].estimate = values[s];

    std::vector<std::vector<double>> resampled(count);
    std::mt19937_64 random(seed);
    for (int r = 0; r < samples; ++r) {
        std::fill(weights.begin(), weights.end(), 0);
        for (size_t i = 0; i < cases; ++i) {
            // floor(u * n) with u from the top 53 bits: the same on every
            // standard library, unlike uniform_int_distribution.
            const double u = double(random() >> 11) * 0x1.0p-53;
            ++weights[std::min(cases - 1, size_t(u * cases))];
        }
        statistic(weights, values.data());
        for (int s = 0; s < count; ++s)
            if (!std::isnan(values[s])) resampled[s].push_back(values[s]);
    }
    const double alpha = 1 - confidence;
    for (int s = 0; s < count; ++s) {
        std::vector<double>& v = resampled[s];
        BootstrapInterval& b = out[s];
        b.samples = static_cast<int>(v.size());
        if (v.empty()) {
            b.ciLow = b.ciHigh = b.pValue = kNaN;
            continue;
        }
        std::sort(v.begin(), v.end());
        // Percentiles by linear interpolation between order statistics.
        auto quantile = [&](double q) {
            const double position = q * (v.size() - 1);
            const size_t below = static_cast<size_t>(std::floor(position));
            const size_t above = std::min(v.size() - 1, below + 1);
            return v[below] + (position - below) * (v[above] - v[below]);
        };
        b.ciLow = quantile(alpha / 2);
        b.ciHigh = quantile(1 - alpha / 2);
        const double atOrBelow = double(std::upper_bound(v.begin(), v.end(), 0.0) - v.begin());
        const double atOrAbove = double(v.end() - std::lower_bound(v.begin(), v.end(), 0.0));
        b.pValue = std::min(1.0, 2 * std::min(atOrBelow, atOrAbove) / v.size());
    }
    return out;
}

WeightedAuc::WeightedAuc(const std::vector<double>& scores, const std::vector<int>& positives)
    : order_(scores.size()), scores_(scores), positives_(positives) {
    if (scores.size() != positives.size()) throw Error("AUC: scores and labels differ in length");
    std::iota(order_.begin(), order_.end(), 0);
    std::sort(order_.begin(), order_.end(),
              [&](size_t a, size_t b) { return scores_[a] < scores_[b]; });
}

double WeightedAuc::operator()(const std::vector<int>& weights) const {
    // Walk the cases from the lowest score up, a group of equal scores at a
    // time: each positive beats the negatives below its group and ties half
    // of those inside it.
    double negativesBelow = 0, pairsWon = 0, positiveWeight = 0;
    const size_t n = order_.size();
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double groupPositives = 0, groupNegatives = 0;
        while (j < n && scores_[order_[j]] == scores_[order_[i]]) {
            const size_t c = order_[j];
            (positives_[c] ? groupPositives : groupNegatives) += weights[c];
            ++j;
        }
        pairsWon += groupPositives * (negativesBelow + groupNegatives / 2);
        negativesBelow += groupNegatives;
        positiveWeight += groupPositives;
        i = j;
    }
    if (positiveWeight == 0 || negativesBelow == 0) return kNaN;
    return pairsWon / (positiveWeight * negativesBelow);
}

std::vector<RocPoint> rocCurve(const std::vector<double>& scores,
                               const std::vector<int>& positives) {
    std::vector<size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    double p = 0, n = 0;
    for (int v : positives) (v ? p : n) += 1;
    std::vector<RocPoint> curve{{0, 0, std::numeric_limits<double>::infinity()}};
    if (p == 0 || n == 0) return curve;
    double tp = 0, fp = 0;
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        while (j < order.size() && scores[order[j]] == scores[order[i]]) {
            (positives[order[j]] ? tp : fp) += 1;
            ++j;
        }
        curve.push_back({fp / n, tp / p, scores[order[i]]});
        i = j;
    }
    return curve;
}

Calibration calibrationOf(const std::vector<double>& predicted, const std::vector<int>& happened,
                          int bins) {
    if (predicted.size() != happened.size() || predicted.empty() || bins < 1)
        throw Error("calibration needs predictions and outcomes for the same, non-zero cases");
    Calibration c;
    std::vector<double> sumPredicted(bins, 0), sumHappened(bins, 0);
    std::vector<int64_t> counts(bins, 0);
    for (size_t i = 0; i < predicted.size(); ++i) {
        const double p = std::clamp(predicted[i], 0.0, 1.0);
        const int bin = std::min(bins - 1, static_cast<int>(p * bins));
        sumPredicted[bin] += p;
        sumHappened[bin] += happened[i] ? 1 : 0;
        ++counts[bin];
    }
    for (int b = 0; b < bins; ++b) {
        ReliabilityBin r;
        r.lower = double(b) / bins;
        r.upper = double(b + 1) / bins;
        r.count = counts[b];
        r.meanPredicted = counts[b] ? sumPredicted[b] / counts[b] : kNaN;
        r.observed = counts[b] ? sumHappened[b] / counts[b] : kNaN;
        if (counts[b])
            c.expectedCalibrationError +=
                double(counts[b]) / predicted.size() * std::fabs(r.observed - r.meanPredicted);
        c.bins.push_back(r);
    }
    return c;
}

}  // namespace rllm
