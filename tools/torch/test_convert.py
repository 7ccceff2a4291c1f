"""Tests of convert_checkpoint.py against erw itself (about a minute; runs the erw CLI):

    /usr/bin/python3 tools/torch/test_convert.py [--erw ./erw] [--keep DIR]

Small random SiTs of the reference (tools/torch/sit_reference.py) are saved with torch.save in the layouts the
published code writes, converted, and loaded by erw:
1. REPA/ERW training checkpoint {model, ema, opt, args (argparse.Namespace), steps} with two projectors (two
   target encoders): the EMA weights by default, --weights model on request, bit for bit; erw forward gives
   PyTorch's velocity and both projectors' outputs; and erw sample --sampler heun with classifier-free guidance
   from the same initial noise (--initial-noise) gives the latents of the PyTorch Heun + CFG reference
   (sit_reference.ode_sample) within 1e-3 relative.
2. A bare EMA state_dict saved from a DDP-wrapped model (module. prefix): needs --model or --num-heads, then
   erw forward agrees.
3. SiT's own release layout (bare state_dict, learned sigma, no projector, noise at t = 0): converted into erw's
   time convention, erw's Heun samples equal the PyTorch reference run on v(x, t) = -v_sit(x, 1 - t).
4. What cannot be converted is refused with one line naming it.
Exit code 1 when a check fails.
"""
import argparse
import os
import subprocess
import sys
import tempfile
from argparse import Namespace

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_checkpoint as conv  # noqa: E402
import safetensors_io  # noqa: E402
import sit_reference as ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
FAILS = []
CFG = dict(depth=2, hidden_size=64, num_heads=4, patch_size=2, input_size=8, in_channels=4, num_classes=10,
           encoder_depth=1, projector_dim=32, z_dim=16, mlp_ratio=4.0, qk_norm=False, rope=False)


def check(ok, msg):
    print(("ok   " if ok else "FAIL ") + msg)
    if not ok:
        FAILS.append(msg)


def random_model(cfg, seed, std=0.1):
    m = ref.SiT(cfg).float().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n != "pos_embed":
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return m


def rel(a, b):
    """max |a - b| / max |b| and ||a - b|| / ||b||."""
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max()), float((a - b).norm() / b.norm())


class Erw:
    def __init__(self, launcher):
        self.launcher = launcher

    def run(self, *args):
        p = subprocess.run([self.launcher, *args], cwd=ROOT, capture_output=True, text=True)
        err = "".join(l for l in p.stderr.splitlines(True) if not l.startswith("WARNING: Using incubator modules"))  # the JVM's own
        return p.returncode, p.stdout, err

    def ok(self, *args):
        code, out, err = self.run(*args)
        if code != 0:
            raise RuntimeError(f"erw {' '.join(args)} failed ({code}): {err.strip()}")
        return out


def convert(d, src, name, *extra):
    """Runs the converter as a user does; returns (exit code, stderr, output path)."""
    out = os.path.join(d, name)
    p = subprocess.run([sys.executable, os.path.join(HERE, "convert_checkpoint.py"), src, out, *extra], capture_output=True, text=True)
    return p.returncode, p.stderr, out


def forward_inputs(d, cfg, seed):
    g = torch.Generator().manual_seed(seed)
    n = 3
    x = torch.randn(n, cfg["in_channels"], cfg["input_size"], cfg["input_size"], generator=g)
    t = torch.tensor([0.9, 0.5, 0.1])
    y = torch.tensor([1.0, cfg["num_classes"], 7.0])  # the null class too
    path = os.path.join(d, f"in-{seed}.safetensors")
    safetensors_io.write(path, {"x": x, "t": t, "y": y})
    return path, x, t, y.long()


def erw_forward_matches(erw, d, ckpt, model, label, extra_zs=0):
    inp, x, t, y = forward_inputs(d, model.cfg, 5)
    out = os.path.join(d, "fwd-" + os.path.basename(ckpt))
    erw.ok("forward", "--checkpoint", ckpt, "--input", inp, "--out", out)
    got, _ = safetensors_io.read(out)
    with torch.no_grad():
        v, zs = model.double()(x.double(), t.double(), y, return_all=True)
    model.float()
    errs = [rel(got["velocity"], v)[0]] + [rel(got["zs" if k == 0 else f"zs.{k}"], z)[0] for k, z in enumerate(zs)]
    check(max(errs) < 1e-4 and len(zs) == 1 + extra_zs, f"{label}: erw forward = PyTorch (velocity and {len(zs)} projector outputs, max rel {max(errs):.1e})")


def sample_parity(erw, d, ckpt, velocity, cfg, label, steps=8, scale=1.8, interval=(0.0, 0.7), classes=(3, 7), n=2, model_args=()):
    """erw sample (Heun, CFG) from a noise file against ode_sample on `velocity`; returns the relative errors."""
    total = len(classes) * n
    g = torch.Generator().manual_seed(11)
    x0 = torch.randn(total, cfg["in_channels"], cfg["input_size"], cfg["input_size"], generator=g)
    noise = os.path.join(d, "noise.safetensors")
    safetensors_io.write(noise, {"x": x0})
    out_dir = os.path.join(d, "samples-" + label.split()[0])
    erw.ok("sample", "--checkpoint", ckpt, *model_args, "--sampler", "heun", "--steps", str(steps), "--cfg", str(scale),
           "--guidance-interval", f"{interval[0]},{interval[1]}", "--classes", ",".join(map(str, classes)), "--n", str(n),
           "--initial-noise", noise, "--no-progress", "--threads", "2", "--out", out_dir)
    got, meta = safetensors_io.read(os.path.join(out_dir, "samples.safetensors"))
    y = torch.tensor([c for c in classes for _ in range(n)])
    want = ref.ode_sample(velocity, x0, y, steps, heun=True, cfg_scale=scale, guidance_low=interval[0],
                          guidance_high=interval[1], null_class=cfg["num_classes"])
    labels_ok = torch.equal(got["labels"].long(), y)
    return rel(got["samples"], want), labels_ok and meta.get("erw.sampler") == "heun"


def test_repa_training_checkpoint(erw, d):
    cfg = dict(CFG, extra_projectors=[{"encoder_depth": 1, "pooled": False, "projector_dim": 32, "z_dim": 24}])
    ema, raw = random_model(cfg, 1), random_model(cfg, 2)
    args = Namespace(model="SiT-XL/2", resolution=64, num_classes=10, encoder_depth=1, qk_norm=False, fused_attn=True,
                     projector_embed_dims="16,24", enc_type="dinov2-vit-b,clip-vit-L", cfg_prob=0.1)
    opt = torch.optim.AdamW(raw.parameters(), lr=1e-4)
    src = os.path.join(d, "repa.pt")
    torch.save({"model": raw.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "args": args, "steps": 400}, src)

    code, err, _ = convert(d, src, "x.safetensors")
    check(code != 0 and len(err.strip().splitlines()) == 1 and "pass the right --model, or --num-heads" in err,
          f"REPA layout, args.model SiT-XL/2 but tiny tensors: refused in one line ({err.strip()[:110]}...)")
    code, err, out = convert(d, src, "repa-ema.safetensors", "--num-heads", "4")
    check(code == 0, f"REPA layout converts ({err.strip().splitlines()[-1] if err.strip() else 'ok'})")
    ts, meta = safetensors_io.read(out)
    same = all(torch.equal(ts[k], v) for k, v in ema.state_dict().items())
    check(same and len(ts) == len(ema.state_dict()) and meta["erw.source_weights"] == "ema" and meta["erw.time_convention"] == "repa",
          "REPA layout: the EMA weights by default, bit for bit, every tensor; time convention repa")
    check(ref.normalize_config(meta["erw.config"]) == ref.normalize_config(ref.config_json(cfg)),
          f"REPA layout: erw.config from tensors + args = the model's ({meta['erw.config'][:60]}...)")
    code, err, out_raw = convert(d, src, "repa-model.safetensors", "--num-heads", "4", "--weights", "model")
    ts_raw, meta_raw = safetensors_io.read(out_raw)
    check(code == 0 and all(torch.equal(ts_raw[k], v) for k, v in raw.state_dict().items()) and meta_raw["erw.source_weights"] == "model",
          "REPA layout: --weights model converts the raw weights")
    erw_forward_matches(erw, d, out, ema, "REPA layout (EMA)", extra_zs=1)

    (mx, l2), ok = sample_parity(erw, d, out, lambda x, t, y: ema(x, t, y, return_zs=False)[0], cfg, "repa heun cfg")
    check(ok and mx < 1e-3, f"REPA layout: erw sample (Heun, 8 steps, CFG 1.8 on t in [0, 0.7]) = PyTorch Heun + CFG from the same "
                            f"noise: max rel {mx:.2e}, L2 rel {l2:.2e}")
    return mx, l2


def test_bare_ddp_state_dict(erw, d):
    cfg = dict(CFG, qk_norm=True)
    m = random_model(cfg, 3)
    src = os.path.join(d, "bare-ddp.pt")
    torch.save({"module." + k: v for k, v in m.state_dict().items()}, src)
    code, err, _ = convert(d, src, "y.safetensors")
    check(code != 0 and len(err.strip().splitlines()) == 1 and "--num-heads" in err, f"bare state_dict without --model: refused ({err.strip()[:100]}...)")
    code, err, out = convert(d, src, "bare.safetensors", "--num-heads", "4", "--encoder-depth", "1")
    _, meta = safetensors_io.read(out) if code == 0 else (None, {})
    check(code == 0 and meta.get("erw.time_convention") == "repa" and '"qk_norm": true' in meta.get("erw.config", ""),
          "bare DDP state_dict (module. prefix) with projector and QK-norm converts; convention repa")
    erw_forward_matches(erw, d, out, m, "bare DDP state_dict")


def sit_release_state(cfg, m):
    """m's weights as SiT's release stores them: learned sigma (2C outputs, second half random), no projector."""
    sd = {k: v.clone() for k, v in m.state_dict().items() if not k.startswith("projectors.")}
    p, c, dim = cfg["patch_size"], cfg["in_channels"], cfg["hidden_size"]
    g = torch.Generator().manual_seed(4)
    for suffix, tail in [("weight", (dim,)), ("bias", ())]:
        w = sd["final_layer.linear." + suffix].reshape(p, p, c, *tail)
        sd["final_layer.linear." + suffix] = torch.cat([w, torch.randn(w.shape, generator=g)], dim=2).reshape(p * p * 2 * c, *tail)
    return sd


def test_sit_release(erw, d):
    cfg = dict(CFG, num_classes=6)
    m = random_model(cfg, 5)
    src = os.path.join(d, "SiT-tiny.pt")
    torch.save(sit_release_state(cfg, m), src)
    code, err, out = convert(d, src, "sit.safetensors", "--num-heads", "4")
    ts, meta = safetensors_io.read(out) if code == 0 else ({}, {})
    check(code == 0 and meta.get("erw.time_convention") == "sit" and not any(k.startswith("projectors.") for k in ts)
          and tuple(ts["final_layer.linear.weight"].shape) == (16, 64),
          "SiT release layout (bare, learned sigma, no projector): converted with the SiT time convention, sigma dropped")
    # v_erw(x, t) = -v_sit(x, 1 - t): noise at t = 1 in erw
    (mx, l2), ok = sample_parity(erw, d, out, lambda x, t, y: -m(x, 1 - t, y, return_zs=False)[0], cfg, "sit heun",
                                 steps=6, scale=1.5, interval=(0.0, 1.0), classes=(0, 5), n=1)
    check(ok and mx < 1e-3, f"SiT release layout: erw sample (Heun, CFG 1.5) = PyTorch Heun on -v_sit(x, 1 - t): max rel {mx:.2e}, L2 rel {l2:.2e}")
    code, _, err = erw.run("forward", "--checkpoint", out, "--input", forward_inputs(d, cfg, 6)[0], "--out", os.path.join(d, "f.safetensors"))
    check(code == 2 and len(err.strip().splitlines()) == 1 and "missing projectors.0.0.weight" in err,
          "erw forward on a model without projector: one line naming the missing projector")
    # the other convention really is different (the flip is not a no-op)
    code, _, out2 = convert(d, src, "sit-as-repa.safetensors", "--num-heads", "4", "--time-convention", "repa")
    t2, _ = safetensors_io.read(out2)
    check(code == 0 and not torch.equal(t2["t_embedder.mlp.0.weight"], ts["t_embedder.mlp.0.weight"])
          and torch.equal(t2["final_layer.linear.bias"], -ts["final_layer.linear.bias"]),
          "--time-convention repa keeps the weights as they are (the SiT rewrite changes t_embedder.mlp.0, negates the final layer)")


def test_refusals(d):
    m = random_model(CFG, 6)
    sd = dict(m.state_dict())
    cases = []
    bad = dict(sd, **{"decoder.weight": torch.zeros(3)})
    cases.append((bad, ["--num-heads", "4"], "cannot map 1 tensor(s) to erw's SiT: ['decoder.weight']"))
    bad = {k: v for k, v in sd.items() if k != "blocks.1.mlp.fc2.bias"}
    cases.append((bad, ["--num-heads", "4"], "missing 1 tensor(s) of a 2-block SiT: ['blocks.1.mlp.fc2.bias']"))
    bad = dict(sd, **{"blocks.1.attn.qkv.weight": torch.zeros(192, 32)})
    cases.append((bad, ["--num-heads", "4"], "tensor blocks.1.attn.qkv.weight has shape [192, 32], the model wants [192, 64]"))
    cases.append((sd, ["--num-heads", "5"], "--num-heads 5 does not divide the hidden size 64"))
    cases.append((sd, ["--model", "SiT-XXL/2"], "unknown model 'SiT-XXL/2' (--model)"))
    cases.append((sd, ["--num-heads", "4", "--resolution", "128"], "--resolution gives latent side 16"))
    cases.append(({"model": sd, "opt": {}}, ["--num-heads", "4", "--weights", "ema"], "--weights ema: the checkpoint holds no 'ema' weights"))
    cases.append(({"state": 1}, [], "neither a state_dict nor a dict with 'model'/'ema'"))
    cases.append((dict(sd, **{"y_embedder.embedding_table.weight": torch.zeros(10, 64)}), ["--num-heads", "4", "--num-classes", "10"],
                  "has 10 rows, expected num_classes + 1 = 11"))
    for i, (obj, extra, want) in enumerate(cases):
        src = os.path.join(d, f"bad{i}.pt")
        torch.save(obj, src)
        code, err, _ = convert(d, src, f"bad{i}.safetensors", *extra)
        lines = err.strip().splitlines()
        check(code != 0 and len(lines) == 1 and want in lines[0] and src in lines[0], f"refused in one line: {want}")
    junk = os.path.join(d, "junk.pt")
    with open(junk, "w") as f:
        f.write("not a checkpoint")
    code, err, _ = convert(d, junk, "junk.safetensors")
    check(code != 0 and len(err.strip().splitlines()) == 1 and "not a PyTorch checkpoint" in err, "a file torch.load cannot read: one line")


def test_convention_algebra():
    """The SiT rewrite in isolation: the time embedding of the rewritten weights at t equals the original at 1 - t."""
    g = torch.Generator().manual_seed(9)
    w = torch.randn(5, 256, generator=g, dtype=torch.float64)
    new = conv.to_repa_convention({"t_embedder.mlp.0.weight": w, "final_layer.linear.weight": torch.ones(2, 2),
                                   "final_layer.linear.bias": torch.ones(2)})
    t = torch.tensor([0.0, 0.3, 0.97], dtype=torch.float64)
    emb = ref.TimestepEmbedder.timestep_embedding
    err = float((emb(t, 256) @ new["t_embedder.mlp.0.weight"].double().T - emb(1 - t, 256) @ w.T).abs().max())
    check(err < 1e-5 and torch.equal(new["final_layer.linear.bias"], -torch.ones(2)),
          f"SiT -> REPA time convention: W' phi(t) = W phi(1 - t) ({err:.1e}, F32 weights), final layer negated")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--erw", default=os.path.join(ROOT, "erw"), help="the erw launcher (default: the checkout's ./erw)")
    ap.add_argument("--keep", help="write the files into this directory and keep them")
    args = ap.parse_args()
    torch.set_num_threads(1)
    erw = Erw(os.path.abspath(args.erw))
    erw.ok("--version")  # builds the project first when needed
    with tempfile.TemporaryDirectory() as tmp:
        d = args.keep or tmp
        os.makedirs(d, exist_ok=True)
        test_convention_algebra()
        mx, l2 = test_repa_training_checkpoint(erw, d)
        test_bare_ddp_state_dict(erw, d)
        test_sit_release(erw, d)
        test_refusals(d)
    print(f"sampler parity (REPA layout, Heun + CFG): max rel {mx:.3e}, L2 rel {l2:.3e}")
    print(f"{len(FAILS)} failure(s)")
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
