"""Writes the PyTorch reference fixtures that erw's Java tests compare against.

Regenerate (from the repository root, a few seconds on a CPU; Debian's PyTorch 1.13 is enough):

    /usr/bin/python3 tools/torch/make_fixtures.py [--out tests/src/test/resources/fixtures] [--only NAME ...]

--only writes just the named cases (file names without .safetensors). The F32 files are reproducible
to the byte on one machine, but the float64 reductions may round differently on another CPU (AVX2 vs
AVX-512 kernels: a few gradient entries differ in the last F32 bit), so to add a case without
rewriting the committed ones, pass --only with the new case's name.

Writes, each a safetensors file that is also a loadable checkpoint:
    sit_tiny_cosine.safetensors   cosine (REPA) alignment loss
    sit_tiny_ntxent.safetensors   NT-Xent alignment loss (tau 0.1, not symmetric; the symmetric
                                  value of the same batch is stored as `loss_align_symmetric`)
    sit_tiny_qknorm.safetensors   qk_norm on, cosine loss
    sit_tiny_rope.safetensors     rope on (qk_norm off), cosine loss; holds feat_rope.freqs_cos/sin
    reed_tiny_two_targets.safetensors   REED (arXiv 2507.08980): two alignment targets, time-weighted
                                  cosine loss, diffusion weight (see "REED case" below)

Tiny config: depth 2, hidden 64, heads 4, patch 2, input 8x8x4, 10 classes, projector at block 1,
projector_dim 96, z_dim 32, mlp_ratio 4; batch N = 4.

Precision: every parameter and input is drawn in float32 (so the stored F32 values are exactly the
ones used), the model is then run and differentiated in float64, and the results are rounded to F32.
Parameters: every tensor except pos_embed (the fixed sin-cos table) ~ normal(0, 0.1), so that no path
is zeroed out as by the published zero init. Inputs: x ~ N(0,1), t ~ U(0.05, 0.95), y ints in
[0, 9] with sample 1 set to the null id 10, v_target ~ N(0,1), z_target ~ N(0,1), lambda = 0.5.

Tensors in each file:
    <param name>          every model tensor under its published name (incl. pos_embed)
    x (4,4,8,8) t (4) y (4, I64) v_target (4,4,8,8) z_target (4,16,32) lambda (1)
    velocity (4,4,8,8) zs (4,16,32) loss (1) loss_v (1) loss_align (1)
    grad.<param name>     d loss / d param for every trainable parameter (all but pos_embed)
    loss = loss_v + lambda * loss_align
metadata: erw.config (config JSON), align ("cosine"|"ntxent"), ntxent_tau "0.1",
    ntxent_symmetric "false", generator "tools/torch/make_fixtures.py", reference_dtype "float64".

REED case (reed_tiny_two_targets.safetensors, seed 1238, same drawing conventions and N = 4):
config = the tiny one plus extra_projectors [{"encoder_depth": 2, "pooled": true, "projector_dim": 48,
"z_dim": 24}]: target 0 is projector 0 (`projectors.0.*`, per token on block 1's output), target 1 is
`projectors.1.{0,2,4}.weight/bias` on the token mean of block 2's output (x.mean(dim=1)).
    <param name>, grad.<param name>   as above (projectors.1.* included)
    x (4,4,8,8) t (4) y (4, I64) v_target (4,4,8,8) z_target (4,16,32) z_target.1 (4,24) ~ N(0,1)
    lambda (1) = 0.4   w_diff (1) = 0.3   (the loss uses exactly these F32 values, like every input)
    velocity (4,4,8,8) zs (4,16,32) zs.1 (4,24) loss (1) loss_v (1)
    loss_align (1) = sum_k coef_k * loss_align.k     loss_align.0 (1)  loss_align.1 (1)
    w_t(t) = 1 - t ("linear"); align_k,i = -(mean over sample i's tokens of cos(z_pred, z_target)),
    one token when pooled; loss_align.k = mean_i w_t(t_i) * align_k,i; coef = (1.0, 0.5)
    loss = w_diff * loss_v + lambda * loss_align
metadata: erw.config (config JSON, with extra_projectors), align "cosine", coefs "1.0,0.5",
    time_weight "linear", time_cutoffs "0.0,1.0" (lo, hi of the "cutoff" weight; unused by "linear"),
    generator "tools/torch/make_fixtures.py", reference_dtype "float64".
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import sit_reference as ref  # noqa: E402

TINY = dict(depth=2, hidden_size=64, num_heads=4, patch_size=2, input_size=8, in_channels=4, num_classes=10,
            encoder_depth=1, projector_dim=96, z_dim=32, mlp_ratio=4.0, qk_norm=False, rope=False)
N = 4
TAU = 0.1
LAMBDA = 0.5


def build_case(cfg, align, seed):
    g = torch.Generator().manual_seed(seed)
    model = ref.SiT(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "pos_embed":
                continue
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) * 0.1)
    model = model.double()
    C, H = cfg["in_channels"], cfg["input_size"]
    T = (H // cfg["patch_size"]) ** 2
    x = torch.randn(N, C, H, H, generator=g)
    t = 0.05 + 0.9 * torch.rand(N, generator=g)
    y = torch.randint(0, cfg["num_classes"], (N,), generator=g)
    y[1] = cfg["num_classes"]  # the null class
    v_target = torch.randn(N, C, H, H, generator=g)
    z_target = torch.randn(N, T, cfg["z_dim"], generator=g)

    model.zero_grad()
    velocity, zs = model(x.double(), t.double(), y)
    loss_v = ref.loss_velocity(velocity, v_target.double())
    loss_a = ref.loss_align(align, zs, z_target.double(), TAU, False)
    loss = loss_v + LAMBDA * loss_a
    loss.backward()

    f32 = lambda v: v.detach().to(torch.float32)  # noqa: E731
    one = lambda v: f32(v).reshape(1)  # noqa: E731
    out = {name: f32(v) for name, v in model.state_dict().items()}
    out.update(x=x, t=t, y=y, v_target=v_target, z_target=z_target, **{"lambda": torch.tensor([LAMBDA])})
    out.update(velocity=f32(velocity), zs=f32(zs), loss=one(loss), loss_v=one(loss_v), loss_align=one(loss_a))
    if align == "ntxent":
        with torch.no_grad():
            out["loss_align_symmetric"] = one(ref.loss_ntxent(zs, z_target.double(), TAU, True))
    for name, p in model.named_parameters():
        if p.requires_grad:
            out["grad." + name] = f32(p.grad)
    meta = {"erw.config": ref.config_json(cfg), "align": align, "ntxent_tau": repr(TAU), "ntxent_symmetric": "false",
            "generator": "tools/torch/make_fixtures.py", "reference_dtype": "float64"}
    return out, meta, float(loss)


REED_NAME = "reed_tiny_two_targets"
REED_EXTRA = [{"encoder_depth": 2, "pooled": True, "projector_dim": 48, "z_dim": 24}]
REED_SEED = 1238
REED_LAMBDA = 0.4
REED_W_DIFF = 0.3
REED_COEFS = (1.0, 0.5)
REED_TIME_WEIGHT = "linear"
REED_CUTOFFS = (0.0, 1.0)


def build_reed_case(cfg, seed):
    """REED: two targets (per token at encoder_depth, pooled at block 2), time-weighted cosine terms."""
    g = torch.Generator().manual_seed(seed)
    model = ref.SiT(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "pos_embed":
                continue
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32) * 0.1)
    model = model.double()
    specs = ref.projector_specs(cfg)
    C, H = cfg["in_channels"], cfg["input_size"]
    T = (H // cfg["patch_size"]) ** 2
    x = torch.randn(N, C, H, H, generator=g)
    t = 0.05 + 0.9 * torch.rand(N, generator=g)
    y = torch.randint(0, cfg["num_classes"], (N,), generator=g)
    y[1] = cfg["num_classes"]  # the null class
    v_target = torch.randn(N, C, H, H, generator=g)
    z_targets = [torch.randn(*((N,) if s["pooled"] else (N, T)), s["z_dim"], generator=g) for s in specs]

    lam = torch.tensor([REED_LAMBDA])  # F32, and the float64 loss uses exactly the stored values
    w_diff = torch.tensor([REED_W_DIFF])

    model.zero_grad()
    velocity, zs_all = model(x.double(), t.double(), y, return_all=True)
    loss, loss_v, loss_a, terms = ref.loss_reed(velocity, v_target.double(), zs_all, [z.double() for z in z_targets],
                                                t.double(), REED_COEFS, float(lam), float(w_diff), REED_TIME_WEIGHT,
                                                *REED_CUTOFFS)
    loss.backward()

    f32 = lambda v: v.detach().to(torch.float32)  # noqa: E731
    one = lambda v: f32(v).reshape(1)  # noqa: E731
    sfx = lambda k: "" if k == 0 else f".{k}"  # noqa: E731
    out = {name: f32(v) for name, v in model.state_dict().items()}
    out.update(x=x, t=t, y=y, v_target=v_target, **{"lambda": lam, "w_diff": w_diff})
    out.update(velocity=f32(velocity), loss=one(loss), loss_v=one(loss_v), loss_align=one(loss_a))
    for k, (z, zt, term) in enumerate(zip(zs_all, z_targets, terms)):
        out["zs" + sfx(k)] = f32(z)
        out["z_target" + sfx(k)] = zt
        out[f"loss_align.{k}"] = one(term)
    for name, p in model.named_parameters():
        if p.requires_grad:
            out["grad." + name] = f32(p.grad)
    meta = {"erw.config": ref.config_json(cfg), "align": "cosine", "coefs": ",".join(repr(c) for c in REED_COEFS),
            "time_weight": REED_TIME_WEIGHT, "time_cutoffs": ",".join(repr(c) for c in REED_CUTOFFS),
            "generator": "tools/torch/make_fixtures.py", "reference_dtype": "float64"}
    return out, meta, float(loss)


CASES = [
    ("sit_tiny_cosine", {}, "cosine", 1234),
    ("sit_tiny_ntxent", {}, "ntxent", 1235),
    ("sit_tiny_qknorm", {"qk_norm": True}, "cosine", 1236),
    ("sit_tiny_rope", {"rope": True}, "cosine", 1237),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "..", "tests", "src", "test", "resources", "fixtures"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=default_out)
    ap.add_argument("--only", nargs="+", metavar="NAME", help="write only these cases (file names without .safetensors)")
    args = ap.parse_args()
    known = [c[0] for c in CASES] + [REED_NAME]
    if args.only:
        bad = [n for n in args.only if n not in known]
        if bad:
            ap.error(f"unknown case(s) {bad}; known: {known}")
    wanted = lambda n: not args.only or n in args.only  # noqa: E731
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name, over, align, seed in CASES:
        if not wanted(name):
            continue
        cfg = dict(TINY, **over)
        tensors, meta, loss = build_case(cfg, align, seed)
        path = os.path.join(args.out, name + ".safetensors")
        safetensors_io.write(path, tensors, meta)
        print(f"{path}: {len(tensors)} tensors, loss {loss:.9g}")
    if wanted(REED_NAME):
        tensors, meta, loss = build_reed_case(dict(TINY, extra_projectors=REED_EXTRA), REED_SEED)
        path = os.path.join(args.out, REED_NAME + ".safetensors")
        safetensors_io.write(path, tensors, meta)
        print(f"{path}: {len(tensors)} tensors, loss {loss:.9g}")


if __name__ == "__main__":
    main()
