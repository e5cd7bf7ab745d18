#!/usr/bin/env bash
# The paired comparisons beside docs/results.md's table: for each seed, each
# variant against the ViT baseline of the same seed on the test split, with
# `rllm compare` (DeLong's test for the AUC difference, McNemar's exact test
# for accuracy). Run after bench/medmnist_results.sh on the same OUTDIR.
#
#   bench/medmnist_paired.sh breast|adrenal3d OUTDIR [THREADS]
#
# Writes OUTDIR/<set>_<variant>_vs_baseline_seed<S>.json and OUTDIR/paired.md.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/bench/medmnist_common.sh"
which="${1:?breast or adrenal3d}"
out="${2:?output folder}"
threads="${3:-2}"
archive=$(medmnist_archive "$which")
for variant in booster_pretrained booster_random mlp_ablation; do
    for seed in 0 1 2; do
        a="$out/${which}_baseline_seed${seed}.safetensors"
        b="$out/${which}_${variant}_seed${seed}.safetensors"
        [[ -f "$a" && -f "$b" ]] || continue
        result="$out/${which}_${variant}_vs_baseline_seed${seed}.json"
        "$here/build/bin/rllm" compare "$a" "$b" --data "$archive" --split test \
            --threads "$threads" --json > "$result.tmp"
        mv "$result.tmp" "$result"
    done
done
PYTHONPATH="$here/bench" python3 - "$out" "$which" <<'PY'
import json, sys, pathlib
from paired_stats import p_text as p
out, which = pathlib.Path(sys.argv[1]), sys.argv[2]
lines = ["| data | B (A: baseline, same seed) | seed | test AUC A / B | AUC B - A (95 % CI) | DeLong p | ACC B - A | McNemar p | disagree |",
         "|---|---|---|---|---|---|---|---|---|"]
for variant in ["booster_pretrained", "booster_random", "mlp_ablation"]:
    for seed in range(3):
        path = out / f"{which}_{variant}_vs_baseline_seed{seed}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        q = r["paired"]
        lines.append(
            f"| {which} | {variant} | {seed} | {r['a']['auc']:.3f} / {r['b']['auc']:.3f} | "
            f"{q['auc_difference']:+.3f} ({q['auc_difference_ci_low']:+.3f} to {q['auc_difference_ci_high']:+.3f}) | "
            f"{p(q['auc_difference_p'])} | {q['acc_difference']:+.3f} | {p(q['mcnemar']['p'])} | "
            f"{q['disagreements']} / {r['cases']} |")
table = "\n".join(lines) + "\n"
(out / "paired.md").write_text(table)
print(table)
PY
