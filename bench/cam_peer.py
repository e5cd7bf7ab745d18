#!/usr/bin/env python3
"""The engine's CAMs against pytorch-grad-cam, the library most users know,
on the same exported weights: a 2D ViT baseline bundle rebuilt here in
PyTorch (written independently of the C++ engine), pytorch-grad-cam's
GradCAM, GradCAMPlusPlus, HiResCAM and EigenCAM at the first block's norm1
with the usual ViT reshape transform, against `rllm cam` at block:0:norm1 on
the same test cases. Both maps are brought to pytorch-grad-cam's scale (min
to 0, max to 1 after upsampling to the input); prints the largest and mean
absolute difference per method and each side's time per map. Where the
definitions differ (Grad-CAM++'s eps, EigenCAM's sign), a variant of the peer
with the engine's choice shows that this is the whole difference. The
engine's time is a whole `rllm cam` process (start, bundle load, input,
forward, backward, map, NIfTI written), not the map alone.

    ~/.cache/rllm/bench-venv/bin/python bench/cam_peer.py BUNDLE.safetensors ARCHIVE.npz [--cases 20]

Needs scripts/install-deps --bench (Debian's torch, pytorch-grad-cam pinned).
"""
import argparse
import gzip
import json
import pathlib
import struct
import subprocess
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM

from pytorch_eager import Block, load_safetensors  # the ViT block and reader of bench/pytorch_eager.py

HERE = pathlib.Path(__file__).resolve().parent.parent


class GradCAMPlusPlusNoEps(GradCAMPlusPlus):
    """pytorch-grad-cam's Grad-CAM++ weights (its Equation 19) without the 1e-6
    it adds to the denominator: ViT token gradients are often far below 1e-3,
    so that constant, not the gradients, decides the weights there."""

    def get_cam_weights(self, input_tensor, target_layers, target_category, activations, grads):
        g2, g3 = grads ** 2, grads ** 3
        denominator = 2 * g2 + np.sum(activations, axis=(2, 3))[:, :, None, None] * g3
        aij = np.where(denominator != 0, g2 / np.where(denominator != 0, denominator, 1), 0)
        return np.sum(np.maximum(grads, 0) * aij, axis=(2, 3))


class EigenCAMSigned(EigenCAM):
    """pytorch-grad-cam's EigenCAM with one change: SVD's arbitrary sign chosen so
    that the most extreme token is positive, as the engine does (the library keeps
    whatever sign LAPACK returns and its ReLU then may keep the other half)."""

    def get_cam_image(self, input_tensor, target_layer, targets, activations, grads, eigen_smooth):
        maps = []
        for a in activations:
            flat = a.reshape(a.shape[0], -1).T
            flat = flat - flat.mean(axis=0)
            projection = flat @ np.linalg.svd(flat, full_matrices=False)[2][0]
            if projection.max() < -projection.min():
                projection = -projection
            maps.append(projection.reshape(a.shape[1:]))
        return np.float32(maps)


def read_bundle(path):
    """The bundle's description (its safetensors metadata) and tensors."""
    raw = pathlib.Path(path).read_bytes()
    header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
    return json.loads(header["__metadata__"]["rllm_bundle"]), load_safetensors(path)


class Vit2d(nn.Module):
    def __init__(self, m):
        super().__init__()
        d, g = m["dim"], m["image_size"] // m["patch"]
        self.patch_conv = nn.Conv2d(m["channels"], d, m["patch"], m["patch"])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, g * g + 1, d))
        if m["mlp_ratio"] != 4:
            raise SystemExit("pytorch_eager's block has an MLP ratio of 4")
        self.blocks = nn.ModuleList([Block(d, m["heads"]) for _ in range(m["depth"])])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, m["classes"])

    def forward(self, x):
        t = self.patch_conv(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), t], 1) + self.pos_embed
        for b in self.blocks:
            t = b(t)
        return self.head(self.norm(t)[:, 0])


def read_nifti_float(path):
    raw = gzip.decompress(pathlib.Path(path).read_bytes())
    dims = struct.unpack("<8h", raw[40:56])
    datatype, = struct.unpack("<h", raw[70:72])
    offset = int(struct.unpack("<f", raw[108:112])[0])
    if datatype != 16:
        raise SystemExit(f"{path}: expected float32 voxels, found NIfTI datatype {datatype}")
    shape = dims[1:dims[0] + 1]
    values = np.frombuffer(raw, dtype="<f4", count=int(np.prod(shape)), offset=offset)
    return values.reshape(tuple(reversed(shape)))  # (z, y, x)


def min_max(a):
    a = a - a.min()
    return a / (a.max() + 1e-7)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle")
    parser.add_argument("archive")
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--rllm", default=str(HERE / "build/bin/rllm"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    description, tensors = read_bundle(args.bundle)
    m = description["model"]
    if m["volumetric"] or description.get("booster"):
        raise SystemExit("a 2D ViT baseline bundle is needed here")
    if m.get("shifted_patches") or m.get("locality_attention") or m.get("mean_pool") or m.get("conv_stem"):
        raise SystemExit("the peer model here has plain patches and attention and reads the class token")
    model = Vit2d(m)
    model.load_state_dict({k[len("vit."):]: v for k, v in tensors.items()})
    model.eval()
    g = m["image_size"] // m["patch"]

    def reshape_transform(t):
        return t[:, 1:, :].reshape(t.shape[0], g, g, t.shape[2]).permute(0, 3, 1, 2)

    images = np.load(args.archive)["test_images"][: args.cases]
    # key in the report: (the engine's method, the peer's class)
    methods = {"gradcam": ("gradcam", GradCAM), "gradcam++": ("gradcam++", GradCAMPlusPlus),
               "gradcam++ (peer without its eps)": ("gradcam++", GradCAMPlusPlusNoEps),
               "hirescam": ("hirescam", HiResCAM), "eigencam": ("eigencam", EigenCAM),
               "eigencam (peer with the engine's sign)": ("eigencam", EigenCAMSigned)}
    report = {"bundle": pathlib.Path(args.bundle).name, "cases": len(images), "layer": "block:0:norm1",
              "methods": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for key, (engine_method, cls) in methods.items():
            cam = cls(model=model, target_layers=[model.blocks[0].norm1],
                      reshape_transform=reshape_transform)
            differences, peer_seconds, ours_seconds, correlations = [], 0.0, 0.0, []
            for i, image in enumerate(images):
                x = torch.from_numpy(image.astype(np.float32) / 255.0 * 2 - 1)[None, None]
                start = time.perf_counter()
                peer = cam(input_tensor=x)[0]  # predicted class, upsampled, min-max scaled
                peer_seconds += time.perf_counter() - start
                out = f"{tmp}/{engine_method}_{i}.nii.gz"
                if not pathlib.Path(out).exists():
                    start = time.perf_counter()
                    subprocess.run([args.rllm, "cam", args.bundle, args.archive, "--split", "test",
                                    "--index", str(i), "--method", engine_method, "--layer",
                                    "block:0:norm1", "--threads", "1", "--out", out],
                                   check=True, capture_output=True)
                    ours_seconds += time.perf_counter() - start
                ours = min_max(read_nifti_float(out)[0])
                differences.append(np.abs(ours - peer))
                correlations.append(float(np.corrcoef(ours.ravel(), peer.ravel())[0, 1])
                                    if ours.std() > 0 and peer.std() > 0 else float("nan"))
            d = np.stack(differences)
            report["methods"][key] = {
                "max_abs_difference": float(d.max()),
                "mean_abs_difference": float(d.mean()),
                "median_correlation": float(np.nanmedian(correlations)),
                "pytorch_grad_cam_ms_per_map": 1000 * peer_seconds / len(images),
                "rllm_cam_process_ms_per_map": (1000 * ours_seconds / len(images)) or None,
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
