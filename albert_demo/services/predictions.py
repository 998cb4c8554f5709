"""Predictions, candidate scores and attention from the compiled engine, for whoever asks:
`finetuned/<name>` resolves among the caller's own fine-tuned models."""

import math
import threading

from albert_demo import settings
from albert_demo.callers import caller_id
from albert_demo.engine.errors import InputError, text_or_none, whole_number
from albert_demo.finetune.registry import PREFIX as FINETUNED_PREFIX
from albert_demo.presets.default_preset import DefaultPreset
from albert_demo.presets.registry import EMBEDDED_PRESET, OFFICIAL_PRESETS

# Every length bucket one request can reach, with and without attention: a visitor's first
# 512-token request would otherwise compile on the spot (~0.6 s of both cores here, plus
# ~0.13 s of tracing under the GIL), stalling everyone else's answers.
WARMUP_LENGTHS = (16, 32, 64, 128, 256, 512)
# Salience compiles a program per (length bucket, steps): the buckets of what people type.
SALIENCE_WARMUP_LENGTHS = (16, 32)


def check_attention_size(shape):
    """Refuse a reply past the server's bound before it is built: every layer and head at
    512 tokens is ~9-37M weights (80-300 MB of JSON, ~850 MB of server memory)."""
    count = math.prod(shape)
    limit = settings.current().max_attention_values
    if count > limit:
        layers, heads, rows, _ = shape
        raise InputError(f"That is {layers} layer(s) × {heads} head(s) × {rows}² tokens = "
                         f"{count:,} weights; this server returns at most {limit:,} per "
                         "request (ALBERT_DEMO_MAX_ATTENTION_VALUES). Choose one layer "
                         "and/or one head, or a shorter text.")


def json_ready(result):
    """A prediction without the arrays only the page uses."""
    return {k: v for k, v in result.items() if k not in ("attention", "tokens")}


class PredictionService:
    """cache: `ModelCache`; finetuned: a `FinetunedRegistry` (None: fine-tuning is off);
    default_preset: a name, or a `DefaultPreset` (the embedded one until its download is
    ready)."""

    def __init__(self, cache, finetuned=None, default_preset=EMBEDDED_PRESET):
        self.cache = cache
        self.finetuned = finetuned
        self.default = (default_preset if isinstance(default_preset, DefaultPreset)
                        else DefaultPreset(default_preset, fallback=default_preset))
        self.warm = threading.Event()
        self.salience_warm = threading.Event()

    @property
    def default_preset(self):
        """The preset a new visitor gets now."""
        return self.default.current()

    def preset_name(self, preset):
        return (text_or_none(preset, "preset") or self.default_preset).strip()

    def model(self, preset, session_id=None, progress=None):
        """A loaded preset; `finetuned/<name>` is looked up among the caller's models."""
        preset = self.preset_name(preset)
        if preset.startswith(FINETUNED_PREFIX):
            if self.finetuned is None:
                raise InputError("Fine-tuned models are not enabled on this server.")
            owner = caller_id(session_id)  # whose model: never a shared default
            return self.finetuned.predictor(owner, preset, models=self.cache)
        return self.cache.get(preset, progress=progress)

    def finetuned_names(self, session_id):
        if self.finetuned is None or not caller_id(session_id, required=False):
            return []
        return self.finetuned.names(session_id)

    def warm_up(self, preset=None, lengths=WARMUP_LENGTHS,
                salience_lengths=SALIENCE_WARMUP_LENGTHS):
        """Load a preset and compile its forward for the common shapes, then its salience
        programs (integrated gradients and gradient x input) for short texts. Run in the
        background: `warm` is set when predictions are compiled, `salience_warm` after."""
        try:
            self.compile_forward(preset, lengths)
        finally:
            self.warm.set()
        try:
            self.model(preset).compiled_salience.warmup(lengths=salience_lengths)
        finally:
            self.salience_warm.set()

    def compile_forward(self, preset=None, lengths=WARMUP_LENGTHS):
        """Load a preset and compile the forward programs requests use, for every length
        bucket (with and without attention)."""
        self.model(preset).warmup(lengths=lengths, with_attention=(False, True))

    def engine_stats(self):
        """Compilations so far (forward programs; salience separately), per preset. Anyone
        may call it, so only the presets known by name are named: a fine-tuned model or a
        local folder is "other model N" (its name, its owner's folder and the server's
        paths are nobody else's business)."""
        loaded = self.cache.loaded()
        known = set(OFFICIAL_PRESETS) | {EMBEDDED_PRESET}
        others = iter(range(1, len(loaded) + 1))
        shown = {name: name if name in known else f"other model {next(others)}"
                 for name in loaded}
        models = {shown[name]: self.cache.get(name) for name in loaded}
        traces = {name: m.compiled.trace_count for name, m in models.items()}
        salience = {name: m.compiled_salience.trace_count for name, m in models.items()}
        # Only for presets known by name: counts for "other model N" would tell anyone
        # polling when its owner uses it.
        batching = {name: dict(zip(("requests", "passes"), m.batching()))
                    for name, m in models.items() if name in known}
        return {"traces": sum(traces.values()), "traces_per_preset": traces,
                "shared_batches_per_preset": batching,
                "salience_traces": sum(salience.values()),
                "salience_traces_per_preset": salience, "loaded": list(models),
                "warm": self.warm.is_set(), "salience_warm": self.salience_warm.is_set(),
                "serving_dtype": settings.current().serving_dtype}

    def predict(self, text, preset=None, top_k=5, session_id=None, progress=None):
        """The /predict JSON: independent top-k for every [MASK]."""
        return self.model(preset, session_id, progress).predict(text, top_k)

    def predict_joint(self, text, preset=None, top_k=5, session_id=None, progress=None):
        return self.model(preset, session_id, progress).predict_joint(text, top_k)

    def score_candidates(self, text, preset=None, candidates="", session_id=None,
                         progress=None):
        return self.model(preset, session_id, progress).score_candidates(text, candidates)

    def analyse(self, text, preset=None, top_k=5, mode="independent", candidates="",
                session_id=None, progress=None):
        """Everything the Predict tab shows, from one compiled forward (plus the joint
        re-predictions when asked): predictions, attention, candidate scores."""
        model = self.model(preset, session_id, progress)
        result = model.predict(text, top_k, with_attention=True)
        shown = model.predict_joint(text, top_k) if mode == "joint" else json_ready(result)
        scores = model.score_candidates(text, candidates) if (candidates or "").strip() else None
        mask_indices = [m["index"] for m in result["masks"]]
        return {"text": text, "preset": model.name, "result": shown, "candidates": scores,
                "tokens": result["tokens"], "mask_indices": mask_indices,
                "attention": result["attention"]}

    def attention(self, text, preset=None, layer=-1, head=-1, session_id=None, progress=None):
        """Tokens and attention weights (rows attend to columns) as nested lists.

        layer/head: an index, or -1 for all; the shape is given in "shape"."""
        model = self.model(preset, session_id, progress)
        backbone = model.compiled.masked_lm.backbone
        layers, heads = backbone.num_layers, backbone.num_heads
        layer, head = whole_number(layer, "layer"), whole_number(head, "head")
        if not -1 <= layer < layers:
            raise InputError(f"layer must be -1 (all) or 0..{layers - 1}.")
        if not -1 <= head < heads:
            raise InputError(f"head must be -1 (all) or 0..{heads - 1}.")
        # Bounded before the forward runs: a refused request costs a tokenisation.
        n = len(model.encode(text, require_mask=False)[1])
        check_attention_size((1 if layer >= 0 else layers, 1 if head >= 0 else heads, n, n))
        found = model.attention(text)
        weights = found["attention"]
        if layer >= 0:
            weights = weights[layer:layer + 1]
        if head >= 0:
            weights = weights[:, head:head + 1]
        return {"tokens": found["tokens"], "mask_indices": found["mask_indices"],
                "layers": layers, "heads": heads, "layer": layer, "head": head,
                "shape": list(weights.shape), "attention": weights.round(4).tolist()}
