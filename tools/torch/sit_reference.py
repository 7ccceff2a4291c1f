"""PyTorch reference of erw's SiT + projector + losses (/work/shared/design/SPEC.md sections 1-3, 6).

Written to follow the published SiT / REPA / ERW `models/sit.py` line by line, with the same
state_dict names, so that a checkpoint of either side loads in the other. Differences from the
published code are only the ones SPEC asks for (learned sigma off, losses averaged over every sample).

Config (dict, JSON keys as in erw's `SiTConfig.toJson`):
    depth, hidden_size, num_heads, patch_size, input_size, in_channels, num_classes,
    encoder_depth (1-based block whose output the projector reads), projector_dim, z_dim,
    mlp_ratio, qk_norm, rope
  optional: truncated_depth (> 0: the ERW Phase-1 warmup model: only that many blocks, no final
  layer, every projector on the last block; forward then returns (None, zs)).
  optional: extra_projectors (REED, arXiv 2507.08980: more alignment targets): a list of
  {"encoder_depth": B, "pooled": bool, "projector_dim": H, "z_dim": Z}. Extra projector k = 1, 2, ...
  is `projectors.k` (the same build_mlp: Linear(D,H) SiLU Linear(H,H) SiLU Linear(H,Z)) on the output
  of block B (1-based): per token -> (N, T, Z), or pooled: on the token mean x.mean(dim=1) -> (N, Z).
  Projector 0 is the config's own (encoder_depth, projector_dim, z_dim), per token.

Usage:
    from sit_reference import SiT, loss_velocity, loss_cosine, loss_ntxent
    model = SiT(cfg).double()
    v, zs = model(x, t, y)                    # zs of projector 0
    v, zs_all = model(x, t, y, return_all=True)   # [zs0, zs1, ...], one per projector
    loss, loss_v, loss_align, terms = loss_reed(v, v_target, zs_all, z_targets, t, coefs, lam, w_diff, "linear")
"""
import json
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG_KEYS = ["depth", "hidden_size", "num_heads", "patch_size", "input_size", "in_channels", "num_classes",
               "encoder_depth", "projector_dim", "z_dim", "mlp_ratio", "qk_norm", "rope"]

DEFAULTS = {"mlp_ratio": 4.0, "qk_norm": False, "rope": False}

# (depth, hidden, heads) of the published presets
SIZES = {"S": (12, 384, 6), "B": (12, 768, 12), "L": (24, 1024, 16), "XL": (28, 1152, 16)}


def preset(name, **over):
    """'SiT-XL/2' etc. on ImageNet-256 latents (32x32x4, 1000 classes, projector 2048 -> 768 at depth 8),
    or 'tiny' (the Fashion-MNIST default of erw: 32x32x1, patch 4, D 192, depth 6, heads 3)."""
    if name == "tiny":
        cfg = dict(depth=6, hidden_size=192, num_heads=3, patch_size=4, input_size=32, in_channels=1,
                   num_classes=10, encoder_depth=2, projector_dim=512, z_dim=64, mlp_ratio=4.0,
                   qk_norm=False, rope=False)
    else:
        size, p = name[len("SiT-"):].split("/")
        d, h, nh = SIZES[size.upper()]
        cfg = dict(depth=d, hidden_size=h, num_heads=nh, patch_size=int(p), input_size=32, in_channels=4,
                   num_classes=1000, encoder_depth=8, projector_dim=2048, z_dim=768, mlp_ratio=4.0,
                   qk_norm=False, rope=False)
    cfg.update(over)
    return cfg


EXTRA_PROJECTOR_KEYS = ["encoder_depth", "pooled", "projector_dim", "z_dim"]


def _extra_projectors(raw):
    """The extra_projectors list checked and in canonical form (keys in EXTRA_PROJECTOR_KEYS order)."""
    if raw is None:
        return []
    if not isinstance(raw, (list, tuple)):
        raise ValueError("model config: extra_projectors must be a list")
    out = []
    for i, e in enumerate(raw):
        if not isinstance(e, dict):
            raise ValueError(f"model config: extra_projectors[{i}] must be an object")
        for k in EXTRA_PROJECTOR_KEYS:
            if k not in e:
                raise ValueError(f"model config: extra_projectors[{i}]: missing key '{k}'")
        unknown = sorted(set(e) - set(EXTRA_PROJECTOR_KEYS))
        if unknown:
            raise ValueError(f"model config: extra_projectors[{i}]: unknown keys {unknown}")
        out.append({"encoder_depth": int(e["encoder_depth"]), "pooled": bool(e["pooled"]),
                    "projector_dim": int(e["projector_dim"]), "z_dim": int(e["z_dim"])})
    return out


def normalize_config(cfg):
    """Fills defaults, checks required keys; unknown keys are kept (and ignored by the model).
    extra_projectors, when present, is put in canonical form."""
    if isinstance(cfg, str):
        cfg = json.loads(cfg)
    out = dict(DEFAULTS)
    out.update(cfg)
    for k in CONFIG_KEYS:
        if k not in out:
            raise ValueError(f"model config: missing key '{k}'")
    if "extra_projectors" in out:
        out["extra_projectors"] = _extra_projectors(out["extra_projectors"])
    return out


def projector_specs(cfg):
    """Every projector as {"encoder_depth", "pooled", "projector_dim", "z_dim"}: projector 0 (the
    config's own, per token) first, then the extra ones."""
    cfg = normalize_config(cfg)
    first = {"encoder_depth": int(cfg["encoder_depth"]), "pooled": False, "projector_dim": int(cfg["projector_dim"]),
             "z_dim": int(cfg["z_dim"])}
    return [first] + list(cfg.get("extra_projectors") or [])


def config_json(cfg):
    """The config as JSON with exactly CONFIG_KEYS (plus truncated_depth when set, then extra_projectors
    when non-empty, each with keys encoder_depth, pooled, projector_dim, z_dim), in that order."""
    cfg = normalize_config(cfg)
    o = {k: cfg[k] for k in CONFIG_KEYS}
    o["mlp_ratio"] = float(o["mlp_ratio"])
    o["qk_norm"] = bool(o["qk_norm"])
    o["rope"] = bool(o["rope"])
    if cfg.get("truncated_depth", 0):
        o["truncated_depth"] = int(cfg["truncated_depth"])
    extra = cfg.get("extra_projectors") or []
    if extra:
        o["extra_projectors"] = [dict(e) for e in extra]
    return json.dumps(o)


# ----------------------------------------------------------------------------------------------
# fixed tables

def get_1d_sincos_pos_embed_from_grid(embed_dim, pos):
    omega = np.arange(embed_dim // 2, dtype=np.float64)
    omega /= embed_dim / 2.0
    omega = 1.0 / 10000 ** omega
    pos = pos.reshape(-1)
    out = np.einsum("m,d->md", pos, omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def get_2d_sincos_pos_embed(embed_dim, grid_size):
    """MAE's table, (grid*grid, D), float64. Row-major tokens; first D/2 dims encode the column."""
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.meshgrid(grid_w, grid_h)  # w first, as MAE
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_size, grid_size])
    emb_h = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[0])
    emb_w = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[1])
    return np.concatenate([emb_h, emb_w], axis=1)


def rope_tables(dim, grid):
    """LightningDiT's VisionRotaryEmbeddingFast(dim=d/2, pt_seq_len=grid): (grid*grid, 2*dim) cos and sin.

    freqs_k = 1/10000^(2k/dim), k < dim/2, each repeated pairwise; the first `dim` features of a token
    rotate by its row index, the last `dim` by its column index (row-major tokens)."""
    freqs = 1.0 / (10000 ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
    t = torch.arange(grid) / grid * grid
    f = torch.einsum("i,f->if", t, freqs)
    f = torch.repeat_interleave(f, 2, dim=-1)  # (grid, dim): f0 f0 f1 f1 ...
    rows = f[:, None, :].expand(grid, grid, dim)
    cols = f[None, :, :].expand(grid, grid, dim)
    full = torch.cat([rows, cols], dim=-1).reshape(grid * grid, 2 * dim)
    return full.cos(), full.sin()


def rotate_half(x):
    x = x.reshape(*x.shape[:-1], -1, 2)
    x1, x2 = x.unbind(dim=-1)
    return torch.stack((-x2, x1), dim=-1).reshape(*x.shape[:-2], -1)


def modulate(x, shift, scale):
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


# ----------------------------------------------------------------------------------------------
# modules (names = published state_dict names)

class PatchEmbed(nn.Module):
    def __init__(self, patch, in_ch, dim):
        super().__init__()
        self.patch_size = patch
        self.proj = nn.Conv2d(in_ch, dim, kernel_size=patch, stride=patch, bias=True)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # (N, T, D), row-major tokens


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden, freq_size=256):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(freq_size, hidden, bias=True), nn.SiLU(), nn.Linear(hidden, hidden, bias=True))
        self.frequency_embedding_size = freq_size

    @staticmethod
    def timestep_embedding(t, dim, max_period=10000):
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(0, half, dtype=t.dtype, device=t.device) / half)
        args = t[:, None] * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb

    def forward(self, t):
        return self.mlp(self.timestep_embedding(t, self.frequency_embedding_size))


class LabelEmbedder(nn.Module):
    def __init__(self, num_classes, hidden, dropout_prob=0.1):
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + 1, hidden)  # row num_classes = null class
        self.num_classes = num_classes
        self.dropout_prob = dropout_prob

    def forward(self, labels, train=False, generator=None):
        if train and self.dropout_prob > 0:
            drop = torch.rand(labels.shape[0], device=labels.device, generator=generator) < self.dropout_prob
            labels = torch.where(drop, torch.full_like(labels, self.num_classes), labels)
        return self.embedding_table(labels)


class Attention(nn.Module):
    def __init__(self, dim, num_heads, qk_norm=False):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.q_norm = nn.LayerNorm(self.head_dim) if qk_norm else nn.Identity()  # eps 1e-5, affine
        self.k_norm = nn.LayerNorm(self.head_dim) if qk_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, rope=None):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B, h, N, d)
        q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = rope(q), rope(k)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class SiTBlock(nn.Module):
    def __init__(self, hidden, num_heads, mlp_ratio=4.0, qk_norm=False):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden, num_heads, qk_norm=qk_norm)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(hidden, int(hidden * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden, bias=True))

    def forward(self, x, c, rope=None):
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=-1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa), rope=rope)
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    def __init__(self, hidden, patch, out_ch):
        super().__init__()
        self.norm_final = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden, patch * patch * out_ch, bias=True)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden, bias=True))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class VisionRotaryEmbeddingFast(nn.Module):
    def __init__(self, dim, grid):
        super().__init__()
        cos, sin = rope_tables(dim, grid)
        self.register_buffer("freqs_cos", cos)
        self.register_buffer("freqs_sin", sin)

    def forward(self, t):
        return t * self.freqs_cos + rotate_half(t) * self.freqs_sin


def build_mlp(hidden, projector_dim, z_dim):
    return nn.Sequential(nn.Linear(hidden, projector_dim), nn.SiLU(), nn.Linear(projector_dim, projector_dim), nn.SiLU(),
                         nn.Linear(projector_dim, z_dim))


class SiT(nn.Module):
    def __init__(self, cfg, class_dropout_prob=0.1):
        super().__init__()
        cfg = normalize_config(cfg)
        self.cfg = cfg
        D = cfg["hidden_size"]
        p = cfg["patch_size"]
        self.in_channels = cfg["in_channels"]
        self.out_channels = cfg["in_channels"]  # learned sigma off
        self.patch_size = p
        self.num_heads = cfg["num_heads"]
        self.truncated_depth = int(cfg.get("truncated_depth", 0) or 0)
        n_blocks = self.truncated_depth if self.truncated_depth > 0 else cfg["depth"]
        self.encoder_depth = self.truncated_depth if self.truncated_depth > 0 else cfg["encoder_depth"]
        specs = projector_specs(cfg)
        for k, s in enumerate(specs[1:], start=1):
            if not 1 <= s["encoder_depth"] <= cfg["depth"]:
                raise ValueError(f"model config: projector {k} reads block {s['encoder_depth']}, depth is {cfg['depth']}")
        # block (1-based) each projector reads; the warmup model: the last block of the truncated model
        self.projector_depths = [self.truncated_depth if self.truncated_depth > 0 else s["encoder_depth"] for s in specs]
        self.projector_pooled = [s["pooled"] for s in specs]
        grid = cfg["input_size"] // p
        self.x_embedder = PatchEmbed(p, cfg["in_channels"], D)
        self.t_embedder = TimestepEmbedder(D)
        self.y_embedder = LabelEmbedder(cfg["num_classes"], D, class_dropout_prob)
        pe = torch.from_numpy(get_2d_sincos_pos_embed(D, grid)).float().unsqueeze(0)
        self.pos_embed = nn.Parameter(pe, requires_grad=False)  # as published: a frozen Parameter (saved)
        # RoPE is off in the ERW warmup model (SPEC section 4)
        use_rope = bool(cfg["rope"]) and self.truncated_depth == 0
        if bool(cfg["rope"]):
            self.feat_rope = VisionRotaryEmbeddingFast(D // cfg["num_heads"] // 2, grid)
        else:
            self.feat_rope = None
        self.use_rope = use_rope
        self.blocks = nn.ModuleList([SiTBlock(D, cfg["num_heads"], cfg["mlp_ratio"], bool(cfg["qk_norm"])) for _ in range(n_blocks)])
        self.projectors = nn.ModuleList([build_mlp(D, s["projector_dim"], s["z_dim"]) for s in specs])
        self.final_layer = FinalLayer(D, p, self.out_channels) if self.truncated_depth == 0 else None
        self.initialize_weights()

    def initialize_weights(self):
        """SPEC section 1 init (the published one): xavier Linear, zero adaLN and final layer."""
        def _basic_init(m):
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
        self.apply(_basic_init)
        w = self.x_embedder.proj.weight.data
        nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
        nn.init.constant_(self.x_embedder.proj.bias, 0)
        nn.init.normal_(self.y_embedder.embedding_table.weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        for b in self.blocks:
            nn.init.constant_(b.adaLN_modulation[-1].weight, 0)
            nn.init.constant_(b.adaLN_modulation[-1].bias, 0)
        if self.final_layer is not None:
            nn.init.constant_(self.final_layer.adaLN_modulation[-1].weight, 0)
            nn.init.constant_(self.final_layer.adaLN_modulation[-1].bias, 0)
            nn.init.constant_(self.final_layer.linear.weight, 0)
            nn.init.constant_(self.final_layer.linear.bias, 0)

    def unpatchify(self, x):
        c = self.out_channels
        p = self.patch_size
        h = w = int(x.shape[1] ** 0.5)
        x = x.reshape(x.shape[0], h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, w * p)

    def forward(self, x, t, y, train_label_dropout=False, generator=None, return_zs=True, return_all=False):
        """x (N,C,H,W), t (N) in [0,1], y (N) long -> (velocity (N,C,H,W) or None if truncated, zs (N,T,Z)).
        return_zs=False skips the projectors (zs is None), as a sampler needs only the velocity.
        return_all=True: the second value is the list of every projector's output [zs0, zs1, ...]
        (per token (N,T,Z_k), pooled (N,Z_k)) instead of zs0 alone."""
        x = self.x_embedder(x) + self.pos_embed
        N, T, D = x.shape
        c = self.t_embedder(t) + self.y_embedder(y, train_label_dropout, generator)
        rope = self.feat_rope if self.use_rope else None
        want = list(range(len(self.projectors))) if return_all else [0]
        outs = [None] * len(self.projectors)
        for i, block in enumerate(self.blocks):
            x = block(x, c, rope=rope)
            if not return_zs:
                continue
            for k in want:
                if self.projector_depths[k] != i + 1:
                    continue
                if self.projector_pooled[k]:
                    outs[k] = self.projectors[k](x.mean(dim=1))  # (N, Z), REED's token mean
                else:
                    outs[k] = self.projectors[k](x.reshape(-1, D)).reshape(N, T, -1)
        zs = (outs if return_all else outs[0]) if return_zs else None
        if self.final_layer is None:
            return None, zs
        x = self.final_layer(x, c)
        return self.unpatchify(x), zs

    def trainable_names(self):
        return [n for n, p in self.named_parameters() if p.requires_grad]


def count_params(model):
    """(backbone incl. pos_embed, projector) parameter counts."""
    proj = sum(p.numel() for n, p in model.named_parameters() if n.startswith("projectors."))
    total = sum(p.numel() for p in model.parameters())
    return total - proj, proj


# ----------------------------------------------------------------------------------------------
# losses (SPEC sections 2, 3)

def loss_velocity(v_pred, v_target):
    """mean over (C,H,W), then over the batch == mean over everything."""
    return ((v_pred - v_target) ** 2).mean()


def loss_cosine(zs, z_target):
    """REPA: -(1/(N T)) sum_{n,j} cos(zs_nj, z_target_nj)."""
    return -(F.normalize(zs, dim=-1) * F.normalize(z_target, dim=-1)).sum(-1).mean()


def loss_ntxent(zs, z_target, tau=0.1, symmetric=False):
    """Per token position j: logits = normalize(zs[:, j]) @ normalize(z_target[:, j]).T / tau (N x N),
    cross-entropy with targets arange(N); mean over n and j. Symmetric: average with logits.T."""
    N, T, Z = zs.shape
    u = F.normalize(zs, dim=-1).transpose(0, 1)  # (T, N, Z)
    w = F.normalize(z_target, dim=-1).transpose(0, 1)
    logits = u @ w.transpose(1, 2) / tau  # (T, N, N): [j, n, m]
    target = torch.arange(N, device=zs.device).repeat(T)
    l = F.cross_entropy(logits.reshape(T * N, N), target)
    if symmetric:
        lt = F.cross_entropy(logits.transpose(1, 2).reshape(T * N, N), target)
        l = 0.5 * (l + lt)
    return l


def loss_align(kind, zs, z_target, tau=0.1, symmetric=False):
    if kind == "cosine":
        return loss_cosine(zs, z_target)
    if kind == "ntxent":
        return loss_ntxent(zs, z_target, tau, symmetric)
    raise ValueError(f"unknown alignment loss {kind}")


# ----------------------------------------------------------------------------------------------
# REED (arXiv 2507.08980): several alignment targets, per-sample time weights

TIME_WEIGHTS = ["constant", "linear", "cosine", "sigmoid", "loglinear", "cutoff"]


def time_weight(kind, t, lo=0.0, hi=1.0):
    """REED's per-sample weight w_t(t) of the alignment loss (t (N), 1 = noise):
    constant 1; linear 1 - t; cosine (1 + cos(pi t))/2; sigmoid 1/(1 + exp(10 (t - 0.5)));
    loglinear 1 - ln(t + 1); cutoff 1 where lo <= t <= hi, else 0."""
    if kind == "constant":
        return torch.ones_like(t)
    if kind == "linear":
        return 1 - t
    if kind == "cosine":
        return 0.5 * (1 + torch.cos(math.pi * t))
    if kind == "sigmoid":
        return 1 / (1 + torch.exp((t - 0.5) * 10))
    if kind == "loglinear":
        return 1 - torch.log(t + 1)
    if kind == "cutoff":
        return ((t >= lo) & (t <= hi)).to(t.dtype)
    raise ValueError(f"unknown time weight {kind}; one of {TIME_WEIGHTS}")


def align_per_sample(z_pred, z_target):
    """-(mean over the sample's tokens of cos(z_pred, z_target)), (N): z (N,T,Z) per token or (N,Z)
    pooled (one token). Cosines with F.normalize (norms clamped at 1e-12)."""
    cos = (F.normalize(z_pred, dim=-1) * F.normalize(z_target, dim=-1)).sum(-1)
    if cos.dim() == 2:
        cos = cos.mean(dim=1)
    return -cos


def loss_reed_term(z_pred, z_target, w):
    """One target's term: mean over the batch of w_i * align_i (w: the time weights, (N))."""
    return (w * align_per_sample(z_pred, z_target)).mean()


def loss_reed(v_pred, v_target, zs_all, z_targets, t, coefs, lam, w_diff=1.0, time_weight_kind="constant",
              lo=0.0, hi=1.0):
    """loss = w_diff * loss_v + lam * sum_k coefs[k] * term_k.
    Returns (loss, loss_v, loss_align = sum_k coefs[k] term_k, [term_0, term_1, ...])."""
    if not (len(zs_all) == len(z_targets) == len(coefs)):
        raise ValueError(f"{len(zs_all)} projections, {len(z_targets)} targets, {len(coefs)} coefficients")
    w = time_weight(time_weight_kind, t, lo, hi)
    lv = loss_velocity(v_pred, v_target)
    terms = [loss_reed_term(z, zt, w) for z, zt in zip(zs_all, z_targets)]
    la = sum(c * term for c, term in zip(coefs, terms))
    return w_diff * lv + lam * la, lv, la, terms


# ----------------------------------------------------------------------------------------------
# sampler (SPEC section 6)

@torch.no_grad()
def euler_maruyama(model, z, y, num_steps=250, cfg_scale=1.0, guidance_low=0.0, guidance_high=1.0, generator=None,
                   stop_after=None):
    """SDE sampler of REPA/ERW for the linear path: t grid linspace(1, 0.04, K) then 0 (K model calls).
    Time grid in float64, model in its own dtype. stop_after: return the state after that many of
    the K-1 stochastic steps (for timing a long schedule by a prefix)."""
    dtype = z.dtype
    t_steps = torch.linspace(1.0, 0.04, num_steps, dtype=torch.float64)
    t_steps = torch.cat([t_steps, torch.tensor([0.0], dtype=torch.float64)])
    use_cfg = cfg_scale > 1.0
    null = torch.full_like(y, model.cfg["num_classes"])
    x = z.to(torch.float64)

    def drift(x_cur, t_cur):
        if use_cfg and guidance_low <= t_cur <= guidance_high:
            xin = torch.cat([x_cur, x_cur]).to(dtype)
            yin = torch.cat([y, null])
        else:
            xin, yin = x_cur.to(dtype), y
        tin = torch.full((xin.shape[0],), float(t_cur), dtype=dtype)
        v, _ = model(xin, tin, yin, return_zs=False)
        v = v.to(torch.float64)
        if xin.shape[0] != x_cur.shape[0]:
            vc, vu = v.chunk(2)
            v = vu + cfg_scale * (vc - vu)
        score = -(x_cur + (1 - t_cur) * v) / t_cur
        w = 2 * t_cur
        return v - 0.5 * w * score, w

    for i, (t_cur, t_next) in enumerate(zip(t_steps[:-2], t_steps[1:-1])):
        if stop_after is not None and i >= stop_after:
            return x.to(dtype)
        dt = t_next - t_cur
        d, w = drift(x, t_cur)
        eps = torch.randn(x.shape, generator=generator, dtype=torch.float64)
        x = x + d * dt + torch.sqrt(w) * torch.sqrt(torch.abs(dt)) * eps
    t_cur, t_next = t_steps[-2], t_steps[-1]
    d, _ = drift(x, t_cur)
    x = x + d * (t_next - t_cur)
    return x.to(dtype)


@torch.no_grad()
def ode_sample(velocity, x, y, num_steps, heun=True, cfg_scale=1.0, guidance_low=0.0, guidance_high=1.0, null_class=None):
    """erw's ODE samplers (sampler/Sampler.java, SPEC section 6) step for step, in erw's precision:
    t grid linspace(1, 0, K+1) in float64; the state x in float32; each update computed in float64 and
    rounded to float32 once; the model sees t as float32. Euler: x <- x + (t'-t) v. Heun: x~ = x + (t'-t) v,
    x <- x + (t'-t)(v/2 + v(x~, t')/2), plain Euler on the last step. CFG (scale != 1, and
    guidance_low <= t <= guidance_high for the step's start t, also for Heun's second slope): one call on
    2N rows (conditional, then the null class), v = v_u + s (v_c - v_u) in float64, rounded to float32.
    velocity(x (M,C,H,W) float32, t (M) float32, y (M) long) -> (M,C,H,W). Returns the samples (float32)."""
    t_steps = torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)
    x = x.float().clone()
    guided = cfg_scale != 1.0
    if guided and null_class is None:
        raise ValueError("classifier-free guidance needs the null class id")

    def field(x_cur, t_cur, guide):
        if guide:
            xin, yin = torch.cat([x_cur, x_cur]), torch.cat([y, torch.full_like(y, null_class)])
        else:
            xin, yin = x_cur, y
        v = velocity(xin, torch.full((xin.shape[0],), float(t_cur), dtype=torch.float32), yin).float()
        if not guide:
            return v
        vc, vu = v.double().chunk(2)
        return (vu + cfg_scale * (vc - vu)).float()

    for i in range(num_steps):
        t_cur, t_next = float(t_steps[i]), float(t_steps[i + 1])
        dt = t_next - t_cur
        guide = guided and guidance_low <= t_cur <= guidance_high
        v = field(x, t_cur, guide)
        if not heun or i == num_steps - 1:
            x = (x.double() + dt * v.double()).float()
            continue
        x_tilde = (x.double() + dt * v.double()).float()
        v2 = field(x_tilde, t_next, guide)
        x = (x.double() + dt * (0.5 * v.double() + 0.5 * v2.double())).float()
    return x


# ----------------------------------------------------------------------------------------------
# checkpoints

def load_state(model, tensors, prefix="", strict_missing=True):
    """Copies tensors named `prefix + <model state name>` into the model (cast to its dtype); extra
    tensors are ignored. Published learned-sigma checkpoints (final layer with 2C outputs) keep
    the first C channels. Returns the list of names that were missing (only buffers that the model
    recomputes, pos_embed and feat_rope.*, may be missing unless strict_missing is False)."""
    state = model.state_dict()
    missing = []
    for name, dst in state.items():
        src = tensors.get(prefix + name)
        if src is None:
            missing.append(name)
            continue
        src = src.to(torch.float64)
        if name.startswith("final_layer.linear.") and src.shape != dst.shape and src.shape[0] == 2 * dst.shape[0]:
            p, c = model.patch_size, model.out_channels
            src = src.reshape(p, p, 2 * c, *src.shape[1:])[:, :, :c].reshape(dst.shape)
        if tuple(src.shape) != tuple(dst.shape):
            raise ValueError(f"tensor {prefix + name}: shape {list(src.shape)}, model wants {list(dst.shape)}")
        dst.copy_(src.to(dst.dtype))
    hard = [m for m in missing if not (m == "pos_embed" or m.startswith("feat_rope."))]
    if hard and strict_missing:
        raise ValueError(f"checkpoint lacks {len(hard)} model tensors, e.g. {hard[:5]}")
    return missing
