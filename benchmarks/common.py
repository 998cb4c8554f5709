"""Shared pieces of the benchmarks: the config, identical random weights for every peer,
inputs, analytic FLOP counts, timing, and running each peer in its own subprocess.

Every peer runs in a fresh Python process (its own threads, its own peak RSS), started one
after another by the driver script, and writes its figures to a JSON file.
"""

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# albert_base_en_uncased (albert-base-v2).
BASE = dict(vocabulary_size=30000, num_layers=12, num_heads=12, embedding_dim=128,
            hidden_dim=768, intermediate_dim=3072, num_groups=1, num_inner_repetitions=1,
            max_sequence_length=512, num_segments=2)
SEED = 1234
MASK_RATE = 0.15


def hf_config(cfg):
    from transformers import AlbertConfig
    return AlbertConfig(
        vocab_size=cfg["vocabulary_size"], embedding_size=cfg["embedding_dim"],
        hidden_size=cfg["hidden_dim"], num_hidden_layers=cfg["num_layers"],
        num_attention_heads=cfg["num_heads"], intermediate_size=cfg["intermediate_dim"],
        num_hidden_groups=cfg["num_groups"], inner_group_num=cfg["num_inner_repetitions"],
        hidden_act="gelu_new", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        classifier_dropout_prob=0.0, max_position_embeddings=cfg["max_sequence_length"],
        type_vocab_size=cfg["num_segments"], layer_norm_eps=1e-12)


def prepare_weights(workdir):
    """Random base weights, once: torch -> HF safetensors -> ours -> keras-hub preset.

    Writes workdir/hf (transformers layout) and workdir/keras (keras-hub layout); every
    peer loads one of these, so all run the same numbers.
    """
    workdir = Path(workdir)
    if (workdir / "keras" / "config.json").is_file() and (workdir / "hf").is_dir():
        return
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import torch
    from transformers import AlbertForMaskedLM
    torch.manual_seed(SEED)
    model = AlbertForMaskedLM(hf_config(BASE)).eval()
    # Non-zero biases and LayerNorm affine, so a mis-mapped weight cannot hide.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(0.02 * torch.randn_like(p))
    model.save_pretrained(workdir / "hf", safe_serialization=True)
    from albert_demo.models.albert_masked_lm import AlbertMaskedLM
    ours = AlbertMaskedLM.from_preset(str(workdir / "hf"), preprocessor=None)
    ours.save_to_preset(str(workdir / "keras"))


def make_batch(batch, length, vocab, seed=0):
    """Random ids (no padding), ~15% masked positions per row, sorted."""
    import numpy as np
    rng = np.random.default_rng(seed + 1000 * batch + length)
    masks = max(1, round(MASK_RATE * length))
    ids = rng.integers(5, vocab, size=(batch, length)).astype("int32")
    seg = np.zeros((batch, length), "int32")
    seg[:, length // 2:] = 1
    pos = np.stack([np.sort(rng.choice(np.arange(1, length), masks, replace=False))
                    for _ in range(batch)]).astype("int32")
    return {"token_ids": ids, "segment_ids": seg, "padding_mask": np.ones_like(ids),
            "mask_positions": pos}


SHAPES = [(1, 32), (1, 128), (32, 128)]
# What a person types: end-to-end figures (text in, top-5 per mask out) on the embedded
# preset, each library through the path its users take.
E2E_TEXTS = {
    "short": "The sky is [MASK] today.",
    "long": ("After the long meeting, the committee finally agreed to [MASK] the proposal "
             "that had been discussed for several weeks by every member of the board, "
             "although some of them still worried that the cost of the new building would "
             "be far higher than the first estimate, and that the town would have to "
             "borrow money from the [MASK] to pay for it before the end of the year."),
}


def shape_name(batch, length):
    return f"b{batch}_s{length}"


def forward_flops(cfg, batch, length, masks):
    """Analytic float ops (2 per multiply-add) of one MLM forward.

    Embedding projection E->H per token; per layer per token 4H^2 (QKV + output) +
    2HI (FFN) multiply-adds and 2TH for attention (scores + context); the MLM head on
    the masked positions only (H->E dense + E->V decoder). Counts what our model
    executes: the last layer computes keys and values for every token but queries,
    attention output and FFN for the masked positions only (utilisation is not inflated
    by work skipped).
    """
    h, i, e, v = (cfg[k] for k in ("hidden_dim", "intermediate_dim", "embedding_dim",
                                   "vocabulary_size"))
    layers = cfg["num_layers"] * cfg["num_inner_repetitions"]
    tokens = batch * length
    per_token = 4 * h * h + 2 * h * i + 2 * length * h
    macs = tokens * e * h
    macs += (layers - 1) * tokens * per_token
    macs += tokens * 2 * h * h + batch * masks * (per_token - 2 * h * h)  # the last layer
    macs += batch * masks * (h * e + e * v)
    return 2 * macs


def timed(fn, repeats, warmup=1):
    """-> (median seconds, all samples). `fn` must block until its result is ready."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), samples


def repeats_for(batch, length, quick=False):
    work = batch * length
    if work >= 2048:
        return 3 if not quick else 2
    return 20 if not quick else 8


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average():
    try:
        return os.getloadavg()
    except OSError:
        return None


# Vector instruction sets that move these figures (AVX2 vs AVX-512 moved our ratio against
# torch from 0.4 to 0.7), from the CPU's flags.
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
# `BENCH_MAX_ISA=avx2` caps every peer at AVX2 on an AVX-512 machine (XLA for ours and
# keras-hub, ATen and oneDNN for torch), to measure what an AVX2-only CPU would run.
ISA_CAPS = {"avx2": {"XLA_FLAGS": "--xla_cpu_max_isa=AVX2", "ATEN_CPU_CAPABILITY": "avx2",
                     "ONEDNN_MAX_CPU_ISA": "AVX2"}}


def cpu_isa():
    """The vector ISA extensions this CPU reports, e.g. ["avx2", "avx512f"]."""
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")).split(":", 1)[1].split()
    except (OSError, StopIteration):
        return []
    return [f for f in ISA_FLAGS if f in flags]


def isa_cap_env():
    """The environment that caps every worker at BENCH_MAX_ISA (empty when not set)."""
    cap = os.environ.get("BENCH_MAX_ISA", "").strip().lower()
    if cap and cap not in ISA_CAPS:
        raise SystemExit(f"BENCH_MAX_ISA={cap!r}: known caps are {', '.join(ISA_CAPS)}")
    return dict(ISA_CAPS.get(cap, {}))


def machine():
    """CPU model, cores, vector ISA (and the cap in force) for every recorded figure."""
    model = platform.processor()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    isa = cpu_isa()
    cap = os.environ.get("BENCH_MAX_ISA", "").strip().lower() or None
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "isa": isa, "isa_cap": cap,
            "isa_used": cap or ("avx512" if "avx512f" in isa else "avx2" if "avx2" in isa
                                else "other")}


def run_worker(script, worker, workdir, extra=(), env=None, timeout=900):
    """Run `python script --worker NAME --workdir D` in a fresh process; -> its JSON dict.

    Peak RSS comes from the child (ru_maxrss) and, as a cross-check, from psutil polling.
    """
    out = Path(workdir) / f"{worker}.json"
    if out.exists():
        out.unlink()
    cmd = [sys.executable, str(script), "--worker", worker, "--workdir", str(workdir),
           *extra]
    child_env = dict(os.environ)
    child_env.update(isa_cap_env())
    child_env.update(env or {})
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=child_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    polled = 0.0
    try:
        import psutil
        p = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                polled = max(polled, p.memory_info().rss / 2**20)
            except psutil.Error:
                break
            time.sleep(0.2)
    except ImportError:
        pass
    log, _ = proc.communicate(timeout=timeout)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not out.exists():
        sys.stderr.write(log[-6000:])
        return {"worker": worker, "error": f"exit {proc.returncode}", "wall_s": wall,
                "log_tail": log[-2000:]}
    result = json.loads(out.read_text())
    result["wall_s"] = wall
    result["polled_rss_mb"] = polled
    return result


def write_result(workdir, worker, result):
    result.setdefault("peak_rss_mb", peak_rss_mb())
    Path(workdir, f"{worker}.json").write_text(json.dumps(result, indent=1))


def jax_matmul_gflops(n=2048, repeats=7, with_best=False):
    import jax
    import jax.numpy as jnp
    import numpy as np
    a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n), "float32"))
    b = jnp.asarray(np.random.default_rng(1).standard_normal((n, n), "float32"))
    f = jax.jit(jnp.matmul)
    med, samples = timed(lambda: f(a, b).block_until_ready(), repeats, warmup=2)
    if with_best:
        return 2 * n**3 / med / 1e9, 2 * n**3 / min(samples) / 1e9
    return 2 * n**3 / med / 1e9


def torch_matmul_gflops(n=2048, repeats=7):
    import torch
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    med, _ = timed(lambda: torch.matmul(a, b), repeats, warmup=2)
    return 2 * n**3 / med / 1e9


def run_worker_or_driver(parser, workers):
    """The scripts' shared start. Adds --worker/--workdir and parses; a worker invocation
    (each peer runs in its own process) runs its worker and returns (args, None); the
    driver gets (args, its work folder)."""
    parser.add_argument("--worker", choices=sorted(workers))
    parser.add_argument("--workdir")
    args = parser.parse_args()
    if args.worker:
        workers[args.worker](args)
        return args, None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="albert_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    return args, workdir
