#!/usr/bin/env bash
# Every CAM method at every layer on a real test split, for one or more
# bundles: deletion and insertion AUC (pixels set to the image's mean) and
# ROAD's MoRF and LeRF AUC (pixels imputed from their neighbours), with the
# two checks a faithful map passes: insertion > deletion, LeRF > MoRF
# (docs/explanations.md, "On real data").
#
#   bench/cam_faithfulness.sh DATA.npz OUTDIR [THREADS] BUNDLE...
#
# Writes OUTDIR/<bundle>_<method>_<layer>.json and OUTDIR/faithfulness.md.
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
    depth=$("$rllm" bundle info "$bundle" | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["depth"])')
    boosted=$("$rllm" bundle info "$bundle" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(1 if d.get("booster") and d["booster"].get("llm") else 0)')
    layers=()
    for ((i = 0; i < depth; ++i)); do layers+=("block:$i:norm1" "block:$i"); done
    [[ $boosted -eq 1 ]] && layers+=("booster:llm")
    runs=("rollout|")
    for method in eigencam gradcam gradcam++ hirescam; do
        for layer in "${layers[@]}"; do runs+=("$method|$layer"); done
    done
    for run in "${runs[@]}"; do
        method=${run%%|*} layer=${run#*|}
        file="$out/${name}_${method}_${layer//:/-}.json"
        [[ -f "$file" ]] && continue
        args=(--method "$method")
        [[ -n "$layer" ]] && args+=(--layer "$layer")
        "$rllm" cam-eval "$bundle" --data "$data" "${args[@]}" --threads "$threads" --json \
            > "$file.tmp" && mv "$file.tmp" "$file" || rm -f "$file.tmp"  # a layer the method cannot use
    done
done
python3 - "$out" "$@" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
lines = ["| model | method | layer | deletion | insertion | ins - del | ROAD MoRF | ROAD LeRF | LeRF - MoRF | passes both |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for bundle in sys.argv[2:]:
    name = pathlib.Path(bundle).stem
    for f in sorted(out.glob(f"{name}_*.json")):
        r = json.loads(f.read_text())
        gap, road = r["insertion_auc"] - r["deletion_auc"], r["road_lerf_auc"] - r["road_morf_auc"]
        lines.append(f"| {name} | {r['method']} | {r['layer']} | {r['deletion_auc']:.3f} | {r['insertion_auc']:.3f} | "
                     f"{gap:+.3f} | {r['road_morf_auc']:.3f} | {r['road_lerf_auc']:.3f} | {road:+.3f} | "
                     f"{'yes' if gap > 0 and road > 0 else 'no'} |")
text = "\n".join(lines) + "\n"
(out / "faithfulness.md").write_text(text)
print(text)
PY
exit
}
