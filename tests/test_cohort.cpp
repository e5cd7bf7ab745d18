// The statistics of the cohort comparison (models/CohortStatistics.h,
// models/CohortComparison.h) against independent computations written out
// here, and against pROC (R) on its published aSAH example.

#include "models/CohortComparison.h"
#include "models/CohortStatistics.h"
#include "models/Metrics.h"

#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <random>

using namespace rllm;

namespace {

// DeLong's structural components the slow way: every positive against every
// negative (psi = 1, 1/2 or 0), as in DeLong et al. (1988), eq. 2-4.
struct SlowDelong {
    double auc = 0;
    std::vector<double> v10, v01;
};

SlowDelong slowComponents(const std::vector<double>& s, const std::vector<int>& positive) {
    std::vector<double> x, y;
    for (size_t i = 0; i < s.size(); ++i) (positive[i] ? x : y).push_back(s[i]);
    SlowDelong d;
    d.v10.assign(x.size(), 0);
    d.v01.assign(y.size(), 0);
    for (size_t i = 0; i < x.size(); ++i)
        for (size_t j = 0; j < y.size(); ++j) {
            const double psi = x[i] > y[j] ? 1.0 : x[i] == y[j] ? 0.5 : 0.0;
            d.v10[i] += psi / y.size();
            d.v01[j] += psi / x.size();
            d.auc += psi / (double(x.size()) * y.size());
        }
    return d;
}

double sampleCovariance(const std::vector<double>& a, const std::vector<double>& b) {
    double ma = 0, mb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        ma += a[i] / a.size();
        mb += b[i] / b.size();
    }
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += (a[i] - ma) * (b[i] - mb);
    return s / (a.size() - 1);
}

// Scores with many ties (rounded to a tenth), positives shifted up by `shift`.
void makeScores(std::mt19937_64& random, size_t n, double shift, std::vector<double>& a,
                std::vector<double>& b, std::vector<int>& positive) {
    std::normal_distribution<double> normal;
    std::bernoulli_distribution coin(0.4);
    a.clear();
    b.clear();
    positive.clear();
    for (size_t i = 0; i < n; ++i) {
        const int p = coin(random) ? 1 : 0;
        const double shared = normal(random);
        positive.push_back(p);
        a.push_back(std::round((p * shift + shared) * 10) / 10);
        b.push_back(std::round((p * shift * 1.3 + 0.6 * shared + 0.8 * normal(random)) * 10) / 10);
    }
}

// C(n, k) exactly, for n up to 62.
uint64_t choose(int n, int k) {
    uint64_t r = 1;
    for (int i = 1; i <= k; ++i) r = r * (n - k + i) / i;
    return r;
}

double standardNormalCdf(double x) {
    return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

}  // namespace

class CohortTest : public QObject {
    Q_OBJECT

  private slots:
    void normalQuantileIsTheTwoSidedZ() {
        QVERIFY(std::fabs(normalQuantileTwoSided(0.95) - 1.959963984540054) < 1e-12);
        QVERIFY(std::fabs(normalQuantileTwoSided(0.99) - 2.5758293035489) < 1e-11);
        QVERIFY(std::fabs(normalTwoSidedP(1.959963984540054) - 0.05) < 1e-14);
    }

    void delongMatchesTheMannWhitneyForm() {
        std::mt19937_64 random(7);
        for (int trial = 0; trial < 20; ++trial) {
            std::vector<double> a, b;
            std::vector<int> positive;
            makeScores(random, 40 + trial * 13, 0.3 + 0.1 * trial, a, b, positive);
            const SlowDelong sa = slowComponents(a, positive), sb = slowComponents(b, positive);
            const double m = sa.v10.size(), n = sa.v01.size();
            const double varA =
                sampleCovariance(sa.v10, sa.v10) / m + sampleCovariance(sa.v01, sa.v01) / n;
            const double varB =
                sampleCovariance(sb.v10, sb.v10) / m + sampleCovariance(sb.v01, sb.v01) / n;
            const double cov =
                sampleCovariance(sa.v10, sb.v10) / m + sampleCovariance(sa.v01, sb.v01) / n;
            const double varDiff = varA + varB - 2 * cov;
            const double z = (sb.auc - sa.auc) / std::sqrt(varDiff);
            const double p = 2 * (1 - standardNormalCdf(std::fabs(z)));

            const AucEstimate e = delongAuc(a, positive);
            QVERIFY2(std::fabs(e.auc - sa.auc) < 1e-12, qPrintable(QString::number(trial)));
            QVERIFY(std::fabs(e.auc - rocAuc(a, positive)) < 1e-12);
            QVERIFY(std::fabs(e.variance - varA) < 1e-12 * std::max(1.0, varA));
            QCOMPARE(e.positives, int64_t(m));
            const PairedAucTest t = delongPairedTest(a, b, positive);
            QVERIFY(std::fabs(t.difference - (sb.auc - sa.auc)) < 1e-12);
            QVERIFY(std::fabs(t.variance - varDiff) < 1e-12);
            QVERIFY(std::fabs(t.z - z) < 1e-8);
            QVERIFY(std::fabs(t.pValue - p) < 1e-8);
            const double half = 1.959963984540054 * std::sqrt(varDiff);
            QVERIFY(std::fabs(t.ciLow - (sb.auc - sa.auc - half)) < 1e-9);
            QVERIFY(std::fabs(t.ciHigh - (sb.auc - sa.auc + half)) < 1e-9);
        }
    }

    void delongOnOneClassIsUndefined() {
        const AucEstimate e = delongAuc({0.1, 0.5, 0.7}, {1, 1, 1});
        QVERIFY(std::isnan(e.auc) && std::isnan(e.variance));
        const PairedAucTest same =
            delongPairedTest({0.1, 0.5, 0.7, 0.2}, {0.1, 0.5, 0.7, 0.2}, {0, 1, 1, 0});
        QCOMPARE(same.difference, 0.0);
        QCOMPARE(same.pValue, 1.0);
    }

    // pROC's documented example (Robin et al. 2011; pROC's manual for ci.auc
    // and roc.test): 113 patients with aneurysmal subarachnoid haemorrhage,
    // outcome Poor (41) / Good (72). Published: AUC(s100b) 0.7314, 95 % CI
    // 0.6301-0.8326 (DeLong); s100b vs wfns Z = -2.209, p = 0.02718. The data
    // come from pROC itself at run time and are never stored here.
    void delongMatchesPublishedAsahExampleAndProc() {
        const QString rscript = QStandardPaths::findExecutable("Rscript");
        if (rscript.isEmpty())
            QSKIP("Rscript is not installed (scripts/install-deps installs r-cran-proc)");
        QTemporaryDir dir;
        const QString dataPath = dir.filePath("asah.csv"), procPath = dir.filePath("proc.txt");
        const QString program = QString(R"(
suppressMessages(library(pROC)); data(aSAH)
write.csv(data.frame(y = as.integer(aSAH$outcome == "Poor"), s100b = aSAH$s100b,
          wfns = as.numeric(aSAH$wfns)), "%1", row.names = FALSE)
r1 <- roc(aSAH$outcome, aSAH$s100b, quiet = TRUE, direction = "<")
r2 <- roc(aSAH$outcome, aSAH$wfns, quiet = TRUE, direction = "<")
t <- roc.test(r1, r2, method = "delong")
ci1 <- ci.auc(r1, method = "delong")
v <- c(auc(r1), var(r1), ci1[1], ci1[3], auc(r2), var(r2), t$statistic, t$p.value,
       t$conf.int[1], t$conf.int[2])
writeLines(sprintf("%.17g", v), "%2"))")
                                    .arg(dataPath, procPath);
        QProcess r;
        r.start(rscript, {"-e", program});
        QVERIFY(r.waitForFinished(120000));
        if (r.exitCode() != 0) {
            const QByteArray err = r.readAllStandardError();
            if (err.contains("no package called"))
                QSKIP("R's pROC is not installed (scripts/install-deps installs r-cran-proc)");
            QFAIL(err.constData());
        }
        std::ifstream data(dataPath.toStdString());
        std::string line;
        std::getline(data, line);  // header
        std::vector<int> poor;
        std::vector<double> s100b, wfns;
        while (std::getline(data, line)) {
            int y;
            double s, w;
            QCOMPARE(std::sscanf(line.c_str(), "%d,%lf,%lf", &y, &s, &w), 3);
            poor.push_back(y);
            s100b.push_back(s);
            wfns.push_back(w);
        }
        QCOMPARE(poor.size(), size_t(113));
        std::vector<double> proc;
        std::ifstream procFile(procPath.toStdString());
        for (double v; procFile >> v;) proc.push_back(v);
        QCOMPARE(proc.size(), size_t(10));

        const AucEstimate e = delongAuc(s100b, poor);
        // The published figures, as printed (4 digits).
        QCOMPARE(QString::number(e.auc, 'f', 4), QString("0.7314"));
        QCOMPARE(QString::number(e.ciLow, 'f', 4), QString("0.6301"));
        QCOMPARE(QString::number(e.ciHigh, 'f', 4), QString("0.8326"));
        // Model A = wfns, B = s100b: B - A is pROC's roc1 - roc2.
        const PairedAucTest t = delongPairedTest(wfns, s100b, poor);
        QCOMPARE(QString::number(t.z, 'f', 3), QString("-2.209"));
        QCOMPARE(QString::number(t.pValue, 'g', 4), QString("0.02718"));
        // pROC's own full-precision values.
        const double ours[] = {e.auc,        e.variance, e.ciLow,  e.ciHigh, t.a.auc,
                               t.a.variance, t.z,        t.pValue, t.ciLow,  t.ciHigh};
        for (int i = 0; i < 10; ++i)
            QVERIFY2(std::fabs(ours[i] - proc[i]) < 1e-9,
                     qPrintable(QString("value %1: ours %2, pROC %3")
                                    .arg(i)
                                    .arg(ours[i], 0, 'g', 17)
                                    .arg(proc[i], 0, 'g', 17)));
    }

    void mcnemarMatchesTheExactBinomial() {
        for (auto [b, c] : std::vector<std::pair<int, int>>{
                 {0, 0}, {1, 0}, {3, 9}, {12, 7}, {20, 20}, {5, 30}, {29, 31}, {0, 17}}) {
            std::vector<bool> rightA, rightB;
            for (int i = 0; i < b; ++i) rightA.push_back(true), rightB.push_back(false);
            for (int i = 0; i < c; ++i) rightA.push_back(false), rightB.push_back(true);
            for (int i = 0; i < 15; ++i) rightA.push_back(true), rightB.push_back(true);
            for (int i = 0; i < 4; ++i) rightA.push_back(false), rightB.push_back(false);
            const McNemarTest t = mcnemarExact(rightA, rightB);
            QCOMPARE(t.onlyACorrect, int64_t(b));
            QCOMPARE(t.onlyBCorrect, int64_t(c));
            const int n = b + c, k = std::min(b, c);
            uint64_t tail = 0;
            for (int i = 0; i <= k; ++i) tail += choose(n, i);
            const double expected = std::min(1.0, 2.0 * double(tail) / std::ldexp(1.0, n));
            QVERIFY2(std::fabs(t.pValue - expected) < 1e-12 * std::max(1e-300, expected) + 1e-15,
                     qPrintable(
                         QString("b %1 c %2: %3 vs %4").arg(b).arg(c).arg(t.pValue).arg(expected)));
        }
        // Thousands of discordant pairs neither underflow nor overflow.
        std::vector<bool> a(5000), b(5000);
        for (int i = 0; i < 5000; ++i) {
            a[i] = i % 2 == 0;
            b[i] = !a[i];
        }
        const McNemarTest big = mcnemarExact(a, b);
        QCOMPARE(big.pValue, 1.0);
        b[1] = false;
        b[3] = false;  // 2500 vs 2498
        QVERIFY(mcnemarExact(a, b).pValue > 0.9);
    }

    void weightedAucEqualsTheRankAucOfTheResample() {
        std::mt19937_64 random(3);
        std::vector<double> a, b;
        std::vector<int> positive;
        makeScores(random, 120, 0.8, a, b, positive);
        const WeightedAuc weighted(a, positive);
        QVERIFY(std::fabs(weighted(std::vector<int>(a.size(), 1)) - rocAuc(a, positive)) < 1e-12);
        std::uniform_int_distribution<int> count(0, 3);
        std::vector<int> weights;
        std::vector<double> expanded;
        std::vector<int> expandedPositive;
        for (size_t i = 0; i < a.size(); ++i) {
            weights.push_back(count(random));
            for (int k = 0; k < weights.back(); ++k) {
                expanded.push_back(a[i]);
                expandedPositive.push_back(positive[i]);
            }
        }
        QVERIFY(std::fabs(weighted(weights) - rocAuc(expanded, expandedPositive)) < 1e-12);
    }

    void bootstrapIsReproducibleBySeed() {
        std::mt19937_64 random(5);
        std::vector<double> a, b;
        std::vector<int> positive;
        makeScores(random, 150, 0.8, a, b, positive);
        const WeightedAuc aucA(a, positive), aucB(b, positive);
        auto statistic = [&](const std::vector<int>& w, double* out) {
            out[0] = aucB(w) - aucA(w);
        };
        const auto first = pairedBootstrap(a.size(), 1, statistic, 500, 42);
        const auto again = pairedBootstrap(a.size(), 1, statistic, 500, 42);
        const auto other = pairedBootstrap(a.size(), 1, statistic, 500, 43);
        QCOMPARE(first[0].ciLow, again[0].ciLow);
        QCOMPARE(first[0].ciHigh, again[0].ciHigh);
        QCOMPARE(first[0].pValue, again[0].pValue);
        QVERIFY(first[0].ciLow != other[0].ciLow || first[0].ciHigh != other[0].ciHigh);
        QCOMPARE(first[0].samples, 500);
        QVERIFY(std::fabs(first[0].estimate - (rocAuc(b, positive) - rocAuc(a, positive))) < 1e-12);
        // On these data the bootstrap and DeLong agree on the spread.
        const PairedAucTest t = delongPairedTest(a, b, positive);
        const double widthRatio = (first[0].ciHigh - first[0].ciLow) / (t.ciHigh - t.ciLow);
        QVERIFY2(widthRatio > 0.8 && widthRatio < 1.25, qPrintable(QString::number(widthRatio)));
    }

    // Binormal scores (positives N(d, 1), negatives N(0, 1)) have AUC
    // Phi(d / sqrt 2); two correlated models with d = 1.0 and 1.5 differ by
    // 0.0954. The 95 % bootstrap interval should hold it in about 95 % of
    // data sets; 200 data sets put the share within 0.88-0.99 unless the
    // interval is wrong.
    void bootstrapCoversAKnownAucDifference() {
        const double dA = 1.0, dB = 1.5;
        const double truth =
            standardNormalCdf(dB / std::sqrt(2.0)) - standardNormalCdf(dA / std::sqrt(2.0));
        std::mt19937_64 random(11);
        std::normal_distribution<double> normal;
        int covered = 0, delongCovered = 0;
        const int sets = 200;
        for (int s = 0; s < sets; ++s) {
            std::vector<double> a, b;
            std::vector<int> positive;
            for (int i = 0; i < 200; ++i) {
                const int p = i % 2;
                const double e1 = normal(random), e2 = normal(random);
                positive.push_back(p);
                a.push_back(p * dA + e1);
                b.push_back(p * dB + 0.7 * e1 + std::sqrt(1 - 0.49) * e2);
            }
            const WeightedAuc aucA(a, positive), aucB(b, positive);
            const auto interval = pairedBootstrap(
                a.size(), 1,
                [&](const std::vector<int>& w, double* out) { out[0] = aucB(w) - aucA(w); }, 300,
                1000 + s);
            covered += interval[0].ciLow <= truth && truth <= interval[0].ciHigh;
            const PairedAucTest t = delongPairedTest(a, b, positive);
            delongCovered += t.ciLow <= truth && truth <= t.ciHigh;
        }
        const double share = double(covered) / sets, delongShare = double(delongCovered) / sets;
        QVERIFY2(share >= 0.88 && share <= 0.99, qPrintable(QString::number(share)));
        QVERIFY2(delongShare >= 0.88 && delongShare <= 0.99,
                 qPrintable(QString::number(delongShare)));
    }

    void rocCurveRunsCornerToCornerWithTheAucAsArea() {
        std::mt19937_64 random(9);
        std::vector<double> a, b;
        std::vector<int> positive;
        makeScores(random, 90, 1.0, a, b, positive);
        const auto curve = rocCurve(a, positive);
        QCOMPARE(curve.front().falsePositiveRate, 0.0);
        QCOMPARE(curve.front().truePositiveRate, 0.0);
        QCOMPARE(curve.back().falsePositiveRate, 1.0);
        QCOMPARE(curve.back().truePositiveRate, 1.0);
        double area = 0;
        for (size_t i = 1; i < curve.size(); ++i)
            area += (curve[i].falsePositiveRate - curve[i - 1].falsePositiveRate) *
                    (curve[i].truePositiveRate + curve[i - 1].truePositiveRate) / 2;
        QVERIFY(std::fabs(area - rocAuc(a, positive)) < 1e-12);
    }

    void calibrationByHand() {
        // Bins of 0.5: [0, 0.5) holds 0.1, 0.2, 0.4 (one event), [0.5, 1]
        // holds 0.6, 1.0 (two events).
        const Calibration c = calibrationOf({0.1, 0.2, 0.4, 0.6, 1.0}, {0, 1, 0, 1, 1}, 2);
        QCOMPARE(c.bins.size(), size_t(2));
        QCOMPARE(c.bins[0].count, int64_t(3));
        QVERIFY(std::fabs(c.bins[0].meanPredicted - 0.7 / 3) < 1e-12);
        QVERIFY(std::fabs(c.bins[0].observed - 1.0 / 3) < 1e-12);
        QVERIFY(std::fabs(c.bins[1].meanPredicted - 0.8) < 1e-12);
        QCOMPARE(c.bins[1].observed, 1.0);
        const double ece = 3.0 / 5 * std::fabs(1.0 / 3 - 0.7 / 3) + 2.0 / 5 * 0.2;
        QVERIFY(std::fabs(c.expectedCalibrationError - ece) < 1e-12);
    }

    void binaryCohortCountsCasesAndTests() {
        CohortCases cases;
        cases.task = TaskType::Binary;
        cases.classNames = {"malignant", "normal, benign"};
        // label, P_A(class 1), P_B(class 1)
        const std::vector<std::tuple<int, float, float>> data = {
            {1, 0.9f, 0.8f}, {1, 0.4f, 0.7f}, {0, 0.6f, 0.2f},  {0, 0.3f, 0.1f},
            {1, 0.2f, 0.3f}, {0, 0.7f, 0.9f}, {1, 0.8f, 0.95f}, {0, 0.1f, 0.4f}};
        CohortModel a{"A", {}}, b{"B", {}};
        for (size_t i = 0; i < data.size(); ++i) {
            auto [label, pa, pb] = data[i];
            cases.ids.push_back("test/" + std::to_string(i));
            cases.labels.push_back({label});
            a.probabilities.push_back({1 - pa, pa});
            b.probabilities.push_back({1 - pb, pb});
        }
        const CohortComparison c = compareCohort(cases, a, b);
        // Counted by hand: A decisions 1 0 1 0 0 1 1 0 vs labels 1 1 0 0 1 0 1 0 -> right 0,3,6,7
        // B decisions 1 1 0 0 0 1 1 0 -> right 0,1,2,3,6,7
        QCOMPARE(c.a.acc, 0.5);
        QCOMPARE(c.b.acc, 0.75);
        QCOMPARE(c.mcnemar.onlyBCorrect, int64_t(2));
        QCOMPARE(c.mcnemar.onlyACorrect, int64_t(0));
        QCOMPARE(c.disagreements, int64_t(2));
        QCOMPARE(c.rows[1].outcome(), std::string("B only"));
        QCOMPARE(c.rows[4].outcome(), std::string("neither"));
        QVERIFY(std::fabs(c.rows[2].probabilityGap - 0.4) < 1e-6);
        // Confusion of A: rows true, columns predicted.
        QCOMPARE(c.a.confusion, (std::vector<std::vector<int64_t>>{{2, 2}, {2, 2}}));
        QCOMPARE(c.b.confusion, (std::vector<std::vector<int64_t>>{{3, 1}, {1, 3}}));
        QCOMPARE(c.b.operatingPoints[1].sensitivity, 0.75);
        QCOMPARE(c.b.operatingPoints[1].specificity, 0.75);
        QCOMPARE(c.aucTest, std::string("DeLong"));
        QCOMPARE(c.a.auc,
                 rocAuc({0.9, 0.4, 0.6, 0.3, 0.2, 0.7, 0.8, 0.1}, {1, 1, 0, 0, 1, 0, 1, 0}));
        QVERIFY(aucVerdict(c).rfind("B's AUC is ", 0) == 0);
        QVERIFY(aucVerdict(c).find("95 % CI") != std::string::npos);
        QVERIFY(accuracyVerdict(c).find("B is right on 2 cases where A is wrong and wrong on 0") ==
                0);

        const nlohmann::json j = cohortToJson(c);
        QCOMPARE(j["paired"]["mcnemar"]["only_b_correct"].get<int>(), 2);
        QCOMPARE(j["per_case"].size(), data.size());
        QCOMPARE(j["a"]["class_auc"][0]["class"].get<std::string>(), std::string("normal, benign"));

        QTemporaryDir dir;
        const std::string csv = dir.filePath("cases.csv").toStdString();
        writeCohortCsv(c, csv);
        std::ifstream in(csv);
        std::string header, first;
        std::getline(in, header);
        std::getline(in, first);
        QVERIFY(header.find("\"p_a_normal, benign\"") != std::string::npos);
        QVERIFY(first.rfind("test/0,1,1,1,both,0,", 0) == 0);

        // Probabilities that do not fit the cases are refused.
        CohortModel shortA = a;
        shortA.probabilities.pop_back();
        QVERIFY_THROWS_EXCEPTION(std::exception, compareCohort(cases, shortA, b));
    }

    // ChestMNIST-like: several labels per case, each decided at 0.5.
    void multiLabelCohortCountsEachLabel() {
        CohortCases cases;
        cases.task = TaskType::MultiLabel;
        cases.classNames = {"effusion", "mass", "nodule"};
        CohortModel a{"A", {}}, b{"B", {}};
        std::mt19937_64 random(4);
        std::uniform_real_distribution<float> uniform(0, 1);
        for (int i = 0; i < 60; ++i) {
            cases.ids.push_back(std::to_string(i));
            cases.labels.push_back({i % 2, i % 3 == 0, i % 5 == 0});
            std::vector<float> pa, pb;
            for (int k = 0; k < 3; ++k) {
                pa.push_back(uniform(random));
                pb.push_back(0.5f * uniform(random) + 0.5f * cases.labels.back()[k]);
            }
            a.probabilities.push_back(pa);
            b.probabilities.push_back(pb);
        }
        CohortOptions options;
        options.bootstrapSamples = 200;
        const CohortComparison c = compareCohort(cases, a, b, options);
        QCOMPARE(c.aucTest, std::string("paired bootstrap"));
        QCOMPARE(c.classTests.size(), size_t(3));
        QCOMPARE(c.a.confusion.size(), size_t(3));
        for (size_t k = 0; k < 3; ++k) {
            const auto& row = c.b.confusion[k];  // TN, FP, FN, TP
            QCOMPARE(row.size(), size_t(4));
            QCOMPARE(row[0] + row[1] + row[2] + row[3], int64_t(60));
            int64_t tp = 0;
            for (int i = 0; i < 60; ++i) tp += cases.labels[i][k] && b.probabilities[i][k] > 0.5f;
            QCOMPARE(row[3], tp);
        }
        // Calibration pools every (case, label) pair.
        int64_t pooled = 0;
        for (const ReliabilityBin& bin : c.a.calibration.bins) pooled += bin.count;
        QCOMPARE(pooled, int64_t(180));
        // A case is right when every label is.
        for (int i = 0; i < 60; ++i) {
            bool all = true;
            for (int k = 0; k < 3; ++k)
                all = all && ((b.probabilities[i][k] > 0.5f) == (cases.labels[i][k] != 0));
            QCOMPARE(c.rows[i].correctB, all);
        }
        QCOMPARE(c.b.acc, evaluateScores(TaskType::MultiLabel, b.probabilities, cases.labels).acc);
        QVERIFY(c.aucDifference > 0);
    }

    void multiClassCohortUsesTheBootstrapForTheMean() {
        std::mt19937_64 random(21);
        std::normal_distribution<double> normal;
        CohortCases cases;
        cases.task = TaskType::MultiClass;
        cases.classNames = {"x", "y", "z"};
        CohortModel a{"A", {}}, b{"B", {}};
        for (int i = 0; i < 150; ++i) {
            const int label = i % 3;
            cases.ids.push_back(std::to_string(i));
            cases.labels.push_back({label});
            for (auto [model, strength] : {std::pair{&a, 0.8}, std::pair{&b, 1.4}}) {
                std::vector<double> logits(3);
                for (int k = 0; k < 3; ++k)
                    logits[k] = normal(random) + (k == label ? strength : 0);
                double sum = 0;
                for (double& v : logits) sum += v = std::exp(v);
                std::vector<float> p;
                for (double v : logits) p.push_back(float(v / sum));
                model->probabilities.push_back(p);
            }
        }
        CohortOptions options;
        options.bootstrapSamples = 400;
        options.seed = 3;
        const CohortComparison c = compareCohort(cases, a, b, options);
        QCOMPARE(c.aucTest, std::string("paired bootstrap"));
        QCOMPARE(c.classTests.size(), size_t(3));
        QCOMPARE(c.bootstrapSamplesUsed, 400);
        const ScoreMetrics ma = evaluateScores(TaskType::MultiClass, a.probabilities, cases.labels);
        QCOMPARE(c.a.auc, ma.auc);
        QVERIFY(std::fabs(c.aucDifference - (c.b.auc - c.a.auc)) < 1e-12);
        QVERIFY(c.aucDifferenceLow < c.aucDifference && c.aucDifference < c.aucDifferenceHigh);
        QVERIFY(c.a.aucLow < c.a.auc && c.a.auc < c.a.aucHigh);
        int64_t total = 0;
        for (const auto& row : c.a.confusion)
            for (int64_t v : row) total += v;
        QCOMPARE(total, int64_t(150));
        // The same seed gives the same report.
        const CohortComparison again = compareCohort(cases, a, b, options);
        QCOMPARE(again.aucDifferenceLow, c.aucDifferenceLow);
        QCOMPARE(again.aucDifferenceP, c.aucDifferenceP);
    }
};

QTEST_GUILESS_MAIN(CohortTest)
#include "test_cohort.moc"
