"""Checks what a REED training run logged against an independent implementation of REED's curriculum.

    /usr/bin/python3 tools/torch/check_reed_metrics.py RUN_DIR
    /usr/bin/python3 tools/torch/check_reed_metrics.py --self-test

Plain Python (no torch). Reads RUN_DIR/config.json (erw's training config: flat, or under the key
"train" next to "model"/"data") and RUN_DIR/metrics.jsonl (one JSON object per logged step; the line
with "step": s was computed at the 0-based global step g = s - 1).

Curriculum at step g (S = steps; W = diffusionWarmupSteps, -1 = S // 8; start = diffusionStart;
S_a = alignSteps, -1 = S):
    w_diff  = 0                                  g < start
            = (g - start) / W                    start <= g < start + W      (W = 0: no ramp)
            = decay(g) with top = start + W:     constant 1, linear 1 - (g - top)/(S - top),
                                                 cosine (1 + cos(pi (g - top)/(S - top)))/2
    w_align = constant 1, linear max(1 - g/S_a, 0), cosine (1 + cos(pi min(g, S_a)/S_a))/2
              (S_a = 0: 0 for linear and cosine)
    lambda  = projCoeff * w_align
Per line: w_diff, w_align, lambda within 1e-6 (absolute) of these; loss within 1e-5 (relative to
the size of its terms) of w_diff * loss_v + lambda * loss_align, with the logged w_diff and lambda;
with a non-empty "targets" list (spec strings "SET[:block=B][:pool=mean|tokens][:hidden=H][:z=Z]
[:coef=C]", coef default 1.0), loss_align within 1e-5 (relative) of sum_k coef_k * loss_align.<name_k>,
and no other loss_align.* keys. The metric name is "loss_align.SET", or "loss_align.SET@B" when two
targets read the same SET (B = the block of target k's projector: from the "model" config next to
"train", projector 0 at encoder_depth, projector k at extra_projectors[k-1].encoder_depth; without
one, the spec's block). erw logs the per-target terms only with two or more targets, so with one
target they are checked only when present; with an empty list the one target is "features" (coef 1).
A missing loss_v (loss_align) is accepted only where w_diff (lambda) is 0.

Prints one line per problem and then "OK: N lines checked" (exit 0) or "FAIL: ..." (exit 1);
a config that is not a REED run or cannot be read: exit 2.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

TOL_SCHEDULE = 1e-6
TOL_REL = 1e-5
SCHEDULES = ("constant", "linear", "cosine")
SPEC_KEYS = ("block", "pool", "hidden", "z", "coef")


class ConfigError(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# config

def parse_target(spec):
    """'SET[:block=B][:pool=mean|tokens][:hidden=H][:z=Z][:coef=C]' -> (SET, coef, block; 0 = not given).
    Keys are case-insensitive and pool=none means tokens, as erw's AlignTarget.parse reads them."""
    if isinstance(spec, dict):  # tolerate an object form {"set"/"name": ..., "coef": ..., "block": ...}
        name = spec.get("set", spec.get("name"))
        if not isinstance(name, str) or not name:
            raise ConfigError(f"target {spec!r}: no set name")
        return name, float(spec.get("coef", 1.0)), int(spec.get("block", 0))
    if not isinstance(spec, str):
        raise ConfigError(f"target {spec!r} is not a spec string")
    parts = spec.strip().split(":")
    name = parts[0].strip()
    if not name:
        raise ConfigError(f"target '{spec}': empty set name")
    coef = 1.0
    block = 0
    seen = set()
    for p in parts[1:]:
        if "=" not in p:
            raise ConfigError(f"target '{spec}': '{p}' is not key=value")
        k, v = (s.strip() for s in p.split("=", 1))
        k = k.lower()
        if k not in SPEC_KEYS:
            raise ConfigError(f"target '{spec}': unknown key '{k}' (one of {', '.join(SPEC_KEYS)})")
        if k in seen:
            raise ConfigError(f"target '{spec}': key '{k}' given twice")
        seen.add(k)
        if k == "coef":
            try:
                coef = float(v)
            except ValueError:
                raise ConfigError(f"target '{spec}': coef '{v}' is not a number") from None
            if not math.isfinite(coef):
                raise ConfigError(f"target '{spec}': coef {v} is not finite")
        elif k == "pool" and v.lower() not in ("mean", "tokens", "none"):
            raise ConfigError(f"target '{spec}': pool '{v}' must be mean or tokens")
        elif k in ("block", "hidden", "z"):
            try:
                n = int(v)
            except ValueError:
                raise ConfigError(f"target '{spec}': {k} '{v}' is not an integer") from None
            if k == "block":
                block = n
    return name, coef, block


def load_config(run_dir):
    path = os.path.join(run_dir, "config.json")
    try:
        with open(path) as f:
            root = json.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    except ValueError as e:
        raise ConfigError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(root, dict):
        raise ConfigError(f"{path} is not a JSON object")
    cfg = root["train"] if isinstance(root.get("train"), dict) else root
    model = root.get("model") if isinstance(root.get("model"), dict) else None
    return resolve(cfg, path, model)


def metric_names(parsed, model, where="config"):
    """loss_align.SET per target, loss_align.SET@B for targets that share a SET (erw's Trainer.termNames)."""
    names = []
    for k, (name, _, block) in enumerate(parsed):
        if sum(1 for n, _, _ in parsed if n == name) == 1:
            names.append("loss_align." + name)
            continue
        b = None
        if model is not None:
            try:
                b = int(model["encoder_depth"]) if k == 0 else int(model["extra_projectors"][k - 1]["encoder_depth"])
            except (KeyError, IndexError, TypeError, ValueError):
                b = None
        if b is None:
            b = block
        if not b:
            raise ConfigError(f"{where}: targets share the set '{name}' and target {k}'s block is unknown "
                              "(no model config with its projector, no block= in its spec)")
        names.append(f"loss_align.{name}@{b}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: targets give the metric names {names}, some twice")
    return names


def resolve(cfg, where="config", model=None):
    """The curriculum's settings with the -1 defaults resolved."""
    def need(k):
        if k not in cfg:
            raise ConfigError(f"{where}: field '{k}' is missing")
        return cfg[k]

    def integer(k):
        v = need(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
            raise ConfigError(f"{where}: field '{k}' = {v!r} is not an integer")
        return int(v)

    def number(k):
        v = need(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"{where}: field '{k}' = {v!r} is not a finite number")
        return float(v)

    def schedule(k):
        v = need(k)
        if v not in SCHEDULES:
            raise ConfigError(f"{where}: field '{k}' = {v!r} is not one of {', '.join(SCHEDULES)}")
        return v

    method = need("method")
    if method != "reed":
        raise ConfigError(f"{where}: method is {method!r}, not 'reed'; nothing to check")
    steps = integer("steps")
    if steps <= 0:
        raise ConfigError(f"{where}: steps = {steps} must be positive")
    align_steps = integer("alignSteps")
    warm = integer("diffusionWarmupSteps")
    start = integer("diffusionStart")
    if align_steps < -1 or warm < -1 or start < 0:
        raise ConfigError(f"{where}: alignSteps {align_steps}, diffusionWarmupSteps {warm}, diffusionStart {start} out of range")
    targets = cfg.get("targets") or []
    if not isinstance(targets, list):
        raise ConfigError(f"{where}: field 'targets' is not a list")
    parsed = [parse_target(t) for t in targets]
    names = metric_names(parsed, model, where)
    return {
        "steps": steps,
        "proj_coeff": number("projCoeff"),
        "align_schedule": schedule("alignSchedule"),
        "align_steps": steps if align_steps == -1 else align_steps,
        "start": start,
        "warmup": steps // 8 if warm == -1 else warm,
        "decay": schedule("diffusionDecay"),
        "targets": [(key, coef) for key, (_, coef, _) in zip(names, parsed)],  # [] = "features", coef 1
        "explicit_targets": bool(parsed),
    }


# ----------------------------------------------------------------------------------------------
# the curriculum

def w_diff(g, r):
    start, W, S = r["start"], r["warmup"], r["steps"]
    if g < start:
        return 0.0
    if g < start + W:
        return (g - start) / W
    top = start + W
    if r["decay"] == "constant":
        return 1.0
    frac = (g - top) / (S - top) if S > top else 0.0
    if r["decay"] == "linear":
        return 1.0 - frac
    return (1.0 + math.cos(math.pi * frac)) / 2.0


def w_align(g, r):
    kind, Sa = r["align_schedule"], r["align_steps"]
    if kind == "constant":
        return 1.0
    if Sa <= 0:
        return 0.0
    if kind == "linear":
        return max(1.0 - g / Sa, 0.0)
    return (1.0 + math.cos(math.pi * min(g, Sa) / Sa)) / 2.0


def lam(g, r):
    return r["proj_coeff"] * w_align(g, r)


# ----------------------------------------------------------------------------------------------
# the check

def _num(v):
    """A logged number (Jackson may write non-finite values as strings "NaN", "Infinity")."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def check_run(run_dir):
    """Returns (number of lines checked, list of problem strings). Raises ConfigError."""
    r = load_config(run_dir)
    path = os.path.join(run_dir, "metrics.jsonl")
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}") from None
    problems = []
    n = 0
    target_keys = dict(r["targets"])
    need_terms = len(target_keys) > 1  # erw logs the terms only with two or more targets
    for lineno, text in enumerate(lines, 1):
        if not text.strip():
            continue
        n += 1
        where = f"{path}:{lineno}"
        try:
            o = json.loads(text)
        except ValueError as e:
            problems.append(f"{where}: not JSON ({e})")
            continue
        if not isinstance(o, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        step = o.get("step")
        if isinstance(step, bool) or not isinstance(step, (int, float)) or step != int(step) or step < 1:
            problems.append(f"{where}: step {step!r} is not an integer >= 1")
            continue
        step = int(step)
        where += f" (step {step})"
        if step > r["steps"]:
            problems.append(f"{where}: step beyond steps = {r['steps']}")
        g = step - 1
        vals = {}
        for k in ("loss", "loss_v", "loss_align", "lambda", "w_diff", "w_align"):
            if k not in o:
                continue
            v = _num(o[k])
            if v is None or not math.isfinite(v):
                problems.append(f"{where}: {k} = {o[k]!r} is not a finite number")
                vals[k] = None
            else:
                vals[k] = v

        def close(k, expect):
            if k not in vals:
                problems.append(f"{where}: {k} missing (expected {expect:.9g})")
                return
            got = vals[k]
            if got is not None and abs(got - expect) > TOL_SCHEDULE:
                problems.append(f"{where}: {k} = {got:.9g}, expected {expect:.9g} (off by {got - expect:.3g})")

        close("w_diff", w_diff(g, r))
        close("w_align", w_align(g, r))
        close("lambda", lam(g, r))

        def rel_close(label, got, parts):
            expect = sum(parts)
            scale = max(abs(got), abs(expect), sum(abs(p) for p in parts))
            if abs(got - expect) > TOL_REL * scale + 1e-12:
                problems.append(f"{where}: {label} = {got:.9g}, expected {expect:.9g} "
                                f"(relative error {abs(got - expect) / max(scale, 1e-300):.2e})")

        wd, lb = vals.get("w_diff"), vals.get("lambda")
        if vals.get("loss") is not None and wd is not None and lb is not None:
            parts = []
            ok = True
            for weight, key in ((wd, "loss_v"), (lb, "loss_align")):
                if key in vals and vals[key] is not None:
                    parts.append(weight * vals[key])
                elif key not in vals and weight == 0.0:
                    parts.append(0.0)  # a term weighted 0 need not be logged
                else:
                    ok = False
                    if key not in vals:
                        problems.append(f"{where}: {key} missing while its weight is {weight:.9g}")
            if ok:
                rel_close("loss", vals["loss"], parts)
        elif "loss" not in vals:
            problems.append(f"{where}: loss missing")

        logged = {k: o[k] for k in o if k.startswith("loss_align.")}
        la = vals.get("loss_align")
        if r["explicit_targets"]:
            extra = sorted(set(logged) - set(target_keys))
            if extra:
                problems.append(f"{where}: {', '.join(extra)} not among the configured targets "
                                f"({', '.join(sorted(target_keys))})")
            if la is not None and (need_terms or any(k in logged for k in target_keys)):
                parts = []
                for key, coef in target_keys.items():
                    v = _num(logged.get(key)) if key in logged else None
                    if key not in logged:
                        problems.append(f"{where}: {key} missing")
                    elif v is None or not math.isfinite(v):
                        problems.append(f"{where}: {key} = {logged[key]!r} is not a finite number")
                    else:
                        parts.append(coef * v)
                        continue
                    parts = None
                    break
                if parts is not None:
                    rel_close("loss_align", la, parts)
        else:
            extra = sorted(set(logged) - {"loss_align.features"})
            if extra:
                problems.append(f"{where}: {', '.join(extra)} logged but the config has no targets (default: features)")
            if la is not None and "loss_align.features" in logged:
                v = _num(logged["loss_align.features"])
                if v is None or not math.isfinite(v):
                    problems.append(f"{where}: loss_align.features = {logged['loss_align.features']!r} is not a finite number")
                else:
                    rel_close("loss_align", la, [v])
    if n == 0:
        problems.append(f"{path}: no metric lines")
    return n, problems


def run(run_dir, out=sys.stdout):
    try:
        n, problems = check_run(run_dir)
    except ConfigError as e:
        print(f"error: {e}", file=out)
        return 2
    for p in problems:
        print(p, file=out)
    if problems:
        print(f"FAIL: {len(problems)} problem(s) in {n} lines", file=out)
        return 1
    print(f"OK: {n} lines checked", file=out)
    return 0


# ----------------------------------------------------------------------------------------------
# self-test

def _f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _synthetic(d, cfg, nested, every, per_target, seed, model=None):
    """Writes config.json and metrics.jsonl of a run that follows the formulas (values as float32)."""
    import random
    rnd = random.Random(seed)
    os.makedirs(d, exist_ok=True)
    model = model or {"depth": 2, "hidden_size": 64, "encoder_depth": 1}
    root = {"model": model, "train": cfg, "data": {"name": "synthetic"}} if nested else cfg
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(root, f, indent=2)
    r = resolve(cfg, model=model if nested else None)
    targets = r["targets"] or ([("loss_align.features", 1.0)] if per_target else [])
    S = cfg["steps"]
    rows = []
    for s in sorted({1, S} | set(range(every, S + 1, every))):
        g = s - 1
        wd, wa = _f32(w_diff(g, r)), _f32(w_align(g, r))
        lb = _f32(r["proj_coeff"] * w_align(g, r))
        lv = _f32(rnd.uniform(0.2, 2.0))
        terms = {key: _f32(-rnd.uniform(0.05, 0.9)) for key, _ in targets}
        if targets:
            acc = 0.0
            for name, coef in targets:
                acc = _f32(acc + _f32(coef * terms[name]))
            la = acc
        else:
            la = _f32(-rnd.uniform(0.05, 0.9))
        loss = _f32(_f32(wd * lv) + _f32(lb * la))
        o = {"step": s, "phase": 2, "loss": loss, "loss_v": lv, "loss_align": la, "lambda": lb, "w_diff": wd, "w_align": wa}
        if per_target or len(targets) > 1:
            for key, _ in targets:
                o[key] = terms[key]
        o.update(grad_norm=1.0, img_per_s=100.0, time=1.7e9 + s)
        rows.append(o)
    _write_rows(d, rows)
    return rows


def _write_rows(d, rows):
    with open(os.path.join(d, "metrics.jsonl"), "w") as f:
        for o in rows:
            f.write(json.dumps(o) + "\n")


def self_test():
    fails = []

    def check(ok, msg):
        print(("ok   " if ok else "FAIL ") + msg)
        if not ok:
            fails.append(msg)

    # hand-computed points of the formulas
    r = resolve({"method": "reed", "steps": 80, "projCoeff": 0.5, "alignSchedule": "cosine", "alignSteps": -1,
                 "diffusionStart": 0, "diffusionWarmupSteps": -1, "diffusionDecay": "linear"})
    pts = [(w_diff(0, r), 0.0), (w_diff(5, r), 0.5), (w_diff(10, r), 1.0), (w_diff(45, r), 0.5), (w_diff(79, r), 1 - 69 / 70),
           (w_align(0, r), 1.0), (w_align(40, r), 0.5), (w_align(79, r), (1 + math.cos(math.pi * 79 / 80)) / 2),
           (w_align(200, r), 0.0), (lam(40, r), 0.25)]
    r2 = dict(r, start=20, warmup=0, decay="cosine", align_schedule="linear", align_steps=30)
    pts += [(w_diff(19, r2), 0.0), (w_diff(20, r2), 1.0), (w_diff(50, r2), 0.5), (w_align(15, r2), 0.5),
            (w_align(30, r2), 0.0), (w_align(60, r2), 0.0)]
    r3 = dict(r, start=8, warmup=4, decay="constant", align_schedule="constant")
    pts += [(w_diff(9, r3), 0.25), (w_diff(12, r3), 1.0), (w_diff(79, r3), 1.0), (w_align(79, r3), 1.0)]
    err = max(abs(a - b) for a, b in pts)
    check(err < 1e-15, f"formulas at hand-computed points (W = S//8 and S_a = S defaults, ramp, decays, clamps): {err:.1e}")
    check(parse_target("dinov2:block=4:pool=mean:hidden=256:z=24:coef=0.25") == ("dinov2", 0.25, 4)
          and parse_target("features") == ("features", 1.0, 0) and parse_target("f:POOL=None:Coef=2")[1] == 2.0,
          "target spec strings: set name, coef (default 1.0), block; keys case-insensitive, pool=none")
    model = {"encoder_depth": 4, "extra_projectors": [{"encoder_depth": 8, "pooled": True, "projector_dim": 48, "z_dim": 24},
                                                      {"encoder_depth": 6, "pooled": False, "projector_dim": 48, "z_dim": 24}]}
    names = metric_names([parse_target(t) for t in ["features", "features:block=8:pool=mean", "cap"]], model)
    check(names == ["loss_align.features@4", "loss_align.features@8", "loss_align.cap"],
          f"metric names: loss_align.SET, SET@block when two targets share a set: {names}")
    try:
        parse_target("x:colour=red")
        bad = False
    except ConfigError:
        bad = True
    check(bad, "target spec with an unknown key is refused")

    base = {"method": "reed", "steps": 400, "projCoeff": 0.5, "alignSchedule": "cosine", "alignSteps": -1,
            "diffusionStart": 20, "diffusionWarmupSteps": -1, "diffusionDecay": "linear",
            "targets": ["features:block=4:coef=1.0", "cls:pool=mean:hidden=256:z=24:coef=0.5", "dino2:block=6"],
            "batch": 8, "lr": 1e-4}
    cases = [
        ("nested under train, 3 targets, cosine align, linear decay", base, True, 7, True),
        ("flat, no targets (loss_align.features logged), linear align to S_a = 100, W = 0, cosine decay",
         dict(base, targets=[], alignSchedule="linear", alignSteps=100, diffusionWarmupSteps=0, diffusionDecay="cosine"), False, 5, True),
        ("flat, no targets (no per-target key), constant align, constant decay, start 0",
         dict(base, targets=[], alignSchedule="constant", diffusionStart=0, diffusionDecay="constant"), False, 9, False),
        ("flat, one target with coef 0.5, no per-target key (as erw logs one target)",
         dict(base, targets=["dino:coef=0.5"]), False, 11, False),
        ("nested, two targets on one set (loss_align.features@1, @2)",
         dict(base, targets=["features", "features:block=2:pool=mean:coef=0.5"]), True, 13, True),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        two_model = {"depth": 2, "encoder_depth": 1, "extra_projectors": [{"encoder_depth": 2, "pooled": True, "projector_dim": 48, "z_dim": 24}]}
        for i, (label, cfg, nested, every, per_target) in enumerate(cases):
            d = os.path.join(tmp, f"run{i}")
            rows = _synthetic(d, cfg, nested, every, per_target, seed=i, model=two_model if "@" in label else None)
            if "@" in label and "loss_align.features@2" not in rows[0]:
                check(False, "synthetic run with a shared set logs loss_align.features@2")
            n, problems = check_run(d)
            check(not problems and n > 10, f"synthetic run passes ({label}): {n} lines, {len(problems)} problem(s)"
                  + (f": {problems[:2]}" if problems else ""))

        d = os.path.join(tmp, "run0")
        rows = _synthetic(d, base, True, 7, True, seed=0)
        mid = len(rows) // 2

        def tampered(label, edit, expect_in):
            rs = [dict(o) for o in rows]
            edit(rs)
            _write_rows(d, rs)
            _, problems = check_run(d)
            check(len(problems) >= 1 and any(expect_in in p for p in problems),
                  f"tampered run fails ({label}): {len(problems)} problem(s), e.g. {problems[0] if problems else '-'}")

        def shift_lambda(rs):
            rs[mid]["lambda"] += 1e-4

        def scale_loss(rs):
            rs[mid]["loss"] *= 1 + 1e-4

        def bump_target(rs):
            rs[mid]["loss_align.cls"] += 1e-3

        def off_by_one(rs):  # w_diff computed at g = step instead of step - 1
            for o in rs:
                o["w_diff"] = w_diff(o["step"], resolve(base))

        def drop_w_align(rs):
            del rs[mid]["w_align"]

        def bump_w_align(rs):
            rs[-1]["w_align"] += 2e-6

        def foreign_target(rs):
            rs[1]["loss_align.other"] = -0.5

        tampered("lambda + 1e-4 on one line", shift_lambda, "lambda =")
        tampered("loss x (1 + 1e-4) on one line", scale_loss, "loss =")
        tampered("loss_align.cls + 1e-3 on one line", bump_target, "loss_align =")
        tampered("w_diff evaluated one step late", off_by_one, "w_diff =")
        tampered("w_align missing", drop_w_align, "w_align missing")
        tampered("w_align + 2e-6 on the last line", bump_w_align, "w_align =")
        tampered("an unconfigured loss_align.other", foreign_target, "loss_align.other")

        _write_rows(d, rows)
        env = dict(os.environ)
        ok_run = subprocess.run([sys.executable, os.path.abspath(__file__), d], capture_output=True, text=True, env=env)
        rs = [dict(o) for o in rows]
        rs[2]["loss"] += 0.01
        _write_rows(d, rs)
        bad_run = subprocess.run([sys.executable, os.path.abspath(__file__), d], capture_output=True, text=True, env=env)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"train": dict(base, method="erw")}, f)
        other = subprocess.run([sys.executable, os.path.abspath(__file__), d], capture_output=True, text=True, env=env)
        check(ok_run.returncode == 0 and ok_run.stdout.strip().splitlines()[-1].startswith("OK: ")
              and bad_run.returncode == 1 and bad_run.stdout.strip().splitlines()[-1].startswith("FAIL: 1 problem")
              and other.returncode == 2,
              f"command line: exit 0 '{ok_run.stdout.strip().splitlines()[-1]}', exit {bad_run.returncode} when tampered, "
              f"exit {other.returncode} for a non-REED run")
    print(f"{len(fails)} failure(s)")
    return 1 if fails else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", nargs="?", help="training run directory (config.json, metrics.jsonl)")
    ap.add_argument("--self-test", action="store_true", help="check this script on synthetic runs in a temp folder")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.run_dir:
        ap.error("RUN_DIR is required (or --self-test)")
    return run(args.run_dir)


if __name__ == "__main__":
    sys.exit(main())
