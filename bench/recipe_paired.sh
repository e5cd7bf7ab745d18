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
source "$here/bench/medmnist_common.sh"
which="${1:?breast, pneumonia, adrenal3d or adrenal3d_64}"
out="${2:?output folder}"
a="${3:?recipe A}"
b="${4:?recipe B}"
threads="${5:-2}"
archive=$(medmnist_archive "$which")
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
python3 "$here/bench/recipe_table.py" "$out" "$which" "$a" "$b"
