#!/usr/bin/env bash
# The CUDA path of dens-bench on a machine with one GPU, within BUDGET_S seconds (8 minutes):
# each step runs under a time limit cut to what is left, and once the budget is spent the
# remaining steps are recorded as skipped (status "skipped"). Not yet run on a GPU.
#
# Usage: tools/gpu_check.sh [--dry-run] OUT
#
# Run from the repository root. Steps, in order (each one timed and logged; a failed step is
# recorded and the next one still runs; the exit status is 1 when any step failed):
#   1. install dens-bench (editable) with no network: torch, e3nn, torch-geometric, typer,
#      pandas and rich must be installed already; every other dependency comes from the wheels
#      in .whl/ (fill it on a networked machine of the same Python version with
#      `python3 -m pip download -c constraints.txt -d .whl tabulate lmdb pyyaml ase matplotlib
#      submitit vesin pytest`).
#   2. pytest -m gpu (tests/gpu: a CUDA training step per backbone against CPU, bf16 autocast,
#      one-rank nccl DDP, CUDA peak memory) -> OUT/gpu-pytest.xml
#   3. a STEPS-step `bench run` per backbone with bf16 autocast off and on -> OUT/runs/
#   4. one-GPU DDP over nccl: torchrun (torch.distributed.run) --nproc_per_node 1 -> OUT/runs/
#   5. `bench perf` of none vs dens at the paper presets (structures/s, peak memory, DeNS
#      overhead) -> OUT/gpu-train-<backbone>-paper.json, and the 1764-atom graph build on
#      the device -> OUT/gpu-graph-oc20-6x6x1.json
# OUT/gpu-check.tsv lists step, exit status and seconds; OUT/gpu-check.log has every command.
#
# --dry-run prints the commands and writes nothing. Environment (defaults in brackets):
# PYTHON [python3], DEVICE [cuda; cpu runs the same steps there, DDP over gloo],
# INSTALL [1], STEPS [20], RUN_PRESET [ci], PERF_PRESET [paper], PERF_STEPS [5],
# PERF_WARMUP [2], PERF_REPEATS [2], BACKBONES [all five], BUDGET_S [470].
set -uo pipefail

dry=0
if [[ "${1:-}" == "--dry-run" ]]; then
  dry=1
  shift
fi
if [[ $# -ne 1 || "$1" == -* ]]; then
  echo "usage: tools/gpu_check.sh [--dry-run] OUT" >&2
  exit 2
fi
out=$1
py=${PYTHON:-python3}
device=${DEVICE:-cuda}
steps=${STEPS:-20}
run_preset=${RUN_PRESET:-ci}
perf_preset=${PERF_PRESET:-paper}
perf_steps=${PERF_STEPS:-5}
perf_warmup=${PERF_WARMUP:-2}
perf_repeats=${PERF_REPEATS:-2}
read -r -a backbones <<<"${BACKBONES:-schnet equiformer segnn equiformer-v2 escn}"
backend=nccl
if [[ "$device" == cpu ]]; then
  backend=gloo
fi
budget=${BUDGET_S:-470}
bench=("$py" -m bench.cli)
failed=0
t0=$(date +%s)

if ((!dry)); then
  mkdir -p "$out/runs" || exit 2
  printf 'step\tstatus\tseconds\n' >"$out/gpu-check.tsv"
fi

# step NAME LIMIT_S CMD...: print CMD; unless dry, run it under `timeout` and record it.
step() {
  local name=$1 limit=$2 start status left
  shift 2
  printf '%q ' "$@"
  printf '\n'
  if ((dry)); then
    return 0
  fi
  start=$(date +%s)
  left=$((budget - (start - t0)))
  if ((left <= 0)); then
    printf '%s\tskipped\t0\n' "$name" >>"$out/gpu-check.tsv"
    failed=1
    return 0
  fi
  limit=$((limit < left ? limit : left))
  printf '$ %s\n' "$*" >>"$out/gpu-check.log"
  timeout "$limit" "$@" >>"$out/gpu-check.log" 2>&1
  status=$?
  printf '%s\t%s\t%s\n' "$name" "$status" "$(($(date +%s) - start))" >>"$out/gpu-check.tsv"
  if ((status != 0)); then
    failed=1
    echo "step $name failed (exit $status); see $out/gpu-check.log" >&2
  fi
}

# data_args BACKBONE: the shipped subset each backbone trains on (MD17 or OC20 frames).
data_args() {
  case $1 in
    equiformer-v2 | escn)
      echo "--dataset ase --path tests/data/oc20_relax --set data.kind=oc20" \
        "--set variant=total-energy --set data.n_train=4 --set data.n_val=1" ;;
    *) echo "--dataset rmd17 --molecule aspirin --data-root tests/data" ;;
  esac
}

# perf_args BACKBONE: the perf shortcut and batch size (one 49-atom OC20 frame, 8 aspirins).
perf_args() {
  case $1 in
    equiformer-v2 | escn) echo "--dataset oc20-relax --batch-size 1" ;;
    *) echo "--dataset md17-aspirin --batch-size 8" ;;
  esac
}

if [[ "${INSTALL:-1}" == 1 ]]; then
  step install 300 "$py" -m pip install --no-index --find-links .whl --no-build-isolation -e .
fi
step pytest-gpu 240 "$py" -m pytest -m gpu -q -rs -p no:cacheprovider \
  --junitxml "$out/gpu-pytest.xml" tests/gpu

for b in "${backbones[@]}"; do
  read -r -a data <<<"$(data_args "$b")"
  for amp in false true; do
    step "run-$b-amp-$amp" 120 "${bench[@]}" run --backbone "$b" --method dens "${data[@]}" \
      --preset "$run_preset" --device "$device" --max-steps "$steps" --results "$out/runs" \
      --run-id "gpu-$b-amp-$amp" --set "train.amp=$amp" --set train.log_every=5
  done
done

step ddp-1-rank 120 "$py" -m torch.distributed.run --standalone --nproc_per_node 1 \
  -m bench.cli run --backbone schnet --method dens --dataset rmd17 --molecule aspirin \
  --data-root tests/data --preset "$run_preset" --device "$device" --dist-backend "$backend" \
  --max-steps "$steps" --results "$out/runs" --run-id "gpu-schnet-ddp-$backend"

for b in "${backbones[@]}"; do
  read -r -a data <<<"$(perf_args "$b")"
  step "perf-$b" 150 "${bench[@]}" perf --backbone "$b" --methods none,dens "${data[@]}" \
    --preset "$perf_preset" --device "$device" --steps "$perf_steps" --warmup "$perf_warmup" \
    --repeats "$perf_repeats" --output "$out/gpu-train-$b-$perf_preset.json"
done
step perf-graph 120 "${bench[@]}" perf --component graph --device "$device" --supercell 6,6,1 \
  --batch-size 1 --repeats 3 --max-structures 5 --output "$out/gpu-graph-oc20-6x6x1.json"

exit "$failed"
