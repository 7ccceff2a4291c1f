"""Peer benchmark: Euler-Maruyama SDE sampling (SPEC section 6) with the PyTorch reference SiT.

    /usr/bin/python3 bench/torch_sample.py                 # tiny config, batch 64, 250 steps
    /usr/bin/python3 bench/torch_sample.py --steps 50      # shorter
    /usr/bin/python3 bench/torch_sample.py --cfg-scale 1.8 --guidance-high 0.7   # with CFG (batch 2N)

Model in float32 with random weights (speed only; the final layer is randomized too, so the
numbers flow), time grid in float64: t = linspace(1, 0.04, K) then 0, K model calls.
Prints one JSON line: {"samples_per_s", "s_per_batch", "s_per_nfe", "steps", "batch", ...}.
The projector is skipped (a sampler needs only the velocity).

Every model call of the schedule costs the same, so by default only the first --timed-steps (60)
calls of a longer schedule are run and s_per_batch is extrapolated to all --steps calls
("extrapolated": true); --timed-steps 0 runs the whole schedule (250 calls at batch 64 take about
3 minutes on 2 loaded cores).

GPU and comparison options (tools/gpu/check; the defaults keep the CPU benchmark as it was):
  --device cuda           model and sampler state on the GPU (the whole schedule is timed, after a
                          2-step warmup, with a synchronize; peak_device_mib from torch.cuda).
  --precision P           fp32 (fp32 matmuls), tf32 (TF32 matmuls), or bf16 (autocast around the model calls).
  --checkpoint FILE       an erw checkpoint (safetensors with erw.config) instead of random weights.
  --write-checkpoint FILE write the (random, seeded) model as an erw checkpoint and exit, so that erw
                          and PyTorch sample from the same weights.
  --compare FILE[,FILE]   erw samples.safetensors files (samples, labels) drawn from the same checkpoint
                          with the same --seed, --steps, --cfg and guidance interval: after the timed
                          run, the schedule is run once more the way erw's sampler does it (erw's
                          Philox initial noise, labels and per-step SDE noise, bench/erw_philox.py;
                          fp32 state, each update in double, rounded once) and the JSON line gets the
                          differences to each erw file under "compare" (max_abs_diff, rms_diff, rel_rms_diff, ...).
  --out FILE              write that erw-noise run's samples (safetensors, like erw's file).
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/torch_train_step.py

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import math  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "torch"))
import safetensors_io  # noqa: E402
import sit_reference as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="PyTorch Euler-Maruyama sampling throughput of the erw model")
    ap.add_argument("--preset", default="tiny", help="tiny or SiT-S/2, SiT-B/4, ...")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=250)
    ap.add_argument("--cfg-scale", type=float, default=1.0)
    ap.add_argument("--guidance-low", type=float, default=0.0)
    ap.add_argument("--guidance-high", type=float, default=1.0)
    ap.add_argument("--timed-steps", type=int, default=60, help="time this many calls and extrapolate (0: run all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    ap.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32")
    ap.add_argument("--checkpoint", help="erw checkpoint to sample from (default: random weights)")
    ap.add_argument("--write-checkpoint", help="write the random model as an erw checkpoint and exit")
    ap.add_argument("--compare", help="erw samples.safetensors to compare with (same checkpoint, seed, steps, cfg)")
    ap.add_argument("--out", help="write the erw-noise samples here")
    args = ap.parse_args()
    if args.device != "cpu" or args.precision != "fp32" or args.checkpoint or args.write_checkpoint or args.compare or args.out:
        return extended(args)
    torch.set_num_threads(args.threads)
    model, cfg = random_model(args.preset, args.seed)
    C, H = cfg["in_channels"], cfg["input_size"]
    g = torch.Generator().manual_seed(args.seed)
    z = torch.randn(args.batch, C, H, H, generator=g)
    y = torch.randint(0, cfg["num_classes"], (args.batch,), generator=g)
    ref.euler_maruyama(model, z, y, num_steps=2, generator=g)  # warmup
    partial = 0 < args.timed_steps < args.steps
    t0 = time.perf_counter()
    x = ref.euler_maruyama(model, z, y, num_steps=args.steps, cfg_scale=args.cfg_scale, guidance_low=args.guidance_low,
                           guidance_high=args.guidance_high, generator=g, stop_after=args.timed_steps if partial else None)
    calls = args.timed_steps if partial else args.steps
    s_nfe = (time.perf_counter() - t0) / calls
    dt = s_nfe * args.steps
    print(json.dumps({"samples_per_s": round(args.batch / dt, 3), "s_per_batch": round(dt, 3), "s_per_nfe": round(s_nfe, 5),
                      "steps": args.steps, "timed_calls": calls, "extrapolated": partial, "batch": args.batch, "cfg_scale": args.cfg_scale, "preset": args.preset,
                      "threads": torch.get_num_threads(), "finite": bool(torch.isfinite(x).all()),
                      "sample_std": round(float(x.std()), 4), "torch": torch.__version__,
                      "omp_wait_policy": os.environ["OMP_WAIT_POLICY"]}))



# ----------------------------------------------------------------------------------------------
# --device / --precision / --checkpoint / --compare (tools/gpu/check)

def random_model(preset, seed):
    """The preset's SiT, seeded, with the zero-initialized final layer and adaLN given small random weights (else v = 0)."""
    torch.manual_seed(seed)
    cfg = ref.preset(preset)
    model = ref.SiT(cfg).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.startswith("final_layer") or "adaLN" in n:
                p.normal_(0, 0.02)
    return model, cfg


def load_model(args):
    """(model, cfg, source): an erw checkpoint, or the seeded random model of the CPU benchmark."""
    if args.checkpoint:
        header, meta, _ = safetensors_io.read_header(args.checkpoint)
        if "erw.config" not in meta:
            sys.exit(f"error: {args.checkpoint} has no erw.config metadata")
        cfg = ref.normalize_config(json.loads(meta["erw.config"]))
        model = ref.SiT(cfg).eval()
        tensors, _ = safetensors_io.read(args.checkpoint, names=set(model.state_dict()) & set(header))
        ref.load_state(model, tensors)
        return model, cfg, args.checkpoint
    model, cfg = random_model(args.preset, args.seed)
    return model, cfg, "random (seed %d)" % args.seed


def sde(model, cfg, z, y, steps, cfg_scale, lo, hi, noise, state_dtype, autocast):
    """Euler-Maruyama as in sit_reference.euler_maruyama, on the model's device. noise(i, shape) gives the
    step-i noise; state_dtype float64 = the reference (x in float64), float32 = erw (x in fp32, each
    update computed in double and rounded once; CFG combined in double; t given to the model as fp32)."""
    dev = z.device
    t_steps = torch.linspace(1.0, 0.04, steps, dtype=torch.float64).tolist() + [0.0]
    null = torch.full_like(y, cfg["num_classes"])
    use_cfg = cfg_scale != 1.0
    x = z.to(state_dtype)

    def velocity(x_cur, t_cur):
        guided = use_cfg and lo <= t_cur <= hi
        xin = torch.cat([x_cur, x_cur]) if guided else x_cur
        yin = torch.cat([y, null]) if guided else y
        tin = torch.full((xin.shape[0],), t_cur, dtype=torch.float32, device=dev)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=autocast):
            v, _ = model(xin.float(), tin, yin, return_zs=False)
        v = v.double()
        if guided:
            vc, vu = v.chunk(2)
            v = vu + cfg_scale * (vc - vu)
            if state_dtype == torch.float32:
                v = v.float().double()  # erw stores the guided velocity in fp32
        return v

    for i in range(steps):
        t, tn = t_steps[i], t_steps[i + 1]
        dt = tn - t
        vv = velocity(x, t)
        xv = x.double()
        w = 2.0 * t
        score = -(xv + (1.0 - t) * vv) / t
        d = vv - (0.5 * w) * score
        if i == steps - 1:
            x = (xv + d * dt).to(state_dtype)
        else:
            e = noise(i, x.shape).double()
            x = (xv + d * dt + math.sqrt(w) * (e * math.sqrt(abs(dt)))).to(state_dtype)
    return x.float()


def extended(args):
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "CUDA is not available to this PyTorch", "torch": torch.__version__}))
        sys.exit(3)
    torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision("high" if args.precision == "tf32" else "highest")  # see bench/torch_train_step.py
    model, cfg, source = load_model(args)
    if args.write_checkpoint:
        sd = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
        safetensors_io.write(args.write_checkpoint, sd, {"erw.config": ref.config_json(cfg), "generator": "bench/torch_sample.py",
                                                          "seed": str(args.seed)})
        print(json.dumps({"checkpoint": args.write_checkpoint, "tensors": len(sd), "preset": args.preset, "config": cfg}))
        return
    model = model.to(device)
    cuda = device.type == "cuda"
    autocast = args.precision == "bf16"
    C, H = cfg["in_channels"], cfg["input_size"]
    n = args.batch
    g = torch.Generator(device=device).manual_seed(args.seed)
    z = torch.randn(n, C, H, H, generator=g, device=device)
    y = torch.randint(0, cfg["num_classes"], (n,), generator=g, device=device)

    def torch_noise(i, shape):
        return torch.randn(shape, generator=g, dtype=torch.float64, device=device)

    def synced():
        if cuda:
            torch.cuda.synchronize(device)
        return time.perf_counter()

    with torch.no_grad():
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        sde(model, cfg, z, y, 2, args.cfg_scale, args.guidance_low, args.guidance_high, torch_noise, torch.float64, autocast)  # warmup
        t0 = synced()
        x = sde(model, cfg, z, y, args.steps, args.cfg_scale, args.guidance_low, args.guidance_high, torch_noise, torch.float64, autocast)
        dt = synced() - t0
    out = {"samples_per_s": round(n / dt, 3), "s_per_batch": round(dt, 4), "s_per_nfe": round(dt / args.steps, 6),
           "steps": args.steps, "timed_calls": args.steps, "extrapolated": False, "batch": n, "cfg_scale": args.cfg_scale,
           "guidance": [args.guidance_low, args.guidance_high], "preset": args.preset if not args.checkpoint else None,
           "model": source, "device": str(device), "precision": args.precision, "threads": torch.get_num_threads(),
           "finite": bool(torch.isfinite(x).all()), "sample_std": round(float(x.std()), 4), "torch": torch.__version__}
    if cuda:
        out["peak_device_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        out["gpu"] = torch.cuda.get_device_name(device)
    if args.compare or args.out:
        import numpy as np
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import erw_philox  # noqa: E402
        d = C * H * H
        labels = erw_philox.random_labels(args.seed, n, cfg["num_classes"])
        erws = {}
        for f in (args.compare.split(",") if args.compare else []):
            erws[os.path.basename(f)], _ = safetensors_io.read(f, names=["samples", "labels"])
        for name, erw in erws.items():
            erw_labels = erw["labels"].numpy().astype(np.int64)
            if not (erw_labels.shape == labels.shape and (erw_labels == labels).all()):
                out.setdefault("labels_mismatch", []).append(name)
                labels = erw_labels  # sample the same classes anyway
        # erw's noise for every step, made before the clock starts (numpy Philox is not what is timed)
        z0 = torch.from_numpy(erw_philox.sample_noise(args.seed, erw_philox.STREAM_INITIAL, 0, n, d)).reshape(n, C, H, H).to(device)
        steps_noise = [torch.from_numpy(erw_philox.sample_noise(args.seed, 1 + i, 0, n, d)).reshape(n, C, H, H).to(device)
                       for i in range(args.steps - 1)]
        yy = torch.from_numpy(labels).to(device)
        with torch.no_grad():
            t0 = synced()
            xe = sde(model, cfg, z0, yy, args.steps, args.cfg_scale, args.guidance_low, args.guidance_high,
                     lambda i, shape: steps_noise[i], torch.float32, autocast)
            out["erw_noise_s_per_batch"] = round(synced() - t0, 4)
        xe = xe.cpu()
        if args.out:
            safetensors_io.write(args.out, {"samples": xe, "labels": torch.from_numpy(labels.astype(np.float32))},
                                 {"erw.config": ref.config_json(cfg), "generator": "bench/torch_sample.py",
                                  "precision": args.precision, "device": str(device)})
        for name, erw in erws.items():
            a, b = xe.double(), erw["samples"].double()
            if a.shape != b.shape:
                out.setdefault("compare", {})[name] = {"error": f"shapes differ: torch {list(a.shape)}, erw {list(b.shape)}"}
            else:
                diff = (a - b).abs()
                rms_b = float(b.pow(2).mean().sqrt())
                out.setdefault("compare", {})[name] = ({"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
                            "rms_diff": float(diff.pow(2).mean().sqrt()), "max_abs_erw": float(b.abs().max()),
                            "rms_erw": rms_b, "rel_rms_diff": float(diff.pow(2).mean().sqrt()) / rms_b if rms_b > 0 else None,
                            "rel_max_diff": float(diff.max()) / float(b.abs().max()) if float(b.abs().max()) > 0 else None,
                            "pixel_levels_differing": int(((a.clamp(-1, 1) + 1) * 127.5).round().ne(((b.clamp(-1, 1) + 1) * 127.5).round()).sum()),
                            "values": int(b.numel())})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
