#!/usr/bin/env bash
# `auto` chosen per model (rllm cam-choose, docs/explanations.md): for each
# bundle, the recipe chosen on the validation split, and on the test split,
# which the choice never saw, its faithfulness margins beside those of the
# phantom rule (the bundle's own `auto` before the choice).
#
#   bench/cam_choice.sh DATA.npz OUTDIR [THREADS] BUNDLE...
#
# Writes OUTDIR/<bundle>.chosen.safetensors, JSON per step and OUTDIR/choice.md.
set -euo pipefail
# Parsed whole before it runs (the braces), so editing this file cannot
# change an instance that is running.
{
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/bench/medmnist_common.sh"
data="${1:?MedMNIST archive}"
out="${2:?output folder}"
threads="${3:-2}"
shift 3
mkdir -p "$out"
use_private_rllm "$out"
for bundle in "$@"; do
    name=$(basename "$bundle" .safetensors)
    chosen="$out/$name.chosen.safetensors"
    if [[ ! -f "$out/$name.choice.json" ]]; then
        start=$(date +%s)
        # Status 1 when no map passes: recorded, nothing written.
        "$rllm" cam-choose "$bundle" --data "$data" --out "$chosen" --threads "$threads" --json \
            > "$out/$name.choice.json.tmp" || true
        echo "$(( $(date +%s) - start ))" > "$out/$name.choice.seconds"
        mv "$out/$name.choice.json.tmp" "$out/$name.choice.json"
    fi
    for which in rule chosen; do
        file="$out/$name.$which.test.json"
        [[ -f "$file" ]] && continue
        target="$bundle"
        if [[ $which == chosen ]]; then
            [[ -f "$chosen" ]] || continue
            target="$chosen"
        fi
        "$rllm" cam-eval "$target" --data "$data" --threads "$threads" --json > "$file.tmp"
        mv "$file.tmp" "$file"
    done
done
python3 - "$out" "$@" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
lines = ["| model | chosen on val (cases) | val ins-del / LeRF-MoRF | test: chosen ins-del / LeRF-MoRF | test: phantom rule (method, layer) ins-del / LeRF-MoRF | s to choose |",
         "|---|---|---|---|---|---|"]
def margins(r):
    return f"{r['insertion_auc'] - r['deletion_auc']:+.3f} / {r['road_lerf_auc'] - r['road_morf_auc']:+.3f}"
for bundle in sys.argv[2:]:
    name = pathlib.Path(bundle).stem
    choice = json.loads((out / f"{name}.choice.json").read_text())
    seconds = (out / f"{name}.choice.seconds").read_text().strip()
    rule = json.loads((out / f"{name}.rule.test.json").read_text())
    picked = [c for c in choice["candidates"] if c["chosen"]]
    if picked:
        c = picked[0]
        test = json.loads((out / f"{name}.chosen.test.json").read_text())
        cells = [f"{c['method']} {c['layer']} ({c['cases']})",
                 f"{c['insertion_auc'] - c['deletion_auc']:+.3f} / {c['road_lerf_auc'] - c['road_morf_auc']:+.3f}",
                 margins(test)]
    else:
        cells = ["none passed", "", ""]
    lines.append(f"| {name} | " + " | ".join(cells) +
                 f" | {rule['method']} {rule['layer']}: {margins(rule)} | {seconds} |")
text = "\n".join(lines) + "\n"
(out / "choice.md").write_text(text)
print(text)
PY
exit
}
