#!/usr/bin/python3
"""The tables of bench/run_bench.sh from its rounds: each round holds one
run of rllm-bench (cpp.R.json), of PyTorch eager with both thread settings
(py.R.json, py_split.R.json) and of ONNX Runtime (ort.R.json). Times are
medians over the rounds; every ratio is taken within a round (both sides
under the same load) and given as its median and range over the rounds.

    bench_report.py WORKDIR ROUNDS
"""
import json
import pathlib
import statistics
import sys

MODELS = ("paper_224_booster", "paper_224_baseline", "28px_booster", "28px_baseline")
GOAL = 0.8  # issue 14: at most 0.8x PyTorch eager's time, like for like


def load(work, stem, rounds):
    return [json.loads((work / f"{stem}.{r}.json").read_text()) for r in range(1, rounds + 1)]


def spread(values, digits=2):
    """'median (min-max)', or the value alone for one round."""
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main():
    work, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    cpp, py, pys, ort = (load(work, s, rounds) for s in ("cpp", "py", "py_split", "ort"))

    def eager_best(r, key, metric):  # the faster of eager's two thread settings, round r
        return min(py[r][key][metric], pys[r][key][metric])

    def cpp_median(key, metric):
        return statistics.median(c[key][metric] for c in cpp)

    def ratios(key, ours, theirs, peer=eager_best):
        return [cpp[r][key][ours] / peer(r, key, theirs) for r in range(rounds)]

    first = cpp[0]
    peaks = [c["sgemm_peak_gflops"] for c in cpp]
    print(f"\n{py[0]['engine']} vs LibTorch C++ (dense layers: {first.get('cpu_gemm', '?')}), "
          f"{first['threads']} threads, median of {first['reps']} per round, {rounds} rounds; "
          f"sgemm peak {spread(peaks, 1)} GFLOP/s")
    print("Like for like: every token through every layer on both sides. Ratios: C++ time / the "
          "faster of eager's two thread settings (torch.set_num_threads(T), or the engine's split: "
          "OpenBLAS T, PyTorch 1), within each round; median (range) over the rounds.")
    print("| model | C++ every-token forward ms | eager forward ms | every-token forward / eager "
          f"| rounds <= {GOAL} | C++ every-token train step ms | eager train step ms "
          f"| every-token train step / eager | rounds <= {GOAL} |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key in MODELS:
        fwd = ratios(key, "forward_all_tokens_ms", "forward_ms")
        step = ratios(key, "train_step_all_tokens_ms", "train_step_ms")
        eager_fwd = statistics.median(eager_best(r, key, "forward_ms") for r in range(rounds))
        eager_step = statistics.median(eager_best(r, key, "train_step_ms") for r in range(rounds))
        print(f"| {key} | {cpp_median(key, 'forward_all_tokens_ms'):.1f} | {eager_fwd:.1f} | "
              f"{spread(fwd)} | {sum(x <= GOAL for x in fwd)} of {rounds} | "
              f"{cpp_median(key, 'train_step_all_tokens_ms'):.1f} | {eager_step:.1f} | "
              f"{spread(step)} | {sum(x <= GOAL for x in step)} of {rounds} |")

    print("\nAs the engine runs (class-token tail: the last token-mixing layer computes the "
          "class token's row alone), against the same eager times:")
    print("| model | C++ forward ms | forward / eager | C++ train step ms | train step / eager "
          "| every-token GFLOP/s (% of peak) | weights MB | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for key in MODELS:
        gflops = statistics.median(c[key]["forward_all_tokens_gflops"] for c in cpp)
        share = statistics.median(c[key]["forward_all_tokens_fraction_of_sgemm_peak"] for c in cpp)
        print(f"| {key} | {cpp_median(key, 'forward_ms'):.1f} | "
              f"{spread(ratios(key, 'forward_ms', 'forward_ms'))} | "
              f"{cpp_median(key, 'train_step_ms'):.1f} | "
              f"{spread(ratios(key, 'train_step_ms', 'train_step_ms'))} | "
              f"{gflops:.1f} ({100 * share:.0f}%) | {first[key]['weight_mb']:.0f} | "
              f"{first[key]['peak_rss_mb_after_forward']:.0f} |")

    print(f"\nThe second peer, {ort[0]['engine']}, {ort[0]['threads']} threads, forward at batch 1 "
          "(every token):")
    print("| model | ORT forward ms | C++ every-token / ORT | C++ forward (class-token tail) / ORT "
          "| ORT logits vs eager (max abs) |")
    print("|---|---|---|---|---|")
    for key in MODELS:
        def ort_ms(r, k, _metric):
            return ort[r][k]["forward_ms"]
        worst = max(o[key]["max_abs_logit_difference_vs_eager"] for o in ort)
        print(f"| {key} | {statistics.median(o[key]['forward_ms'] for o in ort):.1f} | "
              f"{spread(ratios(key, 'forward_all_tokens_ms', None, ort_ms))} | "
              f"{spread(ratios(key, 'forward_ms', None, ort_ms))} | {worst:.1e} |")

    b = first["paper_224_booster"]
    print(f"\nPeak memory of the paper-scale booster's process (round 1): "
          f"{b['peak_rss_mb_after_forward']:.0f} MB for {b['weight_mb']:.0f} MB of weights "
          f"({b['peak_rss_mb_after_forward'] / b['weight_mb']:.2f}x); the runtime held "
          f"{first['rss_mb_before_models']:.0f} MB before any model, so the model's own peak was "
          f"{b['peak_rss_mb_above_runtime']:.0f} MB "
          f"({b['peak_rss_mb_above_runtime'] / b['weight_mb']:.2f}x); after the every-token "
          f"forward too: {b['peak_rss_mb_after_all_tokens_forward']:.0f} MB "
          f"({b['peak_rss_mb_after_all_tokens_forward'] / b['weight_mb']:.2f}x).")

    print("\nCAMs at block:0:norm1 (goal: at most 2.5x the forward time); C++/eager within each round")
    print("| model | C++ Grad-CAM ms | x forward | C++/eager | C++ EigenCAM ms | x forward | C++/eager |")
    print("|---|---|---|---|---|---|---|")
    for key in MODELS:
        forward = cpp_median(key, "forward_ms")
        gradcam, eigencam = cpp_median(key, "gradcam_ms"), cpp_median(key, "eigencam_ms")
        print(f"| {key} | {gradcam:.1f} | {gradcam / forward:.2f} | "
              f"{spread(ratios(key, 'gradcam_ms', 'gradcam_ms'))} | {eigencam:.1f} | "
              f"{eigencam / forward:.2f} | {spread(ratios(key, 'eigencam_ms', 'eigencam_ms'))} |")


if __name__ == "__main__":
    main()
