"""A PyTorch reference of the Stable Diffusion VAE (diffusers' AutoencoderKL), written out here because
diffusers is not installed, with diffusers' module names so that its state_dict keys are the keys of
`diffusion_pytorch_model.safetensors` (stabilityai/sd-vae-ft-mse). Also writes the fixtures that erw's
VAE tests compare against.

    /usr/bin/python3 tools/torch/vae_reference.py [--config tiny|sd] [--latent-side 8] [--batch 2] [--out FILE]

tiny (the committed fixture tests/src/test/resources/fixtures/vae_tiny.safetensors): block_out_channels
(16, 32, 32), layers_per_block 2, norm_num_groups 8, 4 latent channels, 8x8 latents (32x32 images), batch 2.
sd: the SD VAE (128, 256, 512, 512), 2 layers, 32 groups: with --latent-side 32 the issue's full-size check
(256x256 images, 335 MB of weights; written to /tmp, not committed; run erw's test on it with
-Derw.vae.fixture=FILE, see VaeParityTest).

The fixture holds the weights under diffusers' names (F32, drawn in float32 so the stored values are the
ones used), `input.images` (N,3,H,W) in [-1,1], `input.latents` (N,4,h,w) ~ N(0,1), and the outputs of the
float64 run rounded to F32: `expected.moments` = quant_conv(encoder(images)) (N,8,h,w) and `expected.decoded`
= decoder(post_quant_conv(latents)) (N,3,H,W). Metadata: norm_num_groups, scaling_factor.
Weights: conv/linear ~ N(0, 1/fan_in), biases ~ N(0, 0.05^2), norm weights 1 + N(0, 0.1^2).
"""
import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

EPS = 1e-6


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=EPS)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    """diffusers' Attention as the VAE's mid block uses it: one head, group norm, residual."""

    def __init__(self, c, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, c, eps=EPS)
        self.to_q, self.to_k, self.to_v = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c), nn.Dropout(0.0)])

    def forward(self, x):
        n, c, h, w = x.shape
        t = self.group_norm(x).view(n, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(t), self.to_k(t), self.to_v(t)
        a = torch.softmax(q @ k.transpose(1, 2) / c ** 0.5, dim=-1) @ v
        o = self.to_out[0](a).transpose(1, 2).reshape(n, c, h, w)
        return o + x


class MidBlock(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, groups), ResnetBlock2D(c, c, groups)])
        self.attentions = nn.ModuleList([Attention(c, groups)])

    def forward(self, x):
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class Downsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1), mode="constant", value=0))


class Upsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    def __init__(self, cin, cout, layers, groups, down):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if down else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return self.downsamplers[0](x) if self.downsamplers is not None else x


class UpBlock(nn.Module):
    def __init__(self, cin, cout, layers, groups, up):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, groups) for i in range(layers + 1)])
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if up else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return self.upsamplers[0](x) if self.upsamplers is not None else x


class Encoder(nn.Module):
    def __init__(self, cin, latent, ch, layers, groups):
        super().__init__()
        self.conv_in = nn.Conv2d(cin, ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList(
            [DownBlock(ch[0] if i == 0 else ch[i - 1], ch[i], layers, groups, i < len(ch) - 1) for i in range(len(ch))])
        self.mid_block = MidBlock(ch[-1], groups)
        self.conv_norm_out = nn.GroupNorm(groups, ch[-1], eps=EPS)
        self.conv_out = nn.Conv2d(ch[-1], 2 * latent, 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for b in self.down_blocks:
            x = b(x)
        return self.conv_out(F.silu(self.conv_norm_out(self.mid_block(x))))


class Decoder(nn.Module):
    def __init__(self, cout, latent, ch, layers, groups):
        super().__init__()
        rev = list(reversed(ch))
        self.conv_in = nn.Conv2d(latent, rev[0], 3, padding=1)
        self.mid_block = MidBlock(rev[0], groups)
        self.up_blocks = nn.ModuleList(
            [UpBlock(rev[max(i - 1, 0)], rev[i], layers, groups, i < len(ch) - 1) for i in range(len(ch))])
        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps=EPS)
        self.conv_out = nn.Conv2d(ch[0], cout, 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for b in self.up_blocks:
            x = b(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    def __init__(self, in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
                 layers_per_block=2, norm_num_groups=32, scaling_factor=0.18215):
        super().__init__()
        self.encoder = Encoder(in_channels, latent_channels, block_out_channels, layers_per_block, norm_num_groups)
        self.decoder = Decoder(out_channels, latent_channels, block_out_channels, layers_per_block, norm_num_groups)
        self.quant_conv = nn.Conv2d(2 * latent_channels, 2 * latent_channels, 1)
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1)
        self.scaling_factor = scaling_factor

    def moments(self, images):
        """[mean, logvar] of the posterior (N, 2L, h, w)."""
        return self.quant_conv(self.encoder(images))

    def posterior(self, images):
        mean, logvar = torch.chunk(self.moments(images), 2, dim=1)
        return mean, torch.exp(0.5 * torch.clamp(logvar, -30.0, 20.0))

    def decode(self, z):
        """Unscaled latents to images."""
        return self.decoder(self.post_quant_conv(z))


CONFIGS = {
    "tiny": dict(block_out_channels=(16, 32, 32), layers_per_block=2, norm_num_groups=8),
    "sd": dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32),
}


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if "norm" in name:
                p.copy_(1 + 0.1 * r if name.endswith(".weight") else 0.05 * r)
            elif name.endswith(".bias"):
                p.copy_(0.05 * r)
            else:
                p.copy_(r / (p[0].numel() ** 0.5))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="tiny")
    ap.add_argument("--latent-side", type=int, default=8)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = args.out or os.path.normpath(os.path.join(here, "..", "..", "tests", "src", "test", "resources", "fixtures", "vae_tiny.safetensors"))
    cfg = CONFIGS[args.config]
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    vae = AutoencoderKL(**cfg)
    randomize(vae, args.seed)
    g = torch.Generator().manual_seed(args.seed + 1)
    f = 2 ** (len(cfg["block_out_channels"]) - 1)
    side = args.latent_side * f
    # a smooth image plus noise, in [-1, 1]
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, side), torch.linspace(-1, 1, side), indexing="ij")
    smooth = torch.stack([torch.sin(3 * xx + c) * torch.cos(2 * yy - c) for c in range(3)])
    images = (0.7 * smooth.unsqueeze(0) + 0.3 * torch.rand((args.batch, 3, side, side), generator=g) * 2 - 0.3).clamp(-1, 1).float()
    latents = torch.randn((args.batch, 4, args.latent_side, args.latent_side), generator=g, dtype=torch.float32)
    state = {k: v.detach().clone() for k, v in vae.state_dict().items()}
    vae64 = vae.double()
    with torch.no_grad():
        moments = vae64.moments(images.double()).float()
        decoded = vae64.decode(latents.double()).float()
    tensors = dict(state)
    tensors["input.images"] = images
    tensors["input.latents"] = latents
    tensors["expected.moments"] = moments
    tensors["expected.decoded"] = decoded
    meta = {"norm_num_groups": str(cfg["norm_num_groups"]), "scaling_factor": "0.18215", "format": "erw-vae-fixture"}
    safetensors_io.write(out, {k: v.contiguous() for k, v in tensors.items()}, meta)
    n = sum(v.numel() for v in state.values())
    print(f"{out}: {len(state)} weight tensors ({n:,} parameters), images {tuple(images.shape)}, "
          f"moments |max| {moments.abs().max():.4g}, decoded |max| {decoded.abs().max():.4g}")


if __name__ == "__main__":
    main()
