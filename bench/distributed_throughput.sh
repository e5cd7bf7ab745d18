#!/usr/bin/env bash
# Training throughput of `rllm train` at 1 and at N data-parallel workers on
# this machine (Gloo over loopback), same global batch, same seed, same data:
# images per second of each epoch after the first (rllm's curves CSV), the
# median over those epochs. Not a test: a figure of this machine, rerun
# before quoting it.
#
#   bench/distributed_throughput.sh [WORKERS] [EPOCHS] [ARCHIVE] [-- extra rllm train options]
#
# Default: 2 workers, 4 epochs, BreastMNIST (546 training images, 28 px),
# the tiny preset with every block; the one-process run gets all cores, each
# worker its share (cores / workers).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
workers="${1:-2}"
epochs="${2:-4}"
archive="${3:-$here/../shared/data/medmnist/breastmnist.npz}"
shift $(( $# < 3 ? $# : 3 ))
[[ "${1:-}" == "--" ]] && shift
[[ -f "$archive" ]] || { echo "no archive at $archive" >&2; exit 2; }
rllm="$here/build/bin/rllm"
coretype=$("$here/scripts/openblas-coretype" "$rllm" || true)
[[ -n "$coretype" ]] && export OPENBLAS_CORETYPE="$coretype"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

median_rate() {  # images_per_second of epochs 2.., median
    tail -n +3 "$1" | cut -d, -f6 | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
}

echo "archive $(basename "$archive"), $epochs epochs, $(nproc) cores, global batch 64"
printf "%-10s %14s %10s\n" workers "images/s" "vs 1"
base=""
for n in 1 "$workers"; do
    args=(train --data "$archive" --out "$out/w$n.safetensors" --epochs "$epochs" --batch 64 "$@")
    if [[ $n -eq 1 ]]; then
        "$rllm" "${args[@]}" > /dev/null 2>&1
    else
        "$rllm" "${args[@]}" --nproc "$n" > /dev/null 2>&1
    fi
    rate=$(median_rate "$out/w$n.safetensors.curves.csv")
    [[ -z "$base" ]] && base=$rate
    printf "%-10s %14.1f %9.2fx\n" "$n" "$rate" "$(awk -v a="$rate" -v b="$base" 'BEGIN {print a / b}')"
done
