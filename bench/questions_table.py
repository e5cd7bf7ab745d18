#!/usr/bin/env python3
"""Tables for bench/medmnist_questions.sh: per question, each variant's test
AUC/ACC (mean ± sd over seeds) and each comparison's paired differences:
per seed from `rllm compare` (AUC difference with its 95 % CI and DeLong's p,
McNemar's exact p for ACC), and over the seeds the mean AUC difference with a
t-based 95 % CI, the t-test's p with Holm's adjustment over every pair the
call tables (so that ten comparisons are not read as ten single tests), and
how many seeds a CI clear of 0 would take if the mean and sd held. Standard
library only.

    questions_table.py OUTDIR SET QUESTION... --pairs "q=B:A B:A\\n..."
"""
import json
import pathlib
import statistics
import sys

from paired_stats import holm, mean_ci, p_text, seed_of, seeds_to_decide, t_test_p


def mean_sd(values):
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def main():
    args = sys.argv[1:]
    pairs_text = args[args.index("--pairs") + 1]
    args = args[:args.index("--pairs")]
    out, which, questions = pathlib.Path(args[0]), args[1], args[2:]
    pairs = {}
    for line in pairs_text.splitlines():
        if "=" in line:
            q, rest = line.split("=", 1)
            pairs[q] = [tuple(p.split(":")) for p in rest.split()]

    def runs(variant):
        return [json.loads(p.read_text()) for p in sorted(out.glob(f"{which}_{variant}_seed*.json"))]

    # Each tabled pair's per-seed comparisons, read once.
    compared = {(b, a): [json.loads(path.read_text())["paired"]
                         for path in sorted(out.glob(f"{which}_{b}_vs_{a}_seed*.json"), key=seed_of)]
                for q in questions for b, a in pairs.get(q, [])}
    # Holm over every pair with at least two seeds in this call's tables.
    tested = [pair for pair, results in compared.items() if len(results) > 1]
    adjusted = dict(zip(tested, holm([t_test_p([r["auc_difference"] for r in compared[pair]])
                                      for pair in tested])))

    lines = []
    for q in questions:
        lines.append(f"#### {which}: {q}\n")
        variants = []
        for b, a in pairs.get(q, []):
            for v in (a, b):
                if v not in variants:
                    variants.append(v)
        lines.append("| variant | seeds | test AUC | test ACC | one-class runs | min / run |")
        lines.append("|---|---|---|---|---|---|")
        for v in variants:
            r = runs(v)
            if not r:
                continue
            one_class = sum(1 for x in r
                            if sum(1 for c in x["test"].get("predicted_per_class", [1, 1]) if c) == 1)
            minutes = statistics.mean(x.get("seconds", 0) for x in r) / 60
            lines.append(f"| {v} | {len(r)} | {mean_sd([x['test']['auc'] for x in r])} | "
                         f"{mean_sd([x['test']['acc'] for x in r])} | {one_class} | {minutes:.1f} |")
        lines.append("")
        lines.append("| B vs A | per seed: AUC B - A (95 % CI), DeLong p | mean AUC B - A (95 % CI over seeds) "
                     "| t-test p over seeds (Holm) | seeds for a CI clear of 0 | mean ACC B - A "
                     "| McNemar p per seed | reading |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for b, a in pairs.get(q, []):
            results = compared[(b, a)]
            if not results:
                continue
            per_seed = "; ".join(
                f"{r['auc_difference']:+.3f} ({r['auc_difference_ci_low']:+.3f}, "
                f"{r['auc_difference_ci_high']:+.3f}) p {p_text(r['auc_difference_p'])}"
                for r in results)
            values = [r["auc_difference"] for r in results]
            mean, low, high = mean_ci(values)
            p_over_seeds = (f"{p_text(t_test_p(values))} ({p_text(adjusted[(b, a)])})"
                            if (b, a) in adjusted else "")
            needed = "" if len(values) < 2 else str(seeds_to_decide(values) or "over 100")
            ci = f"{mean:+.3f} ({low:+.3f}, {high:+.3f})" if len(results) > 1 else f"{mean:+.3f}"
            significant = [r for r in results if r["auc_difference_p"] < 0.05]
            if low > 0:
                reading = "B above A here"
            elif high < 0:
                reading = "B below A here"
            else:
                reading = "not decidable at this scale"
            if (low > 0 or high < 0) and adjusted.get((b, a), 1.0) >= 0.05:
                reading += ", not after Holm's adjustment"
            if significant:
                reading += f" ({len(significant)} of {len(results)} seeds significant alone)"
            acc = statistics.mean(r["acc_difference"] for r in results)
            mcnemar = ", ".join(p_text(r["mcnemar"]["p"]) for r in results)
            lines.append(f"| {b} vs {a} | {per_seed} | {ci} | {p_over_seeds} | {needed} | {acc:+.3f} "
                         f"| {mcnemar} | {reading} |")
        lines.append("")
    text = "\n".join(lines)
    (out / "questions.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
