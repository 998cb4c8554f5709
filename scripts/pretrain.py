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
"""

import argparse
import json
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

# -- knobs (all overridable from the command line) ------------------------------------
MODEL = dict(num_layers=6, num_heads=6, num_groups=6, num_inner_repetitions=1,
             embedding_dim=128, hidden_dim=384, intermediate_dim=1536, dropout=0.0,
             max_sequence_length=512)
DEFAULTS = dict(corpus="data/corpus/train.txt", valid="data/corpus/valid.txt",
                vocab="data/vocab/vocabulary.spm", tokens="data/tokens", out="runs/tiny",
                sequence_length=128, batch_size=128, learning_rate=1e-3, warmup_steps=500,
                weight_decay=0.01, decay_fraction=0.2, steps=None, time_budget=None,
                checkpoint_every=300.0, eval_paragraphs=2000, seed=0)


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


class TokenWindows(keras.utils.PyDataset):
    """Random windows of the token stream, packed `[CLS] window [SEP]`, then masked by
    the project's preprocessor (fresh masks every batch: dynamic masking)."""

    def __init__(self, tokens, preprocessor, batch_size, steps, seed):
        super().__init__(workers=1, use_multiprocessing=False, max_queue_size=16)
        self.tokens, self.pre = tokens, preprocessor
        self.batch_size, self.steps = batch_size, steps
        self.window = preprocessor.sequence_length - 2
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        tok = self.pre.tokenizer
        starts = self.rng.integers(0, len(self.tokens) - self.window, self.batch_size)
        windows = self.tokens[starts[:, None] + np.arange(self.window)].astype("int32")
        ids = np.concatenate([np.full((self.batch_size, 1), tok.cls_token_id, "int32"),
                              windows,
                              np.full((self.batch_size, 1), tok.sep_token_id, "int32")], 1)
        masked, positions, labels, weights = self.pre.mask(ids)
        x = {"token_ids": masked, "padding_mask": np.ones_like(ids),
             "segment_ids": np.zeros_like(ids), "mask_positions": positions}
        return x, labels, weights


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

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
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
    """Atomic weights+optimizer checkpoint every `every` seconds and at the end."""

    def __init__(self, out, every):
        super().__init__()
        self.out, self.every, self.last = Path(out), every, time.time()

    def save(self):
        tmp = self.out / "ckpt.tmp.weights.h5"
        self.model.save_weights(tmp)
        os.replace(tmp, self.out / "ckpt.weights.h5")
        step = int(self.model.optimizer.iterations.numpy())
        (self.out / "state.tmp.json").write_text(json.dumps({"step": step}))
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
    return p.parse_args()


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
    backbone = AlbertBackbone(vocabulary_size=tokenizer.vocabulary_size(), **config)
    preprocessor = AlbertMaskedLMPreprocessor(
        tokenizer, sequence_length=args.sequence_length,
        mask_selection_length=args.sequence_length * 15 // 100 + 2, seed=args.seed)
    model = AlbertMaskedLM(backbone, preprocessor=preprocessor)
    log(f"parameters: {model.count_params():,}")
    schedule = WarmupStableDecay(args.learning_rate, args.warmup_steps)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay,
                                         beta_2=0.98, epsilon=1e-6, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"))
    step = 0
    if args.resume and (out / "ckpt.weights.h5").exists():
        model.optimizer.build(model.trainable_variables)
        model.load_weights(out / "ckpt.weights.h5")
        step = json.loads((out / "state.json").read_text())["step"]
        log(f"resumed from step {step}")

    tokens_per_step = args.batch_size * args.sequence_length
    checkpoint = Checkpoint(out, args.checkpoint_every)
    callbacks = [Progress(tokens_per_step), checkpoint]
    deadline = started + args.time_budget if args.time_budget else None

    def run(steps, seed, chunk=500):
        """Fit `steps` steps in chunks (keras wants a finite epoch), or until the deadline."""
        done = 0
        while done < steps and not (deadline and time.time() > deadline):
            n = min(chunk, steps - done)
            data = TokenWindows(train_tokens, preprocessor, args.batch_size, n, seed + done)
            model.fit(data, epochs=1, verbose=0, callbacks=callbacks + [StopAt(deadline)])
            done += n

    if args.steps:  # fixed length: stable phase, then decay phase
        total = args.steps
        stable = int(total * (1 - args.decay_fraction))
        if step < stable:
            run(stable - step, args.seed + step)
    else:  # time-bounded: train stable until the decay share of the budget is left
        budget = args.time_budget
        stable_deadline = started + budget * (1 - args.decay_fraction)
        t0, s0 = time.time(), step
        deadline, saved = stable_deadline, deadline
        run(10**9, args.seed + step)
        deadline = saved
        step_now = int(model.optimizer.iterations.numpy())
        rate = (step_now - s0) / max(time.time() - t0, 1e-9)
        remaining = max(0.0, started + budget - time.time() - 60)  # keep a minute for eval
        total = step_now + int(rate * remaining)
        log(f"stable phase done at step {step_now} ({rate:.1f} steps/s); decaying to {total}")
    step_now = int(model.optimizer.iterations.numpy())
    decay_steps = max(1, total - step_now)
    model.optimizer._learning_rate = WarmupStableDecay(args.learning_rate, args.warmup_steps,
                                                       step_now, decay_steps)
    model.train_function = None  # retrace with the decaying schedule; moments are kept
    run(decay_steps, args.seed + step_now + 1)
    checkpoint.save()
    train_seconds = time.time() - started

    # -- held-out evaluation and the preset ----------------------------------------
    with open(args.valid, encoding="utf-8") as f:
        valid = [line.strip() for line in f if line.strip()][:args.eval_paragraphs]
    counts = np.bincount(train_tokens.astype("int64"), minlength=tokenizer.vocabulary_size())
    result = masked_token_eval(model, valid, counts=counts,
                               sequence_length=args.sequence_length,
                               special_ids=tokenizer.special_token_ids)
    result.update(steps=int(model.optimizer.iterations.numpy()), train_seconds=train_seconds,
                  tokens_seen=int(model.optimizer.iterations.numpy()) * tokens_per_step,
                  device=str(jax.devices()[0].device_kind), parameters=model.count_params(),
                  config=config, sequence_length=args.sequence_length,
                  batch_size=args.batch_size, learning_rate=args.learning_rate)
    log("held-out:", json.dumps(result))
    (out / "eval.json").write_text(json.dumps(result, indent=2))
    np.save(out / "unigram_counts.npy", counts.astype("int64"))
    model.preprocessor = AlbertMaskedLMPreprocessor(tokenizer, sequence_length=512)
    model.save_to_preset(out / args.preset_name)
    log(f"preset written to {out / args.preset_name}")


if __name__ == "__main__":
    main()
