#!/usr/bin/env bash
# The test AUC of several binary models' mean probability (an ensemble),
# beside each model's own: what distilling them into one model
# (`rllm train --distill`) could reach at best (docs/training.md). Each
# model's per-case probabilities come from `rllm compare FIRST MODEL --csv`.
#
#   bench/ensemble_auc.sh breast|pneumonia|adrenal3d|adrenal3d_64 BUNDLE1 BUNDLE2 [BUNDLE...]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/bench/medmnist_common.sh"
archive=$(medmnist_archive "${1:?set}")
shift
[[ $# -ge 2 ]] || { echo "give two bundles or more" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
first=$1
for bundle in "$@"; do
    "$here/build/bin/rllm" compare "$first" "$bundle" --data "$archive" --split test \
        --csv "$work/$(basename "$bundle").csv" --threads 1 > /dev/null
done
python3 - "$work" "$@" <<'PY'
import csv, pathlib, sys
work, bundles = pathlib.Path(sys.argv[1]), sys.argv[2:]

def auc(scores, labels):
    # Mann-Whitney: the share of (positive, negative) pairs ranked right, ties half.
    pos = sorted(s for s, l in zip(scores, labels) if l == 1)
    neg = sorted(s for s, l in zip(scores, labels) if l == 0)
    wins, i, j = 0.0, 0, 0
    for p in pos:
        while i < len(neg) and neg[i] < p:
            i += 1
        j = i
        while j < len(neg) and neg[j] == p:
            j += 1
        wins += i + 0.5 * (j - i)
    return wins / (len(pos) * len(neg))

labels, columns = None, []
for bundle in bundles:
    rows = list(csv.DictReader(open(work / (pathlib.Path(bundle).name + ".csv"))))
    positive = [k for k in rows[0] if k.startswith("p_b_")]
    if len(positive) != 2:
        sys.exit("ensemble_auc: binary tasks only")
    labels = [int(r["label"]) for r in rows]
    columns.append([float(r[positive[1]]) for r in rows])  # class 1, as MedMNIST's AUC
    print(f"{pathlib.Path(bundle).name}: test AUC {auc(columns[-1], labels):.4f}")
mean = [sum(c[i] for c in columns) / len(columns) for i in range(len(labels))]
print(f"mean probability of the {len(columns)}: test AUC {auc(mean, labels):.4f}")
PY
