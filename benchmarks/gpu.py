#!/usr/bin/env python
"""GPU column: the base config with identical random weights in ours (float32 and mixed
bfloat16), keras-hub (JAX) and transformers (torch CUDA, float32 and bfloat16), one process.

    python benchmarks/gpu.py --workdir /tmp/bg [--quick] [--save results/gpu.json]

Runs on the CPU too (then it measures the CPU). Ends with `ratio ours/<peer> <figure>` lines
(lower is better for latency). bf16 is quality-checked against float32 (top-1 agreement on
the masked positions of the batch-32 inputs).
"""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # share the GPU with torch
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import common  # noqa: E402

SHAPES = [(1, 32), (1, 128), (32, 128)]


def median_ms(fn, repeats):
    """Median wall time in ms after two warm-up calls (the first compiles)."""
    return 1e3 * common.timed(fn, repeats, warmup=2)[0]


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", default="/tmp/albert_gpu_bench")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--save")
    args = p.parse_args()
    common.prepare_weights(args.workdir)
    import jax
    import torch
    from transformers import AlbertForMaskedLM

    from albert_demo.engine import CompiledMaskedLM
    from albert_demo.models.albert_masked_lm import AlbertMaskedLM

    device = jax.devices()[0]
    cuda = torch.cuda.is_available()
    tdev = "cuda" if cuda else "cpu"
    print(f"jax device: {device.device_kind}; torch device: "
          f"{torch.cuda.get_device_name() if cuda else 'cpu'}", flush=True)
    hf, kdir = Path(args.workdir, "hf"), Path(args.workdir, "keras")
    vocab = common.BASE["vocabulary_size"]
    batches = {s: common.make_batch(*s, vocab) for s in SHAPES}
    reps = {(1, 32): 10 if args.quick else 30, (1, 128): 10 if args.quick else 30,
            (32, 128): 5 if args.quick else 15}
    results, logits = {}, {}

    def ours_runner(compiled, x, top_k=None):
        ids, seg, pos = list(x["token_ids"]), list(x["segment_ids"]), list(x["mask_positions"])
        return lambda: compiled(ids, seg, pos, top_k=top_k)[0]

    # The app's path: ranking on the device, 50 probabilities per mask back to the host.
    compiled = CompiledMaskedLM(AlbertMaskedLM.from_preset(str(hf), preprocessor=None))
    for shape, x in batches.items():
        results[("ours-top50", shape)] = median_ms(ours_runner(compiled, x, 50), reps[shape])
    print("ours-top50", {common.shape_name(*s): round(results[("ours-top50", s)], 2)
                         for s in SHAPES}, flush=True)

    for label, dtype in (("ours", None), ("ours-bf16", "mixed_bfloat16")):
        kwargs = {"dtype": dtype} if dtype else {}
        compiled = CompiledMaskedLM(AlbertMaskedLM.from_preset(str(hf), preprocessor=None,
                                                               **kwargs))
        for shape, x in batches.items():
            run = ours_runner(compiled, x)
            results[(label, shape)] = median_ms(run, reps[shape])
            logits[(label, shape)] = run()
        print(label, {common.shape_name(*s): round(results[(label, s)], 2) for s in SHAPES},
              flush=True)

    try:
        import keras_hub
        kh = keras_hub.models.AlbertMaskedLM.from_preset(str(kdir), preprocessor=None)
        tv = [v.value for v in kh.trainable_variables]
        ntv = [v.value for v in kh.non_trainable_variables]
        forward = jax.jit(lambda tv, ntv, x: kh.stateless_call(tv, ntv, x)[0])
        for shape, x in batches.items():
            results[("keras-hub", shape)] = median_ms(
                lambda: np.asarray(forward(tv, ntv, x)), reps[shape])
        # After the jitted runs: keras' predict machinery replaces the variables' buffers.
        for shape, x in batches.items():
            results[("keras-hub-predict", shape)] = median_ms(
                lambda: kh.predict_on_batch(x), reps[shape])
        print("keras-hub", {common.shape_name(*s): round(results[("keras-hub", s)], 2)
                            for s in SHAPES}, flush=True)
    except Exception as error:  # report, keep the other columns
        print(f"keras-hub not measured: {type(error).__name__}: {error}")

    model = AlbertForMaskedLM.from_pretrained(str(hf)).eval().to(tdev)
    for label, dtype in (("transformers-torch", torch.float32),
                         ("transformers-torch-bf16", torch.bfloat16)):
        model = model.to(dtype)
        for shape, x in batches.items():
            ids = torch.tensor(x["token_ids"], device=tdev)
            seg = torch.tensor(x["segment_ids"], device=tdev)
            att = torch.tensor(x["padding_mask"], device=tdev)
            pos = torch.tensor(x["mask_positions"], device=tdev, dtype=torch.long)

            def run():
                with torch.inference_mode():
                    out = model(input_ids=ids, token_type_ids=seg, attention_mask=att).logits
                    gathered = torch.gather(out, 1, pos[..., None].expand(-1, -1,
                                                                          out.shape[-1]))
                    return gathered.float().cpu().numpy()
            results[(label, shape)] = median_ms(run, reps[shape])
            logits[(label, shape)] = run()
        print(label, {common.shape_name(*s): round(results[(label, s)], 2) for s in SHAPES},
              flush=True)

    big = (32, 128)
    f32 = logits[("ours", big)]
    quality = {
        "parity_max_abs_diff_ours_vs_torch_f32":
            float(np.abs(f32 - logits[("transformers-torch", big)]).max()),
        "ours_bf16_top1_agreement": float(
            (f32.argmax(-1) == logits[("ours-bf16", big)].argmax(-1)).mean()),
        "torch_bf16_top1_agreement": float(
            (f32.argmax(-1) == logits[("transformers-torch-bf16", big)].argmax(-1)).mean()),
    }
    print(json.dumps(quality))
    peers = sorted({label for label, _ in results})
    print("\nmedian latency (ms), base config, " + device.device_kind)
    print(f"{'peer':<26}" + "".join(f"{common.shape_name(*s):>12}" for s in SHAPES))
    for peer in peers:
        print(f"{peer:<26}" + "".join(f"{results.get((peer, s), float('nan')):>12.2f}"
                                      for s in SHAPES))
    print()
    for ours in ("ours", "ours-top50", "ours-bf16"):
        for peer in peers:
            if peer.startswith("ours"):
                continue
            for s in SHAPES:
                if (peer, s) in results:
                    figure = f"gpu_latency_{common.shape_name(*s)}"
                    if ours != "ours":
                        figure = ours.split("-")[1] + "_" + figure
                    print(f"ratio ours/{peer} {figure}: "
                          f"{results[(ours, s)] / results[(peer, s)]:.3f}")
    if args.save:
        Path(args.save).write_text(json.dumps(
            {"device": device.device_kind, "quality": quality,
             "latency_ms": {f"{p} {common.shape_name(*s)}": v
                            for (p, s), v in results.items()}}, indent=2))


if __name__ == "__main__":
    main()
