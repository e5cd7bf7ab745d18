#!/usr/bin/env bash
# The training recipe, one ingredient at a time: the ViT baseline trained
# with each recipe below on one MedMNIST set, 3 seeds each, model chosen on
# validation AUC, test ACC/AUC as mean ± sd, how many runs predicted a single
# class for every test case, and minutes per run (docs/training.md).
#
#   bench/medmnist_recipe.sh breast|pneumonia|adrenal3d|adrenal3d_64 OUTDIR [THREADS] [RECIPE...]
#
# Needs ../shared/data. Writes one bundle and one JSON summary per run and
# OUTDIR/recipe.md; runs already in OUTDIR are kept (delete them to redo).
# Instances on one OUTDIR split its runs (each is locked while it trains).
# RLLM_SEEDS="0" runs fewer seeds (a quick look; the table says how many).
# RLLM_EXTRA="..." adds options after the recipe's (a later option wins, e.g.
# "--epochs 20"); use another OUTDIR for it, runs there are kept.
set -euo pipefail
# Parsed whole before it runs (the braces), so editing this file cannot
# change an instance that is running.
{
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/bench/medmnist_common.sh"
which="${1:?breast, pneumonia, adrenal3d or adrenal3d_64}"
archive=$(medmnist_archive "$which")
out="${2:?output folder}"
threads="${3:-2}"
shift $(( $# < 3 ? $# : 3 ))
chosen=("$@")
mkdir -p "$out"
use_private_rllm "$out"
case "$which" in
    breast | pneumonia) base=(--arch vit2d --preset tiny) ;;
    adrenal3d) base=(--arch vit3d --preset tiny --patch 7) ;;
    adrenal3d_64) base=(--arch vit3d --preset tiny --patch 8) ;;
esac
base+=(--data "$archive")
# Each recipe adds one thing to the one above it (the first is the first
# wave's recipe: 2 blocks, light augmentation, 20 epochs in 2D, 10 in 3D).
# The longer schedules: 60 epochs in 2D, 30 in 3D (each 3D epoch costs more).
if [[ $which == adrenal3d* ]]; then
    first="--depth 2 --epochs 10" long="--epochs 30" longest="--epochs 90"
else
    first="--depth 2 --epochs 20" long="--epochs 60" longest="--epochs 180"
fi
# The mixed 180-epoch 2D recipe (spt_lsa_mix_longest), which the recipes
# after it change one thing of.
mixed="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0"
declare -A recipes=(
    [first]="$first"
    [longer]="--depth 2 $long"
    [strong]="--depth 2 $long --augment strong"
    [balanced]="--depth 2 $long --augment strong --class-balance loss"
    [ema]="--depth 2 $long --augment strong --class-balance loss --ema 0.995"
    [light_ema]="--depth 2 $long --class-balance loss --ema 0.995"
    [mix]="--depth 2 $long --augment strong --class-balance loss --ema 0.995 --mixup 0.2 --cutmix 1.0"
    [deeper]="--depth 4 $long --augment strong --class-balance loss --ema 0.995"
    [finepatch]="--depth 2 $long --augment strong --class-balance loss --ema 0.995 --patch 2"
    # The small-data options (Lee et al. 2021), each on top of ema, then together.
    [spt_lsa]="--depth 2 $long --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention"
    [droppath]="--depth 2 $long --augment strong --class-balance loss --ema 0.995 --drop-path 0.1"
    [small_data]="--depth 4 $long --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --drop-path 0.1"
    [spt_lsa_dp]="--depth 2 $long --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --drop-path 0.1"
    # 3D: on top of light_ema (strong 3D augmentation hurt there).
    [light_spt_lsa]="--depth 2 $long --class-balance loss --ema 0.995 --shifted-patches --locality-attention"
    # 3D: light_ema's training loss still falls at its last epoch; three
    # times the schedule, then the same at ViT-S width.
    [light_longest]="--depth 2 $longest --class-balance loss --ema 0.995"
    [light_longest_small]="--preset small --depth 2 $longest --class-balance loss --ema 0.995"
    # 3D: shapes bent by a smooth random field of up to 2 voxels (no scaling).
    [light_elastic]="--depth 2 $long --class-balance loss --ema 0.995 --elastic 2"
    # The schedule's last (averaged) weights instead of the best validation
    # epoch: 98 validation cases choose early, lucky epochs in 3D.
    [light_ema_last]="--depth 2 $long --class-balance loss --ema 0.995 --select last"
    # Four times the optimiser steps for the same epochs: at batch 64 a
    # 30-epoch 3D run takes 570 steps (1188 volumes) and a 60-epoch
    # BreastMNIST run 540 (546 images), and both still underfit.
    [ema_batch16]="--depth 2 $long --augment strong --class-balance loss --ema 0.995 --batch 16"
    [light_ema_batch16]="--depth 2 $long --class-balance loss --ema 0.995 --batch 16"
    # The same gradient noise as batch 64 at a quarter of the batch (the
    # learning rate scaled with it), and a lower rate at batch 64.
    [light_ema_batch16_lr]="--depth 2 $long --class-balance loss --ema 0.995 --batch 16 --lr 2.5e-4"
    [light_ema_lr3e-4]="--depth 2 $long --class-balance loss --ema 0.995 --lr 3e-4"
    [ema_batch16_lr]="--depth 2 $long --augment strong --class-balance loss --ema 0.995 --batch 16 --lr 2.5e-4"
    [spt_lsa_batch16_lr]="--depth 2 $long --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --batch 16 --lr 2.5e-4"
    [light_spt_lsa_batch16_lr]="--depth 2 $long --class-balance loss --ema 0.995 --shifted-patches --locality-attention --batch 16 --lr 2.5e-4"
    # 3D: AdrenalMNIST3D's volumes are binary masks; the patch LayerNorm makes
    # every patch wholly inside or outside the mask the same token.
    [light_ema_nopn]="--depth 2 $long --class-balance loss --ema 0.995 --no-patch-norm"
    [light_ema_batch16_lr_nopn]="--depth 2 $long --class-balance loss --ema 0.995 --batch 16 --lr 2.5e-4 --no-patch-norm"
    # 3D: 4-voxel patches (a 7x7x7 token grid) instead of 7-voxel ones (4x4x4).
    [nopn_patch4]="--depth 2 $long --class-balance loss --ema 0.995 --batch 16 --lr 2.5e-4 --no-patch-norm --patch 4"
    # 2D: spt_lsa with 2-pixel patches (a 14x14 token grid instead of 7x7).
    [spt_lsa_patch2]="--depth 2 $long --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --patch 2"
    # 2D: spt_lsa with mixed cases (mixup alone, then mixup or cutmix per
    # batch), with the balanced sampler in place of the weighted loss, and
    # with three times the schedule.
    [spt_lsa_mixup]="--depth 2 $long --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2"
    [spt_lsa_mix]="--depth 2 $long --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0"
    [spt_lsa_sampler]="--depth 2 $long --augment strong --class-balance sampler --ema 0.995 --shifted-patches --locality-attention"
    [spt_lsa_longest]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention"
    # 2D: the two with the best means alone (mix, sampler) together; mix with
    # the longer schedule; mix at ViT-S width.
    [spt_lsa_mix_sampler]="--depth 2 $long --augment strong --class-balance sampler --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0"
    [spt_lsa_mix_longest]="$mixed"
    # The same, keeping its last epoch (as the pretrained mim600_last).
    [spt_lsa_mix_longest_last]="$mixed --select last"
    [spt_lsa_mix_small]="--preset small --depth 2 $long --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0"
    # 2D: the mixed recipe still improved near the end of 180 epochs.
    [spt_lsa_mix_360]="--depth 2 --epochs 360 --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0"
    # 2D: the mixed 180-epoch recipe with stochastic depth 0.1 (which added
    # nothing at 60 epochs; longer schedules leave more to regularise).
    [spt_lsa_mix_longest_dp]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0 --drop-path 0.1"
    # 3D: nopn_patch4 with mixed cases (mixup or cutmix per batch, cuboids
    # in 3D), which paid in 2D.
    [nopn_patch4_mix]="--depth 2 $long --class-balance loss --ema 0.995 --batch 16 --lr 2.5e-4 --no-patch-norm --patch 4 --mixup 0.2 --cutmix 1.0"
    # 3D: nopn_patch4 with shifted patches and locality attention (each
    # 4-voxel token then also sees its neighbours' halves).
    [nopn_patch4_spt_lsa]="--depth 2 $long --class-balance loss --ema 0.995 --batch 16 --lr 2.5e-4 --no-patch-norm --patch 4 --shifted-patches --locality-attention"
    # The best recipes so far with the epoch kept by the mean validation AUC
    # over a window of a sixth of the schedule instead of the single best
    # epoch (same training, so paired with the plain recipe of each seed).
    [spt_lsa_mix_longest_mean30]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0 --select mean:30"
    [nopn_patch4_spt_lsa_mean5]="--depth 2 $long --class-balance loss --ema 0.995 --batch 16 --lr 2.5e-4 --no-patch-norm --patch 4 --shifted-patches --locality-attention --select mean:5"
    # 2D: the mixed 180-epoch recipe distilled from its own three runs
    # (seeds 0-2, trained first in OUTDIR; see `teachers` below): knowledge
    # distillation, weight 0.5, temperature 2 (rllm train's defaults).
    [spt_lsa_mix_longest_distill]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0"
    # 2D: the mixed 180-epoch recipe with random erasing at DeiT's
    # probability (a box of 2-33 % of the image becomes noise in a quarter of
    # the cases): the one ingredient of DeiT's small-data recipe not yet here.
    [spt_lsa_mix_longest_erase]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0 --erase 0.25"
    # 2D: the mixed 180-epoch recipe with sharpness-aware minimisation
    # (Foret et al. 2021) at its usual radius, 0.05, at twice it and at a
    # fifth of it: the
    # gradient taken at the worst nearby weights, which Chen et al. 2022 found
    # lifts ViTs trained from scratch past ResNets of their size. Twice the
    # passes a step.
    [spt_lsa_mix_longest_sam]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0 --sam 0.05"
    [spt_lsa_mix_longest_sam01]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0 --sam 0.1"
    [spt_lsa_mix_longest_sam001]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0 --sam 0.01"
    # 2D: SAM in place of mixing (with mixing it learnt slower and ended lower,
    # docs/training.md "BreastMNIST: sharpness-aware minimisation").
    [spt_lsa_longest_sam]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --sam 0.05"
    # 2D: SAM in place of mixing peaked at the schedule's end (epochs 177-180):
    # twice the schedule.
    [spt_lsa_sam_360]="--depth 2 --epochs 360 --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --sam 0.05"
    # 2D: the mixed recipe's SAM with the classifier head left out of the
    # ascent: with it in, the head took a median 96 % of ||g||^2 and the
    # ascent point was another head on the same tokens.
    # 2D: the mixed recipe with the head reading the mean of the patch tokens
    # (global average pooling) instead of the class token.
    [spt_lsa_mix_longest_gap]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0 --mean-pool"
    [spt_lsa_mix_longest_sam_bb]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --shifted-patches --locality-attention --mixup 0.2 --cutmix 1.0 --sam 0.05 --sam-scope backbone"
    # 2D: the mixed recipe with a convolutional stem in place of the shifted
    # patches (the two are alternative tokenisers and do not combine).
    [stem_lsa_mix_longest]="--depth 2 $longest --augment strong --class-balance loss --ema 0.995 --conv-stem --locality-attention --mixup 0.2 --cutmix 1.0"
    # 2D: masked image modelling (SimMIM) as pretraining without labels:
    # 300 epochs predicting the pixels of 60 % of the patches, masked (the
    # tokeniser and attention of the mixed recipe, strong augmentation, no
    # mixing); its bundle starts spt_lsa_mix_longest_mim (`initialised_by`).
    [mim_pretrain]="--depth 2 --epochs 300 --augment strong --shifted-patches --locality-attention --mim 0.6 --select last"
    # 2D: the mixed recipe fine-tuned from the same seed's mim_pretrain bundle.
    [spt_lsa_mix_longest_mim]="$mixed"
    # 2D: twice the pretraining (600 epochs), then the same fine-tuning.
    [mim_pretrain_600]="--depth 2 --epochs 600 --augment strong --shifted-patches --locality-attention --mim 0.6 --select last"
    [spt_lsa_mix_longest_mim600]="$mixed"
    # 2D: the 600-epoch pretraining's fine-tuning at half the learning rate
    # (a pretrained start may need smaller steps to keep what it learnt), and
    # with stochastic depth at 0.1 instead (as MAE fine-tunes).
    [spt_lsa_mix_longest_mim600_lr5e-4]="$mixed --lr 5e-4"
    [spt_lsa_mix_longest_mim600_dp]="$mixed --drop-path 0.1"
    # 2D: the same fine-tuning keeping its last epoch (the moving average's
    # weights) rather than the one with the best validation AUC on 78 cases.
    [spt_lsa_mix_longest_mim600_last]="$mixed --select last"
    # 2D: the 600-epoch pretraining predicting each patch's pixels
    # normalised (less their mean, over their sd: MAE's target) instead of
    # the pixels, then the same fine-tuning.
    [mim_pretrain_600_norm]="--depth 2 --epochs 600 --augment strong --shifted-patches --locality-attention --mim 0.6 --mim-target normalised --select last"
    [spt_lsa_mix_longest_mim600_norm]="$mixed"
    # 2D: twice that again (1200 epochs; the reconstruction loss was still
    # falling at 600), then the same fine-tuning.
    [mim_pretrain_1200]="--depth 2 --epochs 1200 --augment strong --shifted-patches --locality-attention --mim 0.6 --select last"
    [spt_lsa_mix_longest_mim1200]="$mixed"
    # ... and that fine-tuning keeping its last epoch, as mim600_last.
    [spt_lsa_mix_longest_mim1200_last]="$mixed --select last"
    # 2D: the same pretraining on PneumoniaMNIST's 4708 training images
    # instead (its labels unused; 60 epochs, 4415 steps against the 2700 of
    # mim_pretrain), then the mixed recipe fine-tuned on this set from it
    # (spt_lsa_mix_longest_mimpn). Both sets are 28 px, one channel, two
    # classes, so the network is the same. The later --data wins.
    [mim_pretrain_pneumonia]="--depth 2 --epochs 60 --augment strong --shifted-patches --locality-attention --mim 0.6 --select last --data $(medmnist_archive pneumonia)"
    [spt_lsa_mix_longest_mimpn]="$mixed"
    # 2D: the mixed recipe with dense relative localisation (Liu et al. 2021)
    # at weight 0.1: an MLP learns from pairs of final patch tokens how far
    # apart their patches lie, so the tokens must keep where they came from.
    [spt_lsa_mix_longest_drloc]="$mixed --drloc 0.1"
)
# Recipes that learn from other runs too: the recipe whose seeds 0-2 teach
# them (trained, or waited for, before the first student).
declare -A teachers=(
    [spt_lsa_mix_longest_distill]=spt_lsa_mix_longest
)
# Recipes that start from another recipe's bundle of the same seed (`--init`;
# trained, or waited for, before the run it starts).
declare -A initialised_by=(
    [spt_lsa_mix_longest_mim]=mim_pretrain
    [spt_lsa_mix_longest_mimpn]=mim_pretrain_pneumonia
    [spt_lsa_mix_longest_mim600]=mim_pretrain_600
    [spt_lsa_mix_longest_mim600_lr5e-4]=mim_pretrain_600
    [spt_lsa_mix_longest_mim600_dp]=mim_pretrain_600
    [spt_lsa_mix_longest_mim600_last]=mim_pretrain_600
    [spt_lsa_mix_longest_mim600_norm]=mim_pretrain_600_norm
    [spt_lsa_mix_longest_mim1200]=mim_pretrain_1200
    [spt_lsa_mix_longest_mim1200_last]=mim_pretrain_1200
)
order=(first longer strong balanced ema light_ema mix deeper finepatch spt_lsa droppath small_data spt_lsa_dp light_spt_lsa light_longest light_longest_small light_elastic light_ema_last ema_batch16 light_ema_batch16 light_ema_batch16_lr light_ema_lr3e-4 ema_batch16_lr spt_lsa_batch16_lr light_spt_lsa_batch16_lr light_ema_nopn light_ema_batch16_lr_nopn nopn_patch4 spt_lsa_patch2 spt_lsa_mixup spt_lsa_mix spt_lsa_sampler spt_lsa_longest spt_lsa_mix_sampler spt_lsa_mix_longest spt_lsa_mix_longest_last spt_lsa_mix_small spt_lsa_mix_360 spt_lsa_mix_longest_dp nopn_patch4_mix nopn_patch4_spt_lsa spt_lsa_mix_longest_mean30 nopn_patch4_spt_lsa_mean5 spt_lsa_mix_longest_distill spt_lsa_mix_longest_erase spt_lsa_mix_longest_sam spt_lsa_mix_longest_sam01 spt_lsa_mix_longest_sam001 spt_lsa_longest_sam spt_lsa_sam_360 spt_lsa_mix_longest_sam_bb spt_lsa_mix_longest_gap stem_lsa_mix_longest spt_lsa_mix_longest_drloc mim_pretrain spt_lsa_mix_longest_mim mim_pretrain_pneumonia spt_lsa_mix_longest_mimpn mim_pretrain_600 spt_lsa_mix_longest_mim600 spt_lsa_mix_longest_mim600_lr5e-4 spt_lsa_mix_longest_mim600_dp spt_lsa_mix_longest_mim600_last mim_pretrain_600_norm spt_lsa_mix_longest_mim600_norm mim_pretrain_1200 spt_lsa_mix_longest_mim1200 spt_lsa_mix_longest_mim1200_last)
[[ ${#chosen[@]} -gt 0 ]] || chosen=("${order[@]}")
for recipe in "${chosen[@]}"; do
    [[ -n "${recipes[$recipe]+x}" ]] || { echo "unknown recipe $recipe" >&2; exit 2; }
    options=${recipes[$recipe]}
    if [[ -n "${teachers[$recipe]+x}" ]]; then
        taught_by=()
        for seed in 0 1 2; do
            # shellcheck disable=SC2086
            medmnist_train_once wait "$out" "${which}_${teachers[$recipe]}_seed${seed}" \
                "$rllm" train "${base[@]}" ${recipes[${teachers[$recipe]}]} ${RLLM_EXTRA:-} --seed "$seed" --threads "$threads"
            taught_by+=("$out/${which}_${teachers[$recipe]}_seed${seed}.safetensors")
        done
        options+=" --distill $(IFS=,; echo "${taught_by[*]}")"
    fi
    for seed in ${RLLM_SEEDS:-0 1 2}; do
        start=()
        if [[ -n "${initialised_by[$recipe]+x}" ]]; then
            # shellcheck disable=SC2086
            medmnist_train_once wait "$out" "${which}_${initialised_by[$recipe]}_seed${seed}" \
                "$rllm" train "${base[@]}" ${recipes[${initialised_by[$recipe]}]} --seed "$seed" --threads "$threads"
            start=(--init "$out/${which}_${initialised_by[$recipe]}_seed${seed}.safetensors")
        fi
        # shellcheck disable=SC2086
        medmnist_train_once skip "$out" "${which}_${recipe}_seed${seed}" \
            "$rllm" train "${base[@]}" $options "${start[@]}" ${RLLM_EXTRA:-} --seed "$seed" --threads "$threads"
    done
done
python3 - "$out" "$which" "${order[@]}" <<'PY'
import json, statistics, sys, pathlib
out, which, order = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
def ms(values):
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0:.3f}"
lines = ["| data | recipe | seeds | test AUC | test ACC | val AUC | one-class runs | min / run |",
         "|---|---|---|---|---|---|---|---|"]
for recipe in order:
    runs = [json.loads(p.read_text()) for p in sorted(out.glob(f"{which}_{recipe}_seed*.json"))]
    if not runs:
        continue
    one_class = sum(1 for r in runs if sum(1 for c in r["test"].get("predicted_per_class", [1, 1]) if c) == 1)
    minutes = statistics.mean(r["seconds"] for r in runs) / 60
    lines.append(f"| {which} | {recipe} | {len(runs)} | {ms([r['test']['auc'] for r in runs])} | "
                 f"{ms([r['test']['acc'] for r in runs])} | {ms([r['val']['auc'] for r in runs])} | "
                 f"{one_class} | {minutes:.1f} |")
table = "\n".join(lines) + "\n"
(out / "recipe.md").write_text(table)
print(table)
PY
exit
}
