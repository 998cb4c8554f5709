#!/usr/bin/env python
"""CPU pilot for the embedded model v2: short equal-step runs of the variants, scored on
the same held-out masks (v1's evaluation: token-level masks, seed 0, v1's unigram counts).

Variants: v1 token masking vs whole-word vs n-gram (ALBERT) masking on one small model, and
a deeper cross-layer-shared model (twice the layers, the same parameters). Two runs at a
time, each on one thread and at the lowest priority. Writes
benchmarks/results/pilot-v2-cpu.json (figures, steps, seconds, the CPU's ISA flags).

    python scripts/pilot_v2.py --corpus /tmp/pilot_train.txt --steps 600
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
V1 = ROOT / "assets" / "albert_tiny_en_uncased"
SMALL = dict(num_layers=4, num_groups=4, hidden_dim=64, num_heads=2, intermediate_dim=256,
             embedding_dim=64)
DEEP = dict(SMALL, num_layers=8)  # each of the 4 layers applied twice: same parameters
VARIANTS = [
    ("token", "token", SMALL),
    ("word", "word", SMALL),
    ("ngram", "ngram", SMALL),
    ("ngram-deep-shared", "ngram", DEEP),
    ("token-deep-shared", "token", DEEP),
]


def cpu_flags():
    flags = set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                flags |= set(line.split(":", 1)[1].split())
    except OSError:
        pass
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                  if l.startswith("model name")), platform.processor())
    return {"model": model, "cores": os.cpu_count(),
            **{f: f in flags for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")}}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(ROOT / "data" / "corpus" / "train.txt"))
    p.add_argument("--valid", default=str(ROOT / "data" / "corpus" / "valid.txt"))
    p.add_argument("--tokens", default=str(ROOT / "data" / "pilot_tokens"))
    p.add_argument("--out", default=str(ROOT / "runs" / "pilot_v2"))
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" /
                                            "pilot-v2-cpu.json"))
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--eval-paragraphs", type=int, default=500)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--only", nargs="*", help="variant names to run")
    p.add_argument("--note", default="")
    args = p.parse_args()

    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", PYTHONUNBUFFERED="1",
               XLA_FLAGS="--xla_cpu_multi_thread_eigen=false "
                         "intra_op_parallelism_threads=1")
    jobs = []
    for name, mode, config in VARIANTS:
        if args.only and name not in args.only:
            continue
        out = Path(args.out) / name
        out.mkdir(parents=True, exist_ok=True)
        cmd = ["nice", "-n", "19", sys.executable, str(ROOT / "scripts" / "pretrain.py"),
               "--corpus", args.corpus, "--valid", args.valid, "--tokens", args.tokens,
               "--vocab", str(V1 / "assets" / "tokenizer" / "vocabulary.spm"),
               "--baseline-counts", str(V1 / "unigram_counts.npy"),
               "--out", str(out), "--steps", str(args.steps),
               "--batch-size", str(args.batch_size),
               "--learning-rate", str(args.learning_rate),
               "--warmup-steps", str(max(1, args.steps // 10)),
               "--eval-paragraphs", str(args.eval_paragraphs), "--mask-mode", mode,
               "--checkpoint-every", "1e9", "--log-every", "100", "--seed", "0"]
        for k, v in config.items():
            cmd += ["--" + k.replace("_", "-"), str(v)]
        jobs.append((name, mode, config, out, cmd))
    # The token stream is cached by the first run; make it before the parallel ones.
    if not (Path(args.tokens) / "train.npz").exists():
        from importlib import import_module
        sys.path.insert(0, str(ROOT))
        sys.path.insert(0, str(ROOT / "scripts"))
        os.environ.setdefault("KERAS_BACKEND", "jax")
        pretrain = import_module("pretrain")
        tok = pretrain.AlbertTokenizer(str(V1 / "assets" / "tokenizer" / "vocabulary.spm"))
        pretrain.tokenize_file(tok, args.corpus, Path(args.tokens) / "train.npz")

    started, running, results = time.time(), [], {}
    pending = list(jobs)
    while pending or running:
        while pending and len(running) < args.parallel:
            name, mode, config, out, cmd = pending.pop(0)
            log = open(out / "pilot.log", "w")
            print(time.strftime("%H:%M:%S"), "start", name, flush=True)
            running.append((name, mode, config, out, time.time(),
                            subprocess.Popen(cmd, env=env, stdout=log,
                                             stderr=subprocess.STDOUT)))
        time.sleep(2)
        for job in list(running):
            name, mode, config, out, t0, proc = job
            if proc.poll() is None:
                continue
            running.remove(job)
            wall = time.time() - t0
            if proc.returncode != 0 or not (out / "eval.json").exists():
                results[name] = {"error": f"exit {proc.returncode}, see {out}/pilot.log"}
                print(time.strftime("%H:%M:%S"), "FAILED", name, flush=True)
                continue
            r = json.loads((out / "eval.json").read_text())
            results[name] = {
                "mask_mode": mode, "config": config, "parameters": r["parameters"],
                "steps": r["steps"], "tokens_seen": r["tokens_seen"],
                "wall_seconds": round(wall, 1), "train_seconds": round(r["train_seconds"], 1),
                "heldout_masks": r["masks"], "heldout_loss": round(r["loss"], 4),
                "heldout_top1": round(r["top1"], 4), "heldout_top5": round(r["top5"], 4),
                "unigram_loss": round(r["baseline_loss"], 4),
                "unigram_top1": round(r["baseline_top1"], 4),
                "unigram_top5": round(r["baseline_top5"], 4)}
            print(time.strftime("%H:%M:%S"), "done", name, json.dumps(results[name]),
                  flush=True)
    summary = {
        "what": "CPU pilot for embedded model v2: equal-step runs, same held-out masks",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_flags(),
        "note": args.note,
        "corpus": args.corpus, "valid": args.valid,
        "eval": f"first {args.eval_paragraphs} paragraphs of valid.txt (v1's held-out "
                "split), sequence 128, token-level masks with seed 0 (all [MASK]), "
                "unigram baseline from v1's counts",
        "steps": args.steps, "batch_size": args.batch_size, "sequence_length": 128,
        "learning_rate": args.learning_rate, "schedule": "warmup 10%, constant, linear "
        "decay over the last 20%", "wall_seconds_total": round(time.time() - started, 1),
        "runs": results}
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
