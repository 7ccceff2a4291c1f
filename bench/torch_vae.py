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
import safetensors_io  # noqa: E402

OLD_NAMES = {".query.": ".to_q.", ".key.": ".to_k.", ".value.": ".to_v.", ".proj_attn.": ".to_out.0."}


def load_vae(path):
    """A diffusers AutoencoderKL safetensors file (the shape read from the tensors, as erw does; groups and
    scale from config.json beside it, else the file's metadata, else 32 and 0.18215)."""
    t, meta = safetensors_io.read(path)
    cfg_path = os.path.join(os.path.dirname(os.path.abspath(path)), "config.json")
    cfg = json.load(open(cfg_path)) if os.path.exists(cfg_path) else {}
    groups = int(cfg.get("norm_num_groups", meta.get("norm_num_groups", 32)))
    t = {next((k.replace(o, n) for o, n in OLD_NAMES.items() if o in k and ".attentions." in k), k): v for k, v in t.items()}
    levels = 0
    while f"encoder.down_blocks.{levels}.resnets.0.conv1.weight" in t:
        levels += 1
    layers = 0
    while f"encoder.down_blocks.0.resnets.{layers}.conv1.weight" in t:
        layers += 1
    ch = [t[f"encoder.down_blocks.{i}.resnets.0.conv2.weight"].shape[0] for i in range(levels)]
    vae = AutoencoderKL(latent_channels=t["post_quant_conv.weight"].shape[0], block_out_channels=tuple(ch), layers_per_block=layers,
                        norm_num_groups=groups)
    state = {k: v.reshape(vae.state_dict()[k].shape) for k, v in t.items() if k in vae.state_dict()}
    vae.load_state_dict(state)
    return vae


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--latent-side", type=int, default=32)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--vae", default=None, help="weights (diffusers safetensors); default: random weights of the SD VAE's shape")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (then fp32 with TF32 off, timed with a synchronize)")
    args = ap.parse_args()
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    torch.set_num_threads(args.threads)
    if args.vae:
        vae = load_vae(args.vae)
    else:
        vae = AutoencoderKL()
        randomize(vae, 0)
    vae.eval()
    vae.to(dev)
    z = torch.randn(args.batch, vae.post_quant_conv.weight.shape[0], args.latent_side, args.latent_side, generator=torch.Generator().manual_seed(1)).to(dev)
    results = {}
    for fmt in ("contiguous", "channels_last"):
        mf = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
        m = vae.to(memory_format=mf)
        x = z.to(memory_format=mf)
        with torch.inference_mode():
            m.decode(x[:1])  # warmup (oneDNN primitive creation, cuDNN autotuning)
            sync()
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                out = m.decode(x)
                sync()
                best = min(best, time.perf_counter() - t0)
        results[fmt] = best
        print(f"{fmt}: {best:.2f} s per batch of {args.batch} ({tuple(out.shape)})", file=sys.stderr)
    fmt = min(results, key=results.get)
    s = results[fmt]
    print(json.dumps({"s_per_batch": s, "images_per_s": args.batch / s, "format": fmt, "all": results, "batch": args.batch,
                      "latent_side": args.latent_side, "threads": args.threads, "device": args.device, "torch": torch.__version__,
                      "mkldnn": torch.backends.mkldnn.is_available()}))


if __name__ == "__main__":
    main()
