#!/usr/bin/env bash
# One run, same machine, same threads: LibTorch C++ (rllm-bench) against
# PyTorch eager (Debian's python3-torch) on the same weights, with the sgemm
# peak and peak memory measured in the same run. Needs
# `scripts/install-deps --bench` and a build (scripts/build).
#
#   bench/run_bench.sh [THREADS] [REPS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
threads="${1:-2}"
reps="${2:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$here/build/bin/rllm-bench" --export-weights "$work"
"$here/build/bin/rllm-bench" --threads "$threads" --reps "$reps" --json "$work/cpp.json"
# Debian's interpreter, where python3-torch lives (a pyenv python3 may come first in PATH).
# PyTorch eager twice: threads as a PyTorch user sets them (torch.set_num_threads),
# and split as the engine splits them (OpenBLAS T, PyTorch's pool 1).
/usr/bin/python3 "$here/bench/pytorch_eager.py" --weights "$work" --threads "$threads" --reps "$reps" --split torch > "$work/py.json"
/usr/bin/python3 "$here/bench/pytorch_eager.py" --weights "$work" --threads "$threads" --reps "$reps" --split engine > "$work/py_split.json"
python3 - "$work/cpp.json" "$work/py.json" "$work/py_split.json" <<'PY'
import json, sys
cpp, py, pys = (json.load(open(p)) for p in sys.argv[1:4])
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
