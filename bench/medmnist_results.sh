#!/usr/bin/env bash
# The results table of docs/results.md: ViT baseline vs R-LLM booster (pretrained
# stories260K block) vs booster with a randomly initialised frozen block of
# the same shape vs the mlp ablation (adapters, no LLM), 3 seeds each, model
# chosen on validation AUC, test ACC/AUC reported as mean ± sd.
#
#   bench/medmnist_results.sh breast|adrenal3d OUTDIR [THREADS] [VARIANT...]
#
# Needs ../shared/data (MedMNIST files and stories260K). Writes one bundle,
# one JSON summary per run and OUTDIR/table.md.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/bench/medmnist_common.sh"
mkdir -p "${2:?output folder}"
use_private_rllm "$2"
data="$here/../shared/data"
which="${1:?breast or adrenal3d}"
archive=$(medmnist_archive "$which")
out="${2:?output folder}"
threads="${3:-2}"
shift $(( $# < 3 ? $# : 3 ))
chosen=("$@")
llm="$data/llm/stories260K.bin"
case "$which" in
    breast) args=(--data "$archive" --arch vit2d --preset tiny --depth 2 --epochs 20) ;;
    adrenal3d) args=(--data "$archive" --arch vit3d --preset tiny --depth 2 --patch 7 --epochs 10) ;;
    *) echo "this table covers breast and adrenal3d, not $which" >&2; exit 2 ;;
esac
declare -A variants=(
    [baseline]=""
    [booster_pretrained]="--booster in --llm $llm"
    [booster_random]="--booster in --llm $llm --random-llm"
    [mlp_ablation]="--booster mlp --llm $llm"
)
[[ ${#chosen[@]} -gt 0 ]] || chosen=(baseline booster_pretrained booster_random mlp_ablation)
for variant in "${chosen[@]}"; do
    for seed in 0 1 2; do
        # shellcheck disable=SC2086
        medmnist_train_once skip "$out" "${which}_${variant}_seed${seed}" \
            "$rllm" train "${args[@]}" ${variants[$variant]} --seed "$seed" --threads "$threads"
    done
done
python3 - "$out" "$which" <<'PY'
import json, statistics, sys, pathlib
out, which = pathlib.Path(sys.argv[1]), sys.argv[2]
rows = []
for variant in ["baseline", "booster_pretrained", "booster_random", "mlp_ablation"]:
    runs = [json.loads(p.read_text()) for p in sorted(out.glob(f"{which}_{variant}_seed*.json"))]
    def ms(key, metric):
        v = [r[key][metric] for r in runs]
        return f"{statistics.mean(v):.3f} ± {statistics.stdev(v) if len(v) > 1 else 0:.3f}"
    rows.append(f"| {which} | {variant} | {len(runs)} | {ms('test','auc')} | {ms('test','acc')} | {ms('val','auc')} |")
table = "| data | model | seeds | test AUC | test ACC | val AUC (selection) |\n|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
(out / "table.md").write_text(table)
print(table)
PY
