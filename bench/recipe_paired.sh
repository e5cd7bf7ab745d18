#!/usr/bin/env bash
# Two recipes of bench/medmnist_recipe.sh compared seed by seed on the test
# split: for each seed with both bundles in OUTDIR, `rllm compare A B`
# (DeLong's test for the AUC difference, McNemar's exact test for ACC), then
# the mean AUC difference over the seeds with a t-based 95 % CI (docs/training.md
# reports its recipe changes this way).
#
#   bench/recipe_paired.sh breast|pneumonia|adrenal3d|adrenal3d_64 OUTDIR RECIPE_A RECIPE_B [THREADS]
#
# Writes OUTDIR/<set>_<B>_vs_<A>_seed<S>.json and OUTDIR/<set>_<B>_vs_<A>.md.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
data="$here/../shared/data/medmnist"
which="${1:?breast, pneumonia, adrenal3d or adrenal3d_64}"
out="${2:?output folder}"
a="${3:?recipe A}"
b="${4:?recipe B}"
threads="${5:-2}"
case "$which" in
    breast) archive="$data/breastmnist.npz" ;;
    pneumonia) archive="$data/pneumoniamnist.npz" ;;
    adrenal3d) archive="$data/adrenalmnist3d.npz" ;;
    adrenal3d_64) archive="$data/adrenalmnist3d_64.npz" ;;
    *) echo "unknown set $which" >&2; exit 2 ;;
esac
coretype=$("$here/scripts/openblas-coretype" "$here/build/bin/rllm" || true)
[[ -z "$coretype" ]] || export OPENBLAS_CORETYPE="$coretype"
found=0
for bundle_b in "$out/${which}_${b}_seed"*.safetensors; do
    [[ -f "$bundle_b" ]] || continue
    seed="${bundle_b##*_seed}"
    seed="${seed%.safetensors}"
    bundle_a="$out/${which}_${a}_seed${seed}.safetensors"
    [[ -f "$bundle_a" ]] || continue
    result="$out/${which}_${b}_vs_${a}_seed${seed}.json"
    "$here/build/bin/rllm" compare "$bundle_a" "$bundle_b" --data "$archive" --split test \
        --threads "$threads" --json > "$result.tmp"
    mv "$result.tmp" "$result"
    found=$((found + 1))
done
[[ $found -gt 0 ]] || { echo "no seed has both ${which}_${a} and ${which}_${b} in $out" >&2; exit 1; }
python3 - "$out" "$which" "$a" "$b" <<'PY'
import json, math, statistics, sys, pathlib
out, which, a, b = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
# Two-sided 95 % quantiles of Student's t for 1-9 degrees of freedom.
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262]
def p(v):
    return "< 0.001" if v < 0.001 else f"{v:.3f}"
def seed_of(path):
    return int(path.stem.rsplit("_seed", 1)[1])
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
        f"{q['auc_difference_ci_high']:+.3f}) | {p(q['auc_difference_p'])} | "
        f"{r['a']['acc']:.3f} / {r['b']['acc']:.3f} | {p(q['mcnemar']['p'])} |")
mean = statistics.mean(differences)
lines.append("")
if len(differences) > 1:
    half = T975[min(len(differences) - 1, len(T975)) - 1] * statistics.stdev(differences) / math.sqrt(len(differences))
    lines.append(f"Mean AUC difference over {len(differences)} seeds: {mean:+.3f} "
                 f"(95 % CI {mean - half:+.3f} to {mean + half:+.3f}, t with {len(differences) - 1} df)")
else:
    lines.append(f"AUC difference, one seed: {mean:+.3f}")
text = "\n".join(lines) + "\n"
(out / f"{which}_{b}_vs_{a}.md").write_text(text)
print(text)
PY
