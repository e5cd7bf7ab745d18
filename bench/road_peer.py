#!/usr/bin/env python3
"""ROAD's noisy linear imputation: the engine's (build/bin/road-impute,
conjugate gradients in double precision) against pytorch-grad-cam's
NoisyLinearImputer (the ROAD authors' code, scipy's sparse direct solver),
noise off, on real MedMNIST images with random masks at every removal level
ROAD uses. Prints the largest difference and both solvers' time per image.

    python road_peer.py ARCHIVE.npz [--cases 20] [--road-impute build/bin/road-impute]

Run it with the bench virtual environment (scripts/install-deps --bench):
~/.cache/rllm/bench-venv/bin/python bench/road_peer.py ../shared/data/medmnist/breastmnist.npz
"""
import argparse
import json
import pathlib
import subprocess
import tempfile
import time

import numpy as np
import torch
from pytorch_grad_cam.metrics.road import NoisyLinearImputer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("archive")
    parser.add_argument("--cases", type=int, default=20)
    here = pathlib.Path(__file__).resolve().parent.parent
    parser.add_argument("--road-impute", default=str(here / "build/bin/road-impute"))
    args = parser.parse_args()
    data = np.load(args.archive)
    images = data["test_images"][: args.cases].astype(np.float32) / 255.0 * 2 - 1  # [-1, 1]
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] == 3:
        images = images.transpose(0, 3, 1, 2)
    else:
        raise SystemExit("2D archives only (the reference imputer is 2D)")
    rng = np.random.default_rng(0)
    imputer = NoisyLinearImputer(noise=0.0)
    results = []
    for fraction in [0.1, 0.3, 0.5, 0.7, 0.9]:
        masks = (rng.random((len(images), 1) + images.shape[2:]) < fraction).astype(np.float32)
        start = time.perf_counter()
        # The reference's mask is 1 where a pixel is kept.
        reference = np.stack([imputer(torch.from_numpy(img), torch.from_numpy(1 - m[0])).numpy()
                              for img, m in zip(images, masks)])
        reference_ms = (time.perf_counter() - start) * 1000 / len(images)
        with tempfile.TemporaryDirectory() as tmp:
            np.save(f"{tmp}/images.npy", images)
            np.save(f"{tmp}/masks.npy", masks)
            ms = float(subprocess.run([args.road_impute, f"{tmp}/images.npy", f"{tmp}/masks.npy",
                                       f"{tmp}/out.npy"], check=True, capture_output=True,
                                      text=True).stdout)
            ours = np.load(f"{tmp}/out.npy")
        results.append({"removed": fraction,
                        "max_abs_difference": float(np.abs(ours - reference).max()),
                        "engine_ms_per_image": ms / len(images),
                        "pytorch_grad_cam_ms_per_image": reference_ms})
    print(json.dumps({"archive": pathlib.Path(args.archive).name, "cases": len(images),
                      "levels": results}, indent=2))


if __name__ == "__main__":
    main()
