#!/usr/bin/env bash
# Issue 22's convergence study and its ablations, in the order they are reported, on 2 cores; every
# step resumes where it stopped (bench converge --resume), so an interrupted run is continued by running
# this again with the same arguments. Results go to docs/convergence/{full,ablations,encoder-strong}/.
#
#   tools/study/issue22.sh [WORK=runs/issue22] [DATA_ROOT=data]
#
# Run directories (each run's checkpoints, the final EMA weights among them) stay under WORK, so that
# `erw eval` or any other evaluator can score them again. The whole of it takes ~8 hours on a 2-core
# Xeon (the full study ~6 h at ~18 min a run, the ablations ~2 h, the encoder-strength arm ~1 h). A build of the same
# checkout while it runs replaces the jars it runs from: develop in another worktree (git worktree add).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(realpath -m "${1:-$root/runs/issue22}")"
data="$(realpath -m "${2:-$root/data}")"
erw="$root/erw"
cd "$root"
mkdir -p "$work"
say() { printf '\n== %s: %s\n' "$(date -u +%H:%M)" "$*" >&2; }

# 1. The study: SiT, REPA, ERW and REED at the main job's batch for 2,000 steps, seeds 0-4, every seed
#    scored every 250 steps on both evaluators (500 samples, Heun 20).
say "full study: sit, repa, erw"
"$erw" bench converge --preset full --methods sit,repa,erw --data-root "$data" --work "$work/full" --out docs/convergence/full --resume
say "full study: reed"
"$erw" bench converge --preset full --methods reed --data-root "$data" --work "$work/full" --out docs/convergence/full --resume

# 2. Ablations of ERW on the quick budget (600 steps of batch 32), 3 seeds, every seed a curve, REPA beside them.
say "ablations"
"$erw" bench converge --preset quick --curves 3 --methods repa,erw \
  --arm "warmup-30=--warmup-steps 30" --arm "warmup-120=--warmup-steps 120" \
  --arm "l2r-depth-1=--l2r-depth 1" --arm "l2r-depth-4=--l2r-depth 4" \
  --arm "align-block-1=--encoder-depth 1" --arm "align-block-4=--encoder-depth 4" \
  --arm "c0-0.5=--c0 0.5" --arm "c0-2=--c0 2" \
  --arm "ntxent=--align ntxent" \
  --data-root "$data" --work "$work/ablations" --out docs/convergence/ablations --resume

# 3. Encoder strength: the same two methods with a target encoder trained 7.5x longer (88.01% test accuracy
#    against the built-in 81.00%; its own data root; the
#    evaluators are copied, so FD is measured in the same feature spaces).
strong="$work/data-strong-encoder"
mkdir -p "$strong"
for f in "$data"/fashion-mnist-evaluator*.safetensors; do [ -f "$strong/$(basename "$f")" ] || cp "$f" "$strong/"; done
if [ ! -f "$strong/fashion-mnist-encoder.safetensors" ]; then
  say "training the stronger target encoder (6,000 steps)"
  "$erw" encoder train --fashion-mnist --steps 6000 --out "$strong/fashion-mnist-encoder.safetensors" # written atomically
fi
say "encoder strength"
"$erw" bench converge --preset quick --curves 3 --methods repa,erw --data-root "$strong" --work "$work/encoder-strong" \
  --out docs/convergence/encoder-strong --resume
say "done"
