#!/usr/bin/env python3
"""tools/gpu/check: a complete device check of erw on a lent GPU machine, from the bundle of tools/gpu/bundle.

Stages (each with its own time budget; a stage or item that fails or runs out of time is reported and
the check goes on):
  1 devices   nvidia-smi (GPU, driver, CUDA), nvcc, PyTorch, the OpenCL platforms, and the devices
              TornadoVM sees with each backend the machine can start (PTX where libcuda.so.1 loads,
              OpenCL where a platform is found)
  2 parity    engine-tornado's tests (every op forward and backward, a SiT forward, sampler steps, ERW
              training steps, residency) on the device against the CPU backend, JUnit console launcher; on
              PTX the training steps once more replayed as CUDA graphs (-Derw.tornado.cudaGraph=true)
  3 train     erw's training step (erw bench train --in-process: forward, velocity + alignment loss,
              backward, clip, AdamW, EMA) for tiny (on a GPU; SiT-S/2 and SiT-B/2 run in stage 7), batch 64,
              on TornadoVM's OpenCL/PTX (on PTX also replayed as CUDA graphs) and on the CPU backend: median
              step time, img/s, peak RSS and peak device memory
  4 torch     bench/torch_train_step.py on the same GPU and configs: fp32, TF32, bf16 autocast, and
              torch.compile (fp32) where it works
  5 sample    SDE sampling (250 steps, CFG 1.8 on t in [0, 0.7]) of one checkpoint with erw (TornadoVM
              and CPU, tools/gpu/SampleBench.java) and PyTorch (bench/torch_sample.py) from the same noise
              (erw's Philox streams): samples/s and the differences of the samples
  6 vae       SD-VAE decoding (random weights of the SD shape, 32x32x4 latents -> 256x256 images; the
              tiny fixture VAE in smoke mode): erw bench vae on TornadoVM and on the CPU, bench/torch_vae.py
              on CUDA (fp32, TF32 off): seconds per batch
  7 cublas    TornadoVM's own cuBLAS library-task programs (SGEMM, TF32, GemmEx FP16, SGEMV under CUDA-graph
              capture) on its CUDA backend, from the bundle's tornado-cuda part, with PyTorch's NVIDIA
              libraries (cuBLAS, NVRTC) on LD_LIBRARY_PATH: does the path erw's GEMMs take work here? Then
              erw itself on that backend, where its GEMMs are cuBLAS library tasks (erw/cublas): CublasTest
              and OpParityTest against the CPU backend, then the training step of SiT-B/2 in bf16 (also
              replayed as CUDA graphs), tf32 and fp32, SiT-S/2 in bf16 and tiny in fp32 (also as CUDA graphs, and
              with TornadoVM's profiler: device kernels vs transfers vs the rest of a step), the SDE sampler in
              fp32 and bf16, reported with the ratios to PyTorch in the same math
              mode (stage 4) in the training tables.
              In smoke mode each program is only resolved (java --dry-run)
Outputs in --out (default $OUT, else build/gpu-check-out): gpu-check.md (the report), gpu-check.json
(all results) and gpu-check-logs.tar.xz (raw logs, JUnit XML). The report is rewritten after every stage.

Modes: gpu (an NVIDIA GPU answers nvidia-smi; budgets sum to < 8 minutes) or smoke (no GPU: PoCL,
the tiny model only, few steps, a subset of the parity tests; GPU-only parts reported as skipped).
Environment overrides: ERW_CHECK_DEADLINE (s), ERW_CHECK_BUDGET_<stage> (s), ERW_CHECK_MODE.
"""
import argparse
import array
import ctypes  # noqa: F401  (used in the probe scripts' text)
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGES = {1: "devices", 2: "parity", 3: "erw training", 4: "PyTorch training", 5: "sampling", 6: "VAE decoding", 7: "cuBLAS library tasks"}
BUDGETS = {"gpu": {1: 45, 2: 70, 3: 40, 4: 70, 5: 50, 6: 20, 7: 215}, "smoke": {1: 240, 2: 900, 3: 2400, 4: 900, 5: 2400, 6: 900, 7: 120}}
CUBLAS_TESTS = [("TestCuBlasSgemm", ["1024"], "Result is correct"), ("TestCuBlasSgemmTF32", ["2048"], "Result is correct"),
                ("TestCuBlasGemmExFP16", ["1024"], "Result is correct"), ("TestCuBlasSgemvWithTasksCudaGraph", [], "All iterations correct")]
DEADLINE = {"gpu": 510, "smoke": 7200}
VAE = {"gpu": dict(batch=4, side=32, vae=None), "smoke": dict(batch=2, side=8, vae="tests/src/test/resources/fixtures/vae_tiny.safetensors")}
TRAIN = {  # model -> (batch, tornado (warmup, steps, cap s), cpu (warmup, steps, cap s))
    "gpu": [("tiny", 64, (3, 20, 60), (1, 5, 30)), ("SiT-S/2", 64, (2, 10, 80), (1, 2, 45)), ("SiT-B/2", 64, (2, 5, 90), (1, 2, 60))],
    "smoke": [("tiny", 8, (1, 1, 1500), (1, 2, 400))],
}
TORCH_PRESET = {"tiny": "tiny", "SiT-S/2": "sit-s2", "SiT-B/2": "sit-b2"}
SAMPLE = {"gpu": dict(preset="tiny", n=64, steps=250, cfg=1.8, lo=0.0, hi=0.7, seed=0),
          "smoke": dict(preset="tiny", n=8, steps=10, cfg=1.8, lo=0.0, hi=0.7, seed=0)}
SMOKE_PARITY = ["--select-class", "erw.engine.tornado.DeviceExecutionTest", "--select-class", "erw.engine.tornado.SamplerStepParityTest",
                "--select-class", "erw.engine.tornado.ResidencyTest", "--select-class", "erw.engine.tornado.OpParityTest"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def untimed(data):
    """The untimed (warm-up) steps' seconds of an erw bench train result: the first compiles a device backend's kernels."""
    u = data.get("untimed_step_s")
    return " + ".join(f"{x:.1f}" for x in u) + " s" if u else "?"


def now():
    return time.monotonic()


def fmt_s(s):
    return "-" if s is None else f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def tail(text, n=12):
    lines = [ANSI.sub("", x) for x in text.splitlines() if x.strip() and "Using incubator modules" not in x]
    return "\n".join(lines[-n:])


def read_f32(path, name):
    """A float32 tensor of a safetensors file as (shape, array('f'))."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        info = header[name]
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {info['dtype']}")
        b, e = info["data_offsets"]
        f.seek(8 + n + b)
        a = array.array("f")
        a.frombytes(f.read(e - b))
        if sys.byteorder != "little":
            a.byteswap()
        return info["shape"], a


class GpuMem:
    """Peak GPU memory in use (nvidia-smi, sampled every 100 ms) while a command runs, minus the level before."""

    def __init__(self, smi, path):
        self.smi, self.path, self.proc, self.base = smi, path, None, None

    def query(self):
        try:
            out = subprocess.run([self.smi, "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                                 capture_output=True, text=True, timeout=15).stdout
            return float(out.split()[0])
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            return None

    def __enter__(self):
        if self.smi:
            self.base = self.query()
            self.f = open(self.path, "w")
            self.proc = subprocess.Popen([self.smi, "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0", "-lms", "100"],
                                         stdout=self.f, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.f.close()

    def peak(self):
        """(peak MiB in use, MiB in use before), or (None, None)."""
        if not self.proc:
            return None, None
        vals = []
        for line in open(self.path):
            try:
                vals.append(float(line.strip()))
            except ValueError:
                pass
        return (max(vals) if vals else None), self.base


class Check:
    def __init__(self, a):
        self.t0 = now()
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.args = a
        self.out = os.path.abspath(a.out)
        self.work = os.path.abspath(a.work)
        self.logs = os.path.join(self.work, "logs")
        self.bundle = os.path.abspath(a.bundle)
        self.results = []       # items: stage, name, status (pass|fail|timeout|skip), seconds, detail, data
        self.stage_info = {}    # stage -> dict(status, seconds, budget, note)
        self.env = {}           # what stage 1 found
        self.targets = []       # TornadoVM targets: dict(label, variant, device, name)
        self.mode = None
        self.stage = None
        self.stage_end = None
        self.deadline = None
        self.manifest = {}
        self.python = shutil.which("python3") or sys.executable
        for d in (self.out, self.logs):
            os.makedirs(d, exist_ok=True)
        self.progress_log = open(os.path.join(self.logs, "progress.log"), "a")

    # ------------------------------------------------------------------ plumbing
    def say(self, msg):
        line = f"[check +{now() - self.t0:5.0f}s] {msg}"
        print(line, flush=True)
        self.progress_log.write(line + "\n")
        self.progress_log.flush()

    def left(self):
        """Seconds left to this stage (and to the whole check)."""
        g = self.deadline - (now() - self.t0)
        return max(0.0, min(g, self.stage_end - now()) if self.stage_end else g)

    def item(self, name, status, seconds=None, detail="", data=None):
        r = dict(stage=self.stage, name=name, status=status, seconds=seconds, detail=detail, data=data or {})
        self.results.append(r)
        self.say(f"  {status.upper():7s} {name} ({fmt_s(seconds)}){': ' + detail.splitlines()[0][:160] if detail else ''}")
        return r

    def measured(self, name, cmd, cap, sample_gpu, base, env=None, cwd=None):
        """Runs cmd (self.run) with the GPU's memory sampled when sample_gpu; returns (result, its JSON lines, data): base,
        updated with the last JSON line and the GPU memory peak and the level before."""
        mem = GpuMem(self.smi if sample_gpu else None, os.path.join(self.logs, "gpumem.tmp"))
        with mem:
            r = self.run(name, cmd, cap, env=env, cwd=cwd)
        j = json_lines(r["text"]) if r else []
        data = dict(base, **(j[-1] if j else {}))
        peak, before = mem.peak()
        if peak is not None:
            data.update(gpu_mem_peak_mib=peak, gpu_mem_before_mib=before)
        return r, j, data

    def run(self, name, cmd, cap, env=None, cwd=None, min_s=5):
        """Runs cmd with a timeout of min(cap, time left); output to logs/<name>.log. Returns dict(rc, seconds, timed_out, text, log)
        or None when too little time is left (the caller reports the item as skipped)."""
        timeout = min(cap, self.left())
        log = os.path.join(self.logs, re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".log")
        if timeout < min_s:
            return None
        e = dict(os.environ)
        e.update(env or {})
        with open(log, "w") as f:
            f.write(f"$ {' '.join(shlex.quote(c) for c in cmd)}\n# timeout {timeout:.0f} s, cwd {cwd or os.getcwd()}\n")
            f.flush()
            start = f.tell()
            t = now()
            try:
                p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=e, cwd=cwd, start_new_session=True)
            except OSError as ex:
                f.write(f"cannot start: {ex}\n")
                return dict(rc=127, seconds=0.0, timed_out=False, text=f"cannot start: {ex}", log=log)
            timed_out = False
            try:
                rc = p.wait(timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(p.pid, sig)
                    except ProcessLookupError:
                        break
                    try:
                        p.wait(8)
                        break
                    except subprocess.TimeoutExpired:
                        continue
                rc = p.returncode if p.returncode is not None else -9
            secs = now() - t
        with open(log, errors="replace") as f:
            f.seek(start)
            text = f.read()
        with open(log, "a") as f:
            f.write(f"\n# exit {rc}{' (killed: time budget of %.0f s spent)' % timeout if timed_out else ''} after {secs:.1f} s\n")
        return dict(rc=rc, seconds=secs, timed_out=timed_out, text=text, log=log, timeout=timeout)

    def outcome(self, name, r, ok, detail_ok="", data=None):
        """Records a run: skip (no time), timeout, fail (rc != 0 or not ok) or pass."""
        if r is None:
            return self.item(name, "skip", None, "no time left in this stage's budget")
        if r["timed_out"]:
            return self.item(name, "timeout", r["seconds"], f"killed after {r['timeout']:.0f} s; log tail:\n" + tail(r["text"]), data)
        if r["rc"] != 0 or not ok:
            return self.item(name, "fail", r["seconds"], f"exit {r['rc']}; log tail:\n" + tail(r["text"]), data)
        return self.item(name, "pass", r["seconds"], detail_ok, data)

    # ------------------------------------------------------------------ the bundle
    def unpack(self):
        mf = os.path.join(self.bundle, "MANIFEST.txt")
        if not os.path.isfile(mf):
            raise SystemExit(f"[check] no bundle at {self.bundle} (MANIFEST.txt missing): run tools/gpu/bundle first, "
                             "and carry build/gpu-bundle to the GPU machine")
        text = open(mf).read()
        for line in text.splitlines():
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                self.manifest[k] = v
        dest = os.path.join(self.work, "bundle")
        stamp = os.path.join(dest, "MANIFEST.txt")
        if os.path.isfile(stamp) and open(stamp).read() == text:
            self.say(f"bundle already unpacked in {dest}")
        else:
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(dest)
            t = now()
            for part in ("jdk", "tornado", "tornado-cuda", "erw"):
                arc = os.path.join(self.bundle, part + ".tar.xz")
                if part == "tornado-cuda" and not os.path.isfile(arc):
                    continue
                if shutil.which("tar") and shutil.which("xz"):
                    subprocess.run(["tar", "-C", dest, "-xJf", arc], check=True)
                else:
                    with tarfile.open(arc, "r:xz") as tf:
                        tf.extractall(dest)
            shutil.copy(mf, stamp)
            self.say(f"bundle unpacked into {dest} in {now() - t:.1f} s")
        self.b = dest
        self.java = os.path.join(dest, "jdk", "bin", "java")
        tv = os.path.join(dest, "tornado")
        self.tv = tv
        self.tv_jars = os.path.join(tv, "jars")
        e = os.path.join(dest, "erw")
        self.erw_mp = [os.path.join(e, "erw-cli.jar"), os.path.join(e, "lib")]
        self.erw_tornado_jar = os.path.join(e, "erw-engine-tornado.jar")
        self.tests_jar = os.path.join(e, "erw-engine-tornado-tests.jar")
        self.junit_jar = os.path.join(e, "junit-platform-console-standalone.jar")
        self.tools_jar = os.path.join(e, "gpu-tools.jar")
        self.erw_cp = [self.erw_tornado_jar, os.path.join(e, "erw-cli.jar")] + sorted(
            os.path.join(e, "lib", j) for j in os.listdir(os.path.join(e, "lib")))

    def argfile(self, variant):
        """TornadoVM's JVM flags for one backend: the SDK's template with the bundle's paths, the other backend's
        modules and flags removed, and no --module-path (each command gives its own)."""
        other = {"opencl": "ptx", "ptx": "opencl"}[variant]
        skip = False

        def drop_other(s):
            nonlocal skip
            if s.startswith("# ==="):
                skip = s.startswith(f"# === {other}-exports")
            if skip:
                return None
            if s.startswith("--add-modules") or s.startswith("--enable-native-access="):
                opt, _, mods = s.partition(" ") if s.startswith("--add-modules") else s.partition("=")
                keep = [m for m in mods.split(",") if m and m != f"tornado.drivers.{other}"]
                return opt + (" " if opt == "--add-modules" else "=") + ",".join(keep)
            return None if f"tornado.drivers.{other}" in s else s
        return self.write_argfile(f"tornado-argfile-{variant}", self.tv, drop_other)

    def write_argfile(self, name, home, edit=lambda s: s):
        """An SDK's tornado-argfile.template (in home) for the bundle: no --module-path (each command gives its own), the
        bundle's Graal jars, home's native libraries and paths; edit(line) may rewrite a line or drop it (None)."""
        path = os.path.join(self.work, name)
        out = []
        for line in open(os.path.join(home, "tornado-argfile.template")):
            s = edit(line.rstrip("\n"))
            if s is None or s.startswith("--module-path"):
                continue
            if s.startswith("--upgrade-module-path"):
                s = "--upgrade-module-path " + os.path.join(self.tv, "graalJars")
            elif s.startswith("-Djava.library.path="):
                s = "-Djava.library.path=" + os.path.join(home, "lib")
            out.append(s.replace("${TORNADOVM_HOME}", home))
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
        return path

    def tv_modpath(self, variant):
        return [self.tv_jars, os.path.join(self.tv, variant)]

    def jvm_env(self):
        env = {"TORNADOVM_HOME": self.tv, "TORNADO_SDK": self.tv}
        env.update(self.env.get("extra_env", {}))
        return env

    def heap(self, fraction):
        mem = self.env.get("mem_kb") or 8 * 2**20
        return f"-Xmx{max(2, int(mem * fraction / 2**20))}g"

    def tornado_cmd(self, target, main_args, heap=0.5, classpath=None):
        t = target
        cmd = [self.java, "@" + self.argfile(t["variant"]), "--add-modules", "jdk.incubator.vector",
               "--enable-native-access=ALL-UNNAMED" + (",erw.engine,erw.engine.tornado" if classpath is None else ""), "-Xss4m", self.heap(heap)]
        if t.get("device", 0):
            cmd.append(f"-Dtornado.device={t['device']}")
        if t.get("mem_mib"):  # TornadoVM caps what it allocates on a device at 4 GB unless told (tornado.device.memory)
            cmd.append(f"-Dtornado.device.memory={max(1024, int(t['mem_mib'] * 0.9))}MB")
        if classpath is None:
            cmd += ["--module-path", os.pathsep.join(self.tv_modpath(t["variant"]) + self.erw_mp + [self.erw_tornado_jar])]
        else:
            cmd += ["--module-path", os.pathsep.join(self.tv_modpath(t["variant"]))] + (["-cp", os.pathsep.join(classpath)] if classpath else [])
        return cmd + main_args

    def cpu_cmd(self, main_args, heap=0.6):
        return [self.java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED,erw.engine", "-Xss4m", "-XX:-UseFPUForSpilling",
                "-XX:+UseSerialGC", "-Xmn16m", self.heap(heap), "--module-path", os.pathsep.join(self.erw_mp)] + main_args

    # ------------------------------------------------------------------ stage 1
    def probe_py(self, code, env=None, timeout=60):
        try:
            e = dict(os.environ)
            e.update(env or {})
            r = subprocess.run([self.python, "-c", code], capture_output=True, text=True, timeout=timeout, env=e)
            j = json_lines(r.stdout)
            return j[-1] if j else {"error": (r.stderr or r.stdout).strip()[-500:]}
        except (OSError, subprocess.SubprocessError) as ex:
            return {"error": str(ex)}

    def detect(self):
        env = self.env
        env["uname"] = " ".join(os.uname())
        env["nproc"] = os.cpu_count()
        try:
            cpu = [x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")]
            env["cpu"] = cpu[0] if cpu else "?"
            env["mem_kb"] = int(next(x.split()[1] for x in open("/proc/meminfo") if x.startswith("MemTotal")))
        except (OSError, StopIteration):
            pass
        smi = shutil.which("nvidia-smi")
        env["nvidia_smi"] = smi
        self.smi = None
        if smi:
            r = self.run("1-nvidia-smi", [smi], 30)
            if r and r["rc"] == 0:
                self.smi = smi
                m = re.search(r"CUDA Version:\s*([0-9.]+)", r["text"])
                env["cuda_driver_api"] = m.group(1) if m else None
                m = re.search(r"Driver Version:\s*([0-9.]+)", r["text"])
                env["driver"] = m.group(1) if m else None
                q = self.run("1-nvidia-smi-query", [smi, "--query-gpu=index,name,driver_version,memory.total,memory.used,compute_cap,pci.bus_id",
                                                    "--format=csv"], 30)
                env["gpus"] = [x.strip() for x in q["text"].splitlines() if x.strip() and not x.startswith("index")] if q and q["rc"] == 0 else []
            self.outcome("nvidia-smi", r, r is not None and r["rc"] == 0,
                         f"driver {env.get('driver')}, CUDA {env.get('cuda_driver_api')}, {len(env.get('gpus', []))} GPU(s)")
        else:
            self.item("nvidia-smi", "skip", None, "nvidia-smi not found: no NVIDIA driver on this machine")
        nvcc = shutil.which("nvcc") or next((p for p in ("/usr/local/cuda/bin/nvcc",) if os.path.exists(p)), None)
        if nvcc:
            r = self.run("1-nvcc", [nvcc, "--version"], 20)
            m = re.search(r"release ([0-9.]+)", r["text"]) if r else None
            env["nvcc"] = m.group(1) if m else None
            self.outcome("nvcc --version", r, r is not None and r["rc"] == 0, f"CUDA toolkit {env['nvcc']}")
        else:
            self.item("nvcc --version", "skip", None, "nvcc not found")
        self.mode = self.args.mode if self.args.mode != "auto" else ("gpu" if self.smi else "smoke")
        self.say(f"mode: {self.mode}")

        # native libraries (loaded in a child python, as the JVMs will)
        native = os.path.join(self.tv, "native")
        libs = self.probe_py(
            "import ctypes, json\nr = {}\nfor n in ['libcuda.so.1', 'libnvidia-ml.so.1', 'libOpenCL.so.1', 'libnvidia-opencl.so.1']:\n"
            "    try:\n        ctypes.CDLL(n); r[n] = True\n    except OSError:\n        r[n] = False\nprint(json.dumps(r))")
        env["libs"] = libs
        extra = {}
        if not libs.get("libOpenCL.so.1") and os.path.exists(os.path.join(native, "libOpenCL.so.1")):
            extra["LD_LIBRARY_PATH"] = native + (os.pathsep + os.environ["LD_LIBRARY_PATH"] if os.environ.get("LD_LIBRARY_PATH") else "")
            env["opencl_loader"] = "bundled ocl-icd (" + native + ")"
        elif libs.get("libOpenCL.so.1"):
            env["opencl_loader"] = "system"
        vendors = "/etc/OpenCL/vendors"
        icds = sorted(os.listdir(vendors)) if os.path.isdir(vendors) else []
        if libs.get("libnvidia-opencl.so.1") and not any("nvidia" in open(os.path.join(vendors, x)).read().lower() for x in icds):
            vd = os.path.join(self.work, "ocl-vendors")
            os.makedirs(vd, exist_ok=True)
            for x in icds:
                shutil.copy(os.path.join(vendors, x), vd)
            with open(os.path.join(vd, "nvidia.icd"), "w") as f:
                f.write("libnvidia-opencl.so.1\n")
            extra["OCL_ICD_VENDORS"] = vd
            env["opencl_icd"] = f"added nvidia.icd ({vd}) to {icds or 'no'} system ICDs"
        env["extra_env"] = extra
        plats = self.probe_py(
            "import ctypes, json\n"
            "try:\n    cl = ctypes.CDLL('libOpenCL.so.1')\nexcept OSError as e:\n    print(json.dumps({'error': str(e)})); raise SystemExit\n"
            "n = ctypes.c_uint(0)\nrc = cl.clGetPlatformIDs(0, None, ctypes.byref(n))\nout = []\n"
            "if rc == 0 and n.value:\n    ids = (ctypes.c_void_p * n.value)()\n    cl.clGetPlatformIDs(n.value, ids, None)\n"
            "    for p in ids:\n        b = ctypes.create_string_buffer(256)\n        cl.clGetPlatformInfo(ctypes.c_void_p(p), 0x0902, 256, b, None)\n"
            "        out.append(b.value.decode(errors='replace'))\nprint(json.dumps({'rc': rc, 'platforms': out}))", env=extra)
        env["opencl_platforms"] = plats.get("platforms", [])
        self.item("OpenCL platforms", "pass" if env["opencl_platforms"] else "skip", None,
                  ", ".join(env["opencl_platforms"]) or f"none ({plats.get('error') or 'clGetPlatformIDs rc %s' % plats.get('rc')})")
        torch_info = self.probe_py(
            "import json, sys\ntry:\n    import torch\nexcept Exception as e:\n    print(json.dumps({'error': repr(e)})); sys.exit()\n"
            "c = torch.cuda.is_available()\nprint(json.dumps({'torch': torch.__version__, 'cuda_available': c, 'cuda': torch.version.cuda,"
            " 'cudnn': torch.backends.cudnn.version() if c else None, 'gpu': torch.cuda.get_device_name(0) if c else None,"
            " 'compile': hasattr(torch, 'compile'), 'python': sys.version.split()[0]}))", timeout=120)
        env["torch"] = torch_info
        if "error" in torch_info:
            self.item("PyTorch", "skip", None, f"{self.python}: {torch_info['error'][:200]}")
        else:
            self.item("PyTorch", "pass", None, f"{torch_info['torch']} (python {torch_info['python']}), CUDA {'available: ' + str(torch_info['gpu']) if torch_info['cuda_available'] else 'not available'}")
        r = self.run("1-java-version", [self.java, "-version"], 30)
        env["java"] = next((x.strip() for x in r["text"].splitlines() if " version " in x), None) if r and r["rc"] == 0 else None
        self.outcome("bundled JDK", r, r is not None and r["rc"] == 0, env["java"] or "")

        # TornadoVM, one backend at a time
        variants = []
        if os.listdir(os.path.join(self.tv, "ptx")):
            if libs.get("libcuda.so.1") and libs.get("libnvidia-ml.so.1"):
                variants.append("ptx")
            else:
                self.item("TornadoVM PTX devices", "skip", None, "libcuda.so.1 / libnvidia-ml.so.1 do not load here (no NVIDIA driver)")
        if os.listdir(os.path.join(self.tv, "opencl")):
            if env["opencl_platforms"]:
                variants.append("opencl")
            else:
                self.item("TornadoVM OpenCL devices", "skip", None, "no OpenCL platform (TornadoVM's OpenCL backend would not start)")
        env["tornado"] = {}
        for v in variants:
            r = self.run(f"1-tornado-devices-{v}", self.tornado_cmd({"variant": v}, ["uk.ac.manchester.tornado.drivers.TornadoDeviceQuery", "verbose"],
                                                                   heap=0.1, classpath=[]), 90, env=self.jvm_env())
            devices = []
            if r and r["rc"] == 0:
                lines = [ANSI.sub("", x) for x in r["text"].splitlines()]
                for i, line in enumerate(lines):
                    m = re.search(r"Tornado device=(\d+):(\d+)", line)
                    if m and i + 1 < len(lines):
                        mem = None
                        for x in lines[i + 2:i + 8]:
                            g = re.search(r"Global Memory Size:\s*([0-9.]+)\s*([KMGT]?)B", x)
                            if g:
                                mem = float(g.group(1)) * {"": 2**-20, "K": 2**-10, "M": 1, "G": 2**10, "T": 2**20}[g.group(2)]
                                break
                        devices.append(dict(backend=int(m.group(1)), device=int(m.group(2)), mem_mib=mem,
                                            name=re.sub(r"^\w+\s+--\s+", "", lines[i + 1].strip())))
            env["tornado"][v] = dict(devices=devices, listing="\n".join(x for x in (tail(r["text"], 60) if r else "").splitlines()
                                                                         if "WARNING" not in x))
            self.outcome(f"TornadoVM {v.upper()} devices", r, bool(devices), "; ".join(f"{d['backend']}:{d['device']} {d['name']}" for d in devices))
            for d in devices:
                gpu_like = v == "ptx" or "nvidia" in d["name"].lower()
                if self.mode == "gpu" and not gpu_like:
                    continue
                self.targets.append(dict(label=f"tornado-{v}" + (f"-d{d['device']}" if d["device"] else ""), variant=v, device=d["device"],
                                         name=d["name"], mem_mib=d["mem_mib"]))
        self.say("TornadoVM targets: " + (", ".join(f"{t['label']} ({t['name']})" for t in self.targets) or "none"))

    # ------------------------------------------------------------------ stage 2
    def parity(self):
        if not self.targets:
            return self.item("parity tests", "skip", None, "no TornadoVM device to test on")
        if self.mode == "smoke":
            groups = [("smoke subset: DeviceExecutionTest, SamplerStepParityTest, ResidencyTest, OpParityTest (every op, forward and backward)", SMOKE_PARITY)]
        else:  # two JVMs, so that a slow training-step test cannot take the other results with it
            # classes listed here, not with --scan-classpath: scanning a jar needs the jdk.zipfs module, which bundles
            # made before 2026-12-01 lack (the 2026-12-01 H200 run found 0 tests that way)
            others = [a for c in self.test_classes() if not c.endswith(".TrainingStepParityTest") for a in ("--select-class", c)]
            groups = [("ops, SiT forward, sampler steps, residency", others),
                      ("ERW training steps", ["--select-class", "erw.engine.tornado.TrainingStepParityTest"])]
        graph_group = ("ERW training steps, replayed as CUDA graphs (-Derw.tornado.cudaGraph=true)",
                       ["-Derw.tornado.cudaGraph=true", "--select-class", "erw.engine.tornado.TrainingStepParityTest"])
        for i, t in enumerate(self.targets):
            # TornadoVM captures CUDA graphs on PTX (and CUDA), not on OpenCL
            for k, (what, sel) in enumerate(groups + ([graph_group] if self.mode == "gpu" and t["variant"] == "ptx" else [])):
                name = f"parity on {t['label']}: {what}"
                jvm = [a for a in sel if a.startswith("-D")]
                sel = [a for a in sel if not a.startswith("-D")]
                if (i > 0 or k > 0) and self.left() < 45:
                    self.item(name, "skip", None, "not enough time left in this stage")
                    continue
                rep = os.path.join(self.logs, f"junit-{t['label']}-{k}")
                shutil.rmtree(rep, ignore_errors=True)
                cmd = self.tornado_cmd(t, jvm + ["-Dtornado.recover.bailout=False", "org.junit.platform.console.ConsoleLauncher", "execute", *sel,
                                           "--details=flat", "--disable-banner", "--disable-ansi-colors", "--reports-dir", rep],
                                       heap=0.4, classpath=[self.tests_jar] + self.erw_cp + [self.junit_jar])
                r = self.run(f"2-parity-{t['label']}-{k}", cmd, 10**6, env=self.jvm_env())
                counts, failed = self.junit_counts(rep)
                partial = False
                if not counts and r:  # killed before the XML report: what the flat listing says finished
                    counts, failed = self.flat_counts(r["text"])
                    partial = True
                detail = ((f"{counts['tests']} tests{' finished before the budget ran out' if partial else ''}: "
                           f"{counts['tests'] - counts['failures'] - counts['errors'] - counts['skipped']} passed, "
                           f"{counts['failures'] + counts['errors']} failed, {counts['skipped']} skipped") if counts else "no JUnit report")
                if failed:
                    detail += "\nfailed: " + "\n".join(failed[:20])
                data = dict(target=t, group=what, counts=counts, failed=failed, partial=partial)
                ok = bool(counts) and counts["tests"] > 0 and not counts["failures"] and not counts["errors"]
                if r and r["timed_out"]:
                    self.item(name, "timeout", r["seconds"], detail + f"\n(killed after {r['timeout']:.0f} s)", data)
                elif r and r["rc"] != 0 and counts:
                    self.item(name, "fail", r["seconds"], detail + "\nlog tail:\n" + tail(r["text"]), data)
                else:
                    self.outcome(name, r, ok, detail, data)

    def test_classes(self):
        """The engine-tornado test classes in the tests jar (top-level classes named *Test)."""
        import zipfile
        with zipfile.ZipFile(self.tests_jar) as z:
            names = [n[:-len(".class")].replace("/", ".") for n in z.namelist()
                     if n.endswith("Test.class") and "$" not in n]
        return sorted(names)

    @staticmethod
    def flat_counts(text):
        """Counts from the console launcher's --details=flat listing (tests that finished; failures)."""
        lines = text.splitlines()
        counts = dict(tests=0, failures=0, errors=0, skipped=0)
        failed = []
        for i, line in enumerate(lines):
            m = re.match(r"\s*(Finished|Skipped):\s+(\S+).*\[method:", line)
            if not m:
                continue
            counts["tests"] += 1
            if m.group(1) == "Skipped":
                counts["skipped"] += 1
                continue
            nxt = next((x for x in lines[i + 1:i + 3] if x.strip()), "")
            if nxt.strip().startswith("=>"):
                counts["failures"] += 1
                cls = re.search(r"\[class:([^\]]+)\]", line)
                failed.append(f"{(cls.group(1).split('.')[-1] if cls else '')}.{m.group(2)}: {nxt.strip()[2:].strip()[:300]}")
        return (counts if counts["tests"] else None), failed

    @staticmethod
    def junit_counts(rep):
        f = os.path.join(rep, "TEST-junit-jupiter.xml")
        if not os.path.isfile(f):
            return None, []
        root = ET.parse(f).getroot()
        counts = {k: int(root.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
        failed = []
        for tc in root.iter("testcase"):
            for kind in ("failure", "error"):
                el = tc.find(kind)
                if el is not None:
                    msg = (el.get("message") or "").splitlines()[0][:300] if el.get("message") else ""
                    failed.append(f"{tc.get('classname', '').split('.')[-1]}.{tc.get('name')}: {msg}")
        return counts, failed

    # ------------------------------------------------------------------ stage 3
    def train(self):
        runs = []
        # on a GPU the OpenCL/PTX backends time the tiny model only: the SiT configs run on the CUDA backend (stage 7),
        # where the GEMMs are cuBLAS calls (SiT-B/2 took more than 90 s of kernel compilation on PTX on 2026-12-01)
        mode_train = TRAIN[self.mode][:1]
        backends = self.targets[:1] + [None] + self.targets[1:]  # primary TornadoVM target, the CPU, then the others
        for k, t in enumerate(backends):
            # on the first TornadoVM target the big configs first (kernel compilation may eat the budget: the headline numbers
            # come first); elsewhere the cheap ones first
            for model, batch, tv, cpu in (mode_train[::-1] if k == 0 and t else mode_train):
                runs.append((t, model, batch, tv if t else cpu, []))
                if k == 0 and t and t["variant"] == "ptx" and self.mode == "gpu":  # the same step replayed as CUDA graphs
                    runs.append((t, model, batch, tv, ["-Derw.tornado.cudaGraph=true"]))
        if self.mode == "smoke":
            self.item("SiT-S/2, SiT-B/2 training", "skip", None, "smoke mode (no GPU): the tiny model only")
        for t, model, batch, (warmup, steps, cap), jvm in runs:
            label = (t["label"] if t else "cpu") + (" CUDA graphs" if jvm else "")
            name = f"train {model} batch {batch} on {label}"
            args = jvm + ["-m", "erw/erw.cli.Main", "bench", "train", "--in-process", "--model", model, "--batch", str(batch),
                    "--steps", str(steps), "--warmup", str(warmup), "--backend", "tornado" if t else "cpu"]
            cmd = self.tornado_cmd(t, args) if t else self.cpu_cmd(args)
            r, j, data = self.measured("3-" + name, cmd, cap, bool(t), dict(backend=label, model=model, batch=batch, warmup=warmup, steps=steps),
                                       env=self.jvm_env() if t else None)
            data.setdefault("wall_s", r and r["seconds"])
            peak, base = data.get("gpu_mem_peak_mib"), data.get("gpu_mem_before_mib")
            detail = (f"{data['img_per_s']:.2f} img/s, {data['s_per_step']:.4f} s/step (median of {steps} after {warmup} untimed: {untimed(data)}), "
                      f"peak RSS {data.get('peak_rss_kb', 0) / 2**20:.2f} GiB" + (f", GPU memory +{peak - (base or 0):.0f} MiB" if peak is not None else "")
                      if j else "")
            self.outcome(name, r, bool(j), detail, data)

    # ------------------------------------------------------------------ stage 4
    def torch_ok(self, need_cuda):
        ti = self.env.get("torch", {})
        if "error" in ti:
            return "PyTorch does not import: " + ti["error"][:200]
        if need_cuda and not ti.get("cuda_available"):
            return "PyTorch has no CUDA device here"
        return None

    def torch_train(self):
        cuda = self.mode == "gpu"
        why = self.torch_ok(cuda)
        if why:
            return self.item("PyTorch training", "skip", None, why)
        if not cuda:
            self.item("PyTorch training on CUDA (fp32, TF32, bf16, torch.compile)", "skip", None, "no GPU: PyTorch on the CPU instead, tiny only")
        threads = str(self.env.get("nproc") or 2)
        script = os.path.join(ROOT, "bench", "torch_train_step.py")
        plans = []
        for model, batch, tv, _ in TRAIN[self.mode]:
            w, s = (3, 20) if cuda else (1, 1)
            plans.append((model, batch, ["--precision", "fp32,tf32,bf16" if cuda else "fp32"], w, s, 45 if cuda else 600))
        order = ["SiT-B/2", "tiny", "SiT-S/2"]
        for model in [m for m in order if any(p[0] == m for p in plans)]:
            batch = next(p[1] for p in plans if p[0] == model)
            plans.append((model, batch, ["--precision", "fp32", "--compile"], 3 if cuda else 1, 10 if cuda else 1, 60 if cuda else 120))
        for model, batch, extra, w, s, cap in plans:
            compile_ = "--compile" in extra
            name = f"torch {model} batch {batch} {'compile' if compile_ else extra[1]} on {'cuda' if cuda else 'cpu'}"
            cmd = [self.python, script, "--preset", TORCH_PRESET[model], "--batch", str(batch), "--ema", "--warmup", str(w), "--steps", str(s),
                   "--threads", threads, "--device", "cuda" if cuda else "cpu", *extra]
            mem = GpuMem(self.smi if cuda else None, os.path.join(self.logs, "gpumem.tmp"))
            with mem:
                r = self.run("4-" + name, cmd, cap, cwd=ROOT)
            js = json_lines(r["text"]) if r else []
            peak, base = mem.peak()
            ok_js = [j for j in js if "error" not in j]
            for j in js:
                j.update(model=model, gpu_mem_peak_mib=peak, gpu_mem_before_mib=base)
            detail = "; ".join(f"{j.get('precision', 'fp32')}{' compiled' if compile_ else ''}: {j['img_per_s']:.1f} img/s"
                               + (f" (compile {j['compile_s']:.0f} s)" if compile_ and j.get("compile_s") else "") for j in ok_js)
            errs = [j["error"] for j in js if "error" in j]
            if errs and r and not r["timed_out"]:
                self.item(name, "fail" if not compile_ else "skip", r["seconds"], ("torch.compile does not work here: " if compile_ else "") + errs[0][:400],
                          dict(runs=js))
            else:
                self.outcome(name, r, bool(ok_js), detail, dict(runs=js))

    # ------------------------------------------------------------------ stage 5
    def sample(self):
        p = SAMPLE[self.mode]
        why = self.torch_ok(False)
        d = os.path.join(self.work, "sample")
        os.makedirs(d, exist_ok=True)
        ck = os.path.join(d, f"checkpoint-{p['preset']}.safetensors")
        if why:
            return self.item("sampling", "skip", None, "the shared checkpoint is written by PyTorch: " + why)
        r = self.run("5-write-checkpoint", [self.python, os.path.join(ROOT, "bench", "torch_sample.py"), "--preset", p["preset"], "--seed", "0",
                                            "--write-checkpoint", ck], 120, cwd=ROOT)
        self.outcome("write checkpoint (PyTorch, seeded random weights)", r, os.path.isfile(ck), ck)
        if not os.path.isfile(ck):
            return
        common = ["--checkpoint", ck, "--n", str(p["n"]), "--steps", str(p["steps"]), "--cfg", str(p["cfg"]),
                  "--guidance-interval", f"{p['lo']},{p['hi']}", "--seed", str(p["seed"])]
        erw_files = {}

        def erw_sample(t):
            label = t["label"] if t else "cpu"
            f = os.path.join(d, f"erw-{label}.safetensors")
            if os.path.exists(f):
                os.remove(f)
            main = ["SampleBench", *common, "--out", f, "--threads", str(self.env.get("nproc") or 2), "--backend", "tornado" if t else "cpu"]
            if t:
                cmd = self.tornado_cmd(t, ["--add-modules", "ALL-MODULE-PATH", "-cp", self.tools_jar, *main])
            else:
                cmd = self.cpu_cmd(["--add-modules", "ALL-MODULE-PATH", "-cp", self.tools_jar, *main])
            cap = (90 if t else 60) if self.mode == "gpu" else 1500
            r, j, data = self.measured(f"5-sample-erw-{label}", cmd, cap, bool(t), dict(runner=f"erw {label}"), env=self.jvm_env() if t else None)
            if j and os.path.isfile(f):
                erw_files[label] = f
            self.outcome(f"sample erw {label}", r, bool(j), f"{data.get('samples_per_s', 0):.2f} samples/s, {data.get('s_per_batch', 0):.2f} s for "
                         f"{p['n']} samples x {p['steps']} steps (+ {data.get('compile_s', 0):.1f} s graph compile/warmup)", data)

        # on a GPU: erw on the first TornadoVM target, then PyTorch (the peer the ratio needs), then the slow CPU run and the
        # other targets while time lasts (on 2026-12-01 the CPU run took the time PyTorch's would have had)
        gpu = self.mode == "gpu"
        for t in self.targets[:1] + ([] if gpu else [None] + self.targets[1:]):
            erw_sample(t)
        cuda = gpu and not self.torch_ok(True)
        precisions = ["fp32", "bf16"] if cuda else ["fp32"]
        for prec in precisions:
            name = f"sample torch {'cuda' if cuda else 'cpu'} {prec}"
            cmd = [self.python, os.path.join(ROOT, "bench", "torch_sample.py"), "--checkpoint", ck, "--batch", str(p["n"]), "--steps", str(p["steps"]),
                   "--cfg-scale", str(p["cfg"]), "--guidance-low", str(p["lo"]), "--guidance-high", str(p["hi"]), "--seed", str(p["seed"]),
                   "--timed-steps", "0", "--device", "cuda" if cuda else "cpu", "--precision", prec, "--threads", str(self.env.get("nproc") or 2),
                   "--out", os.path.join(d, f"torch-{prec}.safetensors")]
            if erw_files:
                cmd += ["--compare", ",".join(erw_files[k] for k in erw_files)]
            r, j, data = self.measured("5-" + name, cmd, (60 if cuda else 1500), cuda, dict(runner=f"torch {'cuda' if cuda else 'cpu'} {prec}"), cwd=ROOT)
            det = f"{data.get('samples_per_s', 0):.2f} samples/s"
            for k, c in (data.get("compare") or {}).items():
                det += f"; vs {k}: " + self.diff_text(c)
            self.outcome(name, r, bool(j) and "error" not in data, det, data)
        if gpu:
            for t in [None] + self.targets[1:]:
                erw_sample(t)
        # erw TornadoVM vs erw CPU
        if "cpu" in erw_files:
            for label, f in erw_files.items():
                if label != "cpu":
                    try:
                        self.item(f"samples erw {label} vs erw cpu", "pass", None, self.diff_text(self.diff(f, erw_files["cpu"])),
                                  dict(a=label, b="cpu", **self.diff(f, erw_files["cpu"])))
                    except (OSError, ValueError, KeyError) as ex:
                        self.item(f"samples erw {label} vs erw cpu", "fail", None, str(ex))

    # ------------------------------------------------------------------ stage 7
    def nvidia_lib_dirs(self):
        """Directories of PyTorch's NVIDIA wheels (site-packages/nvidia/**/lib) and torch/lib, where libcublas.so.13,
        libnvrtc.so.13 and libcudart.so.13 are on a machine with PyTorch but no CUDA toolkit."""
        r = self.probe_py("import glob, json, os, site\nroots = list(site.getsitepackages()) + [site.getusersitepackages()]\n"
                          "d = set()\nfor s in roots:\n    for p in glob.glob(os.path.join(s, 'nvidia', '**', 'lib'), recursive=True) + [os.path.join(s, 'torch', 'lib')]:\n"
                          "        if os.path.isdir(p): d.add(p)\nprint(json.dumps({'dirs': sorted(d)}))")
        return r.get("dirs") or []

    def cublas(self):
        cu = os.path.join(self.b, "tornado-cuda")
        if not os.path.isdir(cu):
            self.item("cuBLAS library tasks", "skip", None, "the bundle has no CUDA backend (tools/gpu/bundle --cuda-sdk DIR)")
            return
        gpu = self.mode == "gpu" and bool((self.env.get("libs") or {}).get("libcuda.so.1"))
        env = {"TORNADOVM_HOME": cu, "TORNADO_SDK": cu}
        if gpu:
            dirs = self.nvidia_lib_dirs()
            env["LD_LIBRARY_PATH"] = os.pathsep.join(dirs + [os.environ.get("LD_LIBRARY_PATH", "")]).strip(os.pathsep)
            self.env["cuda_lib_dirs"] = dirs
        argfile = self.write_argfile("tornado-argfile-cuda", cu)
        for cls, args, ok_line in CUBLAS_TESTS:
            cmd = [self.java, "@" + argfile, "--module-path", os.path.join(cu, "jars")] + ([] if gpu else ["--dry-run"]) \
                  + ["-m", f"tornado.cublas/uk.ac.manchester.tornado.cublas.tests.{cls}"] + args
            r = self.run(f"7-{cls}", cmd, 60 if gpu else 30, env=env)
            text = r["text"] if r else ""
            ok = (ok_line in text) if gpu else True
            perf = [ln.strip() for ln in text.splitlines() if "GFLOP/s" in ln or "speedup" in ln or " OK" in ln or "FAILED" in ln]
            self.outcome(f"{cls} {' '.join(args)}".strip(), r, ok, ("; ".join(perf) or ok_line) if gpu else "modules resolve (java --dry-run; no GPU)",
                         dict(lines=perf))
        # erw on the CUDA backend, where its GEMMs are cuBLAS library tasks (erw/cublas): parity with the CPU, then a step's speed
        base = [self.java, "@" + argfile, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED,erw.engine,erw.engine.tornado",
                "-Xss4m", self.heap(0.4)] + self.device_memory_flag() + ([] if gpu else ["--dry-run"])
        rep = os.path.join(self.logs, "junit-tornado-cuda")
        shutil.rmtree(rep, ignore_errors=True)
        sel = [a for c in ("erw.engine.tornado.CublasTest", "erw.engine.tornado.OpParityTest") for a in ("--select-class", c)]
        cmd = base + ["--module-path", os.path.join(cu, "jars"), "-cp", os.pathsep.join([self.tests_jar] + self.erw_cp + [self.junit_jar]),
                      "-Dtornado.recover.bailout=False", "org.junit.platform.console.ConsoleLauncher", "execute", *sel,
                      "--details=flat", "--disable-banner", "--disable-ansi-colors", "--reports-dir", rep]
        r = self.run("7-erw-parity-cuda", cmd, 50 if gpu else 30, env=env)
        if gpu:
            counts, failed = self.junit_counts(rep)
            detail = (f"{counts['tests']} tests: {counts['tests'] - counts['failures'] - counts['errors'] - counts['skipped']} passed, "
                      f"{counts['failures'] + counts['errors']} failed, {counts['skipped']} skipped" if counts else "no JUnit report")
            if failed:
                detail += "\nfailed: " + "\n".join(failed[:20])
            ok = bool(counts) and counts["tests"] > 0 and not counts["failures"] and not counts["errors"]
            self.outcome("erw parity on tornado-cuda (GEMMs in cuBLAS): CublasTest, OpParityTest", r, ok, detail, dict(counts=counts, failed=failed))
        else:
            self.outcome("erw parity on tornado-cuda (GEMMs in cuBLAS)", r, True, "modules resolve (java --dry-run; no GPU)")
        # the training step on the CUDA backend: the tiny model first (quick, and its untimed first step says what compiling a
        # step's kernels costs here, NVRTC), then the headline, SiT-B/2 in bf16 (issue 16: at least PyTorch's bf16 autocast),
        # the sampler, then variants: "graphs" replays each TaskGraph as a CUDA graph (one launch per TaskGraph instead of
        # TornadoVM's interpreter issuing each), "profiled" turns on TornadoVM's profiler, whose line at the end splits a
        # step's time into device kernels, transfers and the rest (launches, the interpreter, syncs)
        plans = [("tiny", "fp32", None), ("SiT-B/2", "bf16", None), ("SiT-B/2", "bf16", "graphs"), ("tiny", "fp32", "graphs"), ("tiny", "fp32", "profiled"),
                 ("SiT-B/2", "tf32", None), ("SiT-B/2", "fp32", None), ("SiT-B/2", "bf16", "unpinned"), ("SiT-S/2", "bf16", None)] if gpu else [("tiny", "fp32", None)]
        # "unpinned": TornadoVM's CUDA backend pins every host mirror (cuMemHostRegister pages it in), so the process holds as much
        # host memory as the step's device buffers; without pinning, the mirrors of what stays on the device are never resident
        flags = {None: [], "graphs": ["-Derw.tornado.cudaGraph=true"], "profiled": ["-Derw.tornado.profile=true"],
                 "unpinned": ["-Dtornado.cuda.host.pinning=false"]}
        erw_cuda_mp = os.pathsep.join([os.path.join(cu, "jars")] + self.erw_mp + [self.erw_tornado_jar])  # TornadoVM's CUDA backend and erw
        for i, (model, prec, variant) in enumerate(plans):
            if i == 2 and gpu:  # the sampler after the headline training step (issue 16: at least PyTorch's samples/s)
                self.cuda_sample(base, erw_cuda_mp, env)
            _, batch, (warmup, steps, cap), _ = next(x for x in TRAIN[self.mode] if x[0] == model)
            label = f"tornado-cuda {prec}" + (f" {variant}" if variant else "")
            cmd = base + flags[variant] + ["--module-path", erw_cuda_mp,
                          "-m", "erw/erw.cli.Main", "bench", "train", "--in-process", "--model", model, "--batch", str(batch),
                          "--steps", str(steps), "--warmup", str(warmup), "--backend", "tornado", "--precision", prec]
            r, j, data = self.measured(f"7-train-{model}-cuda-{prec}" + (f"-{variant}" if variant else ""), cmd,
                                       (cap if model == "SiT-B/2" else min(cap, 60)) if gpu else 30, gpu,
                                       dict(backend=label, model=model, batch=batch, warmup=warmup, steps=steps, precision=prec), env=env)
            peak, base_mib = data.get("gpu_mem_peak_mib"), data.get("gpu_mem_before_mib")
            self.outcome(f"train {model} batch {batch} on {label} (GEMMs in cuBLAS)", r, bool(j) if gpu else True,
                         (f"{data['img_per_s']:.2f} img/s, {data['s_per_step']:.4f} s/step (median of {steps} after {warmup} untimed: {untimed(data)}), "
                          f"peak RSS {data.get('peak_rss_kb', 0) / 2**20:.2f} GiB" + (f", GPU memory +{peak - (base_mib or 0):.0f} MiB" if peak is not None else "")
                          + "".join("\n" + ln.strip() for ln in (r["text"] if r else "").splitlines() if "(TornadoVM profiler)" in ln)
                          if j else "") if gpu else "modules resolve (java --dry-run; no GPU)", data)

    def device_memory_flag(self):
        """-Dtornado.device.memory at 90% of GPU 0's memory (nvidia-smi), as tornado_cmd gives the OpenCL/PTX targets: TornadoVM caps
        every backend, the CUDA one too, at 4 GB unless told (SiT-B/2 at batch 64 plans about 16 GiB)."""
        for line in self.env.get("gpus") or []:
            m = re.search(r",\s*([0-9]+)\s*MiB", line)
            if m:
                return [f"-Dtornado.device.memory={max(1024, int(int(m.group(1)) * 0.9))}MB"]
        return []

    def cuda_sample(self, base, erw_cuda_mp, env):
        """erw's SDE sampler on the CUDA backend (GEMMs in cuBLAS), fp32 and bf16, from stage 5's checkpoint and settings."""
        p = SAMPLE[self.mode]
        d = os.path.join(self.work, "sample")
        ck = os.path.join(d, f"checkpoint-{p['preset']}.safetensors")
        if not os.path.isfile(ck):
            return self.item("sample erw tornado-cuda", "skip", None, "no checkpoint (stage 5 writes it)")
        for prec in ("fp32", "bf16"):
            label = f"tornado-cuda {prec}"
            f = os.path.join(d, f"erw-tornado-cuda-{prec}.safetensors")
            cmd = base + ["--module-path", erw_cuda_mp,
                          "--add-modules", "ALL-MODULE-PATH", "-cp", self.tools_jar, "SampleBench", "--checkpoint", ck, "--n", str(p["n"]),
                          "--steps", str(p["steps"]), "--cfg", str(p["cfg"]), "--guidance-interval", f"{p['lo']},{p['hi']}", "--seed", str(p["seed"]),
                          "--out", f, "--threads", str(self.env.get("nproc") or 2), "--backend", "tornado", "--precision", prec]
            r, j, data = self.measured(f"7-sample-erw-cuda-{prec}", cmd, 45, True, dict(runner=f"erw {label}"), env=env)
            self.outcome(f"sample erw {label} (GEMMs in cuBLAS)", r, bool(j), f"{data.get('samples_per_s', 0):.2f} samples/s, {data.get('s_per_batch', 0):.2f} s "
                         f"for {p['n']} samples x {p['steps']} steps (+ {data.get('compile_s', 0):.1f} s graph compile/warmup)", data)

    # ------------------------------------------------------------------ stage 6
    def vae(self):
        p = VAE[self.mode]
        nproc = str(self.env.get("nproc") or 2)
        base = ["-m", "erw/erw.cli.Main", "bench", "vae", "--batch", str(p["batch"]), "--latent-side", str(p["side"]), "--repeats", "1",
                "--no-peer", "--json", "--threads", nproc]
        if p["vae"]:
            base += ["--vae", os.path.join(ROOT, p["vae"])]
        for t in self.targets[:1] + [None]:
            label = t["label"] if t else "cpu"
            args = base + ["--backend", "tornado" if t else "cpu"]
            cmd = self.tornado_cmd(t, args) if t else self.cpu_cmd(args)
            r, j, data = self.measured(f"6-vae-erw-{label}", cmd, (45 if t else 40) if self.mode == "gpu" else 900, bool(t), dict(runner=f"erw {label}"),
                                       env=self.jvm_env() if t else None)
            self.outcome(f"VAE decode erw {label}", r, bool(j), f"{data.get('s_per_batch', 0):.3f} s per batch of {p['batch']} "
                         f"({p['side']}x{p['side']}x4 latents; kernel compilation in the untimed warmup)", data)
        why = self.torch_ok(False)
        if why:
            return self.item("VAE decode torch", "skip", None, why)
        cuda = self.mode == "gpu" and not self.torch_ok(True)
        cmd = [self.python, os.path.join(ROOT, "bench", "torch_vae.py"), "--batch", str(p["batch"]), "--latent-side", str(p["side"]),
               "--repeats", "1", "--device", "cuda" if cuda else "cpu", "--threads", nproc]
        if p["vae"]:
            cmd += ["--vae", os.path.join(ROOT, p["vae"])]
        r = self.run("6-vae-torch", cmd, 40 if cuda else 900, cwd=ROOT)
        j = json_lines(r["text"]) if r else []
        data = dict(runner=f"torch {'cuda' if cuda else 'cpu'} fp32", **(j[-1] if j else {}))
        self.outcome(f"VAE decode torch {'cuda' if cuda else 'cpu'} fp32", r, bool(j),
                     f"{data.get('s_per_batch', 0):.3f} s per batch of {p['batch']} ({data.get('format', '?')})", data)

    def diff(self, fa, fb):
        sa, a = read_f32(fa, "samples")
        sb, b = read_f32(fb, "samples")
        if sa != sb:
            raise ValueError(f"shapes differ: {sa} vs {sb}")
        mx = s2 = sb2 = 0.0
        mb = 0.0
        lev = 0
        for x, y in zip(a, b):
            dd = abs(x - y)
            mx = max(mx, dd)
            s2 += dd * dd
            sb2 += y * y
            mb = max(mb, abs(y))
            if round((min(1, max(-1, x)) + 1) * 127.5) != round((min(1, max(-1, y)) + 1) * 127.5):
                lev += 1
        n = len(a)
        return dict(max_abs_diff=mx, rms_diff=(s2 / n) ** 0.5, rel_rms_diff=(s2 / sb2) ** 0.5 if sb2 else None,
                    rel_max_diff=mx / mb if mb else None, pixel_levels_differing=lev, values=n)

    @staticmethod
    def diff_text(c):
        if "error" in c:
            return c["error"]
        return (f"max |diff| {c['max_abs_diff']:.3g}, rms {c['rms_diff']:.3g} (relative rms {c['rel_rms_diff']:.3g}), "
                f"{c['pixel_levels_differing']} of {c['values']} 8-bit pixel values differ")

    # ------------------------------------------------------------------ driver
    def run_stage(self, n, fn):
        budgets = dict(BUDGETS[self.mode])
        for k in budgets:
            if os.environ.get(f"ERW_CHECK_BUDGET_{k}"):
                budgets[k] = float(os.environ[f"ERW_CHECK_BUDGET_{k}"])
        later = sum(budgets[k] for k in budgets if k > n and k in self.args.stages)
        slack = max(0.0, self.deadline - (now() - self.t0) - later - budgets[n])
        budget = budgets[n] + slack
        if n not in self.args.stages:
            self.stage_info[n] = dict(status="not run", seconds=None, budget=None, note="not selected (--stages)")
            return
        self.stage = n
        start = now()
        self.stage_end = start + budget
        self.say(f"stage {n}: {STAGES[n]} (budget {budget:.0f} s)")
        note = ""
        try:
            fn()
        except Exception as ex:  # a bug in a stage: report it and go on
            import traceback
            self.item(f"stage {n} crashed", "fail", None, f"{type(ex).__name__}: {ex}\n" + traceback.format_exc()[-1500:])
        items = [r for r in self.results if r["stage"] == n]
        st = [r["status"] for r in items]
        status = ("fail" if "fail" in st else "timeout" if "timeout" in st else "pass" if "pass" in st else "skip")
        if status == "pass" and "skip" in st:
            status = "pass (partial)"
        self.stage_info[n] = dict(status=status, seconds=now() - start, budget=budget, note=note)
        self.stage_end = None
        self.write_outputs()

    def main(self):
        self.say(f"erw GPU check; bundle {self.bundle}; work {self.work}; out {self.out}")
        self.unpack()
        self.deadline = 10**6
        self.mode = self.args.mode if self.args.mode != "auto" else None
        # stage 1 (always: what it finds decides the rest)
        self.stage = 1
        self.stage_end = now() + BUDGETS["gpu"][1] * 4
        self.deadline = 10**6
        self.detect()
        self.deadline = float(os.environ.get("ERW_CHECK_DEADLINE") or self.args.deadline or DEADLINE[self.mode])
        st = [r["status"] for r in self.results if r["stage"] == 1]
        self.stage_info[1] = dict(status="fail" if "fail" in st else "pass", seconds=now() - self.t0, budget=None, note="")
        self.stage_end = None
        self.write_outputs()
        for n, fn in ((2, self.parity), (3, self.train), (4, self.torch_train), (5, self.sample), (6, self.vae), (7, self.cublas)):
            self.run_stage(n, fn)
        self.write_outputs(final=True)
        self.say(f"done in {now() - self.t0:.0f} s: {os.path.join(self.out, 'gpu-check.md')}")
        print()
        print(open(os.path.join(self.out, "gpu-check.md")).read().split("\n## All items")[0])  # the rest is in the file

    # ------------------------------------------------------------------ report
    def write_outputs(self, final=False):
        data = dict(started=self.started.isoformat(timespec="seconds"), seconds=now() - self.t0, mode=self.mode, env=self.env,
                    manifest=self.manifest, targets=self.targets, stages={str(k): v for k, v in self.stage_info.items()}, results=self.results)
        with open(os.path.join(self.out, "gpu-check.json"), "w") as f:
            json.dump(data, f, indent=1, default=str)
        try:
            md = self.report()
        except Exception as ex:  # never lose the results to a bug in the report: list the items plainly
            import traceback
            md = (f"# erw GPU check (report generation failed: {type(ex).__name__}: {ex})\n\n```\n{traceback.format_exc()[-2000:]}```\n\n"
                  + "\n".join(f"- stage {r['stage']} {r['name']}: {r['status']} ({fmt_s(r['seconds'])}) {r['detail'].splitlines()[0] if r['detail'] else ''}"
                              for r in self.results) + "\n")
        with open(os.path.join(self.out, "gpu-check.md"), "w") as f:
            f.write(md)
        shutil.copy(os.path.join(self.out, "gpu-check.md"), os.path.join(self.logs, "gpu-check.md"))
        arc = os.path.join(self.out, "gpu-check-logs.tar.xz")
        try:
            with tarfile.open(arc + ".tmp", "w:xz") as tf:
                tf.add(self.logs, arcname="gpu-check-logs", filter=lambda ti: None if ti.name.endswith(".tmp") else ti)
            os.replace(arc + ".tmp", arc)
        except OSError as ex:
            self.say(f"cannot write {arc}: {ex}")

    def report(self):
        env, m = self.env, self.manifest
        L = []
        w = L.append
        w(f"# erw GPU check ({self.started.strftime('%Y-%m-%d %H:%M UTC')}, mode {self.mode})\n")
        w(f"`tools/gpu/check` from the bundle of `tools/gpu/bundle`; {now() - self.t0:.0f} s in all.\n")
        w("| stage | status | time | budget |\n|---|---|---|---|")
        for n, title in STAGES.items():
            s = self.stage_info.get(n)
            if s:
                w(f"| {n} {title} | {s['status']} | {fmt_s(s['seconds'])} | {fmt_s(s['budget'])} |")
            else:
                w(f"| {n} {title} | not reached | | |")
        w("\n## Machine\n")
        gpus = env.get("gpus") or []
        w(f"- GPU: {'; '.join(gpus) if gpus else 'none (nvidia-smi: ' + ('not found' if not env.get('nvidia_smi') else 'failed') + ')'}")
        w(f"- NVIDIA driver {env.get('driver') or '-'}, CUDA (driver API) {env.get('cuda_driver_api') or '-'}, nvcc {env.get('nvcc') or '-'}")
        w(f"- CPU: {env.get('cpu', '?')}, {env.get('nproc')} threads, {(env.get('mem_kb') or 0) / 2**20:.0f} GiB; {env.get('uname', '')}")
        ti = env.get("torch", {})
        w(f"- PyTorch: {ti.get('torch', ti.get('error', '-'))}" + (f", CUDA {ti.get('cuda')}, cuDNN {ti.get('cudnn')}, {ti.get('gpu')}" if ti.get("cuda_available") else ""))
        w(f"- libraries: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in (env.get("libs") or {}).items() if k != "error")
          + f"; OpenCL loader: {env.get('opencl_loader', '-')}; platforms: {', '.join(env.get('opencl_platforms') or []) or 'none'}"
          + (f"; {env['opencl_icd']}" if env.get("opencl_icd") else ""))
        w(f"- bundle: erw {m.get('erw_commit', '?')}; TornadoVM {m.get('tornado_version', '?')} ({m.get('tornado_backends', '?')}); "
          f"JDK {env.get('java') or m.get('jdk', '?')}")
        w(f"- TornadoVM targets: " + (", ".join(f"`{t['label']}` = {t['name']}" for t in self.targets) or "none"))
        for v, info in (env.get("tornado") or {}).items():
            w(f"\n<details><summary>TornadoVM devices, {v.upper()} backend</summary>\n\n```\n{info.get('listing', '').strip()}\n```\n</details>")

        # stage 2
        w("\n## 2. Parity tests (TornadoVM vs the CPU backend)\n")
        par = [r for r in self.results if r["stage"] == 2]
        for r in par:
            w(f"- **{r['name']}**: {r['status']} ({fmt_s(r['seconds'])}) {r['detail'].splitlines()[0] if r['detail'] else ''}")
            for line in r["detail"].splitlines()[1:25]:
                w(f"    - {line}" if line.strip() else "")
        # stages 3 + 4
        w("\n## 3-4. Training step (batch as given, 32x32x4 latents for SiT; median step time)\n")
        tr = {(r["data"].get("model"), r["data"].get("backend")): r for r in self.results if r["stage"] in (3, 7) and r["data"] and r["data"].get("model")}
        tt = {}
        for r in self.results:
            if r["stage"] == 4:
                for j in (r["data"] or {}).get("runs", []):
                    if "error" in j or "img_per_s" not in j:
                        continue
                    key = "torch " + ("compile " if j.get("compile") else "") + j.get("precision", "fp32")
                    tt[(j.get("model"), key)] = j
        models = [x[0] for x in TRAIN[self.mode or "gpu"]]
        cuda_cols = [c for c in ("tornado-cuda fp32", "tornado-cuda fp32 graphs", "tornado-cuda fp32 profiled", "tornado-cuda tf32", "tornado-cuda bf16",
                                 "tornado-cuda bf16 graphs")
                     if any((mm, c) in tr for mm in models)]
        erw_cols = [c for t in self.targets for c in (t["label"], t["label"] + " CUDA graphs") if c == t["label"] or any((mm, c) in tr for mm in models)] \
            + ["cpu"] + cuda_cols
        torch_cols = [c for c in ["torch fp32", "torch tf32", "torch bf16", "torch compile fp32"] if any((mm, c) in tt for mm in models)]
        if tr or tt:
            w("img/s (s/step); erw rows from `erw bench train --in-process`, PyTorch from `bench/torch_train_step.py` on "
              + ("CUDA" if self.mode == "gpu" else "the CPU") + "\n")
            w("| model | batch | " + " | ".join(f"erw {c}" for c in erw_cols) + (" | " + " | ".join(torch_cols) if torch_cols else "") + " |")
            w("|---|---|" + "---|" * (len(erw_cols) + len(torch_cols)))
            for mm, batch, *_ in TRAIN[self.mode or "gpu"]:
                cells = []
                for c in erw_cols:
                    r = tr.get((mm, c))
                    cells.append(self.cell_train(r))
                for c in torch_cols:
                    j = tt.get((mm, c))
                    cells.append("-" if not j else f"{j['img_per_s']:.1f} ({j.get('s_per_step_median', j['s_per_step']):.4f} s)")
                w(f"| {mm} | {batch} | " + " | ".join(cells) + " |")
            # ratios and memory
            prim = self.targets[0]["label"] if self.targets else None
            if prim and torch_cols:
                w(f"\nRatio erw `{prim}` img/s / PyTorch img/s (> 1: erw faster):\n")
                w("| model | " + " | ".join(torch_cols) + " | erw cpu / torch fp32 |")
                w("|---|" + "---|" * (len(torch_cols) + 1))
                for mm, *_ in TRAIN[self.mode or "gpu"]:
                    r = tr.get((mm, prim))
                    e = r["data"].get("img_per_s") if r and r["status"] == "pass" else None
                    rc = tr.get((mm, "cpu"))
                    ec = rc["data"].get("img_per_s") if rc and rc["status"] == "pass" else None
                    cells = [f"{e / tt[(mm, c)]['img_per_s']:.3f}" if e and (mm, c) in tt else "-" for c in torch_cols]
                    cells.append(f"{ec / tt[(mm, 'torch fp32')]['img_per_s']:.3f}" if ec and (mm, "torch fp32") in tt else "-")
                    w(f"| {mm} | " + " | ".join(cells) + " |")
            if cuda_cols and torch_cols:
                w("\nRatio erw on the CUDA backend (GEMMs in cuBLAS) / PyTorch in the same math mode, img/s (> 1: erw faster; issue 16 asks >= 1):\n")
                w("| model | " + " | ".join(f"{c} / torch {c.split()[1]}" for c in cuda_cols) + " |")
                w("|---|" + "---|" * len(cuda_cols))
                for mm, *_ in TRAIN[self.mode or "gpu"]:
                    cells = []
                    for c in cuda_cols:
                        r = tr.get((mm, c))
                        e = r["data"].get("img_per_s") if r and r["status"] == "pass" else None
                        t = tt.get((mm, "torch " + c.split()[1]))
                        cells.append(f"{e / t['img_per_s']:.3f}" if e and t else "-")
                    w(f"| {mm} | " + " | ".join(cells) + " |")
            def rss_parts(d):
                if not d.get("rss_kb"):
                    return ""
                g = lambda kb: f"{kb / 2**20:.2f}"
                zr = max(0, d.get('mirror_zero_mapped_resident_kb', 0))
                return (f" (at the end {g(d['rss_kb'])}: heap {g(d.get('heap_used_kb', 0))} ({g(d.get('device_host_arrays_kb', 0))} host arrays of device buffers), mirrors {g(d.get('mirror_kb', 0))}"
                        f" + {g(d.get('mirror_zero_mapped_kb', 0))} zero-mapped ({g(zr)} resident), "
                        f"rest {g(max(0, d['rss_kb'] - d.get('heap_used_kb', 0) - d.get('mirror_kb', 0) - zr))})")

            w("\nPeak memory: GPU memory in use (nvidia-smi, sampled every 100 ms, minus the level before; PyTorch: "
              "max_memory_allocated in brackets) and the process's peak RSS; for erw also its RSS at the end of the run in GiB, split into the "
              "Java heap in use, the TornadoVM backend's host mirrors of device buffers (filled, and zero-mapped: resident only where written or "
              "pinned; one mirror per device buffer, so their sum is what erw allocates on the device, to hold against the GPU figure) and the rest "
              "(free heap, JVM, native libraries, the device runtime):\n")
            w("| model | " + " | ".join(f"erw {c}" for c in erw_cols) + (" | " + " | ".join(torch_cols) if torch_cols else "") + " |")
            w("|---|" + "---|" * (len(erw_cols) + len(torch_cols)))
            for mm, *_ in TRAIN[self.mode or "gpu"]:
                cells = []
                for c in erw_cols:
                    r = tr.get((mm, c))
                    d = r["data"] if r else {}
                    g = f"GPU {d['gpu_mem_peak_mib'] - (d.get('gpu_mem_before_mib') or 0):.0f} MiB, " if d.get("gpu_mem_peak_mib") is not None else ""
                    cells.append(f"{g}RSS {d['peak_rss_kb'] / 2**20:.2f} GiB" + rss_parts(d) if d.get("peak_rss_kb") else "-")
                for c in torch_cols:
                    j = tt.get((mm, c))
                    cells.append("-" if not j else (f"GPU {j['gpu_mem_peak_mib'] - (j.get('gpu_mem_before_mib') or 0):.0f} MiB (process, all precisions) "
                                                    if j.get("gpu_mem_peak_mib") is not None else "")
                                 + (f"[{j['peak_device_mib']:.0f} MiB] " if j.get("peak_device_mib") is not None else "")
                                 + f"RSS {j.get('peak_rss_kb', 0) / 2**20:.2f} GiB")
                w(f"| {mm} | " + " | ".join(cells) + " |")
        other = [r for r in self.results if r["stage"] in (3, 4) and r["status"] != "pass"]
        if other:
            w("\nNot measured / failed:\n")
            for r in other:
                w(f"- {r['name']}: **{r['status']}** {r['detail'].splitlines()[0] if r['detail'] else ''}")
        # stage 5
        w("\n## 5. Sampling (SDE, Euler-Maruyama)\n")
        p = SAMPLE[self.mode or "gpu"]
        w(f"Model `{p['preset']}` with seeded random weights (final layer and adaLN drawn N(0, 0.02), written by "
          f"`bench/torch_sample.py --write-checkpoint`), {p['n']} samples, {p['steps']} steps, CFG {p['cfg']} on t in [{p['lo']}, {p['hi']}], "
          f"seed {p['seed']}. erw: `tools/gpu/SampleBench.java` (erw's sampler, graphs compiled and run once before the clock); "
          f"PyTorch: `bench/torch_sample.py` (timed run with torch's RNG; then the same schedule with erw's Philox noise and labels, "
          f"compared with erw's samples).\n")
        w("| runner | samples/s | s per batch | compile/warm-up | GPU memory |\n|---|---|---|---|---|")
        sampled = [r for r in self.results if r["stage"] in (5, 7) and (r["data"] or {}).get("runner")]
        for r in sampled:
            d = r["data"]
            g = f"{d['gpu_mem_peak_mib'] - (d.get('gpu_mem_before_mib') or 0):.0f} MiB" if d.get("gpu_mem_peak_mib") is not None else "-"
            sps = f"{d['samples_per_s']:.2f}" if r["status"] == "pass" and d.get("samples_per_s") else r["status"]
            sb = f"{d['s_per_batch']:.2f}" if d.get("s_per_batch") else "-"
            w(f"| {d['runner']} | {sps} | {sb} | {fmt_s(d.get('compile_s'))} | {g} |")
        peers = {d["runner"].split()[-1]: d["samples_per_s"] for d in (r["data"] for r in sampled)
                 if d["runner"].startswith("torch cuda") and d.get("samples_per_s")}
        ratios = [(d["runner"], d["samples_per_s"] / peers[d.get("precision", "fp32")], d.get("precision", "fp32")) for d in (r["data"] for r in sampled)
                  if d["runner"].startswith("erw") and d.get("samples_per_s") and d.get("precision", "fp32") in peers]
        if ratios:
            w("\nRatio erw samples/s / PyTorch on CUDA in the same precision (> 1: erw faster; issue 16 asks >= 1): "
              + "; ".join(f"{a} / torch cuda {pr}: {x:.3f}" for a, x, pr in ratios) + "\n")
        diffs = []
        for r in self.results:
            if r["stage"] != 5:
                continue
            d = r["data"] or {}
            if d.get("a") and d.get("max_abs_diff") is not None:
                diffs.append((f"erw {d['a']}", f"erw {d['b']}", d))
            for k, c in (d.get("compare") or {}).items():
                if "max_abs_diff" in c:
                    diffs.append((d.get("runner"), k.replace(".safetensors", "").replace("-", " ", 1), c))
        if diffs:
            w("\nDifferences of the samples (same checkpoint, same initial noise, labels and SDE noise):\n")
            w("| a | b | max abs diff | rms diff | relative rms | 8-bit pixel values differing |\n|---|---|---|---|---|---|")
            for a, b, c in diffs:
                w(f"| {a} | {b} | {c['max_abs_diff']:.3g} | {c['rms_diff']:.3g} | {c['rel_rms_diff']:.3g} | {c['pixel_levels_differing']} of {c['values']} |")
        bad5 = [r for r in self.results if r["stage"] == 5 and r["status"] != "pass"]
        for r in bad5:
            w(f"- {r['name']}: **{r['status']}** {r['detail'].splitlines()[0] if r['detail'] else ''}")
        # stage 7
        c7 = [r for r in self.results if r["stage"] == 7]
        if c7:
            w("\n## 7. cuBLAS library tasks (TornadoVM's own programs, CUDA backend)\n")
            if env.get("cuda_lib_dirs") is not None:
                w(f"NVIDIA libraries from: {', '.join(env.get('cuda_lib_dirs') or []) or 'none found'}\n")
            for r in c7:
                w(f"- **{r['name']}**: {r['status']} ({fmt_s(r['seconds'])}) {r['detail'].splitlines()[0] if r['detail'] else ''}")
        # everything
        w("\n## All items\n")
        w("| stage | item | status | time | detail |\n|---|---|---|---|---|")
        for r in self.results:
            det = (r["detail"].splitlines()[0] if r["detail"] else "").replace("|", "/")[:200]
            w(f"| {r['stage']} | {r['name']} | {r['status']} | {fmt_s(r['seconds'])} | {det} |")
        fails = [r for r in self.results if r["status"] in ("fail", "timeout") and r["detail"]]
        if fails:
            w("\n## Log tails of failures\n")
            for r in fails:
                w(f"<details><summary>{r['name']} ({r['status']})</summary>\n\n```\n{r['detail'][:3000]}\n```\n</details>\n")
        w("\nRaw logs: `gpu-check-logs.tar.xz` (one log per command, JUnit XML reports, nvidia-smi output); all numbers: `gpu-check.json`.")
        return "\n".join(L) + "\n"

    @staticmethod
    def cell_train(r):
        if not r:
            return "-"
        d = r["data"]
        if r["status"] != "pass" or not d.get("img_per_s"):
            return r["status"]
        return f"{d['img_per_s']:.2f} ({d['s_per_step']:.4f} s)"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=os.environ.get("ERW_GPU_BUNDLE", os.path.join(ROOT, "build", "gpu-bundle")))
    ap.add_argument("--out", default=os.environ.get("OUT") or os.path.join(ROOT, "build", "gpu-check-out"))
    ap.add_argument("--work", default=os.environ.get("ERW_GPU_WORK") or os.path.join(os.environ.get("TMPDIR", "/tmp"), "erw-gpu-check"))
    ap.add_argument("--mode", choices=["auto", "gpu", "smoke"], default=os.environ.get("ERW_CHECK_MODE", "auto"))
    ap.add_argument("--stages", default="1,2,3,4,5,6,7", help="comma list of stages 2-7 to run (1 always runs)")
    ap.add_argument("--deadline", type=float, help="seconds for the whole check (default: 510 gpu, 7200 smoke)")
    a = ap.parse_args()
    a.stages = {int(x) for x in a.stages.split(",") if x.strip()}
    for p in (a.bundle, a.work):
        if " " in os.path.abspath(p):
            raise SystemExit(f"[check] {p}: paths with spaces are not supported (TornadoVM's argfile)")
    Check(a).main()


if __name__ == "__main__":
    main()
