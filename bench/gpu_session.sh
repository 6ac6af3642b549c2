#!/usr/bin/env bash
# The trainer's GPU measurements in one session of at most ~8 minutes, from the repository root:
#
#   machine and torch/CUDA description; `mixer train --device cuda` (an index-less device); a comparison of
#   the attention kernels at the presets' shapes (the fastest that matches flash is used below);
#   470m with the default settings (tokens/s, MFU, loader share, peak memory, a profile of one step, the
#   validation pass and a checkpoint save at the recipe's eval_tokens); 125m likewise; 2.8b with activation
#   checkpointing (peak memory); then, while time is left, 125m and 470m with the earlier settings (the whole
#   forward compiled, full logits, torch's attention order, no prefetching) for comparison.
#
# Needs the shards of recipes/train-gpu.yaml in shards/train-gpu (built on any machine: `mixer build
# recipes/train-gpu.yaml`; work/ is not needed) and torch, numpy, pyyaml, click and pydantic.
# Writes into $OUT (default bench-out/gpu-session): session.log (everything printed), summary.jsonl (one JSON
# line per result), summary.json (the same as one document) and profile-470m.txt.
#
# Every step runs under `timeout` and starts only when its usual duration fits in what is left of
# MIXER_GPU_SESSION_BUDGET seconds (default 450); a step that does not fit is skipped and reported.
#
# MIXER_GPU_SESSION_DRY=1 runs every step on the CPU with the tiny preset and 3 steps, against the build of
# MIXER_GPU_SESSION_RECIPE (its output folder in MIXER_GPU_SESSION_SHARDS): a check of this script's logic.
set -u -o pipefail
cd "$(dirname "$0")/.."

DRY=${MIXER_GPU_SESSION_DRY:-0}
PY=${PYTHON:-python3}
OUT=${OUT:-bench-out/gpu-session}
WORK=${MIXER_GPU_SESSION_WORK:-/tmp/mixer-gpu-session}
mkdir -p "$OUT" "$WORK"
LOG="$OUT/session.log"
SUMMARY="$OUT/summary.jsonl"
: >"$SUMMARY"
export PYTHONUNBUFFERED=1

if [ "$DRY" = 1 ]; then
  BUDGET=${MIXER_GPU_SESSION_BUDGET:-100000}
  RECIPE=${MIXER_GPU_SESSION_RECIPE:?set MIXER_GPU_SESSION_RECIPE to a small recipe with a pretrain phase}
  SHARDS=${MIXER_GPU_SESSION_SHARDS:?set MIXER_GPU_SESSION_SHARDS to its build output folder}
  DEVICE=cpu EXPECT=cpu
  M125=tiny M470=tiny M28=tiny
  LONG=3 LONG_WARMUP=1 SHORT=3 SHORT_WARMUP=1 AC=3 AC_WARMUP=1
  COMMON=(--set compile=false)
  BIG_BATCH=()
  ATTN_SHAPE=(--heads 4 --batch 2 --seq-len 128 --head-dim 16 --iterations 2)
else
  BUDGET=${MIXER_GPU_SESSION_BUDGET:-450}
  RECIPE=${MIXER_GPU_SESSION_RECIPE:-recipes/train-gpu.yaml}
  SHARDS=${MIXER_GPU_SESSION_SHARDS:-shards/train-gpu}
  DEVICE=cuda EXPECT=cuda:0
  M125=125m M470=470m M28=2.8b
  LONG=30 LONG_WARMUP=6 SHORT=24 SHORT_WARMUP=5 AC=10 AC_WARMUP=4
  COMMON=()
  # 2.8b: 32 sequences of 2048 per step (2 micro-batches of 16): the step's shape, a tenth of the time
  BIG_BATCH=(--set global_batch_tokens=65536 --set micro_batch=16)
  ATTN_SHAPE=(--heads 12,16 --batch 16 --seq-len 2048 --head-dim 64 --iterations 10)
fi
# The settings before this work: the whole forward compiled as one graph, the full fp32 logits, torch's own
# attention order, the batch read in the training loop.
PLAIN=(--set compile_scope=model --set loss_chunk_tokens=0 --set attention=auto --set prefetch=false)

START=$(date +%s)

note() { # note NAME STATUS DETAIL: a step's outcome, in the summary
  "$PY" -c 'import json, sys; print(json.dumps({"kind": "step", "name": sys.argv[1], "status": sys.argv[2], "detail": sys.argv[3]}))' \
    "$1" "$2" "$3" >>"$SUMMARY"
}

step() { # step NAME USUAL_SECONDS LIMIT_SECONDS COMMAND...: run COMMAND under timeout if it fits the budget
  local name=$1 usual=$2 limit=$3
  shift 3
  local now left rc
  now=$(date +%s)
  left=$((BUDGET - (now - START)))
  if [ "$usual" -gt "$left" ]; then
    echo "==== $name: skipped (usually ${usual}s, ${left}s of the budget left)"
    note "$name" skipped "usually ${usual}s, ${left}s left"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "==== $name (limit ${limit}s, $((now - START))s into the session)"
  timeout -k 15 "$limit" "$@"
  rc=$?
  local took=$(($(date +%s) - now))
  if [ "$rc" = 0 ]; then
    STATUS=ok
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    STATUS="timed out"
  else
    STATUS=failed
  fi
  note "$name" "$STATUS" "exit $rc after ${took}s (limit ${limit}s)"
  echo "==== $name: exit $rc after ${took}s"
  return 0
}

run() { # run LABEL MODEL STEPS WARMUP USUAL LIMIT [bench.train options]: a measured run, summarized even if stopped
  local label=$1 model=$2 steps=$3 warmup=$4 usual=$5 limit=$6
  shift 6
  STATUS=skipped
  rm -rf "$WORK/run"
  step "$label" "$usual" "$limit" "${BENCH[@]}" --label "$label" --model "$model" --steps "$steps" \
    --warmup "$warmup" "$@"
  if [ "$STATUS" != ok ] && [ "$STATUS" != skipped ]; then
    "$PY" -m bench.gpu_session partial --summary "$SUMMARY" --metrics "$WORK/run/pretrain/metrics.jsonl" \
      --label "$label" --model "$model" --warmup "$warmup"
  fi
}

# bench.train with the session's build, device, run folder and summary; add --label, --model, --steps, ...
BENCH=("$PY" -m bench.train --recipe "$RECIPE" --shards "$SHARDS" --repeats 1 --device "$DEVICE"
  --out "$WORK/run" --json "$SUMMARY" --show-output ${COMMON[@]+"${COMMON[@]}"})

session() {
  echo "mixer GPU session: $(date -u +%FT%TZ), dry run: $DRY, budget ${BUDGET}s, recipe $RECIPE, shards $SHARDS"
  step info 20 60 "$PY" -m bench.gpu_session info --summary "$SUMMARY"
  command -v nvidia-smi >/dev/null && timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv

  # `--device cuda` without an index: this process's GPU (LOCAL_RANK, 0 here)
  step device-cuda 40 120 "$PY" -m bench.gpu_session device-check --summary "$SUMMARY" --expect "$EXPECT" -- \
    "$PY" -m mixer.cli train "$RECIPE" --phase pretrain --shards "$SHARDS" --out "$WORK/device" \
    --device "$DEVICE" --max-steps 3 --model tiny --set compile=false --set save_checkpoints=false \
    --set eval_tokens=1 --set log_interval=1

  local choice="$WORK/attention"
  echo auto >"$choice"
  step attention 20 90 "$PY" -m bench.gpu_session attention --summary "$SUMMARY" --device "$DEVICE" \
    --choice-file "$choice" "${ATTN_SHAPE[@]}"
  local attn
  attn=$(cat "$choice")
  echo "attention backend for the tuned runs: $attn"

  run 470m "$M470" "$SHORT" "$SHORT_WARMUP" 170 300 --costs --profile-step "$SHORT" --set attention="$attn"
  cp "$WORK/run/pretrain/profile/top-rank0.txt" "$OUT/profile-470m.txt" 2>/dev/null
  rm -rf "$WORK/run" # the 470m checkpoint: 5 GB

  run 125m "$M125" "$LONG" "$LONG_WARMUP" 90 200 --set attention="$attn"
  run 2.8b-ac "$M28" "$AC" "$AC_WARMUP" 110 220 --set activation_checkpointing=true --set attention="$attn" \
    ${BIG_BATCH[@]+"${BIG_BATCH[@]}"}
  run 125m-plain "$M125" "$LONG" "$LONG_WARMUP" 110 200 "${PLAIN[@]}"
  run 470m-plain "$M470" "$SHORT" "$SHORT_WARMUP" 170 280 "${PLAIN[@]}"
  rm -rf "$WORK/run"

  "$PY" -m bench.gpu_session summary --summary "$SUMMARY" --json "$OUT/summary.json"
  echo "session: $(($(date +%s) - START))s"
}

session 2>&1 | tee "$LOG"
