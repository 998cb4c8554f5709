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


def latency(preset, repeats=30):
    """Median seconds of one batch-1 prediction (a short sentence), after warm-up."""
    import keras
    model = load(preset)
    tok = model.preprocessor.tokenizer
    text = "She opened the [MASK] and walked in."
    times = []
    for i in range(repeats + 3):
        t = time.perf_counter()
        ids = tok(text)
        x = model.preprocessor.__class__(tok, sequence_length=len(ids) + 2).pack([(ids,)])
        pos = np.flatnonzero(x["token_ids"][0] == tok.mask_token_id)[:1]
        x["mask_positions"] = pos[None, :].astype("int32")
        keras.ops.convert_to_numpy(model(x, training=False))
        if i >= 3:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


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
    p.add_argument("--latency", action="store_true",
                   help="also time batch-1 prediction of both models on the CPU")
    p.add_argument("--latency-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help="write the JSON here")
    args = p.parse_args()

    if args.latency_only:  # child process: JAX on the CPU only
        print(json.dumps({"model": latency(args.model), "reference": latency(args.reference)}))
        return

    counts = np.load(args.baseline_counts)
    valid = [l.strip() for l in open(args.valid, encoding="utf-8") if l.strip()]
    valid = valid[:args.eval_paragraphs]
    sample = [l.strip() for l in open(args.heldout_sample, encoding="utf-8") if l.strip()]
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
            "probes": probe(model, PROBES),
        }
        h = result[name]["heldout"]
        log(f"{name}: held-out top-1 {h['top1']:.4f} top-5 {h['top5']:.4f} loss "
            f"{h['loss']:.3f} ({h['masks']} masks; unigram {h['baseline_top1']:.4f} / "
            f"{h['baseline_top5']:.4f} / {h['baseline_loss']:.3f}) in {time.time() - t:.0f}s")
        del model
    if args.latency:
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        cmd = [sys.executable, __file__, "--latency-only", "--model", args.model,
               "--reference", args.reference]
        run = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if run.returncode == 0:
            lat = json.loads(run.stdout.strip().splitlines()[-1])
            result["cpu_latency_s"] = lat
            result["cpu_latency_ratio"] = lat["model"] / lat["reference"]
            log(f"batch-1 CPU latency: model {lat['model'] * 1000:.1f} ms, reference "
                f"{lat['reference'] * 1000:.1f} ms (x{result['cpu_latency_ratio']:.2f})")
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
