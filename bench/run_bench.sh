#!/usr/bin/env bash
# One run, same machine, same threads: LibTorch C++ (rllm-bench) against
# PyTorch eager (Debian's python3-torch) on the same weights, with the sgemm
# peak and peak memory measured in the same run. Needs
# `scripts/install-deps --bench` and a build (scripts/build).
#
#   bench/run_bench.sh [THREADS] [REPS]
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
# OpenBLAS kernels for CPUs Debian's OpenBLAS does not recognise, for the
# engine and for eager alike (both call it); without them both fall back to SSE3.
coretype=$("$here/scripts/openblas-coretype" "$here/build/bin/rllm" || true)
[[ -n "$coretype" ]] && export OPENBLAS_CORETYPE="$coretype"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
bench="$here/${RLLM_BENCH_BUILD:-build}/bin/rllm-bench"
eager="${RLLM_EAGER_PYTHON:-/usr/bin/python3}"
"$bench" --export-weights "$work"
"$bench" --threads "$threads" --reps "$reps" --json "$work/cpp.json"
# Debian's interpreter, where python3-torch lives (a pyenv python3 may come first in PATH).
# PyTorch eager twice: threads as a PyTorch user sets them (torch.set_num_threads),
# and split as the engine splits them (OpenBLAS T, PyTorch's pool 1).
"$eager" "$here/bench/pytorch_eager.py" --weights "$work" --threads "$threads" --reps "$reps" --split torch > "$work/py.json"
if ! "$eager" "$here/bench/pytorch_eager.py" --weights "$work" --threads "$threads" --reps "$reps" --split engine > "$work/py_split.json" 2> /dev/null; then
    cp "$work/py.json" "$work/py_split.json"  # a PyTorch without OpenBLAS has no engine split
fi
# The second peer: ONNX Runtime on the same weights (exported by PyTorch to ONNX).
"${RLLM_BENCH_VENV:-$HOME/.cache/rllm/bench-venv}/bin/python" "$here/bench/onnx_peer.py" --weights "$work" --threads "$threads" --reps "$reps" > "$work/ort.json"
python3 - "$work/cpp.json" "$work/py.json" "$work/py_split.json" "$work/ort.json" <<'PY'
import json, sys
cpp, py, pys, ort = (json.load(open(p)) for p in sys.argv[1:5])
print(f"\n{py['engine']} vs LibTorch C++, {cpp['threads']} threads, median of {cpp['reps']}; sgemm peak {cpp['sgemm_peak_gflops']:.1f} GFLOP/s")
print("C++: the engine's forward (class-token tail) and every token through every layer (like for like with eager).")
print("eager: torch.set_num_threads(T) / the engine's thread split (OpenBLAS T, PyTorch 1).")
print("| model | C++ forward ms | C++ every-token forward ms | eager forward ms (torch / split) | C++ / eager (best) | C++ every-token / eager (best) | C++ train step ms | eager train step ms (torch / split) | C++ / eager (best) | C++ every-token GFLOP/s (% peak) | weights MB | peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for key in ("paper_224_booster", "paper_224_baseline", "28px_booster", "28px_baseline"):
    c, p, q = cpp[key], py[key], pys[key]
    ef = min(p['forward_ms'], q['forward_ms']); et = min(p['train_step_ms'], q['train_step_ms'])
    print(f"| {key} | {c['forward_ms']:.1f} | {c['forward_all_tokens_ms']:.1f} | {p['forward_ms']:.1f} / {q['forward_ms']:.1f} | "
          f"{c['forward_ms']/ef:.2f} | {c['forward_all_tokens_ms']/ef:.2f} | "
          f"{c['train_step_ms']:.1f} | {p['train_step_ms']:.1f} / {q['train_step_ms']:.1f} | {c['train_step_ms']/et:.2f} | "
          f"{c['forward_all_tokens_gflops']:.1f} ({100*c['forward_all_tokens_fraction_of_sgemm_peak']:.0f}%) | {c['weight_mb']:.0f} | {c['peak_rss_mb_after_forward']:.0f} |")
print(f"\nThe second peer, {ort['engine']}, {ort['threads']} threads, forward at batch 1 (every token):")
print("| model | ORT forward ms | C++ every-token forward ms | C++ every-token / ORT | C++ forward (class-token tail) / ORT | ORT logits vs eager (max abs) |")
print("|---|---|---|---|---|---|")
for key in ("paper_224_booster", "paper_224_baseline", "28px_booster", "28px_baseline"):
    c, o = cpp[key], ort[key]
    print(f"| {key} | {o['forward_ms']:.1f} | {c['forward_all_tokens_ms']:.1f} | {c['forward_all_tokens_ms']/o['forward_ms']:.2f} | "
          f"{c['forward_ms']/o['forward_ms']:.2f} | {o['max_abs_logit_difference_vs_eager']:.1e} |")
b = cpp["paper_224_booster"]
print(f"\nPeak memory of the paper-scale booster's process: {b['peak_rss_mb_after_forward']:.0f} MB for {b['weight_mb']:.0f} MB of weights "
      f"({b['peak_rss_mb_after_forward']/b['weight_mb']:.2f}x); the runtime held {cpp['rss_mb_before_models']:.0f} MB before any model, "
      f"so the model's own peak was {b['peak_rss_mb_above_runtime']:.0f} MB ({b['peak_rss_mb_above_runtime']/b['weight_mb']:.2f}x); "
      f"after the every-token forward too: {b['peak_rss_mb_after_all_tokens_forward']:.0f} MB ({b['peak_rss_mb_after_all_tokens_forward']/b['weight_mb']:.2f}x).")
py = {k: (v if not isinstance(v, dict) else {m: min(v[m], pys[k][m]) for m in v}) for k, v in py.items()}
print("\nCAMs at block:0:norm1 (goal: at most 2.5x the forward time)")
print("| model | C++ Grad-CAM ms | x forward | eager Grad-CAM ms | C++/eager | C++ EigenCAM ms | x forward | eager EigenCAM ms | C++/eager |")
print("|---|---|---|---|---|---|---|---|---|")
for key in ("paper_224_booster", "paper_224_baseline", "28px_booster", "28px_baseline"):
    c, p = cpp[key], py[key]
    print(f"| {key} | {c['gradcam_ms']:.1f} | {c['gradcam_ms']/c['forward_ms']:.2f} | {p['gradcam_ms']:.1f} | {c['gradcam_ms']/p['gradcam_ms']:.2f} | "
          f"{c['eigencam_ms']:.1f} | {c['eigencam_ms']/c['forward_ms']:.2f} | {p['eigencam_ms']:.1f} | {c['eigencam_ms']/p['eigencam_ms']:.2f} |")
PY
