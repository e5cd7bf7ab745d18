#!/usr/bin/env bash
# LibTorch C++ (rllm-bench) against PyTorch eager (Debian's python3-torch)
# and ONNX Runtime on the same weights, same machine, same threads, with
# the sgemm peak and peak memory measured in the same run. Needs
# `scripts/install-deps --bench` and a build (scripts/build).
#
#   bench/run_bench.sh [THREADS] [REPS] [ROUNDS]
#
# ROUNDS (default 3): the engine and its peers run one after the other,
# ROUNDS times over. A ratio is taken within each round, where the machine's
# load is shared by both sides, and reported as its median and range over
# the rounds (bench/bench_report.py): on a shared machine one run's ratio
# moves by tens of per cent.
#
# Against the second LibTorch, the wheel's 2.15 and PyTorch 2.15 eager from
# the same wheel (no OpenBLAS there: both use MKL, and eager's engine-split
# run is skipped):
#   RLLM_BENCH_BUILD=build-wheel RLLM_EAGER_PYTHON=~/.cache/rllm/torch-wheel-2.15.0/bin/python \
#       bench/run_bench.sh 2 5
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
threads="${1:-2}"
reps="${2:-5}"
rounds="${3:-3}"
# OpenBLAS kernels for CPUs Debian's OpenBLAS does not recognise, for the
# engine and for eager alike (both call it); without them both fall back to SSE3.
coretype=$("$here/scripts/openblas-coretype" "$here/build/bin/rllm" || true)
[[ -n "$coretype" ]] && export OPENBLAS_CORETYPE="$coretype"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bench="$here/${RLLM_BENCH_BUILD:-build}/bin/rllm-bench"
eager="${RLLM_EAGER_PYTHON:-/usr/bin/python3}"
ort_python="${RLLM_BENCH_VENV:-$HOME/.cache/rllm/bench-venv}/bin/python"
"$bench" --export-weights "$work"
for ((round = 1; round <= rounds; round++)); do
    echo "round $round of $rounds" >&2
    "$bench" --threads "$threads" --reps "$reps" --json "$work/cpp.$round.json" >&2
    # Debian's interpreter, where python3-torch lives (a pyenv python3 may come first in PATH).
    # PyTorch eager twice: threads as a PyTorch user sets them (torch.set_num_threads),
    # and split as the engine splits them (OpenBLAS T, PyTorch's pool 1).
    "$eager" "$here/bench/pytorch_eager.py" --weights "$work" --threads "$threads" --reps "$reps" \
        --split torch > "$work/py.$round.json"
    if ! "$eager" "$here/bench/pytorch_eager.py" --weights "$work" --threads "$threads" --reps "$reps" \
        --split engine > "$work/py_split.$round.json" 2> /dev/null; then
        cp "$work/py.$round.json" "$work/py_split.$round.json"  # a PyTorch without OpenBLAS has no engine split
    fi
    # The second peer: ONNX Runtime on the same weights (exported by PyTorch to ONNX).
    "$ort_python" "$here/bench/onnx_peer.py" --weights "$work" --threads "$threads" --reps "$reps" \
        > "$work/ort.$round.json"
done
python3 "$here/bench/bench_report.py" "$work" "$rounds"
