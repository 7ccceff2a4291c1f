"""Self-test of the PyTorch reference (about a minute on one core; needs ~4 GB RAM for SiT-XL/2):

    /usr/bin/python3 tools/torch/selftest.py [--skip-xl]

1. safetensors_io round trip (every dtype, metadata, 8-byte aligned header).
2. Fixed tables checked against SPEC's wording: 2-D sin-cos pos_embed, RoPE tables, unpatchify order.
3. Gradients in float64: central finite differences of the full loss (velocity + lambda * align) for
   a few entries of every trainable tensor, for cosine, NT-Xent (plain and symmetric), qk_norm and
   rope; and torch.autograd.gradcheck with respect to x and t.
4. Published (zero) init: velocity is exactly 0; parameter counts of SiT-S/B/L/XL/2 (backbone
   incl. pos_embed + projector, Z = 768, projector 2048) against the numbers in SPEC.
5. The committed fixtures reload and reproduce (forward in float64 from the stored F32 tensors).
6. REED: time weights against their formulas, config_json with/without extra_projectors, the
   pooled/per-token extra projectors (and the truncated model), finite differences of the REED loss
   (two targets, one pooled, time-weighted) and the reed_tiny_two_targets fixture reproducing.
"""
import argparse
import json
import math
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import sit_reference as ref  # noqa: E402
from make_fixtures import TINY  # noqa: E402

FAILS = []


def check(ok, msg):
    print(("ok   " if ok else "FAIL ") + msg)
    if not ok:
        FAILS.append(msg)


def test_safetensors():
    ts = {
        "f64": torch.randn(2, 3, dtype=torch.float64),
        "f32": torch.randn(5),
        "f16": torch.randn(3, 1).half(),
        "bf16": torch.randn(4, 2).bfloat16(),
        "i64": torch.tensor([1, -2, 3 << 40]),
        "i32": torch.tensor([[7, -8]], dtype=torch.int32),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
    }
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "a.safetensors")
        safetensors_io.write(p, ts, {"k": "v", "erw.config": "{}"})
        back, meta = safetensors_io.read(p)
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
    same = all(back[k].dtype == v.dtype and back[k].shape == v.shape and torch.equal(back[k], v) for k, v in ts.items())
    check(same and meta == {"k": "v", "erw.config": "{}"} and n % 8 == 0, "safetensors round trip (F64 F32 F16 BF16 I64 I32 U8, scalar, empty, metadata)")


def test_tables():
    D, G = 64, 4
    pe = torch.from_numpy(ref.get_2d_sincos_pos_embed(D, G))
    q = D // 4
    ok = True
    for i in range(G):
        for j in range(G):
            row = pe[i * G + j]
            for k in range(q):
                w = 10000 ** (-k / q)
                exp = [math.sin(j * w), math.cos(j * w), math.sin(i * w), math.cos(i * w)]
                got = [row[k], row[q + k], row[2 * q + k], row[3 * q + k]]
                ok &= all(abs(float(a) - b) < 1e-12 for a, b in zip(got, exp))
    check(ok, "pos_embed: first D/2 = column j, last D/2 = row i, [sin, cos], w_k = 10000^(-k/(D/4))")

    d = 16  # head dim; rope dim d/2 = 8, 4 frequencies
    cos, sin = ref.rope_tables(d // 2, G)
    ok = cos.shape == (G * G, d)
    for i in range(G):
        for j in range(G):
            for f in range(d):
                half, k = divmod(f, d // 2)
                pos = i if half == 0 else j
                ang = pos * (1.0 / 10000 ** (2 * (k // 2) / (d // 2)))
                ok &= abs(float(cos[i * G + j, f]) - math.cos(ang)) < 1e-6 and abs(float(sin[i * G + j, f]) - math.sin(ang)) < 1e-6
    x = torch.arange(6.0)
    ok &= torch.equal(ref.rotate_half(x), torch.tensor([-1.0, 0, -3, 2, -5, 4]))
    check(ok, "rope tables: first d/2 rotate by row, last d/2 by column, freq 1/10000^(2k/(d/2)) pairwise; rotate_half")

    m = ref.SiT(TINY)
    N, C, H, p = 2, 4, 8, 2
    img = torch.randn(N, C, H, H)
    # patchify in the (p, q, c) order that unpatchify assumes
    tok = img.reshape(N, C, H // p, p, H // p, p).permute(0, 2, 4, 3, 5, 1).reshape(N, (H // p) ** 2, p * p * C)
    check(torch.equal(m.unpatchify(tok), img), "unpatchify nhwpqc->nchpwq inverts a (p, q, c)-ordered patchify")


def randomize(model, seed, std=0.1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n != "pos_embed":
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * std)


def fd_check(cfg, align, symmetric=False, seed=0, per_tensor=3):
    torch.manual_seed(seed)
    model = ref.SiT(cfg).double()
    randomize(model, seed)
    N, C, H = 4, cfg["in_channels"], cfg["input_size"]
    T = (H // cfg["patch_size"]) ** 2
    x = torch.randn(N, C, H, H, dtype=torch.float64)
    t = 0.05 + 0.9 * torch.rand(N, dtype=torch.float64)
    y = torch.tensor([3, cfg["num_classes"], 0, 7])
    vt = torch.randn(N, C, H, H, dtype=torch.float64)
    zt = torch.randn(N, T, cfg["z_dim"], dtype=torch.float64)

    def loss_fn():
        v, zs = model(x, t, y)
        return ref.loss_velocity(v, vt) + 0.5 * ref.loss_align(align, zs, zt, 0.1, symmetric)

    model.zero_grad()
    loss_fn().backward()
    g = torch.Generator().manual_seed(seed + 1)
    worst = worst_abs = 0.0
    h = 1e-6
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            flat = p.view(-1)
            for idx in torch.randint(0, flat.numel(), (per_tensor,), generator=g).tolist():
                if name.startswith("y_embedder"):
                    idx = int(y[idx % N]) * p.shape[1] + idx % p.shape[1]  # a row that is used
                old = flat[idx].item()
                flat[idx] = old + h
                lp = loss_fn().item()
                flat[idx] = old - h
                lm = loss_fn().item()
                flat[idx] = old
                num = (lp - lm) / (2 * h)
                ana = p.grad.view(-1)[idx].item()
                # FD round-off is ~1e-10 absolute here, so relative errors use a 1e-4 floor
                worst = max(worst, abs(num - ana) / max(1e-4, abs(num) + abs(ana)))
                worst_abs = max(worst_abs, abs(num - ana))
    tag = f"{align}{' symmetric' if symmetric else ''}, qk_norm={cfg['qk_norm']}, rope={cfg['rope']}"
    check(worst < 1e-5, f"finite differences vs autograd (float64, {tag}): worst relative error {worst:.1e}, absolute {worst_abs:.1e}")


def gradcheck_inputs():
    cfg = dict(TINY, qk_norm=True, rope=True)
    model = ref.SiT(cfg).double()
    randomize(model, 5)
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64, requires_grad=True)
    t = (0.1 + 0.8 * torch.rand(2, dtype=torch.float64)).requires_grad_()
    y = torch.tensor([1, 10])
    zt = torch.randn(2, 16, 32, dtype=torch.float64)

    def f(x, t):
        v, zs = model(x, t, y)
        return v.sum() + ref.loss_ntxent(zs, zt), ref.loss_cosine(zs, zt)

    ok = torch.autograd.gradcheck(f, (x, t), eps=1e-6, atol=1e-6, rtol=1e-5, fast_mode=True)
    check(ok, "torch.autograd.gradcheck (fast mode) w.r.t. x and t (float64, qk_norm + rope)")


def test_learned_sigma_load():
    cfg = dict(TINY)
    a = ref.SiT(cfg)
    randomize(a, 9)
    sd = {k: v.clone() for k, v in a.state_dict().items()}
    p, C, D = 2, 4, 64
    for suffix, tail in [("weight", (D,)), ("bias", ())]:
        w = sd["final_layer.linear." + suffix].reshape(p, p, C, *tail)
        sd["final_layer.linear." + suffix] = torch.cat([w, torch.randn_like(w)], dim=2).reshape(p * p * 2 * C, *tail)
    b = ref.SiT(cfg)
    ref.load_state(b, sd)
    x, t, y = torch.randn(2, 4, 8, 8), torch.rand(2), torch.tensor([1, 2])
    with torch.no_grad():
        check(torch.equal(a(x, t, y)[0], b(x, t, y)[0]), "a learned-sigma checkpoint (2C outputs) loads with its first C channels")


def test_init_and_counts(skip_xl):
    m = ref.SiT(ref.preset("SiT-S/2"))
    with torch.no_grad():
        v, zs = m(torch.randn(2, 4, 32, 32), torch.rand(2), torch.tensor([0, 1000]))
    check(float(v.abs().max()) == 0.0 and zs.shape == (2, 256, 768), "published zero init: velocity is exactly 0 at init (SiT-S/2), zs (N, 256, 768)")
    expected = {"S": (32.96, 6.56), "B": (130.5, 7.34), "L": (458.1, 7.87), "XL": (675.1, 8.13)}
    for size in ["S", "B", "L", "XL"]:
        if size == "XL" and skip_xl:
            continue
        m = ref.SiT(ref.preset(f"SiT-{size}/2"))
        back, proj = ref.count_params(m)
        eb, ep = expected[size]
        ok = abs(back / 1e6 - eb) <= 0.05 * (10 if eb > 100 else 1) and abs(proj / 1e6 - ep) < 0.005
        check(ok, f"SiT-{size}/2 parameters: backbone {back:,} ({back / 1e6:.2f}M, SPEC {eb}M) + projector {proj:,} ({proj / 1e6:.3f}M, SPEC {ep}M)")
        del m


def test_fixtures():
    here = os.path.dirname(os.path.abspath(__file__))
    fdir = os.path.normpath(os.path.join(here, "..", "..", "tests", "src", "test", "resources", "fixtures"))
    names = sorted(f for f in os.listdir(fdir) if f.startswith("sit_tiny_")) if os.path.isdir(fdir) else []
    check(len(names) >= 2, f"fixtures present in {fdir}: {names}")
    for f in names:
        ts, meta = safetensors_io.read(os.path.join(fdir, f))
        cfg = json.loads(meta["erw.config"])
        model = ref.SiT(cfg).double()
        ref.load_state(model, ts)
        v, zs = model(ts["x"].double(), ts["t"].double(), ts["y"])
        lv = ref.loss_velocity(v, ts["v_target"].double())
        la = ref.loss_align(meta["align"], zs, ts["z_target"].double(), float(meta["ntxent_tau"]), meta["ntxent_symmetric"] == "true")
        loss = lv + float(ts["lambda"]) * la
        loss.backward()
        err = max(float((v.float() - ts["velocity"]).abs().max()), float((zs.float() - ts["zs"]).abs().max()),
                  abs(float(loss) - float(ts["loss"])))
        gerr = max(float((p.grad.float() - ts["grad." + n]).abs().max()) for n, p in model.named_parameters() if p.requires_grad)
        ngrad = sum(1 for k in ts if k.startswith("grad."))
        ntrain = sum(1 for _, p in model.named_parameters() if p.requires_grad)
        check(err < 1e-6 and gerr < 1e-7 and ngrad == ntrain, f"{f} ({meta['align']}) reproduces: outputs {err:.1e}, grads {gerr:.1e}, {ngrad} grad tensors")


def test_reed_config_and_weights():
    base = ref.config_json(TINY)
    check(ref.config_json(dict(TINY, extra_projectors=[])) == base and "extra_projectors" not in base,
          "config_json: no extra_projectors key when the list is empty or absent")
    extra = [{"z_dim": 24, "pooled": 1, "projector_dim": 48, "encoder_depth": 2}]
    j = json.loads(ref.config_json(dict(TINY, extra_projectors=extra)))
    check(list(j)[-1] == "extra_projectors" and list(j["extra_projectors"][0]) == ref.EXTRA_PROJECTOR_KEYS
          and j["extra_projectors"][0]["pooled"] is True and ref.config_json(j) == ref.config_json(dict(TINY, extra_projectors=extra)),
          "config_json: extra_projectors last, keys encoder_depth, pooled, projector_dim, z_dim; round trip")
    t = torch.tensor([0.0, 0.1, 0.25, 0.5, 0.7, 1.0], dtype=torch.float64)
    expect = {"constant": lambda u: 1.0, "linear": lambda u: 1 - u, "cosine": lambda u: 0.5 * (1 + math.cos(math.pi * u)),
              "sigmoid": lambda u: 1 / (1 + math.exp((u - 0.5) * 10)), "loglinear": lambda u: 1 - math.log(u + 1),
              "cutoff": lambda u: 1.0 if 0.1 <= u <= 0.5 else 0.0}
    err = max(abs(float(w) - expect[k](float(u))) for k in expect for u, w in zip(t, ref.time_weight(k, t, 0.1, 0.5)))
    check(err < 1e-15, f"time weights constant/linear/cosine/sigmoid/loglinear/cutoff[0.1,0.5] match their formulas ({err:.1e})")


def reed_setup(cfg, seed):
    model = ref.SiT(cfg).double()
    randomize(model, seed)
    g = torch.Generator().manual_seed(seed + 7)
    N, C, H = 4, cfg["in_channels"], cfg["input_size"]
    T = (H // cfg["patch_size"]) ** 2
    x = torch.randn(N, C, H, H, generator=g, dtype=torch.float64)
    t = 0.05 + 0.9 * torch.rand(N, generator=g, dtype=torch.float64)
    y = torch.tensor([3, cfg["num_classes"], 0, 7])
    vt = torch.randn(N, C, H, H, generator=g, dtype=torch.float64)
    zts = [torch.randn(*((N,) if s["pooled"] else (N, T)), s["z_dim"], generator=g, dtype=torch.float64)
           for s in ref.projector_specs(cfg)]
    return model, x, t, y, vt, zts


def test_reed_projectors():
    extra = [{"encoder_depth": 2, "pooled": True, "projector_dim": 48, "z_dim": 24},
             {"encoder_depth": 1, "pooled": False, "projector_dim": 40, "z_dim": 8}]
    cfg = dict(TINY, extra_projectors=extra)
    model, x, t, y, _, _ = reed_setup(cfg, 21)
    with torch.no_grad():
        v, zs = model(x, t, y, return_all=True)
        v0, z0 = model(x, t, y)
        h = model.x_embedder(x) + model.pos_embed
        c = model.t_embedder(t) + model.y_embedder(y)
        h1 = model.blocks[0](h, c)
        h2 = model.blocks[1](h1, c)
        want = [model.projectors[0](h1), model.projectors[1](h2.sum(1) / h2.shape[1]), model.projectors[2](h1)]
    shapes = [tuple(z.shape) for z in zs]
    err = max(float((a - b).abs().max()) for a, b in zip(zs, want))
    names = sorted({n.rsplit(".", 1)[0] for n in model.state_dict() if n.startswith("projectors.1.")})
    check(shapes == [(4, 16, 32), (4, 24), (4, 16, 8)] and err < 1e-12 and torch.equal(v, v0) and torch.equal(z0, zs[0])
          and names == ["projectors.1.0", "projectors.1.2", "projectors.1.4"],
          f"extra projectors: per token / pooled (token mean) on their blocks, shapes {shapes}, names projectors.k.{{0,2,4}} ({err:.1e})")
    tr = dict(cfg, truncated_depth=1)
    m = ref.SiT(tr).double()
    randomize(m, 3)
    with torch.no_grad():
        v, zs = m(x, t, y, return_all=True)
        h1 = m.blocks[0](m.x_embedder(x) + m.pos_embed, m.t_embedder(t) + m.y_embedder(y))
        err = max(float((zs[0] - m.projectors[0](h1)).abs().max()), float((zs[1] - m.projectors[1](h1.mean(1))).abs().max()))
    check(v is None and len(zs) == 3 and err < 1e-12, "truncated (warmup) model: every projector reads its last block")


def fd_check_reed(kind, seed=4, per_tensor=2):
    extra = [{"encoder_depth": 2, "pooled": True, "projector_dim": 48, "z_dim": 24}]
    cfg = dict(TINY, extra_projectors=extra)
    model, x, t, y, vt, zts = reed_setup(cfg, seed)
    coefs, lam, w_diff = (1.0, 0.5), 0.4, 0.3

    def loss_fn():
        v, zs = model(x, t, y, return_all=True)
        return ref.loss_reed(v, vt, zs, zts, t, coefs, lam, w_diff, kind, 0.2, 0.8)[0]

    model.zero_grad()
    loss_fn().backward()
    g = torch.Generator().manual_seed(seed + 1)
    worst = worst_abs = 0.0
    h = 1e-6
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            flat = p.view(-1)
            for idx in torch.randint(0, flat.numel(), (per_tensor,), generator=g).tolist():
                if name.startswith("y_embedder"):
                    idx = int(y[idx % 4]) * p.shape[1] + idx % p.shape[1]
                old = flat[idx].item()
                flat[idx] = old + h
                lp = loss_fn().item()
                flat[idx] = old - h
                lm = loss_fn().item()
                flat[idx] = old
                num = (lp - lm) / (2 * h)
                ana = p.grad.view(-1)[idx].item()
                worst = max(worst, abs(num - ana) / max(1e-4, abs(num) + abs(ana)))
                worst_abs = max(worst_abs, abs(num - ana))
    check(worst < 1e-5, f"finite differences vs autograd (float64, REED loss, 2 targets one pooled, time weight {kind}): "
                        f"worst relative error {worst:.1e}, absolute {worst_abs:.1e}")


def test_reed_fixture():
    here = os.path.dirname(os.path.abspath(__file__))
    f = os.path.normpath(os.path.join(here, "..", "..", "tests", "src", "test", "resources", "fixtures", "reed_tiny_two_targets.safetensors"))
    if not os.path.isfile(f):
        check(False, f"fixture {f} present")
        return
    ts, meta = safetensors_io.read(f)
    cfg = json.loads(meta["erw.config"])
    model = ref.SiT(cfg).double()
    ref.load_state(model, ts)
    v, zs = model(ts["x"].double(), ts["t"].double(), ts["y"], return_all=True)
    sfx = lambda k: "" if k == 0 else f".{k}"  # noqa: E731
    zts = [ts["z_target" + sfx(k)].double() for k in range(len(zs))]
    coefs = [float(c) for c in meta["coefs"].split(",")]
    lo, hi = (float(c) for c in meta["time_cutoffs"].split(","))
    loss, lv, la, terms = ref.loss_reed(v, ts["v_target"].double(), zs, zts, ts["t"].double(), coefs, float(ts["lambda"]),
                                        float(ts["w_diff"]), meta["time_weight"], lo, hi)
    loss.backward()
    outs = [(v, "velocity"), (loss, "loss"), (lv, "loss_v"), (la, "loss_align")] + [(z, "zs" + sfx(k)) for k, z in enumerate(zs)] \
        + [(term, f"loss_align.{k}") for k, term in enumerate(terms)]
    err = max(float((a.float().reshape(ts[n].shape) - ts[n]).abs().max()) for a, n in outs)
    gerr = max(float((p.grad.float() - ts["grad." + n]).abs().max()) for n, p in model.named_parameters() if p.requires_grad)
    ngrad = sum(1 for k in ts if k.startswith("grad."))
    ntrain = sum(1 for _, p in model.named_parameters() if p.requires_grad)
    check(err < 1e-6 and gerr < 1e-7 and ngrad == ntrain and len(zs) == 2,
          f"reed_tiny_two_targets.safetensors reproduces: outputs {err:.1e}, grads {gerr:.1e}, {ngrad} grad tensors")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-xl", action="store_true", help="skip building SiT-XL/2 (2.7 GB)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # tiny ops: threads only add overhead on a shared machine
    test_safetensors()
    test_tables()
    for cfg, align, sym in [(TINY, "cosine", False), (TINY, "ntxent", False), (TINY, "ntxent", True),
                            (dict(TINY, qk_norm=True), "cosine", False), (dict(TINY, rope=True), "ntxent", False),
                            (dict(TINY, qk_norm=True, rope=True, encoder_depth=2), "cosine", False)]:
        fd_check(cfg, align, sym)
    gradcheck_inputs()
    test_learned_sigma_load()
    test_init_and_counts(args.skip_xl)
    test_fixtures()
    test_reed_config_and_weights()
    test_reed_projectors()
    for kind in ["linear", "sigmoid", "cutoff"]:
        fd_check_reed(kind)
    test_reed_fixture()
    print(f"{len(FAILS)} failure(s)")
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
