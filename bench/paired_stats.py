"""What the bench tables share about paired comparisons over seeds: the mean
of per-seed differences with a t-based 95 % confidence interval, p-values as
text, and the seed in a run's file name. Standard library only, so the bench
scripts run with any python3.
"""
import math
import pathlib
import statistics

# Two-sided 95 % quantiles of Student's t (scipy.stats.t.ppf(0.975, df)) for
# 1-30 degrees of freedom; the normal 1.960 beyond, where they differ by
# under 4 %.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(degrees_of_freedom):
    if degrees_of_freedom < 1:
        raise ValueError("a t interval needs at least two values")
    return _T975[degrees_of_freedom - 1] if degrees_of_freedom <= len(_T975) else 1.960


def mean_ci(values):
    """Mean and 95 % CI (low, high) over seeds; one value has no interval
    (low and high are then -inf and inf, so nothing reads as decided)."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return mean, float("-inf"), float("inf")
    half = t975(len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return mean, mean - half, mean + half


def t_test_p(values):
    """Two-sided p of the one-sample t-test that the mean of the per-seed
    differences is 0. Student's t CDF for whole degrees of freedom has a
    closed form, a finite series in cos(theta) with theta = atan(|t| /
    sqrt(df)) (Abramowitz and Stegun 26.7.3 and 26.7.4), so no scipy."""
    n = len(values)
    if n < 2:
        return 1.0
    sd = statistics.stdev(values)
    mean = statistics.mean(values)
    if sd == 0:
        return 0.0 if mean != 0 else 1.0
    df = n - 1
    theta = math.atan(abs(mean) / (sd / math.sqrt(n)) / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    term, series = 1.0, 1.0
    if df % 2 == 1:
        for k in range(1, (df - 1) // 2):
            term *= 2 * k / (2 * k + 1) * cos2
            series += term
        inside = theta + (math.sin(theta) * math.cos(theta) * series if df > 1 else 0.0)
        probability_inside = 2 / math.pi * inside
    else:
        for k in range(1, df // 2):
            term *= (2 * k - 1) / (2 * k) * cos2
            series += term
        probability_inside = math.sin(theta) * series
    return max(0.0, 1.0 - probability_inside)


def holm(p_values):
    """Holm's step-down adjustment of p-values for testing them together
    (the family-wise error rate), in their given order."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def seeds_to_decide(values, most=100):
    """The fewest seeds whose t-based 95 % CI would exclude 0 if the mean
    and sd of these per-seed differences held; None past `most`."""
    if len(values) < 2:
        return None
    mean, sd = abs(statistics.mean(values)), statistics.stdev(values)
    for n in range(2, most + 1):
        if t975(n - 1) * sd / math.sqrt(n) < mean:
            return n
    return None


def p_text(p):
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def seed_of(path):
    """The seed in a bench file name such as breast_mlp_seed2.json."""
    return int(pathlib.Path(path).stem.rsplit("_seed", 1)[1])


if __name__ == "__main__":
    # `python3 bench/paired_stats.py`: this module's t-test and CI against
    # scipy's (python3-scipy, installed by scripts/install-deps --bench).
    import random
    from scipy import stats

    generator = random.Random(1)
    worst_p = worst_half = 0.0
    for n in range(2, 40):
        for _ in range(200):
            values = [generator.gauss(generator.uniform(-1, 1), generator.uniform(0.1, 2))
                      for _ in range(n)]
            worst_p = max(worst_p, abs(t_test_p(values) - stats.ttest_1samp(values, 0).pvalue))
            mean, low, _ = mean_ci(values)
            exact = stats.t.ppf(0.975, n - 1) * statistics.stdev(values) / n ** 0.5
            worst_half = max(worst_half, abs((mean - low) / exact - 1))
    print(f"t-test p: largest difference from scipy {worst_p:.1e} over 2-39 values")
    print(f"CI half-width: largest relative difference from scipy {worst_half:.1%} "
          "(the tabled quantiles' rounding; the normal quantile beyond 31 values)")
