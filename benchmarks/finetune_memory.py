"""Peak memory of a fine-tuning run, per (batch x sequence) token, for the estimate that
`albert_demo.finetune.memory` checks settings against before a run starts.

    python benchmarks/finetune_memory.py [--save benchmarks/results/finetune-memory-cpu.json]
    python benchmarks/finetune_memory.py --only tiny:8x128     # one configuration

Each configuration runs a whole `FinetuneJob` (load, score the base model, 3 training
steps, score again, probes, publish) in a fresh process, on passages longer than the
sequence length so every batch is packed to the full length. The figure is the process's
peak RSS during the run (`VmHWM`, reset through /proc/self/clear_refs when the run starts,
so a higher start-up peak cannot hide it) minus its RSS then, i.e. what the run adds to a
server that is already up. Printed beside it: the estimate.

Presets: the embedded `albert_tiny_en_uncased`, and "tiny", a 2-layer, hidden-32 model
with the embedded 16k tokenizer (the test suite's size, with room for 512 tokens).
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
RESULTS = ROOT / "benchmarks" / "results" / "finetune-memory-cpu.json"

CONFIGS = {
    "albert_tiny_en_uncased": [(8, 64), (8, 128), (16, 128), (4, 256), (8, 256), (2, 512),
                               (4, 512), (8, 512)],
    "tiny": [(8, 128), (32, 128), (8, 512), (32, 512)],
}

CHILD = r"""
import json, os, sys, tempfile
sys.path.insert(0, {root!r})
import albert_demo, jax, keras
jax.numpy.zeros(1).block_until_ready()

def rss_mb(field="VmRSS"):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field)) / 1024

data = tempfile.mkdtemp(prefix="ft-memory-")
preset = {preset!r}
if preset != "tiny":  # an embedded preset, by its folder
    preset = os.path.join({root!r}, "assets", preset)
else:
    from albert_demo import (AlbertBackbone, AlbertMaskedLM, AlbertMaskedLMPreprocessor,
                             AlbertTokenizer)
    tokenizer = AlbertTokenizer.from_preset("albert_tiny_en_uncased")
    backbone = AlbertBackbone(vocabulary_size=tokenizer.vocabulary_size(), num_layers=2,
                              num_heads=2, embedding_dim=16, hidden_dim=32,
                              intermediate_dim=64, max_sequence_length=512)
    preset = os.path.join(data, "tiny")
    AlbertMaskedLM(backbone, preprocessor=AlbertMaskedLMPreprocessor(
        tokenizer, sequence_length=32)).save_to_preset(preset)
    del backbone

import random
from albert_demo.finetune import FinetuneJob, FinetuneSettings
words = ("the court heard a long case about water rights river farms and the old mill "
         "near town while clerks wrote every word down").split()
rng = random.Random(0)
passages = [" ".join(rng.choice(words) for _ in range({length} + 20))
            for _ in range(2 * {batch} + 8)]
settings = FinetuneSettings(name="memory", base_preset=preset, steps=3,
                            batch_size={batch}, sequence_length={length},
                            checkpoint_every=0, validation_share=0.1)
from albert_demo.finetune.memory import estimate_for_preset
estimate = estimate_for_preset(settings, preset)
before = rss_mb()
peak_before = rss_mb("VmHWM")
with open("/proc/self/clear_refs", "w") as f:  # the peak from here on, not from start-up
    f.write("5")
snap = FinetuneJob(settings, passages, "memory", data).start().wait()
assert snap["status"] == "done", snap
peak = rss_mb("VmHWM")
print("RESULT", json.dumps(dict(baseline_rss_mb=before, peak_rss_mb=peak,
                                peak_before_mb=peak_before, added_mb=peak - before,
                                estimate_mb=estimate.total / 2**20,
                                estimate=estimate.parts_mb())))
"""


def measure(preset, batch, length, timeout=1800):
    """Run one configuration in a fresh process; -> dict of MB figures."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "ALBERT_DEMO_TRAINING_YIELD": "0"}
    code = CHILD.format(root=str(ROOT), preset=preset, batch=batch, length=length)
    started = time.time()
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout)
    if proc.returncode or "RESULT" not in proc.stdout:
        raise RuntimeError(f"{preset} {batch}x{length} failed:\n"
                           f"{(proc.stdout + proc.stderr)[-3000:]}")
    result = json.loads(proc.stdout.split("RESULT", 1)[1])
    return {"preset": preset, "batch": batch, "length": length, "tokens": batch * length,
            "wall_s": round(time.time() - started, 1), **result}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", default=str(RESULTS))
    parser.add_argument("--only", help="e.g. tiny:8x128 or albert_tiny_en_uncased:4x512")
    args = parser.parse_args(argv)
    if args.only:
        preset, shape = args.only.split(":")
        batch, length = map(int, shape.split("x"))
        plan = [(preset, batch, length)]
    else:
        plan = [(p, b, n) for p, shapes in CONFIGS.items() for b, n in shapes]
    rows = []
    print(f"{'preset':24} {'batch x length':>14} {'added MB':>9} {'estimate MB':>12} "
          f"{'ratio':>6}")
    for preset, batch, length in plan:
        row = measure(preset, batch, length)
        rows.append(row)
        print(f"{preset:24} {f'{batch} x {length}':>14} {row['added_mb']:9.0f} "
              f"{row['estimate_mb']:12.0f} {row['estimate_mb'] / row['added_mb']:6.2f}",
              flush=True)
    if not args.only:
        Path(args.save).write_text(json.dumps({
            "machine": {"cpu": platform.processor() or platform.machine(),
                        "cores": os.cpu_count(), "python": platform.python_version()},
            "what": "peak RSS added by one FinetuneJob (3 steps) over the started process",
            "results": rows}, indent=1))
        print(f"saved {args.save}")


if __name__ == "__main__":
    main()
