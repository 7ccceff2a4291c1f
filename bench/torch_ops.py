"""Peer benchmark per op: PyTorch's forward and backward times of the non-GEMM hot spots of a SiT step, to set next
to `./erw bench train --profile` (its ms/call column), for the two CPU benchmark configs.

    OMP_WAIT_POLICY=PASSIVE OPENBLAS_CORETYPE=SKYLAKEX /usr/bin/python3 bench/torch_ops.py [--threads 2]

Ops as SiT's PyTorch code runs them (tools/torch/sit_reference.py): attention as (scale q) k^T, softmax, @ v on
the (B, T, 3, H, D) qkv; LayerNorm without affine (eps 1e-6); tanh GELU on the MLP's hidden width; adaLN's
modulate x * (1 + scale) + shift and the gated residual r + gate * x with per-sample (B, 1, C) vectors. One line
per op: medians of --repeats timed calls after 3 untimed ones, forward and backward (autograd) separately.
Note: erw's profile over a few steps includes C2's compilation for the ops that run only a few times per step
(SiLU, the adaLN chunks); compare ops that run many times, or run erw with more --steps.
"""
import argparse
import time

import torch

CONFIGS = {"tiny b64": (64, 64, 3, 64), "SiT-S/2 b8": (8, 256, 6, 64)}  # batch, tokens, heads, head dim


def timed(fn, grad, repeats):
    for _ in range(3):
        fn().backward(grad)
    fwd, bwd = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        t1 = time.perf_counter()
        out.backward(grad)
        t2 = time.perf_counter()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
    fwd.sort()
    bwd.sort()
    return fwd[repeats // 2] * 1e3, bwd[repeats // 2] * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for name, (b, t, h, d) in CONFIGS.items():
        c = h * d
        qkv = torch.randn(b, t, 3, h, d, requires_grad=True)

        def attention():
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
            a = ((q * d ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
            return (a @ v).transpose(1, 2).reshape(b, t, c)

        x = torch.randn(b, t, c, requires_grad=True)
        r = torch.randn(b, t, c, requires_grad=True)
        hidden = torch.randn(b, t, 4 * c, requires_grad=True)
        shift, scale, gate = (torch.randn(b, 1, c, requires_grad=True) for _ in range(3))
        ln = torch.nn.LayerNorm(c, elementwise_affine=False, eps=1e-6)
        gelu = torch.nn.GELU(approximate="tanh")
        g, gh = torch.randn(b, t, c), torch.randn(b, t, 4 * c)
        ops = [("attention", attention, g), ("layernorm", lambda: ln(x), g), ("gelu", lambda: gelu(hidden), gh),
               ("modulate", lambda: x * (1 + scale) + shift, g), ("gated_residual", lambda: r + gate * x, g)]
        for op, fn, grad in ops:
            f, bw = timed(fn, grad, args.repeats)
            print(f"{name:12s} {op:16s} forward {f:8.3f} ms  backward {bw:8.3f} ms", flush=True)


if __name__ == "__main__":
    main()
