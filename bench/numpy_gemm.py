"""Peer benchmark: float32 GEMM throughput of numpy's BLAS (OpenBLAS on Debian).

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/numpy_gemm.py 2048x2048x2048 4096x1152x384 4096x384x1536

Each shape is MxNxK: C (M,N) = A (M,K) @ B (K,N), 2*M*N*K flops. Threads: OPENBLAS_NUM_THREADS
(default 2; also sets OMP/MKL thread counts if unset). After a warmup, the best of --repeats timed
calls (each timing covers enough calls to last >= --min-time seconds) is reported, one JSON line per
shape: {"shape", "m", "n", "k", "threads", "gflops", "best_s", "blas"}.
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_v, os.environ["OPENBLAS_NUM_THREADS"])

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def blas_library():
    """The BLAS shared library actually mapped into this process (resolving Debian's alternatives)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path).lower()
                if any(s in name for s in ("blas", "mkl", "blis")) and "lapack" not in name:
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(libs)


def main():
    ap = argparse.ArgumentParser(description="float32 numpy matmul GFLOP/s")
    ap.add_argument("shapes", nargs="*", default=["2048x2048x2048", "4096x1152x384", "4096x384x1536"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    np.ones((8, 8), np.float32) @ np.ones((8, 8), np.float32)  # load BLAS
    blas = blas_library()
    for s in args.shapes:
        m, n, k = (int(v) for v in s.lower().split("x"))
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        np.matmul(a, b, out=c)  # warmup
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        one = time.perf_counter() - t0
        calls = max(1, int(args.min_time / max(one, 1e-9)))
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for _ in range(calls):
                np.matmul(a, b, out=c)
            best = min(best, (time.perf_counter() - t0) / calls)
        print(json.dumps({"shape": s, "m": m, "n": n, "k": k, "threads": int(os.environ["OPENBLAS_NUM_THREADS"]),
                          "gflops": round(2.0 * m * n * k / best / 1e9, 2), "best_s": best, "numpy": np.__version__,
                          "blas": blas}), flush=True)


if __name__ == "__main__":
    main()
