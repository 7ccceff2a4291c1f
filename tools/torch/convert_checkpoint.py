"""Converts a published SiT / REPA / ERW PyTorch checkpoint (.pt) into a safetensors file that erw loads
without further options (model tensors under their published names + erw's `erw.config` metadata).

    /usr/bin/python3 tools/torch/convert_checkpoint.py IN.pt OUT.safetensors [--weights ema|model]
        [--model SiT-XL/2] [--num-heads H] [--input-size S | --resolution R] [--num-classes N]
        [--encoder-depth B] [--time-convention auto|repa|sit]
    ./erw sample --checkpoint OUT.safetensors --sampler heun --steps 50 --cfg 1.8 --classes 207 --n 4

Layouts read (torch.load unpickles the file: convert only files you trust):
  (a) a bare state_dict, e.g. SiT's released SiT-XL-2-256x256.pt (its EMA weights);
  (b) a training checkpoint {"model", "ema", "opt", "args", ...} as REPA/ERW's train.py writes it: the
      `ema` weights by default (--weights model for the raw ones); `opt` is dropped; `args` (an
      argparse.Namespace or a dict) gives model (e.g. "SiT-XL/2"), resolution, num_classes,
      encoder_depth, qk_norm and projector_embed_dims where present.
  Prefixes `module.` (DDP) and `_orig_mod.` (torch.compile) are removed.

The architecture comes from the tensors wherever they say it: depth (blocks.*), hidden size, channels and
patch (x_embedder.proj.weight), latent side (pos_embed), classes (label table rows - 1, the last row is the
null class), MLP ratio, QK-norm (q_norm tensors), RoPE (feat_rope.* buffers), projectors (projectors.k.*:
REPA's build_mlp, one per target encoder; k > 0 become erw's extra projectors at the same block). The heads
and the projector's block cannot be read from shapes: heads come from --num-heads or the preset named by
--model / args.model (whose depth and width must then match the tensors), the block from --encoder-depth,
args.encoder_depth or the preset (8). A tensor that maps to nothing, a missing one or a wrong shape is
refused with one line naming it.

Learned sigma (SiT's 2C output channels) is cut to the first C channels, as erw loads it.
Time convention: REPA and ERW (and erw) put noise at t = 1 and predict v = noise - data; SiT's own code puts
noise at t = 0 and predicts data - noise. --time-convention sit rewrites such a model exactly into erw's
convention: v_erw(x, t) = -v_sit(x, 1 - t), i.e. the first time-embedding layer takes the features of
1 - t (cos/sin of (1 - t) f are a fixed linear map of those of t) and the final linear layer is negated.
auto (default) = sit for a bare state_dict without projector tensors (SiT's own release), repa otherwise.
Output tensors are F32 (F16/BF16 weights are widened).
"""
import argparse
import json
import math
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import sit_reference as ref  # noqa: E402

PREFIXES = ("module.", "_orig_mod.")
BLOCK_RE = re.compile(r"^blocks\.(\d+)\.")
PROJ_RE = re.compile(r"^projectors\.(\d+)\.")


class ConvertError(Exception):
    """A checkpoint that cannot be converted: one line for the user."""


def load_pt(path):
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except TypeError:  # torch < 1.13 has no weights_only
            return torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - whatever unpickling raises, one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConvertError(f"not a PyTorch checkpoint torch.load can read ({first})")


def is_state_dict(d):
    return isinstance(d, dict) and len(d) > 0 and all(isinstance(k, str) and torch.is_tensor(v) for k, v in d.items())


def args_dict(a):
    if a is None:
        return {}
    if isinstance(a, dict):
        return dict(a)
    if hasattr(a, "__dict__"):
        return dict(vars(a))
    raise ConvertError(f"'args' is a {type(a).__name__}, expected an argparse.Namespace or a dict")


def pick_weights(obj, path, weights):
    """(state_dict, which weights, args dict, layout name)."""
    if is_state_dict(obj):
        if weights == "model":
            print(f"note: {path} is a bare state_dict (one set of weights): --weights model has nothing to choose", file=sys.stderr)
        return obj, "state_dict", {}, "state_dict"
    if isinstance(obj, dict) and ("model" in obj or "ema" in obj):
        args = args_dict(obj.get("args"))
        want = weights or ("ema" if "ema" in obj else "model")
        if want not in obj:
            have = [k for k in ("model", "ema") if k in obj]
            raise ConvertError(f"--weights {want}: the checkpoint holds no '{want}' weights (it has {have})")
        sd = obj[want]
        if not is_state_dict(sd):
            raise ConvertError(f"'{want}' is not a state_dict of tensors ({type(sd).__name__})")
        if weights is None and want == "model":
            print(f"note: {path} holds no 'ema' weights: converting 'model'", file=sys.stderr)
        return sd, want, args, "training checkpoint"
    keys = sorted(obj)[:8] if isinstance(obj, dict) else None
    raise ConvertError(f"neither a state_dict nor a dict with 'model'/'ema' state_dicts"
                       + (f" (keys {keys})" if keys is not None else f" (a {type(obj).__name__})"))


def strip_prefixes(sd):
    out = {}
    for k, v in sd.items():
        name = k
        while name.startswith(PREFIXES):
            name = name[len(next(p for p in PREFIXES if name.startswith(p))):]
        if name in out:
            raise ConvertError(f"tensor {k}: '{name}' appears twice once the module./_orig_mod. prefixes are removed")
        out[name] = v
    return out


def shape_of(sd, name):
    if name not in sd:
        raise ConvertError(f"missing tensor {name}")
    return tuple(sd[name].shape)


def infer_config(sd, args, opt):
    """The erw config (sit_reference keys) from the tensors, the args of a training checkpoint and the options."""
    d, c, p, p2 = shape_of(sd, "x_embedder.proj.weight")
    if p != p2:
        raise ConvertError(f"x_embedder.proj.weight {[d, c, p, p2]}: a non-square patch")
    blocks = sorted({int(m.group(1)) for k in sd for m in [BLOCK_RE.match(k)] if m})
    if not blocks or blocks != list(range(len(blocks))):
        raise ConvertError(f"blocks.* tensors number blocks {blocks[:6]}...: expected 0..depth-1")
    depth = len(blocks)
    rows = shape_of(sd, "y_embedder.embedding_table.weight")[0]
    num_classes = opt.num_classes or args.get("num_classes") or rows - 1
    if rows != num_classes + 1:
        raise ConvertError(f"y_embedder.embedding_table.weight has {rows} rows, expected num_classes + 1 = {num_classes + 1} "
                           f"(the last row is the null class of classifier-free guidance; a model trained without label dropout has none)")
    if "pos_embed" in sd:
        t = shape_of(sd, "pos_embed")[1]
        g = int(round(math.sqrt(t)))
        if g * g != t:
            raise ConvertError(f"pos_embed has {t} tokens, not a square grid")
        side = g * p
    else:
        side = None
    res = opt.resolution or args.get("resolution")
    want_side = opt.input_size or (int(res) // 8 if res else None)
    if side is None:
        if want_side is None:
            raise ConvertError("no pos_embed tensor and no latent side: pass --input-size S (or --resolution R for SD-VAE latents, S = R/8)")
        side = want_side
    elif want_side is not None and want_side != side:
        src = "--input-size" if opt.input_size else ("--resolution" if opt.resolution else "args.resolution")
        raise ConvertError(f"{src} gives latent side {want_side}, pos_embed holds {side // p} x {side // p} tokens of patch {p} (side {side})")
    mlp_hidden = shape_of(sd, "blocks.0.mlp.fc1.weight")[0]
    qk_norm = "blocks.0.attn.q_norm.weight" in sd
    rope = "feat_rope.freqs_cos" in sd

    name = opt.model or args.get("model")
    heads = opt.num_heads
    if heads is None:
        if name is None:
            raise ConvertError("no --model and no args.model: the heads cannot be read from the tensors; pass --model NAME (e.g. SiT-XL/2) or --num-heads H")
        try:
            pre = ref.preset(str(name))
        except (KeyError, ValueError):
            raise ConvertError(f"unknown model '{name}' ({'--model' if opt.model else 'args.model'}): use SiT-S/2 ... SiT-XL/8 or tiny, or pass --num-heads H")
        got = (depth, d, p)
        exp = (pre["depth"], pre["hidden_size"], pre["patch_size"])
        if got != exp:
            raise ConvertError(f"{name} has (depth, hidden, patch) = {exp}, the tensors {got}: pass the right --model, or --num-heads H")
        heads = pre["num_heads"]
    if d % heads:
        raise ConvertError(f"--num-heads {heads} does not divide the hidden size {d}")

    projectors = sorted({int(m.group(1)) for k in sd for m in [PROJ_RE.match(k)] if m})
    if projectors and projectors != list(range(len(projectors))):
        raise ConvertError(f"projectors.* number {projectors}: expected 0..k-1")
    specs = []
    for k in projectors:
        w = shape_of(sd, f"projectors.{k}.0.weight")[0]
        z = shape_of(sd, f"projectors.{k}.4.weight")[0]
        if z == 0:
            raise ConvertError(f"projectors.{k}.4.weight has 0 outputs (a run without a target encoder): nothing to align, drop it first")
        specs.append((w, z))
    dims = args.get("projector_embed_dims")
    if dims and specs:
        listed = [int(s) for s in str(dims).split(",")]
        if listed != [z for _, z in specs]:
            raise ConvertError(f"args.projector_embed_dims = {dims}, the projectors' tensors output {[z for _, z in specs]}")
    enc = opt.encoder_depth or args.get("encoder_depth") or min(8, depth)
    if not 1 <= enc <= depth:
        raise ConvertError(f"encoder depth {enc} is outside 1..{depth}")
    first = specs[0] if specs else (2048, 768)
    cfg = dict(depth=depth, hidden_size=d, num_heads=int(heads), patch_size=p, input_size=side, in_channels=c,
               num_classes=int(num_classes), encoder_depth=int(enc), projector_dim=first[0], z_dim=first[1],
               mlp_ratio=mlp_hidden / d, qk_norm=qk_norm, rope=rope)
    if len(specs) > 1:
        cfg["extra_projectors"] = [{"encoder_depth": int(enc), "pooled": False, "projector_dim": w, "z_dim": z} for w, z in specs[1:]]
    if args.get("qk_norm") is not None and bool(args["qk_norm"]) != qk_norm:
        raise ConvertError(f"args.qk_norm = {args['qk_norm']}, but the tensors {'have' if qk_norm else 'have no'} q_norm/k_norm weights")
    return cfg, bool(specs)


def expected_shapes(cfg, has_projectors):
    """Name -> shape of every tensor of erw's model of `cfg`, plus its fixed tables (pos_embed, feat_rope.*).
    Built from a one-block reference model (every block has the same shapes), so an XL config costs little."""
    one = dict(cfg, depth=1, encoder_depth=1)
    if cfg.get("extra_projectors"):
        one["extra_projectors"] = [dict(e, encoder_depth=1) for e in cfg["extra_projectors"]]
    state = ref.SiT(one).state_dict()
    shapes, tables = {}, {}
    for k, v in state.items():
        if k.startswith("projectors.") and not has_projectors:
            continue
        if k.startswith("blocks.0."):
            for i in range(cfg["depth"]):
                shapes[f"blocks.{i}." + k[len("blocks.0."):]] = tuple(v.shape)
        else:
            shapes[k] = tuple(v.shape)
        if k == "pos_embed" or k.startswith("feat_rope."):
            tables[k] = v.float()
    return shapes, tables


def map_tensors(sd, cfg, has_projectors):
    """The tensors erw's model of `cfg` holds, checked against the reference model's names and shapes (F32)."""
    want, tables = expected_shapes(cfg, has_projectors)
    unknown = sorted(k for k in sd if k not in want)
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ConvertError(f"cannot map {len(unknown)} tensor(s) to erw's SiT: {unknown[:5]}{more}")
    missing = [k for k in want if k not in sd and k not in tables]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ConvertError(f"missing {len(missing)} tensor(s) of a {cfg['depth']}-block SiT: {missing[:5]}{more}")
    out = {}
    c, p = cfg["in_channels"], cfg["patch_size"]
    for k, s in want.items():
        if k not in sd:
            out[k] = tables[k]  # pos_embed / feat_rope: the fixed tables
            continue
        t = sd[k]
        if not t.is_floating_point():
            raise ConvertError(f"tensor {k} has dtype {t.dtype}, expected a float type")
        t = t.detach().float()
        if k.startswith("final_layer.linear.") and tuple(t.shape) != s and t.shape[0] == 2 * s[0]:
            t = t.reshape(p, p, 2 * c, *t.shape[1:])[:, :, :c].reshape(s)  # learned sigma: keep the first C channels
        if tuple(t.shape) != s:
            raise ConvertError(f"tensor {k} has shape {list(t.shape)}, the model wants {list(s)}")
        if not torch.isfinite(t).all():
            raise ConvertError(f"tensor {k} holds a non-finite value")
        out[k] = t
    return out


def to_repa_convention(tensors, freq_size=256):
    """SiT's convention (noise at t = 0, v = data - noise) -> REPA's (noise at t = 1, v = noise - data):
    v'(x, t) = -v(x, 1 - t). With f_k = exp(-ln(10000) k / half), the features of s = 1 - t are
    cos(s f) = cos f cos(t f) + sin f sin(t f) and sin(s f) = sin f cos(t f) - cos f sin(t f), so the first
    time-embedding layer's columns (a_k for cos, b_k for sin) become a' = a cos f + b sin f, b' = a sin f - b cos f;
    the final linear layer (weight and bias) is negated."""
    w = tensors["t_embedder.mlp.0.weight"].double()
    half = freq_size // 2
    if w.shape[1] != 2 * half:
        raise ConvertError(f"t_embedder.mlp.0.weight has {w.shape[1]} inputs, expected {2 * half}")
    f = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    cf, sf = torch.cos(f), torch.sin(f)
    a, b = w[:, :half], w[:, half:]
    out = dict(tensors)
    out["t_embedder.mlp.0.weight"] = torch.cat([a * cf + b * sf, a * sf - b * cf], dim=1).float()
    out["final_layer.linear.weight"] = -tensors["final_layer.linear.weight"]
    out["final_layer.linear.bias"] = -tensors["final_layer.linear.bias"]
    return out


def convert(inp, out, opt):
    """Converts; returns (config, summary dict). Raises ConvertError."""
    obj = load_pt(inp)
    sd, which, args, layout = pick_weights(obj, inp, opt.weights)
    sd = strip_prefixes(sd)
    cfg, has_projectors = infer_config(sd, args, opt)
    tensors = map_tensors(sd, cfg, has_projectors)
    conv = opt.time_convention
    if conv == "auto":
        conv = "sit" if layout == "state_dict" and not has_projectors else "repa"
        why = "a bare state_dict without projectors (SiT's own release)" if conv == "sit" else \
            ("it holds a projector (REPA/ERW)" if has_projectors else "a training checkpoint (REPA/ERW)")
        print(f"note: time convention {conv}: {why}; --time-convention overrides", file=sys.stderr)
    if conv == "sit":
        tensors = to_repa_convention(tensors)
    if not has_projectors:
        print("note: no projector tensors: erw sample loads the file, erw forward and training need a projector", file=sys.stderr)
    meta = {"erw.config": ref.config_json(cfg), "erw.converted_from": os.path.basename(inp), "erw.source_layout": layout,
            "erw.source_weights": which, "erw.time_convention": conv, "generator": "tools/torch/convert_checkpoint.py"}
    if args.get("model"):
        meta["erw.source_model"] = str(args["model"])
    safetensors_io.write(out, {k: v.float().contiguous() for k, v in tensors.items()}, meta)
    return cfg, {"layout": layout, "weights": which, "time_convention": conv, "tensors": len(tensors), "projectors": has_projectors}


def parser():
    ap = argparse.ArgumentParser(description="Convert a SiT/REPA/ERW PyTorch checkpoint (.pt) into an erw safetensors checkpoint.")
    ap.add_argument("input", help="the .pt file (bare state_dict, or a dict with model/ema/opt/args)")
    ap.add_argument("output", help="the .safetensors file to write")
    ap.add_argument("--weights", choices=["ema", "model"], help="which weights of a training checkpoint (default: ema when present)")
    ap.add_argument("--model", help="preset giving the heads when the file has no args: SiT-S/2 ... SiT-XL/8 (overrides args.model)")
    ap.add_argument("--num-heads", type=int, help="attention heads (instead of a preset's)")
    ap.add_argument("--input-size", type=int, help="latent side (only needed without pos_embed)")
    ap.add_argument("--resolution", type=int, help="image resolution; latent side = resolution / 8 (overrides args.resolution)")
    ap.add_argument("--num-classes", type=int, help="classes (default: label table rows - 1; checked)")
    ap.add_argument("--encoder-depth", type=int, help="block (1-based) the projectors read (default: args.encoder_depth, else 8)")
    ap.add_argument("--time-convention", choices=["auto", "repa", "sit"], default="auto",
                    help="repa: noise at t = 1 (REPA, ERW, erw); sit: SiT's own code (noise at t = 0), rewritten into erw's; "
                         "auto: sit for a bare state_dict without projectors, else repa")
    return ap


def main(argv=None):
    opt = parser().parse_args(argv)
    for k in ("num_heads", "input_size", "resolution", "num_classes", "encoder_depth"):
        v = getattr(opt, k)
        if v is not None and v < 1:
            sys.exit(f"convert_checkpoint: --{k.replace('_', '-')} must be >= 1, got {v}")
    if not os.path.isfile(opt.input):
        sys.exit(f"convert_checkpoint: {opt.input} does not exist")
    try:
        cfg, summary = convert(opt.input, opt.output, opt)
    except ConvertError as e:
        sys.exit(f"convert_checkpoint: {opt.input}: {e}")
    print(json.dumps({"output": opt.output, "config": json.loads(ref.config_json(cfg)), **summary}))


if __name__ == "__main__":
    main()
