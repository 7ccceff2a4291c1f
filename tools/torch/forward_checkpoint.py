"""Runs the PyTorch reference SiT forward on a checkpoint written by erw (the erw -> PyTorch round trip).

    /usr/bin/python3 tools/torch/forward_checkpoint.py --checkpoint CKPT.safetensors \
        --input IN.safetensors --out OUT.safetensors [--ema] [--dtype float64|float32] [--config JSON]

CKPT: safetensors with the published parameter names and the model config JSON in the metadata key
`erw.config` (or pass --config); other metadata keys and tensors that are not model tensors
(inputs, gradients, optimizer state, ...) are ignored, so the fixture files work as checkpoints too.
--ema loads `ema.<name>` instead of `<name>`. pos_embed / feat_rope.* are recomputed when absent.
IN: tensors x (N,C,H,W), t (N), y (N, integer); IN may be the checkpoint file itself.
OUT: velocity (N,C,H,W) and zs (N,T,Z) as F32 (velocity is left out for an ERW warmup checkpoint,
config key truncated_depth > 0), plus zs.<k> for each extra (REED) projector k = 1, 2, ... of the
config's extra_projectors ((N,T,Z_k) per token, (N,Z_k) pooled); metadata erw.config and the settings used.
The model runs in --dtype (default float64: the exact value of the F32 weights).
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import sit_reference as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="SiT forward of the PyTorch reference on an erw checkpoint")
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ema", action="store_true", help="load the ema.<name> tensors")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--config", help="config JSON (overrides the checkpoint's erw.config)")
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))

    header, meta, _ = safetensors_io.read_header(args.checkpoint)
    cfg_json = args.config or meta.get("erw.config")
    if cfg_json is None:
        sys.exit(f"error: {args.checkpoint} has no 'erw.config' metadata; pass --config JSON")
    cfg = ref.normalize_config(json.loads(cfg_json))
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    model = ref.SiT(cfg).to(dtype).eval()

    prefix = "ema." if args.ema else ""
    wanted = {prefix + n for n in model.state_dict()}
    tensors, _ = safetensors_io.read(args.checkpoint, names=wanted & set(header))
    try:
        missing = ref.load_state(model, tensors, prefix=prefix)
    except ValueError as e:
        sys.exit(f"error: {args.checkpoint}: {e}")
    for m in missing:
        print(f"note: {prefix + m} not in the checkpoint; using the computed table", file=sys.stderr)
    if "pos_embed" not in missing:
        fresh = torch.from_numpy(ref.get_2d_sincos_pos_embed(cfg["hidden_size"], cfg["input_size"] // cfg["patch_size"]))
        diff = float((model.pos_embed.detach().double()[0] - fresh).abs().max())
        if diff > 1e-5:
            print(f"warning: checkpoint pos_embed differs from the sin-cos table by {diff:.3g}", file=sys.stderr)

    inp, _ = safetensors_io.read(args.input, names=["x", "t", "y"])
    for k in ["x", "t", "y"]:
        if k not in inp:
            sys.exit(f"error: {args.input} has no tensor '{k}'")
    with torch.no_grad():
        v, zs_all = model(inp["x"].to(dtype), inp["t"].to(dtype), inp["y"].long(), return_all=True)
    out = {"zs" if k == 0 else f"zs.{k}": z.float() for k, z in enumerate(zs_all)}
    if v is not None:
        out["velocity"] = v.float()
    safetensors_io.write(args.out, out, {"erw.config": ref.config_json(cfg), "generator": "tools/torch/forward_checkpoint.py",
                                         "checkpoint": os.path.basename(args.checkpoint), "ema": str(args.ema).lower(),
                                         "dtype": args.dtype})
    print(json.dumps({k: list(t.shape) for k, t in out.items()}))


if __name__ == "__main__":
    main()
