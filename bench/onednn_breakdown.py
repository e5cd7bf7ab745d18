#!/usr/bin/env python3
"""Where an engine command spends its oneDNN time: runs the command with
ONEDNN_VERBOSE=1 (oneDNN then prints one line per primitive it executes, with
the problem's shape and the milliseconds it took) and sums those lines by
primitive and shape, largest first, with the number of calls and each one's
share of all oneDNN time. Call counts follow from the model and the data and
are exact; the milliseconds are this machine's at the time, so compare shares
within one run, not milliseconds across runs.

  bench/onednn_breakdown.py [--top N] -- COMMAND [ARG...]

e.g. one short epoch of the 64³ booster:
  bench/onednn_breakdown.py -- build/bin/rllm train --data adrenalmnist3d_64.npz \\
      --out /tmp/b.safetensors --max-train 48 --epochs 1 --arch vit3d --preset tiny \\
      --depth 2 --patch 8 --batch 16 --threads 1 --booster in --llm stories260K.bin

Shapes read as oneDNN writes them: a matmul's "MxK:KxN:MxN" (with a batch in
front where there is one), a softmax's or eltwise's tensor sizes. Only a
build with oneDNN (`rllm info` says which CPU products it uses) prints any.
"""

import argparse
import collections
import os
import subprocess
import sys
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=25, help="rows to print (default 25)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")

    env = dict(os.environ, ONEDNN_VERBOSE="1")
    start = time.monotonic()
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wall = time.monotonic() - start
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-2000:])
        sys.exit(f"onednn_breakdown: the command exited with {result.returncode}")

    milliseconds = collections.Counter()
    calls = collections.Counter()
    for line in result.stdout.splitlines():
        fields = line.split(",")
        if len(fields) < 4 or fields[0] != "onednn_verbose" or fields[1] != "exec":
            continue
        # exec,engine,primitive,implementation,...,problem,time
        key = (fields[3], fields[-2])
        milliseconds[key] += float(fields[-1])
        calls[key] += 1
    if not calls:
        sys.exit("onednn_breakdown: the command ran no oneDNN primitive "
                 "(a build without oneDNN, or RLLM_CPU_GEMM=blas)")

    total = sum(milliseconds.values())
    print(f"wall {wall:.1f} s, oneDNN {total / 1000:.1f} s ({100 * total / 1000 / wall:.0f} %), "
          f"{sum(calls.values())} calls")
    print(f"{'ms':>10} {'share':>6} {'calls':>7}  primitive  shape")
    for key, ms in milliseconds.most_common(args.top):
        print(f"{ms:10.1f} {100 * ms / total:5.1f}% {calls[key]:7d}  {key[0]}  {key[1]}")


if __name__ == "__main__":
    main()
