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
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/torch_train_step.py

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "torch"))
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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = ref.preset(args.preset)
    model = ref.SiT(cfg).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.startswith("final_layer") or "adaLN" in n:
                p.normal_(0, 0.02)
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


if __name__ == "__main__":
    main()
