#!/usr/bin/env bash
# Everything a GPU machine is for, in one run (docs/gpu.md): build the engine
# (models, rllm, rllm-bench, test_models; no GUI) against that machine's
# PyTorch, check it on CUDA, and benchmark it against PyTorch eager on the
# same GPU.
#
#   bench/gpu_check.sh [OUT] [DEVICE]      (from the repository root)
#
# OUT (default $OUT or gpu-results) receives every log and JSON; DEVICE
# defaults to cuda (cpu runs the same script here, to check the script).
# Needs python3 with torch (its LibTorch is the one built against), cmake,
# ninja, a C++20 compiler, and the engine's -dev packages. Where the machine
# lacks them, RLLM_DEPS_DEBS names a folder of Debian packages
# (scripts/gpu-deps-bundle makes it) that is unpacked with dpkg -x into a
# private folder, never into /.
# RLLM_GPU_BUDGET_S (default 540) bounds the whole run: each stage gets what
# is left, so a slow stage cannot take the later ones' results with it.
# RLLM_BENCH_BATCHES ("1 64"), RLLM_BENCH_REPS (10) and RLLM_BENCH_MODELS
# (paper_224_booster,paper_224_baseline) shrink the benchmark for a quick try.
set -uo pipefail
out="${1:-${OUT:-gpu-results}}"
device="${2:-cuda}"
batches="${RLLM_BENCH_BATCHES:-1 64}"
reps="${RLLM_BENCH_REPS:-10}"
models="${RLLM_BENCH_MODELS:-paper_224_booster,paper_224_baseline}"
python="${PYTHON:-python3}"
deadline=$(($(date +%s) + ${RLLM_GPU_BUDGET_S:-540}))
mkdir -p "$out"
log() { echo "== $*" | tee -a "$out/summary.txt"; }
left() { echo $((deadline - $(date +%s))); }
# A stage runs under timeout with what is left of the budget, less a reserve
# for the stages' reports.
bounded() {
    local seconds=$(($(left) - 15))
    ((seconds > 5)) || { log "no time left for: $*"; return 124; }
    timeout --kill-after=5 "$seconds" "$@"
}
stage_start=$(date +%s)
stage() {
    log "$1 ($(($(date +%s) - stage_start)) s since start, $(left) s left)"
}

# ---- the machine ------------------------------------------------------------
{
    uname -a
    nproc
    command -v c++ g++ cmake ninja pkg-config dpkg nvcc
    c++ --version | head -1
    cmake --version | head -1
} > "$out/machine.txt" 2>&1
$python - <<'PY' > "$out/torch.txt" 2>&1
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "cxx11abi",
      torch._C._GLIBCXX_USE_CXX11_ABI, "devices", torch.cuda.device_count(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY
cat "$out/torch.txt" >> "$out/summary.txt"
command -v nvidia-smi > /dev/null && nvidia-smi > "$out/nvidia-smi.txt" 2>&1

# ---- the engine's -dev packages, where carried ------------------------------
if [[ -n "${RLLM_DEPS_DEBS:-}" ]]; then
    sysroot=$(mktemp -d /tmp/rllm-deps.XXXXXX)
    unpack() {  # dpkg -x, or binutils' ar and tar where there is no dpkg
        if command -v dpkg > /dev/null; then dpkg -x "$1" "$sysroot"; return; fi
        local member
        member=$(ar t "$1" | grep '^data\.tar\.xz$') && ar p "$1" "$member" | tar -xJ -C "$sysroot"
    }
    for deb in "$RLLM_DEPS_DEBS"/*.deb; do unpack "$deb" || log "could not unpack $deb"; done
    lib="$sysroot/usr/lib/x86_64-linux-gnu"
    export RLLM_EXTRA_PREFIX="$sysroot/usr"
    export PKG_CONFIG_SYSROOT_DIR="$sysroot"
    export PKG_CONFIG_PATH="$lib/pkgconfig:$sysroot/usr/share/pkgconfig"
    command -v pkg-config > /dev/null || export PKG_CONFIG="$sysroot/usr/bin/pkgconf"
    export CPATH="$sysroot/usr/include${CPATH:+:$CPATH}"
    export LIBRARY_PATH="$lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
    # At run time only the libraries the machine lacks (Qt 6, ICU 72, ...):
    # the machine's own zlib, OpenSSL or GLib stay in front of the compiler,
    # CMake and Python.
    missing="$sysroot/missing-libs"
    mkdir -p "$missing"
    have=$(ldconfig -p | awk '{print $1}')
    for so in "$lib"/*.so.*; do  # the sonames: Debian's links to the versioned files
        [[ -L $so ]] || continue
        name=$(basename "$so")
        grep -qxF "$name" <<< "$have" || ln -s "$so" "$missing/$name"
    done
    export LD_LIBRARY_PATH="$missing${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    log "carried packages unpacked into $sysroot; the machine lacked: $(ls "$missing" | tr '\n' ' ')"
fi

# ---- build ------------------------------------------------------------------
build="${RLLM_BUILD_DIR:-build-gpu}"
stage "build"
# The wheel build's script with this machine's Python: the engine, test_models
# where Qt 6 Test is found, the wheel's CUDA libraries before any older ones.
# rllm on glibc's malloc: the bundle carries no jemalloc, and nothing measured
# here depends on the host's heap.
targets="rllm rllm-bench"
status=0
if ! RLLM_TORCH_PYTHON="$python" RLLM_BUILD_DIR="$build" RLLM_BUILD_TARGETS="$targets" \
        bounded scripts/build --torch=wheel -DRLLM_WITH_JEMALLOC=OFF > "$out/build.log" 2>&1; then
    log "build failed: see build.log"; tail -30 "$out/build.log"; exit 1
fi
# test_models exists where CMake found Qt 6 Test.
if cmake --build "$build" --target help 2> /dev/null | grep -q "^test_models: "; then
    bounded cmake --build "$build" --target test_models >> "$out/build.log" 2>&1 ||
        { log "test_models did not build: see build.log"; status=1; }
fi
stage "built"

# ---- checks -----------------------------------------------------------------
if [[ -x $build/tests/test_models ]]; then
    # The CUDA cases first (results against the CPU's, the out-of-memory
    # fallback, --deterministic training repeated to the bit, the
    # multi-tensor AdamW against LibTorch's), then the whole suite later.
    if bounded $build/tests/test_models cudaGivesTheCpusResults \
            outOfMemoryOnCudaFallsBackToTheCpu cudaTrainingRepeatsWhenDeterministic \
            multiTensorAdamWMatchesLibTorchsAdamW > "$out/test_models_cuda.txt" 2>&1; then
        log "test_models, CUDA cases: passed"
    else log "test_models, CUDA cases: FAILED"; status=1; fi
    grep -E "^(PASS|FAIL|SKIP|Totals)" "$out/test_models_cuda.txt" | tee -a "$out/summary.txt"
else
    log "no Qt 6 Test here: test_models was not built; the command-line checks follow"
fi
stage "checked"

# ---- benchmarks -------------------------------------------------------------
work=$(mktemp -d)
rllm=$build/bin/rllm
weights="$work/weights"
mkdir -p "$weights"
bounded $build/bin/rllm-bench --export-weights "$weights" --only "$models" \
    > "$out/export.txt" 2>&1 || log "weight export FAILED"
for batch in $batches; do
    for precision in fp32 bf16; do
        tag="b${batch}_${precision}"
        bounded $build/bin/rllm-bench --device "$device" --batch "$batch" \
            --llm-precision "$precision" --only "$models" --reps "$reps" \
            --json "$out/cpp_$tag.json" > "$out/cpp_$tag.txt" 2>&1 ||
            { log "rllm-bench $tag FAILED"; status=1; }
        flag=()
        [[ $precision == bf16 ]] && flag=(--bf16-llm)
        bounded $python bench/pytorch_eager.py --weights "$weights" --device "$device" \
            --batch "$batch" "${flag[@]}" --only "$models" --reps "$reps" \
            > "$out/eager_$tag.json" 2> "$out/eager_$tag.err" || { log "eager $tag FAILED"; status=1; }
    done
    stage "benchmarked batch $batch"
done
$python - "$out" "$models" "$batches" <<'PY' | tee -a "$out/summary.txt"
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
# Like for like: every token through every layer, in the forward and the
# training step (the engine's own step, class-token tail, in its own column).
print("| model | batch | LLM block | C++ forward ms | eager forward ms | C++/eager | C++ train img/s | eager train img/s | C++/eager train | C++ train img/s, LibTorch's per-tensor AdamW | C++ train img/s, class-token tail |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
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
            cf, ef = c[key]["forward_all_tokens_ms"], e[key]["forward_ms"]
            ct, et = c[key]["train_all_tokens_images_per_second"], e[key]["train_images_per_second"]
            per_tensor = c[key].get("train_step_all_tokens_per_tensor_adamw_ms")
            pt = f"{int(batch) * 1000.0 / per_tensor:.1f}" if per_tensor else "-"
            print(f"| {key} | {batch} | {precision} | {cf:.2f} | {ef:.2f} | {cf / ef:.2f} | "
                  f"{ct:.1f} | {et:.1f} | {ct / et:.2f} | {pt} | {c[key]['train_images_per_second']:.1f} |")
PY

# ---- training on the device, and its bundle on both devices -----------------
stage "demo"
if bounded $rllm demo --out "$work/demo" --no-3d --epochs-2d 3 \
        --device "$device" > "$out/demo.txt" 2>&1; then
    bundle=$(ls "$work"/demo/*_rllm_booster_*.safetensors 2>/dev/null | head -1)
    data=$(ls "$work"/demo/*.npz 2>/dev/null | head -1)
    if [[ -n "$bundle" && -n "$data" ]]; then
        for d in cpu "$device"; do
            bounded $rllm eval "$bundle" --data "$data" --split test \
                --device "$d" --json > "$out/eval_$d.json"
        done
        log "eval on cpu and $device: $(tr -d ' \n' < "$out/eval_cpu.json") / $(tr -d ' \n' < "$out/eval_$device.json")"
    fi
else
    log "demo training on $device FAILED: see demo.txt"; status=1
fi

# ---- the rest of the model tests, if time is left ---------------------------
if [[ -x $build/tests/test_models ]]; then
    if bounded $build/tests/test_models > "$out/test_models.txt" 2>&1; then
        log "test_models, whole suite: passed"
    else log "test_models, whole suite: FAILED or cut short (see test_models.txt)"; status=1; fi
    grep -E "^Totals" "$out/test_models.txt" | tee -a "$out/summary.txt"
fi
rm -rf "$work"
stage "done (status $status)"
exit $status
