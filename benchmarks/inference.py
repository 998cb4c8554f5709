"""Inference benchmark: ours vs keras-hub (JAX) vs transformers (torch, CPU), same weights.

    python benchmarks/inference.py [--quick] [--save benchmarks/results/NAME.json]

Each peer runs in its own subprocess, one after another. Prints a table and ends with one
`ratio ours/<peer> <figure>: <number>` line per peer and figure (lower is better for
latency; throughput figures are named `..._per_s`, higher is better).
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import SHAPES, shape_name  # noqa: E402

TINY = "albert_tiny_en_uncased"
CHECK_SHAPE = (2, 32)


# ---------------------------------------------------------------------------- workers
def _bench_shapes(run_for_shape, quick, prefix="", shapes=SHAPES):
    """run_for_shape(batch, length) -> callable blocking on one full call."""
    figures = {}
    for batch, length in shapes:
        fn = run_for_shape(batch, length)
        start = time.perf_counter()
        fn()  # first call: tracing + compilation where the peer compiles
        figures[f"{prefix}first_call_ms_{shape_name(batch, length)}"] = (
            time.perf_counter() - start) * 1e3
        cpu0, wall0 = common.cpu_seconds(), time.perf_counter()
        med, samples = common.timed(fn, common.repeats_for(batch, length, quick), warmup=1)
        name = shape_name(batch, length)
        # Below the core count means other processes took CPU from this one.
        figures[f"{prefix}cores_used_{name}"] = (common.cpu_seconds() - cpu0) / (
            time.perf_counter() - wall0)
        figures[f"{prefix}latency_{name}"] = med * 1e3
        figures[f"{prefix}throughput_{name}_per_s"] = batch / med
        figures[f"{prefix}samples_ms_{name}"] = [round(s * 1e3, 2) for s in samples]
    return figures


def worker_prepare(args):
    common.prepare_weights(args.workdir)
    common.write_result(args.workdir, "prepare", {"ok": True})


def _ours_runner(compiled, cfg, top_k=None):
    """top_k=None: full logits to the host (what keras-hub's predict returns); top_k=50:
    the app's path, ranking on the device and returning 50 probabilities per mask."""
    def run_for_shape(batch, length):
        x = common.make_batch(batch, length, cfg["vocabulary_size"])
        ids = list(x["token_ids"])
        seg = list(x["segment_ids"])
        pos = list(x["mask_positions"])
        return lambda: compiled(ids, seg, pos, top_k=top_k)
    return run_for_shape


def worker_ours(args):
    os.environ["KERAS_BACKEND"] = "jax"
    import numpy as np
    from albert_demo.engine import CompiledMaskedLM
    from albert_demo.models.albert_masked_lm import AlbertMaskedLM
    t0 = time.perf_counter()
    model = AlbertMaskedLM.from_preset(str(Path(args.workdir, "keras")), preprocessor=None)
    compiled = CompiledMaskedLM(model)
    load_s = time.perf_counter() - t0
    cfg = common.BASE
    x = common.make_batch(*CHECK_SHAPE, cfg["vocabulary_size"])
    logits, _ = compiled(list(x["token_ids"]), list(x["segment_ids"]),
                         list(x["mask_positions"]))
    np.save(Path(args.workdir, "logits_ours.npy"), logits)
    result = {"peer": "ours", "load_s": load_s}
    result.update(_bench_shapes(_ours_runner(compiled, cfg), args.quick))
    result.update(_bench_shapes(_ours_runner(compiled, cfg, top_k=50), args.quick,
                                prefix="ranked_"))
    # Opt-in (ALBERT_DEMO_SERVING_DTYPE=mixed_bfloat16): the encoder's products in
    # bfloat16, accumulating in float32; the app's path.
    bf16 = CompiledMaskedLM(AlbertMaskedLM.from_preset(str(Path(args.workdir, "keras")),
                                                       preprocessor=None,
                                                       dtype="mixed_bfloat16"))
    result.update(_bench_shapes(_ours_runner(bf16, cfg, top_k=50), args.quick,
                                prefix="bf16_ranked_"))
    del bf16
    result["traces"] = compiled.trace_count
    result["matmul_gflops"], result["matmul_gflops_best"] = common.jax_matmul_gflops(
        with_best=True)
    # The embedded preset.
    tiny = AlbertMaskedLM.from_preset(TINY, preprocessor=None)
    tiny_cfg = {k: getattr(tiny.backbone, k) for k in common.BASE}
    tiny_compiled = CompiledMaskedLM(tiny)
    result.update(_bench_shapes(_ours_runner(tiny_compiled, tiny_cfg), args.quick,
                                prefix="tiny_"))
    result.update(_bench_shapes(_ours_runner(tiny_compiled, tiny_cfg, top_k=50), args.quick,
                                prefix="tiny_ranked_"))
    from albert_demo.engine import MaskPredictor
    predictor = MaskPredictor(AlbertMaskedLM.from_preset(TINY), TINY)
    result.update(_bench_e2e(lambda text: [m["predictions"][0]["token"] for m in
                                           predictor.predict(text, top_k=5)["masks"]],
                             args.quick))
    common.write_result(args.workdir, "ours", result)


def _bench_e2e(predict_top5, quick):
    """Median ms from a typed sentence to top-5 per [MASK], and the predicted tokens."""
    figures = {}
    for name, text in common.E2E_TEXTS.items():
        first = predict_top5(text)
        figures[f"e2e_top1_{name}"] = first
        med, _ = common.timed(lambda: predict_top5(text), 10 if quick else 30, warmup=2)
        figures[f"e2e_latency_{name}"] = med * 1e3
    return figures


def _keras_hub_typed_text(masked_lm, pre):
    """A keras-hub user's path from typed text to top-5: its tokenizer does not know
    "[MASK]" in text (plain SentencePiece), so split on it and put the mask id in (text
    lowercased, as the model is uncased); pack
    [CLS] ... [SEP] to the preset preprocessor's sequence_length (512, keras-hub's
    default) and call predict_on_batch with the mask positions."""
    import numpy as np
    tok, length = pre.tokenizer, pre.sequence_length
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    mask_id, pad_id = tok.mask_token_id, tok.pad_token_id

    def predict_top5(text):
        ids = [cls_id]
        for n, piece in enumerate(text.lower().split("[mask]")):
            if n:
                ids.append(mask_id)
            if piece.strip():
                ids.extend(int(i) for i in np.asarray(tok(piece)).reshape(-1))
        ids = (ids + [sep_id])[:length]
        positions = [i for i, t in enumerate(ids) if t == mask_id]
        x = {"token_ids": np.full((1, length), pad_id, "int32"),
             "segment_ids": np.zeros((1, length), "int32"),
             "padding_mask": np.zeros((1, length), "int32"),
             "mask_positions": np.asarray([positions], "int32")}
        x["token_ids"][0, :len(ids)] = ids
        x["padding_mask"][0, :len(ids)] = 1
        logits = masked_lm.predict_on_batch(x)[0]
        top = np.argsort(-logits, axis=-1)[:, :5]
        return [tok.id_to_token(int(t)) for t in top[:, 0]]
    return predict_top5


def worker_keras_hub(args):
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import keras_hub
    import numpy as np
    t0 = time.perf_counter()
    model = keras_hub.models.AlbertMaskedLM.from_preset(str(Path(args.workdir, "keras")),
                                                        preprocessor=None)
    load_s = time.perf_counter() - t0
    x = common.make_batch(*CHECK_SHAPE, common.BASE["vocabulary_size"])
    np.save(Path(args.workdir, "logits_keras_hub.npy"), model.predict_on_batch(x))

    def runners(m, vocab):
        jitted = jax.jit(lambda tv, ntv, x: m.stateless_call(tv, ntv, x)[0])

        def predict_for_shape(batch, length):
            x = common.make_batch(batch, length, vocab)
            return lambda: m.predict_on_batch(x)

        def jit_for_shape(batch, length):
            x = common.make_batch(batch, length, vocab)
            # Read the weights here: predict_on_batch may have replaced the buffers.
            tv = [v.value for v in m.trainable_variables]
            ntv = [v.value for v in m.non_trainable_variables]
            return lambda: np.asarray(jitted(tv, ntv, x))
        return predict_for_shape, jit_for_shape

    predict, jitted = runners(model, common.BASE["vocabulary_size"])
    result = {"peer": "keras-hub", "load_s": load_s}
    result.update(_bench_shapes(predict, args.quick))
    result.update(_bench_shapes(jitted, args.quick, prefix="jit_"))
    tiny = keras_hub.models.AlbertMaskedLM.from_preset(
        str(common.ROOT / "assets" / TINY), preprocessor=None)
    predict, _ = runners(tiny, tiny.backbone.vocabulary_size)
    result.update(_bench_shapes(predict, args.quick, prefix="tiny_"))
    pre = keras_hub.models.AlbertMaskedLMPreprocessor.from_preset(
        str(common.ROOT / "assets" / TINY))
    result.update(_bench_e2e(_keras_hub_typed_text(tiny, pre), args.quick))
    common.write_result(args.workdir, "keras_hub", result)


def worker_torch(args):
    import numpy as np
    import torch
    from transformers import AlbertForMaskedLM
    torch.set_num_threads(os.cpu_count())
    t0 = time.perf_counter()
    model = AlbertForMaskedLM.from_pretrained(str(Path(args.workdir, "hf"))).eval()
    load_s = time.perf_counter() - t0

    def to_torch(x):
        return {"input_ids": torch.from_numpy(x["token_ids"]).long(),
                "token_type_ids": torch.from_numpy(x["segment_ids"]).long(),
                "attention_mask": torch.from_numpy(x["padding_mask"]).long()}, \
            torch.from_numpy(x["mask_positions"]).long()

    def runner(m, bf16=False):
        """bf16: torch's own bfloat16 path on CPU (autocast), the peer of our opt-in."""
        def run_for_shape(batch, length):
            inputs, pos = to_torch(common.make_batch(batch, length,
                                                     common.BASE["vocabulary_size"]))
            rows = torch.arange(batch)[:, None]

            def call():
                with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16,
                                                            enabled=bf16):
                    return m(**inputs).logits[rows, pos].float().numpy()
            return call
        return run_for_shape

    x = common.make_batch(*CHECK_SHAPE, common.BASE["vocabulary_size"])
    np.save(Path(args.workdir, "logits_transformers.npy"), runner(model)(*CHECK_SHAPE)())
    result = {"peer": "transformers-torch", "load_s": load_s,
              "torch_threads": torch.get_num_threads()}
    result.update(_bench_shapes(runner(model), args.quick))
    result.update(_bench_shapes(runner(model, bf16=True), args.quick, prefix="autocast_bf16_"))
    result["torch_matmul_gflops"] = common.torch_matmul_gflops()
    common.write_result(args.workdir, "transformers_torch", result)
    if args.no_compile:
        return
    try:
        compiled = torch.compile(model)
        # Batch 1 only by default: inductor's compile of b32 takes ~30 s here.
        shapes = SHAPES if args.compile_all else [s for s in SHAPES if s[0] == 1]
        result.update(_bench_shapes(runner(compiled), args.quick, prefix="compile_",
                                    shapes=shapes))
        out = runner(compiled)(*CHECK_SHAPE)()
        np.save(Path(args.workdir, "logits_transformers_compile.npy"), out)
    except Exception as error:  # noqa: BLE001 - report why, keep the eager figures
        result["compile_error"] = f"{type(error).__name__}: {str(error)[:400]}"
    common.write_result(args.workdir, "transformers_torch", result)


def worker_cold(args):
    """First call (trace + compile + run) of ours at b1 s128, with a given cache dir."""
    t0 = time.perf_counter()
    os.environ["KERAS_BACKEND"] = "jax"
    from albert_demo.engine import CompiledMaskedLM, configure_compilation_cache
    from albert_demo.models.albert_masked_lm import AlbertMaskedLM
    configure_compilation_cache(args.cache)
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = AlbertMaskedLM.from_preset(str(Path(args.workdir, "keras")), preprocessor=None)
    compiled = CompiledMaskedLM(model)
    load_s = time.perf_counter() - t0
    fn = _ours_runner(compiled, common.BASE)(1, 128)
    t0 = time.perf_counter()
    fn()
    first_s = time.perf_counter() - t0
    steady, _ = common.timed(fn, 5, warmup=0)
    common.write_result(args.workdir, args.worker, {
        "import_s": import_s, "load_s": load_s, "first_call_s": first_s,
        "steady_s": steady, "compile_s": first_s - steady})


WORKERS = {"prepare": worker_prepare, "ours": worker_ours, "keras_hub": worker_keras_hub,
           "transformers_torch": worker_torch, "cold_empty": worker_cold,
           "cold_warm": worker_cold}


# ---------------------------------------------------------------------------- driver
def compare_logits(workdir):
    import numpy as np
    ref = np.load(Path(workdir, "logits_ours.npy"))
    report = {}
    for peer in ("keras_hub", "transformers", "transformers_compile"):
        path = Path(workdir, f"logits_{peer}.npy")
        if path.exists():
            report[peer] = float(np.max(np.abs(np.load(path) - ref)))
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--compile-all", action="store_true",
                        help="torch.compile at batch 32 too")
    parser.add_argument("--peers", default="ours,keras_hub,transformers_torch,cold")
    parser.add_argument("--save", help="write all figures to this JSON file")
    args, workdir = common.run_worker_or_driver(parser, WORKERS)
    if workdir is None:
        return
    script = Path(__file__).resolve()
    extra = (["--quick"] if args.quick else []) + (
        ["--no-compile"] if args.no_compile else []) + (
        ["--compile-all"] if args.compile_all else [])
    started = time.time()
    load_before = common.load_average()
    prep = common.run_worker(script, "prepare", workdir)
    if "error" in prep:
        sys.exit("could not prepare the weights:\n" + prep["log_tail"])
    results = {}
    peers = args.peers.split(",")
    for peer in ("ours", "keras_hub", "transformers_torch"):
        if peer in peers:
            print(f"running {peer} ...", flush=True)
            results[peer] = common.run_worker(script, peer, workdir, extra)
    if "cold" in peers:
        cache = Path(tempfile.mkdtemp(prefix="albert_jax_cache_"))
        for name in ("cold_empty", "cold_warm"):
            print(f"running {name} ...", flush=True)
            results[name] = common.run_worker(script, name, workdir,
                                              ["--cache", str(cache)])
    parity = compare_logits(workdir) if "ours" in results else {}
    summary = {"machine": common.machine(), "load_average_before": load_before,
               "load_average_after": common.load_average(),
               "elapsed_s": time.time() - started, "config": common.BASE,
               "parity_max_abs_diff_vs_ours": parity, "results": results,
               "command": "python benchmarks/inference.py " + " ".join(sys.argv[1:])}
    ratios = report(summary)
    summary["ratios"] = {f"ours/{p} {f}": v for (p, f), v in ratios.items()}
    if args.save:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save).write_text(json.dumps(summary, indent=1))
    for (peer, figure), value in ratios.items():
        print(f"ratio ours/{peer} {figure}: {value:.3f}")


def report(summary):
    res = summary["results"]
    m = summary["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, ISA {m['isa_used']} (CPU has "
          f"{', '.join(m['isa'])}); load average before "
          f"{summary['load_average_before']}, after {summary['load_average_after']}")
    print(f"logit parity, max |diff| vs ours on {CHECK_SHAPE}: "
          + ", ".join(f"{k} {v:.2e}" for k, v in summary["parity_max_abs_diff_vs_ours"].items()))
    columns = []  # (peer label for the ratio line, label, result dict, key prefix)
    if "ours" in res and "error" not in res["ours"]:
        columns.append(("ours", "ours full logits", res["ours"], ""))
        columns.append(("ours-ranked", "ours top-50 (app path)", res["ours"], "ranked_"))
        if "bf16_ranked_latency_b1_s32" in res["ours"]:
            columns.append(("ours-bf16", "ours bf16 top-50 (opt-in)", res["ours"],
                            "bf16_ranked_"))
    if "keras_hub" in res and "error" not in res["keras_hub"]:
        columns.append(("keras-hub", "keras-hub predict_on_batch", res["keras_hub"], ""))
        columns.append(("keras-hub-jit", "keras-hub jax.jit", res["keras_hub"], "jit_"))
    if "transformers_torch" in res and "error" not in res["transformers_torch"]:
        t = res["transformers_torch"]
        columns.append(("transformers-torch", "transformers eager", t, ""))
        if "autocast_bf16_latency_b1_s32" in t:
            columns.append(("transformers-torch-bf16", "transformers bf16 autocast", t,
                            "autocast_bf16_"))
        if "compile_latency_b1_s32" in t:
            columns.append(("transformers-torch-compile", "transformers torch.compile", t,
                            "compile_"))
        elif "compile_error" in t:
            print(f"torch.compile failed: {t['compile_error']}")
    for peer in res.values():
        if "error" in peer:
            print(f"{peer['worker']} failed: {peer['error']}\n{peer['log_tail']}")
    header = f"{'figure':<26}" + "".join(f"{c[1]:>28}" for c in columns)
    print("\nbase config (12 x 768, vocab 30000), median over repeats\n" + header)
    def print_row(label, key, digits=2, prefixed=True):
        print(f"{label:<26}" + "".join(
            f"{r.get((p if prefixed else '') + key, float('nan')):>28.{digits}f}"
            for _, _, r, p in columns))

    for batch, length in SHAPES:
        n = shape_name(batch, length)
        print_row(f"latency {n} ms", f"latency_{n}")
        print_row(f"throughput {n} seq/s", f"throughput_{n}_per_s")
        print_row(f"first call {n} ms", f"first_call_ms_{n}", digits=0)
    print_row("cores used b32_s128", "cores_used_b32_s128")
    print_row("peak RSS MB (process)", "peak_rss_mb", digits=0, prefixed=False)
    ratios = {}
    ours = res.get("ours", {})
    if "latency_b32_s128" in ours:
        flops = common.forward_flops(common.BASE, 32, 128, round(common.MASK_RATE * 128))
        rate = ours["matmul_gflops"]
        achieved = flops / (ours["latency_b32_s128"] / 1e3) / 1e9
        util = achieved / rate
        print(f"\nthe limit: jnp float32 2048x2048 matmul {rate:.1f} GFLOP/s (median of 7; "
              f"best {ours['matmul_gflops_best']:.1f}); "
              f"torch matmul {res.get('transformers_torch', {}).get('torch_matmul_gflops', 0):.1f}"
              f" GFLOP/s")
        print(f"ours forward b32 s128: {flops / 1e9:.0f} GFLOP (analytic) in "
              f"{ours['latency_b32_s128']:.0f} ms = {achieved:.1f} GFLOP/s = "
              f"{100 * util:.0f}% of the jnp matmul rate")
        ours["forward_gflops_b32_s128"] = achieved
        ours["flop_utilisation_b32_s128"] = util
    if "tiny_latency_b1_s32" in ours:
        kh = res.get("keras_hub", {})
        print(f"\nembedded preset {TINY}: ours full logits / ours top-50 / keras-hub "
              "predict_on_batch")
        for batch, length in SHAPES:
            n = shape_name(batch, length)
            print(f"  latency {n}: {ours[f'tiny_latency_{n}']:.2f} ms / "
                  f"{ours.get(f'tiny_ranked_latency_{n}', float('nan')):.2f} ms / "
                  f"{kh.get(f'tiny_latency_{n}', float('nan')):.2f} ms")
    kh = res.get("keras_hub", {})
    if "e2e_latency_short" in ours and "e2e_latency_short" in kh:
        print(f"\ntyped sentence -> top-5 per [MASK], {TINY} (each library's own path; "
              "keras-hub packs to its preset's 512 tokens, ours to the next length bucket):")
        for name in common.E2E_TEXTS:
            print(f"  {name}: ours {ours[f'e2e_latency_{name}']:.2f} ms "
                  f"{ours[f'e2e_top1_{name}']}, keras-hub {kh[f'e2e_latency_{name}']:.2f} ms "
                  f"{kh[f'e2e_top1_{name}']}")
    cold = [res.get("cold_empty"), res.get("cold_warm")]
    if all(c and "error" not in c for c in cold):
        print("\ncold start, ours, base b1 s128 (fresh process each):")
        for label, c in zip(("empty cache", "warm cache"), cold):
            print(f"  {label}: import {c['import_s']:.1f} s, load {c['load_s']:.1f} s, "
                  f"first call {c['first_call_s'] * 1e3:.0f} ms (steady "
                  f"{c['steady_s'] * 1e3:.0f} ms)")
    print()
    peers = [c for c in columns if not c[0].startswith("ours")]
    for label, _, r, p in peers:
        for batch, length in SHAPES:
            n = shape_name(batch, length)
            if p + f"latency_{n}" not in r:
                continue
            # (our result's prefix, the ratio line's name): full logits, the app's path,
            # the app's path in opt-in bfloat16
            for mine, line in (("", f"latency_{n}"), ("ranked_", f"latency_ranked_{n}"),
                               ("bf16_ranked_", f"latency_bf16_opt_in_ranked_{n}")):
                if f"{mine}latency_{n}" in ours:
                    ratios[(label, line)] = ours[f"{mine}latency_{n}"] / r[p + f"latency_{n}"]
    for name in common.E2E_TEXTS:
        if f"e2e_latency_{name}" in ours and f"e2e_latency_{name}" in kh:
            ratios[("keras-hub", f"e2e_typed_text_latency_{name}")] = (
                ours[f"e2e_latency_{name}"] / kh[f"e2e_latency_{name}"])
    if all(c and "error" not in c for c in cold):
        ratios[("self-warm-cache", "first_call_s")] = (
            cold[1]["first_call_s"] / cold[0]["first_call_s"])
    if "flop_utilisation_b32_s128" in ours:
        ratios[("matmul-peak", "forward_flop_utilisation_b32_s128")] = (
            ours["flop_utilisation_b32_s128"])
    return ratios


if __name__ == "__main__":
    main()
