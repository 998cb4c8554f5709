"""What one batch-1 forward is made of: XLA's own per-op times, grouped.

    python benchmarks/profile_batch1.py [--length 128] [--calls 50] [--top-k 50]
                                        [--save benchmarks/results/profile-b1-cpu.json]

Runs our compiled forward (the app's ranked path by default) on the base config with
random weights, under `jax.profiler.trace`, and sums the duration of every XLA CPU thunk
(one per fused op) over `--calls` calls. Each thunk is put in a group from its compiled
HLO: matrix products (dot / oneDNN / YNNPACK fusions), attention (the fused
dot_product_attention), reductions (layer norms, softmax, the top-k's sort), elementwise
(GELU, bias adds, casts), data movement (copies, transposes, gathers), and the rest. The
wall time not covered by any thunk is dispatch and host<->device work.
"""

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

GROUPS = (
    ("matmul", re.compile(r"\bdot\(|custom_call_target=\"__onednn\$matmul|ynn|xnn|"
                          r"convolution\(")),
    ("reduce", re.compile(r"\breduce\(|\bsort\(|reduce-window|topk|TopK")),
    ("data movement", re.compile(r"\b(copy|transpose|gather|scatter|dynamic-slice|"
                                 r"dynamic-update-slice|concatenate|pad|slice)\(")),
    ("elementwise", re.compile(r"\b(add|multiply|subtract|divide|tanh|exponential|"
                               r"erf|rsqrt|sqrt|power|convert|select|maximum|compare|"
                               r"negate|log)\(")),
)


def hlo_groups(hlo_text):
    """{instruction name: group} for the top-level instructions of the entry computation
    (fusions judged by what their fused computation holds, in GROUPS' order)."""
    computations, current = {}, None
    for line in hlo_text.splitlines():
        header = re.match(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$", line)
        if header and "=" not in line.split("{")[0]:
            current = header.group(1)
            computations[current] = []
        elif current is not None:
            computations[current].append(line)
    groups = {}
    for body in computations.values():
        for line in body:
            m = re.match(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=", line)
            if not m:
                continue
            name, text = m.group(1), line
            called = re.search(r"calls=%?([\w.\-]+)", line)
            if called and called.group(1) in computations:
                text = "\n".join(computations[called.group(1)])
            for group, pattern in GROUPS:
                if pattern.search(text):
                    groups[name] = group
                    break
            else:
                groups[name] = "other"
    return groups


def thunk_times(trace_dir):
    """{thunk name: total microseconds} from the perfetto trace jax wrote."""
    path = sorted(glob.glob(f"{trace_dir}/**/perfetto_trace.json.gz", recursive=True))[-1]
    data = json.load(gzip.open(path))
    events = data["traceEvents"] if isinstance(data, dict) else data
    skip = ("Pjit", "ThreadpoolListener", "PjRt", "Execute", "Handle", "Allocate", "Wait",
            "Parse", "PythonRef", "end:", "$", "Await", "Thunk", "Create")
    totals = collections.Counter()
    for event in events:
        name = event.get("name", "")
        if event.get("ph") == "X" and not name.startswith(skip):
            totals[name] += float(event.get("dur", 0))
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--top-k", type=int, default=50, help="0: full logits")
    parser.add_argument("--save")
    args = parser.parse_args()
    os.environ.update(common.isa_cap_env())  # BENCH_MAX_ISA=avx2, before jax starts
    import jax
    import numpy as np
    import keras

    from albert_demo.engine import CompiledMaskedLM
    from albert_demo import AlbertBackbone, AlbertMaskedLM

    keras.utils.set_random_seed(common.SEED)
    model = AlbertMaskedLM(AlbertBackbone(**common.BASE), preprocessor=None)
    compiled = CompiledMaskedLM(model)
    x = common.make_batch(1, args.length, common.BASE["vocabulary_size"])
    ids, seg, pos = list(x["token_ids"]), list(x["segment_ids"]), list(x["mask_positions"])

    def call():
        return compiled(ids, seg, pos, top_k=args.top_k or None)

    for _ in range(5):
        call()
    start = time.perf_counter()
    for _ in range(args.calls):
        call()
    wall_ms = (time.perf_counter() - start) / args.calls * 1e3
    trace_dir = tempfile.mkdtemp(prefix="albert_profile_")
    with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
        for _ in range(args.calls):
            call()
    totals = thunk_times(trace_dir)
    b, t, m = compiled.padded_shape(1, args.length, len(pos[0]))
    inputs = {"token_ids": np.zeros((b, t), "int32"), "segment_ids": np.zeros((b, t), "int32"),
              "padding_mask": np.ones((b, t), "int32"), "mask_positions": np.zeros((b, m),
                                                                                 "int32")}
    hlo = compiled._forward.lower(compiled.trainable, compiled.non_trainable, inputs,
                                  with_attention=False, top_k=args.top_k or None
                                  ).compile().as_text()
    groups = hlo_groups(hlo)
    by_group, unmatched = collections.Counter(), collections.Counter()
    for name, micros in totals.items():
        base = name.split(":")[0].strip()
        if base not in groups:  # a runtime event, not an HLO instruction
            unmatched[base] += micros
        by_group[groups.get(base, "not an HLO op")] += micros
    per_call = {g: us / args.calls / 1e3 for g, us in by_group.items()}
    covered = sum(per_call.values())
    masks = len(pos[0])
    flops = common.forward_flops(common.BASE, 1, args.length, masks)
    gflops, best = common.jax_matmul_gflops(with_best=True)
    result = {
        "machine": common.machine(), "shape": f"b1 x {args.length}", "top_k": args.top_k,
        "wall_ms_per_call": wall_ms, "ops_ms_per_call": per_call,
        "ops_total_ms": covered,
        "note": "op times can exceed wall time where ops overlap on the two cores",
        "matmul_gflops_measured": gflops, "model_gflop": flops / 1e9,
        "matmul_ms_at_measured_rate": flops / 1e9 / gflops * 1e3,
        "top_thunks_ms": {n: us / args.calls / 1e3 for n, us in totals.most_common(15)},
        "not_hlo_ms": {n: us / args.calls / 1e3 for n, us in unmatched.most_common(8)},
    }
    print(json.dumps(result, indent=2))
    if args.save:
        Path(args.save).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
