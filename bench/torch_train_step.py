"""Peer benchmark: one erw Phase-2 training step in PyTorch (CPU, float32).

    /usr/bin/python3 bench/torch_train_step.py                  # tiny Fashion-MNIST config, batch 64
    /usr/bin/python3 bench/torch_train_step.py --preset sit-s2  # SiT-S/2 on 32x32x4, 1000 classes, batch 8

Step: x0, labels and target features are fixed random tensors (speed only); t ~ U(0,1),
x_t = (1-t) x0 + t e, v = e - x0; forward of the reference SiT (tools/torch/sit_reference.py, label
dropout 0.1) on x_t; loss = loss_v + 0.5 * cosine alignment (projector at encoder_depth);
backward; clip_grad_norm_(1.0); AdamW(lr 1e-4, betas (0.9, 0.999), eps 1e-8, wd 0) step
(+ EMA 0.9999 with --ema). --warmup untimed steps, then --steps timed steps.
Prints one JSON line: {"img_per_s", "s_per_step", "params", ...}.

OMP_WAIT_POLICY defaults to PASSIVE here (--omp-default leaves it unset): with GNU OpenMP's default spin-waiting, 2 threads on a
machine shared with other work ran ~3x slower than 1 thread; passive waiting removes that.
"""
import os
import sys

if "--omp-default" not in sys.argv:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads libgomp

import argparse
import json
import resource
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "torch"))
import sit_reference as ref  # noqa: E402

PRESETS = {
    # name: (config, batch, warmup, steps)
    "tiny": (ref.preset("tiny"), 64, 2, 5),
    "sit-s2": (ref.preset("SiT-S/2"), 8, 1, 3),
}


def main():
    ap = argparse.ArgumentParser(description="PyTorch training-step throughput of the erw model")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    for k in ["input_size", "in_channels", "patch_size", "hidden_size", "depth", "num_heads", "num_classes",
              "encoder_depth", "projector_dim", "z_dim"]:
        ap.add_argument("--" + k.replace("_", "-"), type=int, dest=k)
    ap.add_argument("--qk-norm", action="store_true")
    ap.add_argument("--align", choices=["cosine", "ntxent"], default="cosine")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ema", action="store_true", help="also update an EMA copy (decay 0.9999) every step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--omp-default", action="store_true", help="leave OMP_WAIT_POLICY to GNU OpenMP's default (spin-waiting)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg, batch, warmup, steps = PRESETS[args.preset]
    cfg = dict(cfg)
    for k in list(cfg):
        if getattr(args, k, None) is not None:
            cfg[k] = getattr(args, k)
    if args.qk_norm:
        cfg["qk_norm"] = True
    batch = args.batch or batch
    warmup = args.warmup if args.warmup is not None else warmup
    steps = args.steps or steps

    model = ref.SiT(cfg).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    ema = [p.detach().clone() for p in params] if args.ema else None
    C, H = cfg["in_channels"], cfg["input_size"]
    T = (H // cfg["patch_size"]) ** 2
    x0 = torch.randn(batch, C, H, H)
    y = torch.randint(0, cfg["num_classes"], (batch,))
    zt = torch.randn(batch, T, cfg["z_dim"])

    def step():
        t = torch.rand(batch)
        e = torch.randn_like(x0)
        tb = t.view(-1, 1, 1, 1)
        xt = (1 - tb) * x0 + tb * e
        v, zs = model(xt, t, y, train_label_dropout=True)
        loss = ref.loss_velocity(v, e - x0) + 0.5 * ref.loss_align(args.align, zs, zt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if ema is not None:
            with torch.no_grad():
                torch._foreach_mul_(ema, 0.9999)
                torch._foreach_add_(ema, params, alpha=1 - 0.9999)
        return float(loss), float(gn)

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss, gn = step()
    dt = (time.perf_counter() - t0) / steps
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    back, proj = ref.count_params(model)
    print(json.dumps({"img_per_s": round(batch / dt, 3), "s_per_step": round(dt, 4), "params": back + proj,
                      "params_backbone": back, "params_projector": proj, "preset": args.preset, "batch": batch,
                      "tokens": T, "threads": torch.get_num_threads(), "warmup": warmup, "steps": steps,
                      "align": args.align, "ema": bool(args.ema), "loss": round(loss, 5), "grad_norm": round(gn, 5),
                      "torch": torch.__version__, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
                      "peak_rss_kb": peak_kb, "config": cfg}))


if __name__ == "__main__":
    main()
