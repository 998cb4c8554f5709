#!/usr/bin/env python
"""Pretrain the embedded ALBERT with the project's own preprocessor and `AlbertMaskedLM.fit`.

corpus (scripts/build_corpus.py) -> vocabulary (scripts/train_vocab.py) -> token stream
(cached) -> masked-LM training -> held-out evaluation -> keras-hub preset folder.

The schedule is warmup-stable-decay: linear warmup, constant peak, then a linear decay
over the last `--decay-fraction` of the run, so a run bounded by `--time-budget` (seconds)
still ends fully decayed. Checkpoints are written atomically every `--checkpoint-every`
seconds; `--resume` continues from the last one. Runs unchanged on CPU or GPU.

    python scripts/pretrain.py --steps 200 --batch-size 16          # a CPU smoke run
    python scripts/pretrain.py --time-budget 420 --batch-size 256   # a GPU run

v2 options (defaults reproduce v1): `--mask-mode word|ngram` (whole-word / ALBERT n-gram
masking, scripts/mlm_masking.py), `--num-layers 12 --num-groups 6` (cross-layer sharing:
depth without parameters), `--dtype mixed_bfloat16`, `--data-workers N` (mask in N
processes), `--baseline-counts` (score the unigram baseline with v1's counts, so the
figures compare). The schedule position (step, elapsed seconds, decay plan) is saved with
every checkpoint, so `--resume` continues a time-budgeted run where it stopped.
"""

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from albert_demo import (AlbertBackbone, AlbertMaskedLM,  # noqa: E402
                         AlbertMaskedLMPreprocessor, AlbertTokenizer)
from albert_demo.evaluation import masked_token_eval  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mlm_masking  # noqa: E402

# -- knobs (all overridable from the command line) ------------------------------------
MODEL = dict(num_layers=6, num_heads=6, num_groups=6, num_inner_repetitions=1,
             embedding_dim=128, hidden_dim=384, intermediate_dim=1536, dropout=0.0,
             max_sequence_length=512)
DEFAULTS = dict(corpus="data/corpus/train.txt", valid="data/corpus/valid.txt",
                vocab="data/vocab/vocabulary.spm", tokens="data/tokens", out="runs/tiny",
                sequence_length=128, batch_size=128, learning_rate=1e-3, warmup_steps=500,
                weight_decay=0.01, decay_fraction=0.2, steps=None, time_budget=None,
                checkpoint_every=300.0, eval_paragraphs=2000, seed=0,
                mask_mode="token", max_ngram=3, dtype="float32", data_workers=0,
                baseline_counts="", log_every=50, reserve=60.0)


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


# -- data -----------------------------------------------------------------------------
def tokenize_file(tokenizer, text_path, cache_path):
    """One uint16 stream of every paragraph's ids, cached next to the corpus."""
    cache_path = Path(cache_path)
    text_path = Path(text_path)
    if cache_path.exists() and (not text_path.exists() or
                                cache_path.stat().st_mtime > text_path.stat().st_mtime):
        return np.load(cache_path)["tokens"]
    log(f"tokenizing {text_path} ...")
    start, parts, total = time.time(), [], 0
    with open(text_path, encoding="utf-8") as f:
        batch = []
        for line in f:
            if line.strip():
                batch.append(line)
            if len(batch) == 4096:
                parts.extend(tokenizer(batch))
                batch = []
        parts.extend(tokenizer(batch))
    tokens = np.concatenate([np.append(p, tokenizer.sep_token_id) for p in parts]).astype(
        "uint16")
    total = len(tokens)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, tokens=tokens)
    os.replace(tmp, cache_path)
    log(f"  {total:,} tokens in {time.time() - start:.0f}s -> {cache_path}")
    return tokens


def make_batch(tokens, masker, batch_size, window, cls_id, sep_id, seed, index):
    """Batch `index` of a run: random windows of the token stream, packed
    `[CLS] window [SEP]`, then masked (fresh masks every batch: dynamic masking). Depends
    only on (seed, index), so worker processes and resumed runs draw the same batches."""
    rng = np.random.default_rng([seed, index])
    starts = rng.integers(0, len(tokens) - window, batch_size)
    windows = tokens[starts[:, None] + np.arange(window)].astype("int32")
    ids = np.concatenate([np.full((batch_size, 1), cls_id, "int32"), windows,
                          np.full((batch_size, 1), sep_id, "int32")], 1)
    masked, positions, labels, weights = masker(ids, rng)
    x = {"token_ids": masked, "padding_mask": np.ones_like(ids),
         "segment_ids": np.zeros_like(ids), "mask_positions": positions}
    return x, labels, weights


_WORKER = {}


def _worker_init(tokens_path, vocab, sequence_length, mask_mode, max_ngram, batch_size):
    tokenizer = AlbertTokenizer(vocab)
    pre = AlbertMaskedLMPreprocessor(tokenizer, sequence_length=sequence_length,
                                     mask_selection_length=sequence_length * 15 // 100 + 2)
    _WORKER.update(tokens=np.load(tokens_path)["tokens"],
                   masker=mlm_masking.Masker(pre, mask_mode, max_ngram),
                   batch_size=batch_size, window=sequence_length - 2,
                   cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id)


def _worker_batch(seed_index):
    w = _WORKER
    return make_batch(w["tokens"], w["masker"], w["batch_size"], w["window"], w["cls_id"],
                      w["sep_id"], *seed_index)


class Batches:
    """Training batches, made in this process or in `workers` spawned processes (masking
    is numpy/Python work; at GPU speed one core does not keep up with span masking)."""

    def __init__(self, tokens, tokens_path, tokenizer, preprocessor, args):
        self.batch_size, self.seed = args.batch_size, args.seed
        self.pool = None
        if args.data_workers > 0:
            # Workers never touch the accelerator: JAX on the CPU only, while spawning.
            saved = os.environ.get("JAX_PLATFORMS")
            os.environ["JAX_PLATFORMS"] = "cpu"
            try:
                self.pool = multiprocessing.get_context("spawn").Pool(
                    args.data_workers, _worker_init,
                    (str(tokens_path), args.vocab, args.sequence_length, args.mask_mode,
                     args.max_ngram, args.batch_size))
            finally:
                if saved is None:
                    os.environ.pop("JAX_PLATFORMS")
                else:
                    os.environ["JAX_PLATFORMS"] = saved
        else:
            self.args = (tokens, mlm_masking.Masker(preprocessor, args.mask_mode,
                                                    args.max_ngram),
                         args.batch_size, args.sequence_length - 2, tokenizer.cls_token_id,
                         tokenizer.sep_token_id)

    def __call__(self, first, count):
        """A generator of batches first .. first+count-1."""
        jobs = [(self.seed, i) for i in range(first, first + count)]
        if self.pool is not None:
            yield from self.pool.imap(_worker_batch, jobs, chunksize=4)
        else:
            for seed, index in jobs:
                yield make_batch(*self.args, seed, index)

    def close(self):
        if self.pool is not None:
            self.pool.terminate()


# -- schedule and callbacks -----------------------------------------------------------
@keras.saving.register_keras_serializable(package="albert_demo_scripts")
class WarmupStableDecay(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak, warmup_steps, decay_start=10**9, decay_steps=1):
        self.peak, self.warmup_steps = peak, warmup_steps
        self.decay_start, self.decay_steps = float(decay_start), float(max(1, decay_steps))

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warm = keras.ops.minimum(1.0, (step + 1) / self.warmup_steps)
        decay = keras.ops.clip(1.0 - (step - self.decay_start) / self.decay_steps, 0.0, 1.0)
        return self.peak * warm * decay

    def get_config(self):
        return dict(peak=self.peak, warmup_steps=self.warmup_steps,
                    decay_start=self.decay_start, decay_steps=self.decay_steps)


class Progress(keras.callbacks.Callback):
    def __init__(self, tokens_per_step, every=50, state=None):
        super().__init__()
        self.tokens_per_step, self.every, self.state = tokens_per_step, every, state
        self.t0 = self.last = time.time()
        self.last_step = 0

    def on_train_begin(self, logs=None):
        # One device read per fit() call; per batch the step is counted here, so the
        # host does not wait for every step to finish (keeps the accelerator's queue full).
        self.step = int(self.model.optimizer.iterations.numpy())
        if not self.last_step:
            self.last_step, self.last = self.step, time.time()

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        step = self.step
        if step % self.every:
            return
        now = time.time()
        rate = (step - self.last_step) * self.tokens_per_step / max(now - self.last, 1e-9)
        lr = float(self.model.optimizer._get_current_learning_rate())
        log(f"step {step:6d}  loss {float(logs['loss']):.4f}  "
            f"acc {float(logs.get('sparse_categorical_accuracy', 0)):.4f}  lr {lr:.2e}  "
            f"{rate:,.0f} tok/s")
        self.last, self.last_step = now, step


class Checkpoint(keras.callbacks.Callback):
    """Atomic weights+optimizer checkpoint every `every` seconds and at the end, with the
    schedule's position (`state()`: elapsed seconds, phase, decay plan) beside it."""

    def __init__(self, out, every, state=lambda: {}):
        super().__init__()
        self.out, self.every, self.last, self.state = Path(out), every, time.time(), state

    def save(self):
        tmp = self.out / "ckpt.tmp.weights.h5"
        self.model.save_weights(tmp)
        step = int(self.model.optimizer.iterations.numpy())
        state = {"step": step, **self.state()}
        (self.out / "state.tmp.json").write_text(json.dumps(state))
        # weights first, then the state that names them: a kill between the two leaves an
        # older state.json whose step is checked against the weights on resume.
        os.replace(tmp, self.out / "ckpt.weights.h5")
        os.replace(self.out / "state.tmp.json", self.out / "state.json")
        log(f"checkpoint at step {step}")

    def on_train_batch_end(self, batch, logs=None):
        if time.time() - self.last > self.every:
            self.save()
            self.last = time.time()


class StopAt(keras.callbacks.Callback):
    def __init__(self, deadline):
        super().__init__()
        self.deadline = deadline

    def on_train_batch_end(self, batch, logs=None):
        if self.deadline and time.time() > self.deadline:
            self.model.stop_training = True


# -- main -----------------------------------------------------------------------------
def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    for key, value in {**DEFAULTS, **MODEL}.items():
        kind = float if isinstance(value, float) else int if isinstance(value, int) else str
        if value is None:
            kind = float if key == "time_budget" else int
        p.add_argument("--" + key.replace("_", "-"), type=kind, default=value)
    p.add_argument("--resume", action="store_true", help="continue from out/ckpt.weights.h5")
    p.add_argument("--preset-name", default="albert_tiny_en_uncased")
    args = p.parse_args()
    if args.mask_mode not in mlm_masking.MODES:
        p.error(f"--mask-mode must be one of {mlm_masking.MODES}")
    if not args.steps and not args.time_budget:
        p.error("give --steps or --time-budget")
    return args


def main():
    args = parse_args()
    started = time.time()
    import jax
    log(f"devices: {jax.devices()}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AlbertTokenizer(args.vocab)
    train_tokens = tokenize_file(tokenizer, args.corpus, Path(args.tokens) / "train.npz")
    log(f"train stream: {len(train_tokens):,} tokens, vocabulary {tokenizer.vocabulary_size()}")

    config = {k: getattr(args, k) for k in MODEL}
    backbone = AlbertBackbone(vocabulary_size=tokenizer.vocabulary_size(), dtype=args.dtype,
                              **config)
    preprocessor = AlbertMaskedLMPreprocessor(
        tokenizer, sequence_length=args.sequence_length,
        mask_selection_length=args.sequence_length * 15 // 100 + 2, seed=args.seed)
    model = AlbertMaskedLM(backbone, preprocessor=preprocessor)
    log(f"parameters: {model.count_params():,}; masking: {args.mask_mode}"
        f"{f' (n <= {args.max_ngram})' if args.mask_mode == 'ngram' else ''}; "
        f"dtype: {args.dtype}")
    if args.steps:  # the whole schedule is known: one compiled step, no retrace
        stable = int(args.steps * (1 - args.decay_fraction))
        schedule = WarmupStableDecay(args.learning_rate, args.warmup_steps, stable,
                                     args.steps - stable)
    else:
        schedule = WarmupStableDecay(args.learning_rate, args.warmup_steps)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay,
                                         beta_2=0.98, epsilon=1e-6, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"))
    # Where the schedule is: saved with every checkpoint, so a resumed run continues it.
    plan = {"phase": "stable", "elapsed": 0.0, "decay_start": None, "total": args.steps}
    if args.resume and (out / "ckpt.weights.h5").exists():
        model.optimizer.build(model.trainable_variables)
        model.load_weights(out / "ckpt.weights.h5")
        saved = json.loads((out / "state.json").read_text())
        if saved.get("config", config) != config:
            raise SystemExit(f"{out} holds a run of another configuration "
                             f"({saved['config']}); use another --out")
        step = int(model.optimizer.iterations.numpy())
        if step != saved["step"]:
            raise SystemExit(f"checkpoint is at step {step}, state.json says {saved['step']}")
        plan.update({k: saved[k] for k in plan if k in saved})
        started = time.time() - plan["elapsed"]
        log(f"resumed at step {step}, {plan['elapsed']:.0f}s into the run, "
            f"phase {plan['phase']}")

    def state():
        return {**plan, "elapsed": time.time() - started, "config": config,
                "mask_mode": args.mask_mode}

    tokens_per_step = args.batch_size * args.sequence_length
    checkpoint = Checkpoint(out, args.checkpoint_every, state)
    callbacks = [Progress(tokens_per_step, every=args.log_every), checkpoint]
    batches = Batches(train_tokens, Path(args.tokens) / "train.npz", tokenizer, preprocessor,
                      args)
    deadline = None

    def step_now():
        return int(model.optimizer.iterations.numpy())

    def run(until, chunk=2000):
        """Fit up to step `until` in chunks (keras wants a finite epoch), or until the
        deadline. Batch i is always the same batch (seeded by i)."""
        while step_now() < until and not (deadline and time.time() > deadline):
            first = step_now()
            n = min(chunk, until - first)
            model.fit(batches(first, n), steps_per_epoch=n, epochs=1, verbose=0,
                      callbacks=callbacks + [StopAt(deadline)])

    def decay_schedule():
        model.optimizer._learning_rate = WarmupStableDecay(
            args.learning_rate, args.warmup_steps, plan["decay_start"],
            max(1, plan["total"] - plan["decay_start"]))
        model.train_function = None  # retrace with the decaying schedule; moments are kept

    if plan["phase"] == "stable":
        if args.steps:  # fixed length: stable phase, then decay phase
            plan["decay_start"] = int(args.steps * (1 - args.decay_fraction))
            run(plan["decay_start"])
        else:  # time-bounded: train stable until the decay share of the budget is left
            budget = args.time_budget
            deadline = started + budget * (1 - args.decay_fraction)
            t0, s0 = time.time(), step_now()
            run(10**9)
            rate = (step_now() - s0) / max(time.time() - t0, 1e-9)
            remaining = max(0.0, started + budget - time.time() - args.reserve)
            plan["decay_start"] = step_now()
            plan["total"] = step_now() + int(rate * remaining)
            log(f"stable phase done at step {step_now()} ({rate:.1f} steps/s); "
                f"decaying to {plan['total']}")
        plan["phase"] = "decay"
        checkpoint.save()
    if plan["phase"] == "decay":
        deadline = started + args.time_budget if args.time_budget else None
        if not args.steps:
            decay_schedule()
        run(plan["total"])
        plan["phase"] = "done"
        checkpoint.save()
    batches.close()
    train_seconds = time.time() - started

    # -- held-out evaluation and the preset ----------------------------------------
    with open(args.valid, encoding="utf-8") as f:
        valid = [line.strip() for line in f if line.strip()][:args.eval_paragraphs]
    if args.baseline_counts:  # v1's counts: the same baseline as v1's figures
        counts = np.load(args.baseline_counts).astype("int64")
    else:
        counts = np.bincount(train_tokens.astype("int64"),
                             minlength=tokenizer.vocabulary_size())
    result = masked_token_eval(model, valid, counts=counts,
                               sequence_length=args.sequence_length,
                               special_ids=tokenizer.special_token_ids)
    result.update(steps=int(model.optimizer.iterations.numpy()), train_seconds=train_seconds,
                  tokens_seen=int(model.optimizer.iterations.numpy()) * tokens_per_step,
                  device=str(jax.devices()[0].device_kind), parameters=model.count_params(),
                  config=config, sequence_length=args.sequence_length,
                  batch_size=args.batch_size, learning_rate=args.learning_rate,
                  mask_mode=args.mask_mode, max_ngram=args.max_ngram, dtype=args.dtype,
                  eval_paragraphs=len(valid), corpus=args.corpus)
    log("held-out:", json.dumps(result))
    (out / "eval.json").write_text(json.dumps(result, indent=2))
    np.save(out / "unigram_counts.npy", counts.astype("int64"))
    model.preprocessor = AlbertMaskedLMPreprocessor(tokenizer, sequence_length=512)
    model.save_to_preset(out / args.preset_name)
    log(f"preset written to {out / args.preset_name}")


if __name__ == "__main__":
    main()
