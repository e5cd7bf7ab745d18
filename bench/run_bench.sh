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
/usr/bin/python3 "$here/bench/pytorch_eager.py" --weights "$work" --threads "$threads" --reps "$reps" > "$work/py.json"
python3 - "$work/cpp.json" "$work/py.json" <<'PY'
import json, sys
cpp, py = (json.load(open(p)) for p in sys.argv[1:3])
print(f"\n{py['engine']} vs LibTorch C++, {cpp['threads']} threads, median of {cpp['reps']}; sgemm peak {cpp['sgemm_peak_gflops']:.1f} GFLOP/s")
print("| model | C++ forward ms | eager forward ms | ratio | C++ train step ms | eager train step ms | ratio | C++ fwd GFLOP/s (% peak) | weights MB | peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|---|")
for key in ("paper_224_booster", "paper_224_baseline", "28px_booster", "28px_baseline"):
    c, p = cpp[key], py[key]
    print(f"| {key} | {c['forward_ms']:.1f} | {p['forward_ms']:.1f} | {c['forward_ms']/p['forward_ms']:.2f} | "
          f"{c['train_step_ms']:.1f} | {p['train_step_ms']:.1f} | {c['train_step_ms']/p['train_step_ms']:.2f} | "
          f"{c['forward_gflops']:.1f} ({100*c['forward_fraction_of_sgemm_peak']:.0f}%) | {c['weight_mb']:.0f} | {c['peak_rss_mb_after_forward']:.0f} |")
print("\nCAMs at block:0:norm1 (goal: at most 2.5x the forward time)")
print("| model | C++ Grad-CAM ms | x forward | eager Grad-CAM ms | C++/eager | C++ EigenCAM ms | x forward | eager EigenCAM ms | C++/eager |")
print("|---|---|---|---|---|---|---|---|---|")
for key in ("paper_224_booster", "paper_224_baseline", "28px_booster", "28px_baseline"):
    c, p = cpp[key], py[key]
    print(f"| {key} | {c['gradcam_ms']:.1f} | {c['gradcam_ms']/c['forward_ms']:.2f} | {p['gradcam_ms']:.1f} | {c['gradcam_ms']/p['gradcam_ms']:.2f} | "
          f"{c['eigencam_ms']:.1f} | {c['eigencam_ms']/c['forward_ms']:.2f} | {p['eigencam_ms']:.1f} | {c['eigencam_ms']/p['eigencam_ms']:.2f} |")
PY
