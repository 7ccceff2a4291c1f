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

--serve: stays up and answers requests on stdin, "MxNxK [repeats]" a line, with one JSON line each (best of the
repeats, one call each). `erw bench gemm` times erw and this peer back to back on each shape that way.
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
    ap.add_argument("--serve", action="store_true", help="answer timing requests on stdin (MxNxK [repeats]), one JSON line each")
    ap.add_argument("--best", action="store_true", help="try the installed BLAS builds and OpenBLAS core types; report the best "
                    "(with its configuration) and the default per shape")
    args = ap.parse_args()
    if args.best:
        best_of_configs(args)
        return
    rng = np.random.default_rng(0)
    np.ones((8, 8), np.float32) @ np.ones((8, 8), np.float32)  # load BLAS
    blas = blas_library()
    if args.serve:
        serve(args, rng, blas)
        return
    for s in args.shapes:
        print(json.dumps(measure(s, args.repeats, args.min_time, rng, blas, {})), flush=True)


def measure(shape, repeats, min_time, rng, blas, operands):
    """One shape's best of `repeats` timings, each over enough calls to last >= min_time seconds (one call when 0);
    the operands are made (and warmed up) once per shape and kept in `operands`."""
    m, n, k = (int(v) for v in shape.lower().split("x"))
    if shape not in operands:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        c = np.empty((m, n), np.float32)
        np.matmul(a, b, out=c)  # warmup
        operands[shape] = (a, b, c)
    a, b, c = operands[shape]
    t0 = time.perf_counter()
    np.matmul(a, b, out=c)
    one = time.perf_counter() - t0
    calls = max(1, int(min_time / max(one, 1e-9)))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            np.matmul(a, b, out=c)
        best = min(best, (time.perf_counter() - t0) / calls)
    return {"shape": shape, "m": m, "n": n, "k": k, "threads": int(os.environ["OPENBLAS_NUM_THREADS"]),
            "gflops": round(2.0 * m * n * k / best / 1e9, 2), "best_s": best, "numpy": np.__version__, "blas": blas}


def serve(args, rng, blas):
    """--serve: one request a line on stdin, "MxNxK [repeats]", one JSON line back (best of the repeats, one call
    each: --min-time is not used), until stdin closes. `erw bench gemm` keeps this process and times the peer right
    after erw on the same shape, so both figures come from the same minute of a shared machine."""
    operands = {}
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        repeats = int(words[1]) if len(words) > 1 else args.repeats
        print(json.dumps(measure(words[0], repeats, 0.0, rng, blas, operands)), flush=True)

if __name__ == "__main__":
    main()
