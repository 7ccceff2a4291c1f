"""Peer benchmark: one erw Phase-2 training step in PyTorch (CPU float32 by default; CUDA for tools/gpu/check).

    /usr/bin/python3 bench/torch_train_step.py                  # tiny Fashion-MNIST config, batch 64
    /usr/bin/python3 bench/torch_train_step.py --preset sit-s2  # SiT-S/2 on 32x32x4, 1000 classes, batch 8
    python3 bench/torch_train_step.py --preset sit-b2 --batch 64 --device cuda --precision fp32,tf32,bf16
    python3 bench/torch_train_step.py --preset sit-b2 --batch 64 --device cuda --compile

Step: x0, labels and target features are fixed random tensors (speed only); t ~ U(0,1),
x_t = (1-t) x0 + t e, v = e - x0; forward of the reference SiT (tools/torch/sit_reference.py, label
dropout 0.1) on x_t; loss = loss_v + 0.5 * cosine alignment (projector at encoder_depth);
backward; clip_grad_norm_(1.0); AdamW(lr 1e-4, betas (0.9, 0.999), eps 1e-8, wd 0) step
(+ EMA 0.9999 with --ema). --warmup untimed steps, then --steps timed steps.
Prints one JSON line: {"img_per_s", "s_per_step", "params", ...}.

GPU options (the defaults keep the CPU benchmark as it was):
  --device cuda          model, data and optimizer on the GPU; step times include a synchronize;
                         peak_device_mib = torch.cuda.max_memory_allocated, reserved_device_mib likewise.
  --precision LIST       fp32 (fp32 matmuls), tf32 (TF32 matmuls), bf16 (autocast to bfloat16
                         around forward and loss; weights, gradients, AdamW and EMA stay fp32); a comma
                         list runs each in turn on a fresh model and prints one JSON line per precision.
  --compile              torch.compile the model (compile time is reported as compile_s, the first
                         warmup step); where torch.compile is missing or fails, one JSON line with
                         "error" and exit status 3.

OMP_WAIT_POLICY defaults to PASSIVE here (--omp-default leaves it unset): with GNU OpenMP's default spin-waiting, 2 threads on a
machine shared with other work ran ~3x slower than 1 thread; passive waiting removes that.
"""
import os
import sys

if "--omp-default" not in sys.argv:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads libgomp

import argparse
import gc
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
    "sit-b2": (ref.preset("SiT-B/2"), 8, 1, 3),
}
PRECISIONS = ("fp32", "tf32", "bf16")


def set_tf32(enabled):
    """TF32 for float32 matmuls (torch.set_float32_matmul_precision: 'high' = TF32, 'highest' = full fp32; the API
    that works alike before and after PyTorch 2.9's new fp32_precision flags, which may not be mixed with the old
    allow_tf32 ones). cuDNN convolutions (only the patch embedding) keep PyTorch's default."""
    torch.set_float32_matmul_precision("high" if enabled else "highest")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    ap.add_argument("--precision", default="fp32", help="fp32 | tf32 | bf16, or a comma list (one JSON line each)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    args = ap.parse_args()
    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    for p in precisions:
        if p not in PRECISIONS:
            ap.error(f"--precision {p}: expected one of {', '.join(PRECISIONS)}")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "CUDA is not available to this PyTorch", "torch": torch.__version__}))
        sys.exit(3)
    if args.compile and not hasattr(torch, "compile"):
        print(json.dumps({"error": f"torch.compile is not in PyTorch {torch.__version__}", "torch": torch.__version__}))
        sys.exit(3)

    torch.set_num_threads(args.threads)
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
    status = 0
    for precision in precisions:
        try:
            print(json.dumps(run(args, cfg, batch, warmup, steps, device, precision)), flush=True)
        except Exception as e:  # e.g. torch.compile failing: report it, go on with the next precision
            print(json.dumps({"error": f"{type(e).__name__}: {e}"[:2000], "preset": args.preset, "precision": precision,
                              "device": str(device), "compile": bool(args.compile), "torch": torch.__version__}), flush=True)
            status = 3
        if device.type == "cuda":
            gc.collect()
            torch.cuda.empty_cache()
    sys.exit(status)


def run(args, cfg, batch, warmup, steps, device, precision):
    torch.manual_seed(args.seed)
    set_tf32(precision == "tf32")
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    model = ref.SiT(cfg).train().to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    ema = [p.detach().clone() for p in params] if args.ema else None
    fwd = torch.compile(model) if args.compile else model
    C, H = cfg["in_channels"], cfg["input_size"]
    T = (H // cfg["patch_size"]) ** 2
    x0 = torch.randn(batch, C, H, H).to(device)
    y = torch.randint(0, cfg["num_classes"], (batch,)).to(device)
    zt = torch.randn(batch, T, cfg["z_dim"]).to(device)
    autocast = precision == "bf16"

    def step():
        t = torch.rand(batch, device=device)
        e = torch.randn_like(x0)
        tb = t.view(-1, 1, 1, 1)
        xt = (1 - tb) * x0 + tb * e
        if autocast:
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                v, zs = fwd(xt, t, y, train_label_dropout=True)
                loss = ref.loss_velocity(v.float(), e - x0) + 0.5 * ref.loss_align(args.align, zs.float(), zt)
        else:
            v, zs = fwd(xt, t, y, train_label_dropout=True)
            loss = ref.loss_velocity(v, e - x0) + 0.5 * ref.loss_align(args.align, zs, zt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if ema is not None:
            with torch.no_grad():
                torch._foreach_mul_(ema, 0.9999)
                torch._foreach_add_(ema, params, alpha=1 - 0.9999)
        return float(loss), float(gn)  # float() waits for the device

    first_s = None
    for i in range(warmup):
        t0 = time.perf_counter()
        step()
        if i == 0:
            first_s = time.perf_counter() - t0
    sync(device)
    times = []
    t0 = time.perf_counter()
    for _ in range(steps):
        ts = time.perf_counter()
        loss, gn = step()
        times.append(time.perf_counter() - ts)
    dt = (time.perf_counter() - t0) / steps
    times.sort()
    med = times[len(times) // 2]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    back, proj = ref.count_params(model)
    out = {"img_per_s": round(batch / dt, 3), "s_per_step": round(dt, 4), "params": back + proj,
           "params_backbone": back, "params_projector": proj, "preset": args.preset, "batch": batch,
           "tokens": T, "threads": torch.get_num_threads(), "warmup": warmup, "steps": steps,
           "align": args.align, "ema": bool(args.ema), "loss": round(loss, 5), "grad_norm": round(gn, 5),
           "torch": torch.__version__, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
           "peak_rss_kb": peak_kb, "config": cfg}
    if device.type != "cpu" or precision != "fp32" or args.compile:
        out.update({"device": str(device), "precision": precision, "compile": bool(args.compile),
                    "matmul_precision": torch.get_float32_matmul_precision(),
                    "img_per_s_median": round(batch / med, 3), "s_per_step_median": round(med, 5),
                    "first_step_s": round(first_s, 3) if first_s is not None else None})
        if args.compile:
            out["compile_s"] = out["first_step_s"]
        if cuda:
            out["peak_device_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
            out["reserved_device_mib"] = round(torch.cuda.max_memory_reserved(device) / 2**20, 1)
            out["gpu"] = torch.cuda.get_device_name(device)
            out["cuda"] = torch.version.cuda
    return out


if __name__ == "__main__":
    main()
