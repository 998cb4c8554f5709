"""Salience cost against prediction on the embedded preset, same text, same length bucket.

    python benchmarks/salience.py [--quick] [--save benchmarks/results/salience-cpu.json]

For each text: the first call of each salience program (its compilation), then timed calls
interleaved with predictions (top-5, the app's path), so both see the same machine load.
Prints one `ratio salience/predict <method> <text>: <number>` line per method and text,
with the CPU's vector extensions (AVX2 / AVX-512 / AVX-512 BF16 / AMX).
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

TINY = "albert_tiny_en_uncased"
TEXTS = {"short": common.E2E_TEXTS["short"], "long": common.E2E_TEXTS["long"]}
METHODS = {"ig32": dict(method="integrated_gradients", steps=32),
           "ig16": dict(method="integrated_gradients", steps=16),
           "ig8": dict(method="integrated_gradients", steps=8),
           "gxi": dict(method="gradient_x_input")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--save")
    args = parser.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "jax")
    from albert_demo import AlbertMaskedLM
    from albert_demo.engine import MaskPredictor
    predictor = MaskPredictor(AlbertMaskedLM.from_preset(TINY), TINY)
    predictor.warmup(lengths=(16, 128), with_attention=(False,))
    result = {"machine": common.machine(), "preset": TINY,
              "load_average_before": common.load_average(), "figures": {}}
    figures = result["figures"]
    for name, text in TEXTS.items():
        _, ids, _ = predictor.encode(text)
        figures[f"tokens_{name}"] = len(ids)
        for label, kwargs in METHODS.items():
            start = time.perf_counter()
            out = predictor.salience(text, **kwargs)
            figures[f"first_call_ms_{label}_{name}"] = (time.perf_counter() - start) * 1e3
            figures[f"completeness_error_{label}_{name}"] = out["completeness_error"]
        repeats = (5 if args.quick else 15) if name == "short" else (2 if args.quick else 5)
        samples = {label: [] for label in ["predict", *METHODS]}
        for _ in range(repeats):
            for label in samples:
                start = time.perf_counter()
                if label == "predict":
                    predictor.predict(text, top_k=5)
                else:
                    predictor.salience(text, **METHODS[label])
                samples[label].append(time.perf_counter() - start)
        predict_ms = statistics.median(samples["predict"]) * 1e3
        figures[f"predict_ms_{name}"] = predict_ms
        for label in METHODS:
            ms = statistics.median(samples[label]) * 1e3
            figures[f"salience_ms_{label}_{name}"] = ms
            figures[f"ratio_{label}_{name}"] = ms / predict_ms
        figures[f"samples_ms_{name}"] = {k: [round(s * 1e3, 1) for s in v]
                                         for k, v in samples.items()}
    result["load_average_after"] = common.load_average()
    print(f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
          f"ISA {' '.join(result['machine']['isa']) or 'baseline'}; "
          f"load {result['load_average_before']}")
    for name in TEXTS:
        print(f"{name} text ({figures[f'tokens_{name}']} tokens): predict "
              f"{figures[f'predict_ms_{name}']:.1f} ms")
        for label in METHODS:
            print(f"  {label}: {figures[f'salience_ms_{label}_{name}']:.1f} ms "
                  f"(first call {figures[f'first_call_ms_{label}_{name}']:.0f} ms, "
                  f"completeness error {figures[f'completeness_error_{label}_{name}']:.2%})")
    for name in TEXTS:
        for label in METHODS:
            print(f"ratio salience/predict {label} {name}: "
                  f"{figures[f'ratio_{label}_{name}']:.2f}")
    if args.save:
        Path(args.save).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
