# shellcheck shell=bash
# Sourced by the bench scripts that run `rllm` on MedMNIST: what they share
# about sets, runs and the binary.

# Sets $rllm to a private copy of build/bin/rllm in OUTDIR, removed when the
# script exits: a rebuild while a run trains (hours, in 3D) cannot mix two
# versions into one table. Exports the OpenBLAS kernels that binary gets
# (scripts/openblas-coretype).
#   use_private_rllm OUTDIR
use_private_rllm() {
    local root coretype
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    rllm="$1/rllm.$$"
    cp "$root/build/bin/rllm" "$rllm"
    trap 'rm -f "$rllm"' EXIT
    coretype=$("$root/scripts/openblas-coretype" "$rllm" || true)
    [[ -z "$coretype" ]] || export OPENBLAS_CORETYPE="$coretype"
}

# The archive a set name stands for (prints the path):
#   medmnist_archive breast|pneumonia|adrenal3d|adrenal3d_64
# The archives are the real MedMNIST files of the data folder beside the
# repository (README.md, "Tests"); a set name not listed is an error.
medmnist_archive() {
    local data
    data="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/data/medmnist"
    case "$1" in
        breast) echo "$data/breastmnist.npz" ;;
        pneumonia) echo "$data/pneumoniamnist.npz" ;;
        adrenal3d) echo "$data/adrenalmnist3d.npz" ;;
        # MedMNIST+'s 64³ archive of the same cases.
        adrenal3d_64) echo "$data/adrenalmnist3d_64.npz" ;;
        *) echo "unknown MedMNIST set '$1' (breast, pneumonia, adrenal3d or adrenal3d_64)" >&2; return 2 ;;
    esac
}

# One training run, unless OUTDIR already has it:
#   medmnist_train_once wait|skip OUTDIR NAME RLLM train ARG...
# writes OUTDIR/NAME.safetensors, NAME.json (the run's --json summary plus
# "seconds", its wall time) and NAME.log. Each run holds OUTDIR/NAME.lock
# while it trains, so instances sharing an OUTDIR never train a run twice:
# when another instance holds it, `skip` goes on to the next run (two
# instances given the same runs split them) and `wait` waits for it (for a
# comparison that needs the run).
#
# A run that was stopped (the machine's session ended, the instance was
# killed) continues from the checkpoint `rllm train` writes after every
# epoch, with `--resume`: the same weights and metrics as the uninterrupted
# run (docs/commands.md; test_models resumedTrainingMatchesAnUninterruptedRun),
# not hours of training again. Its log keeps every
# part, and "seconds" adds up each part's time to its last checkpoint (the
# time between the parts, and the unfinished epoch that was lost, are not
# counted); "resumed" says how many times it was resumed.
medmnist_train_once() {
    local policy=$1 out=$2 name=$3 lock
    shift 3
    [[ -f "$out/$name.json" ]] && return 0
    exec {lock}> "$out/$name.lock"
    if [[ $policy == wait ]]; then
        flock "$lock"
    elif ! flock -n "$lock"; then
        echo "$name: another instance is training it; going on" >&2
        exec {lock}>&-
        return 0
    fi
    # Another instance may have finished it while this one waited.
    if [[ ! -f "$out/$name.json" ]]; then
        local checkpoint="$out/$name.safetensors.checkpoint.safetensors"
        local part="$out/$name.part" resume=() before=0 resumed=0 start
        if [[ -f "$checkpoint" ]]; then
            # NAME.part: "SECONDS_BEFORE RESUMED" of the parts before the
            # last; the last began when it created NAME.json.tmp (rllm
            # writes its --json summary only at the end).
            [[ -f "$part" ]] && read -r before resumed < "$part"
            start=$(stat -c %Y "$out/$name.json.tmp" 2> /dev/null || stat -c %Y "$checkpoint")
            before=$(( before + $(stat -c %Y "$checkpoint") - start ))
            resumed=$(( resumed + 1 ))
            resume=(--resume "$checkpoint")
            echo "--- resumed from $checkpoint at $(date -u +%FT%TZ)" >> "$out/$name.log"
        else
            : > "$out/$name.log"
        fi
        start=$(date +%s)
        echo "$before $resumed" > "$part"
        if ! "$@" "${resume[@]}" --out "$out/$name.safetensors" --json \
            > "$out/$name.json.tmp" 2>> "$out/$name.log"; then
            echo "$name failed; the end of $out/$name.log:" >&2
            tail -n 5 "$out/$name.log" >&2
            exec {lock}>&-
            return 1
        fi
        python3 - "$out/$name.json.tmp" "$(( before + $(date +%s) - start ))" "$resumed" <<'PY'
import json, sys
path, seconds, resumed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = json.load(open(path)); r["seconds"] = seconds
if resumed:
    r["resumed"] = resumed
json.dump(r, open(path, "w"), indent=2)
PY
        mv "$out/$name.json.tmp" "$out/$name.json"
        rm -f "$part"
    fi
    exec {lock}>&-
}
