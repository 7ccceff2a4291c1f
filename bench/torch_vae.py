"""Peer benchmark: decoding latents with the SD-VAE in PyTorch (the reference AutoencoderKL of
tools/torch/vae_reference.py, diffusers' architecture), float32 on the CPU, random weights.

    /usr/bin/python3 bench/torch_vae.py [--batch 8] [--latent-side 32] [--threads T] [--repeats 2]

Times decoder(post_quant_conv(z)) for one batch under torch.inference_mode, after one untimed warmup
batch, in both memory formats (contiguous NCHW and channels_last, which oneDNN often runs faster) and
reports the best as the peer's figure. Prints one JSON line: {"s_per_batch", "images_per_s", "format", ...}.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "torch"))
from vae_reference import AutoencoderKL, randomize  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--latent-side", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    vae = AutoencoderKL()
    randomize(vae, 0)
    vae.eval()
    z = torch.randn(args.batch, 4, args.latent_side, args.latent_side, generator=torch.Generator().manual_seed(1))
    results = {}
    for fmt in ("contiguous", "channels_last"):
        mf = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
        m = vae.to(memory_format=mf)
        x = z.to(memory_format=mf)
        with torch.inference_mode():
            m.decode(x[:1])  # warmup (oneDNN primitive creation)
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                out = m.decode(x)
                best = min(best, time.perf_counter() - t0)
        results[fmt] = best
        print(f"{fmt}: {best:.2f} s per batch of {args.batch} ({tuple(out.shape)})", file=sys.stderr)
    fmt = min(results, key=results.get)
    s = results[fmt]
    print(json.dumps({"s_per_batch": s, "images_per_s": args.batch / s, "format": fmt, "all": results, "batch": args.batch,
                      "latent_side": args.latent_side, "threads": args.threads, "torch": torch.__version__,
                      "mkldnn": torch.backends.mkldnn.is_available()}))


if __name__ == "__main__":
    main()
