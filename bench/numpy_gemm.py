"""Peer benchmark: float32 GEMM throughput of numpy's BLAS (OpenBLAS on Debian).

    OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/numpy_gemm.py 2048x2048x2048 4096x1152x384 4096x384x1536

Each shape is MxNxK: C (M,N) = A (M,K) @ B (K,N), 2*M*N*K flops. Threads: OPENBLAS_NUM_THREADS
(default 2; also sets OMP/MKL thread counts if unset). After a warmup, the best of --repeats timed
calls (each timing covers enough calls to last >= --min-time seconds) is reported, one JSON line per
shape: {"shape", "m", "n", "k", "threads", "gflops", "best_s", "blas"}.

--best: the peer at its best on this machine. The script runs itself once per configuration (as installed;
with LD_LIBRARY_PATH at each other BLAS build installed under /usr/lib/x86_64-linux-gnu, since Debian's
libblas.so.3 alternative may be the reference BLAS; with each OPENBLAS_CORETYPE the CPU supports, since
OpenBLAS 0.3.21 misdetects some CPUs) and prints per shape the fastest, with "config", "default_gflops"
(as installed) and "tried" (every configuration's figure).
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_v, os.environ["OPENBLAS_NUM_THREADS"])

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import subprocess  # noqa: E402
import sys  # noqa: E402

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


LIBDIR = "/usr/lib/x86_64-linux-gnu"
BLAS_DIRS = ["openblas-pthread", "openblas-openmp", "openblas-serial", "blis-pthread", "blis-openmp"]


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def candidates(blas):
    """Peer configurations to try: the default, other BLAS builds installed beside the one numpy loads
    (Debian's libblas.so.3 alternative may point at the slow reference BLAS), and OpenBLAS core types
    this CPU can run (OpenBLAS 0.3.21 misdetects some CPUs and falls back to a slow kernel)."""
    flags = cpu_flags()
    cores = [c for c, need in (("HASWELL", "avx2"), ("ZEN", "avx2"), ("SKYLAKEX", "avx512f"), ("COOPERLAKE", "avx512_bf16"),
                               ("SAPPHIRERAPIDS", "amx_bf16")) if need in flags]
    # numpy may map several BLAS libraries (Debian's liblapack pulls OpenBLAS in beside a reference
    # libblas); the one that serves sgemm is libblas.so.3's target
    reference = any("/blas/libblas" in b for b in blas)
    dirs = [None] + [d for d in BLAS_DIRS if os.path.exists(os.path.join(LIBDIR, d, "libblas.so.3"))
                     and os.path.realpath(os.path.join(LIBDIR, d, "libblas.so.3")) not in blas]
    if not reference:  # numpy's libblas is already one of these builds: no need to preload another
        dirs = [None]
    out = []
    for d in dirs:
        lib = os.path.join(LIBDIR, d) if d else None
        out.append({"dir": lib})
        if (d or "").startswith("openblas") or (d is None and not reference and any("openblas" in b for b in blas)):
            out += [{"dir": lib, "coretype": c} for c in cores]
    return out


def describe(cfg):
    parts = []
    if cfg.get("dir"):
        parts.append("LD_LIBRARY_PATH=" + cfg["dir"])
    if cfg.get("coretype"):
        parts.append("OPENBLAS_CORETYPE=" + cfg["coretype"])
    return " ".join(parts) or "as installed"


def best_of_configs(args):
    """Runs this script once per candidate configuration; per shape, prints the best and the default."""
    blas = blas_library()
    results = {}
    for cfg in candidates(blas):
        env = dict(os.environ)
        env.pop("OPENBLAS_CORETYPE", None)
        if cfg.get("dir"):
            env["LD_LIBRARY_PATH"] = cfg["dir"] + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        if cfg.get("coretype"):
            env["OPENBLAS_CORETYPE"] = cfg["coretype"]
        cmd = [sys.executable, os.path.abspath(__file__), "--repeats", str(args.repeats), "--min-time", str(args.min_time)] + args.shapes
        try:
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600).stdout
        except subprocess.TimeoutExpired:
            continue
        for line in out.splitlines():
            if line.startswith("{"):
                j = json.loads(line)
                j["config"] = describe(cfg)
                results.setdefault(j["shape"], []).append(j)
    for s in args.shapes:
        rs = results.get(s, [])
        if not rs:
            continue
        best = max(rs, key=lambda j: j["gflops"])
        default = rs[0]
        out = dict(best)
        out["default_gflops"] = default["gflops"]
        out["default_blas"] = default["blas"]
        out["tried"] = {j["config"]: j["gflops"] for j in rs}
        print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser(description="float32 numpy matmul GFLOP/s")
    ap.add_argument("shapes", nargs="*", default=["2048x2048x2048", "4096x1152x384", "4096x384x1536"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--best", action="store_true", help="try the installed BLAS builds and OpenBLAS core types; report the best "
                    "(with its configuration) and the default per shape")
    args = ap.parse_args()
    if args.best:
        best_of_configs(args)
        return
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
