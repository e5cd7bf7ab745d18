#!/usr/bin/python3
"""PyTorch eager peer of rllm-bench: the same networks (ViT-S + R-LLM booster
with a LLaMA-7B-shaped block), loaded with the very weights rllm-bench
exported, timed the same way (median of --reps after one warm-up) with the
same thread count. Prints JSON. On PyTorch 2 the attention is
F.scaled_dot_product_attention, as the engine uses it on LibTorch 2; on a GPU
(--device cuda) every timing ends with torch.cuda.synchronize(), and
--bf16-llm runs the frozen block under bfloat16 autocast, the engine's
--llm-precision bf16."""
import argparse, json, math, pathlib, struct, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def load_safetensors(path):
    raw = pathlib.Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = bytearray(raw[8 + n:])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = torch.frombuffer(data, dtype=torch.float32, count=(e - b) // 4,
                                     offset=b).reshape(info["shape"]).clone()
    return out


BF16_LLM = False


def attend(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), -1) @ v


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        x = x + self.proj(attend(q, k, v).transpose(1, 2).reshape(B, T, C))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class LlamaLayer(nn.Module):
    def __init__(self, d, heads, ffn, eps):
        super().__init__()
        self.heads = heads
        self.attention_norm = RMSNorm(d, eps)
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.ffn_norm = RMSNorm(d, eps)
        self.w1 = nn.Linear(d, ffn, bias=False)
        self.w2 = nn.Linear(ffn, d, bias=False)
        self.w3 = nn.Linear(d, ffn, bias=False)

    def forward(self, z):
        B, T, D = z.shape
        n = self.attention_norm(z)
        q, k, v = (w(n).view(B, T, self.heads, -1).transpose(1, 2) for w in (self.wq, self.wk, self.wv))
        h = z + self.wo(attend(q, k, v).transpose(1, 2).reshape(B, T, D))
        m = self.ffn_norm(h)
        return h + self.w2(F.silu(self.w1(m)) * self.w3(m))


class Llm(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([LlamaLayer(4096, 32, 11008, 1e-5)])
        self.norm = RMSNorm(4096, 1e-5)

    def forward(self, z):
        for layer in self.layers:
            z = layer(z)
        return self.norm(z)


class Booster(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.encoder = nn.Linear(d, 4096, bias=False)
        self.decoder = nn.Linear(4096, d, bias=False)
        self.llm = Llm()
        for p in self.llm.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        z = self.encoder(x)
        if BF16_LLM:
            with torch.autocast(z.device.type, dtype=torch.bfloat16):
                l = self.llm(z)
            return self.decoder(l.float() + z)
        return self.decoder(self.llm(z) + z)


class Vit(nn.Module):
    def __init__(self, size, patch, channels):
        super().__init__()
        d, n = 384, (size // patch) ** 2
        self.patch_conv = nn.Conv2d(channels, d, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, d))
        self.blocks = nn.ModuleList([Block(d, 6) for _ in range(12)])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, 2)


class Classifier(nn.Module):
    def __init__(self, size, patch, channels, boosted):
        super().__init__()
        self.vit = Vit(size, patch, channels)
        self.booster = Booster(384) if boosted else None

    def forward(self, x):
        t = self.vit.patch_conv(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.vit.cls_token.expand(x.shape[0], -1, -1), t], 1) + self.vit.pos_embed
        for b in self.vit.blocks:
            t = b(t)
        if self.booster is not None:
            t = self.booster(t)
        return self.vit.head(self.vit.norm(t)[:, 0])


def cam_ms(model, image, method, reps):
    """Grad-CAM (forward + gradient at the layer + map) or EigenCAM (forward + SVD) at the
    first block's norm, written here independently of the C++ engine."""
    captured = {}

    def hook(module, inputs, output):
        captured["tokens"] = output

    handle = model.vit.blocks[0].norm1.register_forward_hook(hook)

    def gradcam():
        logits = model(image)
        tokens = captured["tokens"]
        # The gradient at the layer only, as the engine asks for it.
        (g,) = torch.autograd.grad(logits[0, int(logits[0].argmax())], tokens)
        a = tokens[0, 1:].detach()
        torch.relu(a @ g[0, 1:].mean(0))

    def eigencam():
        with torch.no_grad():
            model(image)
            a = captured["tokens"][0, 1:]
            centred = a - a.mean(0, keepdim=True)
            projection = centred @ torch.linalg.svd(centred, full_matrices=False)[2][0]
            torch.relu(projection if projection.max() >= -projection.min() else -projection)

    ms = median_ms(gradcam if method == "gradcam" else eigencam, reps)
    handle.remove()
    return ms


SYNC = lambda: None  # torch.cuda.synchronize on a GPU


def median_ms(work, reps):
    work()
    SYNC()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        work()
        SYNC()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--split", choices=("torch", "engine"), default="torch",
                    help="torch: torch.set_num_threads(T), as a PyTorch user runs it; engine: "
                         "OpenBLAS gets T threads and PyTorch's own pool 1, as rllm's setCpuThreads")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--bf16-llm", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated keys, e.g. paper_224_booster")
    args = ap.parse_args()
    global BF16_LLM, SYNC
    BF16_LLM = args.bf16_llm
    device = torch.device(args.device)
    if device.type == "cuda":
        SYNC = torch.cuda.synchronize
        # float32 as float32 (the engine does not enable TF32 either)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if args.split == "engine":
        import ctypes
        # The BLAS PyTorch calls (Debian: libblas.so.3, OpenBLAS once installed).
        blas = ctypes.CDLL("libblas.so.3")
        if not hasattr(blas, "openblas_set_num_threads"):
            raise SystemExit("--split engine: libblas.so.3 is not OpenBLAS")
        blas.openblas_set_num_threads(args.threads)
        torch.set_num_threads(1)
    else:
        torch.set_num_threads(args.threads)
    report = {"engine": f"PyTorch {torch.__version__} eager", "threads": args.threads,
              "split": args.split, "device": str(device), "batch": args.batch,
              "bf16_llm": args.bf16_llm}
    for name, size, patch, channels in (("paper_224", 224, 16, 3), ("28px", 28, 4, 1)):
        for boosted in (True, False):
            key = f"{name}_{'booster' if boosted else 'baseline'}"
            if args.only and key not in args.only.split(","):
                continue
            model = Classifier(size, patch, channels, boosted)
            state = load_safetensors(pathlib.Path(args.weights) / f"{key}.safetensors")
            missing = model.load_state_dict(state, strict=True)
            model.to(device)
            image = torch.randn(args.batch, channels, size, size, device=device)
            model.eval()
            with torch.no_grad():
                forward = median_ms(lambda: model(image), args.reps)
            gradcam = cam_ms(model, image, "gradcam", args.reps)
            eigencam = cam_ms(model, image, "eigencam", args.reps)
            model.train()
            opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
            label = torch.zeros(args.batch, dtype=torch.long, device=device)

            def step():
                opt.zero_grad()
                F.cross_entropy(model(image), label).backward()
                opt.step()

            step_ms = median_ms(step, args.reps)
            report[key] = {"forward_ms": forward, "gradcam_ms": gradcam, "eigencam_ms": eigencam,
                           "train_step_ms": step_ms,
                           "train_images_per_second": args.batch * 1000.0 / step_ms}
            del model, state, opt
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
