#!/usr/bin/env bash
# Embedded model v2: the whole GPU run as one command, within 10 minutes on one H100/H200.
#
#   1. installs the wheels the GPU image lacks (keras, optree, namex: carried in .whl/)
#   2. rebuilds data/corpus/train_v2.txt + valid.txt from the carried data/gpu/ parts and
#      tokenizes them in parallel (scripts/pack_v2_data.py unpack), unless already there
#   3. smoke-tests the exact code path (dtype, masking, data workers) on a tiny model for
#      20 steps; if mixed bfloat16 fails there, the run falls back to float32
#   4. pretrains (scripts/pretrain.py) within $BUDGET seconds: checkpoints every 60 s and
#      resumes from runs/v2 when run again (same command), warmup-stable-decay schedule
#   5. scores v2 against v1 on v1's held-out masks and unigram baseline, the shipped
#      heldout_sample.txt, everyday probes, weights size and CPU batch-1 latency
#      (scripts/evaluate_v2.py -> model_card_data.json)
#   6. leaves the preset (tar, 15 MB parts: cat preset.tar.* | tar x), logs and JSON
#      under $OUT (the preset right after training, before the evaluation)
#
# On the device machine (see docs/embedded-v2-plan.md for staging data/gpu/ first):
#   bash scripts/pretrain_v2.sh
# On a CPU, end to end in minutes (a tiny budget; proves the path, trains nothing):
#   PYTHON=.venv/bin/python CPU_TEST=1 bash scripts/pretrain_v2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
PY=${PYTHON:-python3}
BUDGET=${BUDGET:-420}          # pretrain.py's seconds: load, compile, train, its own eval
MASK=${MASK:-mixed}            # token | word | ngram | mixed (docs/embedded-v2-plan.md)
NUM_LAYERS=${NUM_LAYERS:-10}   # 10 layers in 5 groups: 5 distinct layers, each applied
NUM_GROUPS=${NUM_GROUPS:-5}    #   twice -> 11.2M parameters, 45 MB, ~1.5-1.6x v1's CPU
                               #   latency; 12 in 6 (13.0M, like v1) measured ~1.8-1.9x,
                               #   no margin under the issue's 2x bound
DTYPE=${DTYPE:-float32}        # mixed_bfloat16 runs (CPU-tested); benchmarks/results/
                               #   gpu-h100.json found bf16 no faster than fp32 in this code
BATCH=${BATCH:-256}
LR=${LR:-7e-4}
WARMUP=${WARMUP:-1000}
WORKERS=${WORKERS:-8}          # masking processes (span masking is CPU work)
EVAL=${EVAL_PARAGRAPHS:-2000}
SAMPLE=0                       # all of heldout_sample.txt
RUN=${RUN:-runs/v2}
OUT=${OUT:-$RUN/out}
TRAIN=${TRAIN:-data/corpus/train_v2.txt}
TOKENS=${TOKENS:-data/tokens_v2}
VOCAB=assets/albert_tiny_en_uncased/assets/tokenizer/vocabulary.spm
V1COUNTS=assets/albert_tiny_en_uncased/unigram_counts.npy
if [ -n "${CPU_TEST:-}" ]; then  # the same path, sized for a CPU: seconds of training
  BUDGET=${BUDGET_CPU:-60}; BATCH=8; WARMUP=5; WORKERS=2; EVAL=50; SAMPLE=20; RUN=runs/v2_cputest
  OUT=$RUN/out; export JAX_PLATFORMS=cpu
  mkdir -p "$RUN"; head -n 20000 "$TRAIN" > "$RUN/train_small.txt"  # tokenized in seconds
  TRAIN=$RUN/train_small.txt; TOKENS=$RUN/tokens
fi
mkdir -p "$OUT" "$RUN"
OUT=$(cd "$OUT" && pwd)
stamp() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
quiet() { grep -v -i warning || true; }

# 1. wheels
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null && ! "$PY" -c "import keras" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv
stamp "python: $("$PY" -c 'import jax, keras; print("jax", jax.__version__, "keras", keras.__version__, jax.devices())')"

# 2. data
if [ ! -f "$TOKENS/train.npz" ] && [ ! -f "$TRAIN" ] || [ ! -f data/corpus/valid.txt ]; then
  if [ -f data/gpu/manifest.json ]; then
    "$PY" scripts/pack_v2_data.py unpack --vocab "$VOCAB" 2>&1 | quiet
  else
    echo "no data: neither $TOKENS/train.npz nor data/gpu/ (scripts/pack_v2_data.py pack)"
    exit 2
  fi
fi
stamp "data ready"

# 3. smoke test of the exact code path on a tiny model; bf16 (if asked) falls back to fp32
smoke() {
  head -n 2000 data/corpus/valid.txt > /tmp/v2_smoke.txt
  "$PY" scripts/pretrain.py --corpus /tmp/v2_smoke.txt --valid /tmp/v2_smoke.txt \
    --vocab "$VOCAB" --tokens /tmp/v2_smoke_tokens --out /tmp/v2_smoke_run --steps 20 \
    --batch-size 8 --num-layers 2 --num-groups 1 --hidden-dim 32 --num-heads 2 \
    --intermediate-dim 64 --warmup-steps 5 --eval-paragraphs 20 --mask-mode "$MASK" \
    --dtype "$1" --data-workers "$(( WORKERS < 2 ? WORKERS : 2 ))" \
    --checkpoint-every 1e9 --baseline-counts "$V1COUNTS" > /tmp/v2_smoke.log 2>&1
}
if ! smoke "$DTYPE"; then
  tail -20 /tmp/v2_smoke.log
  if [ "$DTYPE" != float32 ]; then
    stamp "smoke test failed with $DTYPE; falling back to float32"
    DTYPE=float32
    smoke float32 || { tail -30 /tmp/v2_smoke.log; exit 3; }
  else
    exit 3
  fi
fi
stamp "smoke test passed ($DTYPE, $MASK masking)"

# 4. pretraining (resumable: a second call continues runs/v2 from its last checkpoint)
"$PY" scripts/pretrain.py --corpus "$TRAIN" --valid data/corpus/valid.txt \
  --vocab "$VOCAB" --tokens "$TOKENS" --out "$RUN" --resume \
  --time-budget "$BUDGET" --batch-size "$BATCH" --learning-rate "$LR" \
  --warmup-steps "$WARMUP" --checkpoint-every 60 --num-layers "$NUM_LAYERS" \
  --num-groups "$NUM_GROUPS" --mask-mode "$MASK" --dtype "$DTYPE" --data-workers "$WORKERS" \
  --eval-paragraphs "$EVAL" --baseline-counts "$V1COUNTS" --log-every 200 2>&1 \
  | quiet | tee "$OUT/pretrain.log"
stamp "pretraining done"
# the preset at once, in parts that fit what a device call returns (15 MB each), so a
# run cut off during the evaluation still brings the model back (with eval.json: held-out
# top-1/top-5 on v1's masks and baseline)
cp "$RUN/eval.json" "$OUT/"
(cd "$RUN" && tar cf - albert_tiny_en_uncased | split -b 15m - "$OUT/preset.tar.")

# 5. v2 vs v1 on v1's evaluation, probes, latency -> model-card data
"$PY" scripts/evaluate_v2.py --model "$RUN/albert_tiny_en_uncased" --eval-paragraphs "$EVAL" \
  --sample-paragraphs "$SAMPLE" --latency --out "$RUN/model_card_data.json" 2>&1 | quiet | tee "$OUT/evaluate.log"
"$PY" - "$RUN" "$MASK" "$DTYPE" "$BUDGET" "$T0" <<'EOF'
import json, sys, time
run, mask, dtype, budget, t0 = sys.argv[1:]
card = json.load(open(f"{run}/model_card_data.json"))
card["training"] = json.load(open(f"{run}/eval.json"))
card["run"] = {"command": "bash scripts/pretrain_v2.sh", "mask_mode": mask, "dtype": dtype,
               "time_budget_s": float(budget), "wall_s": round(time.time() - float(t0), 1)}
json.dump(card, open(f"{run}/model_card_data.json", "w"), indent=2)
EOF
cp "$RUN/model_card_data.json" "$RUN/eval.json" "$OUT/"

stamp "done: $(ls "$OUT" | tr '\n' ' ')"
