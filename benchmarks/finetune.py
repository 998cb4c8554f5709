"""Fine-tuning benchmark: train-step throughput (tokens/s) of ours vs keras-hub vs torch.

    python benchmarks/finetune.py [--batch 8] [--length 128] [--steps 3] [--save FILE]

Same random base weights (see common.prepare_weights), same batch, same sequence length,
same masked positions and labels. Ours and keras-hub: `train_on_batch` after `compile`
(Adam 5e-5, sparse CE from logits, weighted accuracy, jit_compile=True); torch: a plain
AdamW(5e-5) loop over `AlbertForMaskedLM` (train mode, dropout 0), loss on the masked
positions. One warm-up step (compiles) plus one more, then `--steps` timed steps; the
median step time gives tokens/s = batch * length / step. Each peer in its own subprocess.
Also, end to end on the embedded preset: fine-tuning an upload of one-sentence lines the
way each library's users do it (ours: the app's FullBatches with length buckets + fit;
keras-hub: fit on the strings, its preprocessor packing to --length), in non-padding
tokens/s over a second, timed epoch.
Ends with `ratio ours/<peer> <figure>: <number>` lines (tokens_per_s: higher is better).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def batch_and_labels(args):
    import numpy as np
    x = common.make_batch(args.batch, args.length, common.BASE["vocabulary_size"], seed=7)
    rng = np.random.default_rng(8)
    y = rng.integers(5, common.BASE["vocabulary_size"], x["mask_positions"].shape).astype(
        "int32")
    w = np.ones(y.shape, "float32")
    return x, y, w


def _keras_steps(model, args, name):
    import keras
    model.compile(optimizer=keras.optimizers.Adam(5e-5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[keras.metrics.SparseCategoricalAccuracy()],
                  jit_compile=True)
    x, y, w = batch_and_labels(args)
    step = lambda: model.train_on_batch(x, y, sample_weight=w)  # noqa: E731 - returns floats
    t0 = time.perf_counter()
    first_loss = step()
    first = time.perf_counter() - t0
    med, samples = common.timed(step, args.steps, warmup=1)
    return {"peer": name, "first_step_s": first, "step_s": med,
            "samples_s": [round(s, 3) for s in samples],
            "tokens_per_s": args.batch * args.length / med, "first_loss": first_loss}


def worker_ours(args):
    os.environ["KERAS_BACKEND"] = "jax"
    from albert_demo.models.albert_masked_lm import AlbertMaskedLM
    model = AlbertMaskedLM.from_preset(str(Path(args.workdir, "keras")), preprocessor=None)
    result = _keras_steps(model, args, "ours")
    result["matmul_gflops"] = common.jax_matmul_gflops()
    common.write_result(args.workdir, "ours", result)


def worker_keras_hub(args):
    os.environ["KERAS_BACKEND"] = "jax"
    import keras_hub
    model = keras_hub.models.AlbertMaskedLM.from_preset(str(Path(args.workdir, "keras")),
                                                        preprocessor=None)
    common.write_result(args.workdir, "keras_hub", _keras_steps(model, args, "keras-hub"))


def worker_torch(args):
    import torch
    from transformers import AlbertForMaskedLM
    torch.set_num_threads(os.cpu_count())
    model = AlbertForMaskedLM.from_pretrained(str(Path(args.workdir, "hf"))).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    x, y, _ = batch_and_labels(args)
    ids = torch.from_numpy(x["token_ids"]).long()
    seg = torch.from_numpy(x["segment_ids"]).long()
    pad = torch.from_numpy(x["padding_mask"]).long()
    pos = torch.from_numpy(x["mask_positions"]).long()
    labels = torch.from_numpy(y).long()
    rows = torch.arange(args.batch)[:, None]

    def step():
        optimizer.zero_grad(set_to_none=True)
        logits = model(input_ids=ids, token_type_ids=seg, attention_mask=pad).logits
        loss = torch.nn.functional.cross_entropy(logits[rows, pos].flatten(0, 1),
                                                 labels.flatten())
        loss.backward()
        optimizer.step()
        return loss.item()

    t0 = time.perf_counter()
    first_loss = step()
    first = time.perf_counter() - t0
    med, samples = common.timed(step, args.steps, warmup=1)
    common.write_result(args.workdir, "transformers_torch", {
        "peer": "transformers-torch", "first_step_s": first, "step_s": med,
        "samples_s": [round(s, 3) for s in samples],
        "tokens_per_s": args.batch * args.length / med, "first_loss": first_loss,
        "torch_threads": torch.get_num_threads()})


UPLOAD_STEPS = 48


def upload_passages():
    """A typical upload: one sentence per line (the embedded preset's held-out sample split
    into sentences, lowercased so both tokenizers see the same text), 8 x UPLOAD_STEPS."""
    import re
    text = (common.ROOT / "assets" / "albert_tiny_en_uncased" / "heldout_sample.txt"
            ).read_text(encoding="utf-8").lower()
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 3]
    return sentences[:8 * UPLOAD_STEPS]


def _real_tokens(passages, length):
    from albert_demo import AlbertTokenizer
    tokenizer = AlbertTokenizer.from_preset("albert_tiny_en_uncased")
    return sum(min(len(ids) + 2, length) for ids in tokenizer(passages))


def _timed_second_epoch(fit_one_epoch, passages, args, name):
    """Epoch 1 compiles (every shape it meets); epoch 2, reshuffled, is timed."""
    t0 = time.perf_counter()
    fit_one_epoch()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit_one_epoch()
    elapsed = time.perf_counter() - t0
    return {"peer": name, "passages": len(passages), "first_epoch_s": first,
            "epoch_s": elapsed, "step_s": elapsed / (len(passages) // 8),
            "real_tokens_per_s": _real_tokens(passages, args.length) / elapsed}


def worker_ours_upload(args):
    """The app's fine-tuning path: FullBatches (length buckets) + AlbertMaskedLM.fit."""
    os.environ["KERAS_BACKEND"] = "jax"
    import math
    import keras
    from albert_demo import AlbertMaskedLM, AlbertMaskedLMPreprocessor
    from albert_demo.finetune.training import FullBatches
    passages = upload_passages()
    model = AlbertMaskedLM.from_preset("albert_tiny_en_uncased")
    tokenizer = model.preprocessor.tokenizer
    model.preprocessor = AlbertMaskedLMPreprocessor(
        tokenizer, sequence_length=args.length,
        mask_selection_length=math.ceil(args.length * 0.15) + 1, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(5e-5))
    batches = FullBatches(tokenizer(passages), model.preprocessor, 8, seed=0)
    result = _timed_second_epoch(
        lambda: model.fit(batches, epochs=1, shuffle=False, verbose=0), passages, args,
        "ours (app path)")
    result["buckets_seen"] = sorted(batches._packers)
    common.write_result(args.workdir, "ours_upload", result)


def worker_keras_hub_upload(args):
    """keras-hub's path: fit on the raw strings; its preprocessor packs to length."""
    os.environ["KERAS_BACKEND"] = "jax"
    import keras
    import keras_hub
    passages = upload_passages()
    path = str(common.ROOT / "assets" / "albert_tiny_en_uncased")
    pre = keras_hub.models.AlbertMaskedLMPreprocessor.from_preset(
        path, sequence_length=args.length)
    model = keras_hub.models.AlbertMaskedLM.from_preset(path, preprocessor=pre)
    model.compile(optimizer=keras.optimizers.Adam(5e-5))
    result = _timed_second_epoch(
        lambda: model.fit(passages, batch_size=8, epochs=1, verbose=0), passages, args,
        "keras-hub fit(strings)")
    common.write_result(args.workdir, "keras_hub_upload", result)


WORKERS = {"prepare": lambda a: (common.prepare_weights(a.workdir),
                                  common.write_result(a.workdir, "prepare", {"ok": True})),
           "ours": worker_ours, "keras_hub": worker_keras_hub,
           "transformers_torch": worker_torch, "ours_upload": worker_ours_upload,
           "keras_hub_upload": worker_keras_hub_upload}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--peers", default="ours,keras_hub,transformers_torch,"
                        "ours_upload,keras_hub_upload")
    parser.add_argument("--save")
    args, workdir = common.run_worker_or_driver(parser, WORKERS)
    if workdir is None:
        return
    script = Path(__file__).resolve()
    extra = ["--batch", str(args.batch), "--length", str(args.length),
             "--steps", str(args.steps)]
    load_before = common.load_average()
    started = time.time()
    if "error" in common.run_worker(script, "prepare", workdir):
        sys.exit("could not prepare the weights")
    results = {}
    for peer in args.peers.split(","):
        print(f"running {peer} ...", flush=True)
        results[peer] = common.run_worker(script, peer, workdir, extra)
        if "error" in results[peer]:
            print(results[peer]["log_tail"])
    m = common.machine()
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores; load average before {load_before}, "
          f"after {common.load_average()}")
    print(f"base config, batch {args.batch} x {args.length}, {args.steps} timed steps "
          "(median)\n")
    print(f"{'peer':<22}{'step s':>10}{'tokens/s':>12}{'first step s':>14}{'peak RSS MB':>13}")
    for r in results.values():
        if "error" not in r and "tokens_per_s" in r:
            print(f"{r['peer']:<22}{r['step_s']:>10.2f}{r['tokens_per_s']:>12.1f}"
                  f"{r['first_step_s']:>14.1f}{r['peak_rss_mb']:>13.0f}")
    ratios = {}
    ours = results.get("ours", {})
    if "step_s" in ours:
        masks = round(common.MASK_RATE * args.length)
        flops = 3 * common.forward_flops(common.BASE, args.batch, args.length, masks)
        achieved = flops / ours["step_s"] / 1e9
        ours["train_flop_utilisation"] = achieved / ours["matmul_gflops"]
        print(f"\nours train step: ~{flops / 1e9:.0f} GFLOP (3 x analytic forward) in "
              f"{ours['step_s']:.2f} s = {achieved:.1f} GFLOP/s = "
              f"{100 * ours['train_flop_utilisation']:.0f}% of the jnp matmul rate "
              f"({ours['matmul_gflops']:.1f} GFLOP/s)\n")
        for key, label in (("keras_hub", "keras-hub"),
                           ("transformers_torch", "transformers-torch")):
            if "tokens_per_s" in results.get(key, {}):
                ratios[f"ours/{label} tokens_per_s_higher_is_better"] = (
                    ours["tokens_per_s"] / results[key]["tokens_per_s"])
        ratios["ours/matmul-peak train_flop_utilisation"] = ours["train_flop_utilisation"]
    up, kh_up = results.get("ours_upload", {}), results.get("keras_hub_upload", {})
    if "real_tokens_per_s" in up and "real_tokens_per_s" in kh_up:
        print(f"fine-tuning an upload of {up['passages']} one-sentence lines, embedded preset, "
              f"batch 8, up to {args.length} tokens, second epoch (non-padding tokens/s):")
        for r in (up, kh_up):
            print(f"  {r['peer']:<24}{r['real_tokens_per_s']:>10.0f} tokens/s, "
                  f"{r['step_s'] * 1e3:.0f} ms/step (first epoch {r['first_epoch_s']:.1f} s)")
        print(f"  ours packed each batch to {up['buckets_seen']} tokens; keras-hub to "
              f"{args.length}\n")
        ratios["ours/keras-hub upload_real_tokens_per_s_higher_is_better"] = (
            up["real_tokens_per_s"] / kh_up["real_tokens_per_s"])
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save).write_text(json.dumps({
            "machine": m, "load_average_before": load_before,
            "elapsed_s": time.time() - started, "batch": args.batch, "length": args.length,
            "steps": args.steps, "results": results, "ratios": ratios,
            "command": "python benchmarks/finetune.py " + " ".join(sys.argv[1:])}, indent=1))
    for name, value in ratios.items():
        print(f"ratio {name}: {value:.3f}")


if __name__ == "__main__":
    main()
