#!/usr/bin/python3
"""ONNX Runtime peer of rllm-bench: the networks of pytorch_eager.py, loaded
with the weights rllm-bench exported, exported to ONNX by PyTorch and run by
ONNX Runtime's CPU provider (all graph optimisations, --threads intra-op
threads), forward at batch 1, every token through every layer (like the
engine's every-token forward and PyTorch eager's module). Timed as the others:
median of --reps after one warm-up. Prints JSON. Needs the venv that
`scripts/install-deps --bench` makes (Debian's torch + PyPI's onnxruntime)."""
import argparse, json, os, pathlib, sys, tempfile, time

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_eager import Classifier, load_safetensors, median_ms  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    report = {"engine": f"ONNX Runtime {ort.__version__} (CPU provider)", "threads": args.threads}
    with tempfile.TemporaryDirectory() as work:
        for name, size, patch, channels in (("paper_224", 224, 16, 3), ("28px", 28, 4, 1)):
            for boosted in (True, False):
                key = f"{name}_{'booster' if boosted else 'baseline'}"
                model = Classifier(size, patch, channels, boosted)
                model.load_state_dict(load_safetensors(pathlib.Path(args.weights) / f"{key}.safetensors"))
                model.eval()
                image = torch.randn(1, channels, size, size)
                path = os.path.join(work, f"{key}.onnx")
                with torch.no_grad():
                    torch.onnx.export(model, image, path, opset_version=17,
                                      input_names=["image"], output_names=["logits"])
                    expected = model(image).numpy()
                options = ort.SessionOptions()
                options.intra_op_num_threads = args.threads
                options.inter_op_num_threads = 1
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
                feed = {"image": image.numpy()}
                got = session.run(None, feed)[0]
                report[key] = {
                    "forward_ms": median_ms(lambda: session.run(None, feed), args.reps),
                    # the same weights: ONNX Runtime's logits against eager's
                    "max_abs_logit_difference_vs_eager": float(np.abs(got - expected).max()),
                }
                del session, model
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
