#!/usr/bin/env bash
# One prepared run on a lent GPU machine (see README "Embedded model"): installs the few
# wheels it lacks (carried in .whl/), smoke-tests the stack, pretrains within a time budget,
# and returns the preset in 15 MB parts plus the log under $OUT.
set -euo pipefail
BUDGET=${BUDGET:-440}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
nvidia-smi --query-gpu=name,memory.total --format=csv
head -n 2000 data/corpus/valid.txt > /tmp/smoke.txt
python3 scripts/pretrain.py --corpus /tmp/smoke.txt --valid /tmp/smoke.txt \
  --tokens /tmp/smoke_tokens --out /tmp/smoke_run --steps 20 --batch-size 8 \
  --num-layers 1 --num-groups 1 --hidden-dim 32 --num-heads 2 --intermediate-dim 64 \
  --warmup-steps 5 --eval-paragraphs 50 2>&1 | grep -v Warning | tail -3
python3 scripts/pretrain.py --time-budget "$BUDGET" --batch-size 256 --learning-rate 7e-4 \
  --warmup-steps 1000 --checkpoint-every 120 --out runs/gpu 2>&1 \
  | grep -v Warning | tee "$OUT/pretrain.log"
cd runs/gpu && tar cf - albert_tiny_en_uncased eval.json unigram_counts.npy \
  | split -b 15m - "$OUT/preset.tar."
ls -la "$OUT"
