#!/usr/bin/env python3
"""Training throughput and peak memory of `rllm train` at 64³ (AdrenalMNIST3D
64, the RQ2 recipe of docs/results.md: ViT-3D tiny, 2 blocks, 8-voxel patches,
batch 16, one thread), baseline and booster (stories260K's last layer, mode
`in`), for one or more rllm binaries and both heap policies (RLLM_MALLOC=keep,
the default, and system). Each run trains one epoch on the first N training
cases and evaluates as usual; images per second is the epoch's training rate
from rllm's curves CSV, peak RSS the process's (getrusage). Everything runs one
after the other ROUNDS times; each ratio is taken within a round against the
first binary with the system heap, and printed as the median over rounds.
Not a test: a figure of this machine, rerun before quoting it.

  bench/train_throughput.py [--rounds R] [--cases N] [RLLM ...]

Default: 2 rounds, 320 cases, build/bin/rllm. To compare two commits, build the
older one elsewhere (git worktree) and pass both binaries, the older first.
"""

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data")
RECIPE = ["--arch", "vit3d", "--preset", "tiny", "--depth", "2", "--patch", "8", "--epochs", "1",
          "--no-patch-norm", "--batch", "16", "--lr", "2.5e-4", "--threads", "1"]


def run_once(rllm, model, heap, cases, work):
    archive = os.path.join(DATA, "medmnist", "adrenalmnist3d_64.npz")
    bundle = os.path.join(work, "run.safetensors")
    command = [rllm, "train", "--data", archive, "--out", bundle, "--max-train", str(cases)]
    command += RECIPE
    if model == "booster":
        command += ["--booster", "in", "--llm", os.path.join(DATA, "llm", "stories260K.bin")]
    env = dict(os.environ, RLLM_MALLOC=heap)
    # Each run in its own child process, so getrusage's children maximum is its own peak.
    probe = ("import resource,subprocess,sys;"
             "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE);"
             "sys.stderr.buffer.write(r.stderr[-2000:]) if r.returncode else None;"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
             "sys.exit(r.returncode)")
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", probe] + command, env=env,
                            capture_output=True, text=True)
    wall = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"train_throughput: {' '.join(command)} failed:\n{result.stderr}")
    peak_mb = int(result.stdout.split()[-1]) / 1024
    with open(bundle + ".curves.csv") as f:
        rate = float(list(csv.DictReader(f))[-1]["images_per_second"])
    return rate, peak_mb, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cases", type=int, default=320)
    parser.add_argument("rllm", nargs="*", default=[os.path.join(HERE, "..", "build", "bin", "rllm")])
    args = parser.parse_args()
    if not os.path.isdir(DATA):
        sys.exit(f"train_throughput: no data folder at {DATA} (the MedMNIST files and stories260K)")
    runs = {}  # (binary index, heap, model) -> list of (rate, peak, wall)
    with tempfile.TemporaryDirectory() as work:
        for r in range(args.rounds):
            for model in ("baseline", "booster"):
                for b, rllm in enumerate(args.rllm):
                    for heap in ("system", "keep"):
                        figures = run_once(rllm, model, heap, args.cases, work)
                        runs.setdefault((b, heap, model), []).append(figures)
                        print(f"round {r + 1} {model} binary {b} {heap}: {figures[0]:.2f} img/s, "
                              f"peak {figures[1]:.0f} MB, {figures[2]:.1f} s", file=sys.stderr)
    print(f"{args.cases} training cases at 64³, batch 16, one thread; median of {args.rounds} rounds\n")
    for b, rllm in enumerate(args.rllm):
        print(f"binary {b}: {rllm}")
    print("\n| model | binary | heap | img/s | x binary 0, system | peak RSS MB | wall s |")
    print("|---|---|---|---|---|---|---|")
    for model in ("baseline", "booster"):
        reference = runs[(0, "system", model)]
        for b in range(len(args.rllm)):
            for heap in ("system", "keep"):
                figures = runs[(b, heap, model)]
                ratio = statistics.median(f[0] / ref[0] for f, ref in zip(figures, reference))
                print(f"| {model} | {b} | {heap} | {statistics.median(f[0] for f in figures):.1f} | "
                      f"{ratio:.2f} | {statistics.median(f[1] for f in figures):.0f} | "
                      f"{statistics.median(f[2] for f in figures):.1f} |")


if __name__ == "__main__":
    main()
