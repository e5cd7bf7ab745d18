"""What the bench tables share about paired comparisons over seeds: the mean
of per-seed differences with a t-based 95 % confidence interval, p-values as
text, and the seed in a run's file name. Standard library only, so the bench
scripts run with any python3.
"""
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


def p_text(p):
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def seed_of(path):
    """The seed in a bench file name such as breast_mlp_seed2.json."""
    return int(pathlib.Path(path).stem.rsplit("_seed", 1)[1])
