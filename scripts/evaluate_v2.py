#!/usr/bin/env python
"""Score a pretrained preset against v1 on exactly v1's evaluation; write model-card data.

Same held-out paragraphs (the first `--eval-paragraphs` of data/corpus/valid.txt, the split
v1 was scored on), same masks (fixed seed 0, all [MASK], token-level: the preprocessor's
own masking, whatever masking a model was trained with), same unigram baseline (v1's
counts, shipped as assets/albert_tiny_en_uncased/unigram_counts.npy). Also scores the
shipped heldout_sample.txt, a set of everyday cloze probes (top-5 words of each model),
the weights' size, and batch-1 latency of both models on this machine's CPU.

    python scripts/evaluate_v2.py --model runs/v2/albert_tiny_en_uncased \\
        --out runs/v2/model_card_data.json
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

V1 = ROOT / "assets" / "albert_tiny_en_uncased"
# Everyday sentences a visitor might type (the issue's, and more of the same kind).
PROBES = [
    "The capital of France is [MASK].",
    "The sky is [MASK].",
    "The cat sat on the [MASK].",
    "She opened the [MASK] and walked in.",
    "I forgot my [MASK].",
    "I drink a cup of [MASK] every morning.",
    "He put the milk back in the [MASK].",
    "It is very cold in [MASK].",
    "The sun rises in the [MASK].",
    "We went to the [MASK] to buy some bread.",
    "My favourite colour is [MASK].",
    "Dogs like to [MASK] at strangers.",
    "She is a [MASK] at the local hospital.",
    "Please close the [MASK] when you leave.",
    "He was born in [MASK] 1990.",
    "There are seven days in a [MASK].",
]


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def load(preset):
    from albert_demo import AlbertMaskedLM
    return AlbertMaskedLM.from_preset(str(preset))


def heldout(model, texts, counts, sequence_length=128):
    from albert_demo.evaluation import masked_token_eval
    tok = model.preprocessor.tokenizer
    return masked_token_eval(model, texts, counts=counts, sequence_length=sequence_length,
                             seed=0, special_ids=tok.special_token_ids)


def heldout_by_piece(model, texts, sequence_length=128, batch_size=32):
    """Top-1 on the same masks as `heldout`, split by the masked piece's kind: a piece that
    starts a word ("▁door", ".", "7") or one that continues it ("work" in home+work). The
    second kind is where whole-word / n-gram training differs most from v1's."""
    import jax
    sys.path.insert(0, str(ROOT / "scripts"))
    import mlm_masking
    from albert_demo.evaluation import fixed_masks
    from albert_demo.models.albert_masked_lm_preprocessor import AlbertMaskedLMPreprocessor
    tok = model.preprocessor.tokenizer
    pre = AlbertMaskedLMPreprocessor(tok, sequence_length=sequence_length,
                                     mask_selection_length=sequence_length * 15 // 100 + 1)
    x, y, w = fixed_masks(pre, texts, 0)
    forward = jax.jit(lambda tv, ntv, batch: model.stateless_call(tv, ntv, batch)[0])
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    starts = mlm_masking.word_start_table(tok)
    hits = {"start": [0, 0], "continuation": [0, 0]}
    for lo in range(0, len(y), batch_size):
        hi = min(len(y), lo + batch_size)
        batch = {k: v[lo:hi] for k, v in x.items()}
        pad = batch_size - (hi - lo)
        if pad:
            batch = {k: np.concatenate([v, np.repeat(v[-1:], pad, 0)]) for k, v in
                     batch.items()}
        best = np.asarray(forward(tv, ntv, batch))[:hi - lo].argmax(-1)
        gold, keep = y[lo:hi], w[lo:hi] > 0
        for kind, sel in (("start", starts[gold]), ("continuation", ~starts[gold])):
            m = keep & sel
            hits[kind][0] += int((best[m] == gold[m]).sum())
            hits[kind][1] += int(m.sum())
    return {k: {"masks": n, "top1": c / max(n, 1)} for k, (c, n) in hits.items()}


def probe(model, sentences, k=5):
    """Top-k pieces at the [MASK] of each sentence."""
    import keras
    tok = model.preprocessor.tokenizer
    out = []
    for text in sentences:
        ids = tok(text)
        length = len(ids) + 2
        x = model.preprocessor.__class__(tok, sequence_length=length).pack([(ids,)])
        pos = np.flatnonzero(x["token_ids"][0] == tok.mask_token_id)[:1]
        x["mask_positions"] = pos[None, :].astype("int32")
        logits = keras.ops.convert_to_numpy(model(x, training=False))[0, 0]
        top = np.argsort(-logits)[:k]
        p = np.exp(logits - logits.max())
        p /= p.sum()
        out.append({"text": text,
                    "top": [[tok._sp.id_to_piece(int(i)).replace("▁", ""),
                             round(float(p[i]), 4)] for i in top]})
    return out


def latency(presets, repeats=30, best=False, raw=False):
    """Median seconds of one batch-1 prediction (a short sentence, tokenizing included)
    for each preset, after warm-up. The presets take turns within each round, so a load
    that changes over time (a shared machine) hits them alike."""
    import keras
    models = [load(p) for p in presets]
    text = "She opened the [MASK] and walked in."
    times = [[] for _ in models]

    def once(model):
        tok = model.preprocessor.tokenizer
        t = time.perf_counter()
        ids = tok(text)
        x = model.preprocessor.__class__(tok, sequence_length=len(ids) + 2).pack([(ids,)])
        pos = np.flatnonzero(x["token_ids"][0] == tok.mask_token_id)[:1]
        x["mask_positions"] = pos[None, :].astype("int32")
        keras.ops.convert_to_numpy(model(x, training=False))
        return time.perf_counter() - t

    for i in range(repeats + 3):
        for j, model in enumerate(models):
            elapsed = once(model)
            if i >= 3:
                times[j].append(elapsed)
    if raw:
        return times
    if best:  # the least disturbed run: steadier than the median on a loaded machine
        return [min(t) for t in times]
    return [statistics.median(t) for t in times]


def weights_mb(preset):
    return sum(f.stat().st_size for f in Path(preset).glob("*.weights.h5")) / 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="the new preset folder")
    p.add_argument("--reference", default=str(V1), help="v1 (default: the shipped preset)")
    p.add_argument("--valid", default=str(ROOT / "data" / "corpus" / "valid.txt"))
    p.add_argument("--eval-paragraphs", type=int, default=2000)
    p.add_argument("--baseline-counts", default=str(V1 / "unigram_counts.npy"))
    p.add_argument("--heldout-sample", default=str(V1 / "heldout_sample.txt"))
    p.add_argument("--sample-paragraphs", type=int, default=0,
                   help="score only the first N of heldout_sample.txt (0: all)")
    p.add_argument("--latency", action="store_true",
                   help="also time batch-1 prediction of both models on the CPU")
    p.add_argument("--latency-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--latency-repeats", type=int, default=30)
    p.add_argument("--by-piece-only", action="store_true",
                   help="only print --model's held-out top-1 by kind of masked piece")
    p.add_argument("--out", default=None, help="write the JSON here")
    args = p.parse_args()

    if args.latency_only:  # child process: JAX on the CPU only
        model, reference = latency([args.model, args.reference], args.latency_repeats,
                                   raw=True)
        print(json.dumps({"model": statistics.median(model),
                          "reference": statistics.median(reference),
                          "model_min": min(model), "reference_min": min(reference)}))
        return
    if args.by_piece_only:  # one model, held-out top-1 by kind of masked piece
        valid = [l.strip() for l in open(args.valid, encoding="utf-8") if l.strip()]
        print(json.dumps(heldout_by_piece(load(args.model), valid[:args.eval_paragraphs])))
        return

    counts = np.load(args.baseline_counts)
    valid = [l.strip() for l in open(args.valid, encoding="utf-8") if l.strip()]
    valid = valid[:args.eval_paragraphs]
    sample = [l.strip() for l in open(args.heldout_sample, encoding="utf-8") if l.strip()]
    sample = sample[:args.sample_paragraphs or None]
    result = {"eval_paragraphs": len(valid), "sequence_length": 128, "mask_seed": 0}
    for name, preset in (("model", args.model), ("reference", args.reference)):
        t = time.time()
        model = load(preset)
        result[name] = {
            "preset": str(preset),
            "parameters": int(model.count_params()),
            "weights_mb": round(weights_mb(preset), 1),
            "config": {k: getattr(model.backbone, k) for k in (
                "num_layers", "num_groups", "num_inner_repetitions", "hidden_dim",
                "num_heads", "intermediate_dim", "embedding_dim")},
            "heldout": heldout(model, valid, counts),
            "heldout_sample": heldout(model, sample, counts),
            "heldout_by_piece": heldout_by_piece(model, valid),
            "probes": probe(model, PROBES),
        }
        h, b = result[name]["heldout"], result[name]["heldout_by_piece"]
        log(f"{name}: held-out top-1 {h['top1']:.4f} top-5 {h['top5']:.4f} loss "
            f"{h['loss']:.3f} ({h['masks']} masks; unigram {h['baseline_top1']:.4f} / "
            f"{h['baseline_top5']:.4f} / {h['baseline_loss']:.3f}); top-1 on word-start "
            f"pieces {b['start']['top1']:.4f}, on continuation pieces "
            f"{b['continuation']['top1']:.4f} ({b['continuation']['masks']} masks) "
            f"in {time.time() - t:.0f}s")
        del model
    if args.latency:
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        cmd = [sys.executable, __file__, "--latency-only", "--model", args.model,
               "--reference", args.reference, "--latency-repeats", str(args.latency_repeats)]
        run = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if run.returncode == 0:
            lat = json.loads(run.stdout.strip().splitlines()[-1])
            result["cpu_latency_s"] = lat
            result["cpu_latency_ratio"] = lat["model"] / lat["reference"]
            result["cpu_latency_ratio_min"] = lat["model_min"] / lat["reference_min"]
            log(f"batch-1 CPU latency (median / fastest of {args.latency_repeats}, taking "
                f"turns): model {lat['model'] * 1000:.1f} / {lat['model_min'] * 1000:.1f} ms, "
                f"reference {lat['reference'] * 1000:.1f} / {lat['reference_min'] * 1000:.1f}"
                f" ms (x{result['cpu_latency_ratio']:.2f} / "
                f"x{result['cpu_latency_ratio_min']:.2f})")
        else:
            result["cpu_latency_error"] = run.stderr[-2000:]
    for a, b in zip(result["model"]["probes"], result["reference"]["probes"]):
        log(f"{a['text']:45s} v2: {', '.join(w for w, _ in a['top'])}  |  v1: "
            f"{', '.join(w for w, _ in b['top'])}")
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
        log(f"wrote {args.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
