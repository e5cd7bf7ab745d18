#!/usr/bin/env python3
"""Table for bench/recipe_paired.sh: recipe B against recipe A seed by seed
on the test split (from `rllm compare`: AUC difference with its 95 % CI and
DeLong's p, McNemar's exact p for ACC), then the mean AUC difference over the
seeds with a t-based 95 % CI. Standard library only.

    recipe_table.py OUTDIR SET RECIPE_A RECIPE_B
"""
import json
import pathlib
import sys

from paired_stats import mean_ci, p_text, seed_of


def main():
    out, which, a, b = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    lines = [f"{which}: {b} (B) against {a} (A), test split", "",
             "| seed | test AUC A / B | AUC B - A (95 % CI) | DeLong p | ACC A / B | McNemar p |",
             "|---|---|---|---|---|---|"]
    differences = []
    for path in sorted(out.glob(f"{which}_{b}_vs_{a}_seed*.json"), key=seed_of):
        r = json.loads(path.read_text())
        q = r["paired"]
        differences.append(q["auc_difference"])
        lines.append(
            f"| {seed_of(path)} | {r['a']['auc']:.3f} / {r['b']['auc']:.3f} | "
            f"{q['auc_difference']:+.3f} ({q['auc_difference_ci_low']:+.3f} to "
            f"{q['auc_difference_ci_high']:+.3f}) | {p_text(q['auc_difference_p'])} | "
            f"{r['a']['acc']:.3f} / {r['b']['acc']:.3f} | {p_text(q['mcnemar']['p'])} |")
    lines.append("")
    mean, low, high = mean_ci(differences)
    if len(differences) > 1:
        lines.append(f"Mean AUC difference over {len(differences)} seeds: {mean:+.3f} "
                     f"(95 % CI {low:+.3f} to {high:+.3f}, t with {len(differences) - 1} df)")
    else:
        lines.append(f"AUC difference, one seed: {mean:+.3f}")
    text = "\n".join(lines) + "\n"
    (out / f"{which}_{b}_vs_{a}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
