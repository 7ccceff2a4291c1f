#!/usr/bin/env bash
# Weak scaling of data-parallel training on this machine (the issue's check, a benchmark, not a test):
# 1 rank x 1 thread at per-rank batch B against `mpirun -np 2` x 1 thread at global batch 2B, same
# model and data, for the tiny Fashion-MNIST SiT and SiT-S/2 on 32x32x4 latents. Prints img/s (median
# over the timed steps), the efficiency img/s(2 ranks) / (2 x img/s(1 rank)) and the all-reduce wait.
#   bench/data_parallel.sh [STEPS=20] [WORK=/tmp/erw-dp-bench]      (MODELS="tiny s2" selects the configs)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
steps="${1:-20}"
work="${2:-/tmp/erw-dp-bench}"
export ERW_NO_INSTALL=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$work"; mkdir -p "$work"
mpirun --version >/dev/null 2>&1 || { echo "bench/data_parallel.sh: needs Open MPI (apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 1; }
/usr/bin/python3 - "$work" <<'PY'
import sys, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(0)
for name, shape, feat in [("tiny", (128, 1, 32, 32), (128, 64, 64)), ("s2", (64, 4, 32, 32), (64, 256, 768))]:
    np.save(f"{w}/{name}-x.npy", rng.normal(size=shape).astype(np.float32))
    np.save(f"{w}/{name}-y.npy", (np.arange(shape[0]) % 10).astype(np.float32))
    np.save(f"{w}/{name}-f.npy", rng.normal(size=feat).astype(np.float32))
PY
median() { /usr/bin/python3 -c "
import json, statistics, sys
v = [json.loads(l)['img_per_s'] for l in open(sys.argv[1])][3:]
print(f'{statistics.median(v):.2f}')" "$1"; }
printf '| model | per-rank batch | 1 rank x 1 thread | 2 ranks x 1 thread | efficiency | all-reduce wait after backward |\n|---|---|---|---|---|---|\n'
for cfg in "tiny tiny 32" "s2 SiT-S/2 4"; do
  set -- $cfg; name=$1; model=$2; b=$3
  case " ${MODELS:-tiny s2} " in *" $name "*) ;; *) continue ;; esac
  "$root/erw" data import --images "$work/$name-x.npy" --labels "$work/$name-y.npy" --features "$work/$name-f.npy" --num-classes 10 --out "$work/$name" 2>/dev/null
  common=(--data "$work/$name" --model "$model" --method repa --steps "$steps" --log-every 1 --checkpoint-every 0 --sample-steps 2 --threads 1 --backend cpu)
  "$root/erw" train "${common[@]}" --batch "$b" --out "$work/$name-1" >"$work/$name-1.log" 2>&1
  mpirun -np 2 --oversubscribe "$root/erw" train "${common[@]}" --batch $((2 * b)) --out "$work/$name-2" >"$work/$name-2.log" 2>&1
  one=$(median "$work/$name-1/metrics.jsonl"); two=$(median "$work/$name-2/metrics.jsonl")
  eff=$(/usr/bin/python3 -c "print(f'{$two / (2 * $one):.3f}')")
  wait=$(grep -o 'waited [0-9.]* ms per step' "$work/$name-2.log" | head -1)
  red=$(grep -o '[0-9.]* MiB of gradients all-reduced per step' "$work/$name-2.log" | head -1)
  echo "| $model | $b | $one img/s | $two img/s | $eff | $wait ($red) |"
done
