#!/usr/bin/env bash
# Everything a GPU machine is for, in one run (docs/gpu.md): build the engine
# (models, rllm, rllm-bench; no GUI) against that machine's PyTorch, check it
# on CUDA, and benchmark it against PyTorch eager on the same GPU.
#
#   bench/gpu_check.sh [OUT] [DEVICE]      (from the repository root)
#
# OUT (default $OUT or gpu-results) receives every log and JSON; DEVICE
# defaults to cuda (cpu runs the same script here, to check the script).
# Needs python3 with torch (its LibTorch is the one built against), cmake,
# ninja, a C++20 compiler, and the engine's -dev packages (nlohmann-json,
# nettle, libzip, gloo headers): where the machine lacks them, carry the
# folder scripts/gpu-deps-bundle makes and set RLLM_DEPS_SYSROOT to it.
# RLLM_BENCH_BATCHES ("1 64"), RLLM_BENCH_REPS (10) and RLLM_BENCH_MODELS
# (paper_224_booster,paper_224_baseline) shrink the benchmark for a quick try.
set -uo pipefail
out="${1:-${OUT:-gpu-results}}"
device="${2:-cuda}"
batches="${RLLM_BENCH_BATCHES:-1 64}"
reps="${RLLM_BENCH_REPS:-10}"
models="${RLLM_BENCH_MODELS:-paper_224_booster,paper_224_baseline}"
python="${PYTHON:-python3}"
mkdir -p "$out"
log() { echo "== $*" | tee -a "$out/summary.txt"; }
torch_dir=$($python -c 'import os, torch; print(os.path.dirname(torch.__file__))') || {
    log "no PyTorch for $python"; exit 1; }
$python - <<'PY' | tee "$out/torch.txt"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda,
      "devices", torch.cuda.device_count(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY
command -v nvidia-smi >/dev/null && nvidia-smi > "$out/nvidia-smi.txt" 2>&1

# ---- build ------------------------------------------------------------------
build="${RLLM_BUILD_DIR:-build-gpu}"
if [[ -n "${RLLM_DEPS_SYSROOT:-}" ]]; then
    sysroot=$(cd "$RLLM_DEPS_SYSROOT" && pwd)
    export RLLM_EXTRA_PREFIX="$sysroot/usr"
    export PKG_CONFIG_SYSROOT_DIR="$sysroot"
    export PKG_CONFIG_PATH="$sysroot/usr/lib/x86_64-linux-gnu/pkgconfig:$sysroot/usr/share/pkgconfig"
    export CPATH="$sysroot/usr/include${CPATH:+:$CPATH}"
    export LIBRARY_PATH="$sysroot/usr/lib/x86_64-linux-gnu${LIBRARY_PATH:+:$LIBRARY_PATH}"
    export LD_LIBRARY_PATH="$sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
start=$(date +%s)
# The wheel build's script with this machine's Python: the engine, its tests
# where Qt 6 Test is found, the wheel's CUDA libraries before any older ones.
if ! RLLM_TORCH_PYTHON="$python" RLLM_BUILD_DIR="$build" scripts/build --torch=wheel \
        > "$out/build.log" 2>&1; then
    log "build failed: see $out/build.log"; tail -30 "$out/build.log"; exit 1
fi
log "build: $(( $(date +%s) - start )) s"

# ---- checks -----------------------------------------------------------------
status=0
if [[ -x $build/tests/test_models ]]; then
    # The model tests, the CUDA case (cudaGivesTheCpusResults) included.
    if $build/tests/test_models > "$out/test_models.txt" 2>&1; then log "test_models: passed"
    else log "test_models: FAILED"; status=1; fi
    grep -E "PASS|FAIL|SKIP" "$out/test_models.txt" | grep -i cuda | tee -a "$out/summary.txt"
else
    log "no Qt 6 Test here: the Qt Test suite was not built; the command-line checks follow"
fi
work=$(mktemp -d)
rllm=$build/bin/rllm
# Training on the device, then the same bundle scored on the device and on the CPU.
if $rllm demo --out "$work/demo" --no-3d --epochs-2d 3 --device "$device" > "$out/demo.txt" 2>&1; then
    bundle=$(ls "$work"/demo/*_rllm_booster_*.safetensors 2>/dev/null | head -1)
    data=$(ls "$work"/demo/*.npz 2>/dev/null | head -1)
    if [[ -n "$bundle" && -n "$data" ]]; then
        for d in cpu "$device"; do
            $rllm eval "$bundle" --data "$data" --split test --device "$d" --json > "$out/eval_$d.json"
        done
        log "eval on cpu and $device: $(tr -d ' \n' < "$out/eval_cpu.json") / $(tr -d ' \n' < "$out/eval_$device.json")"
    fi
else
    log "demo training on $device FAILED: see $out/demo.txt"; status=1
fi

# ---- benchmarks ---------------------------------------------------------------
weights="$work/weights"
mkdir -p "$weights"
$build/bin/rllm-bench --export-weights "$weights" --only "$models"
for batch in $batches; do
    for precision in fp32 bf16; do
        tag="b${batch}_${precision}"
        $build/bin/rllm-bench --device "$device" --batch "$batch" --llm-precision "$precision" \
            --only "$models" --reps "$reps" --json "$out/cpp_$tag.json" \
            > "$out/cpp_$tag.txt" 2>&1 || { log "rllm-bench $tag FAILED"; status=1; }
        flag=()
        [[ $precision == bf16 ]] && flag=(--bf16-llm)
        $python bench/pytorch_eager.py --weights "$weights" --device "$device" --batch "$batch" \
            "${flag[@]}" --only "$models" --reps "$reps" \
            > "$out/eager_$tag.json" 2> "$out/eager_$tag.err" || { log "eager $tag FAILED"; status=1; }
    done
done
$python - "$out" "$models" "$batches" <<'PY' | tee -a "$out/summary.txt"
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print("| model | batch | LLM block | C++ forward ms | eager forward ms | C++/eager | C++ train img/s | eager train img/s |")
print("|---|---|---|---|---|---|---|---|")
for batch in sys.argv[3].split():
    for precision in ("fp32", "bf16"):
        tag = f"b{batch}_{precision}"
        try:
            c = json.loads((out / f"cpp_{tag}.json").read_text())
            e = json.loads((out / f"eager_{tag}.json").read_text())
        except Exception as error:
            print(f"| {tag}: missing ({error}) |")
            continue
        for key in sys.argv[2].split(","):
            if key not in c or key not in e:
                continue
            print(f"| {key} | {batch} | {precision} | {c[key]['forward_all_tokens_ms']:.2f} | "
                  f"{e[key]['forward_ms']:.2f} | {c[key]['forward_all_tokens_ms'] / e[key]['forward_ms']:.2f} | "
                  f"{c[key]['train_images_per_second']:.1f} | {e[key]['train_images_per_second']:.1f} |")
PY
rm -rf "$work"
log "done (status $status)"
exit $status
