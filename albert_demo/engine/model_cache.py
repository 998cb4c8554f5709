"""Loaded presets in an LRU cache bounded by memory (weights plus compiled programs); safe
under concurrency.

Two requests for the same preset load it once (a per-name lock), however its folder is
spelled; a load that fails leaves nothing behind.
"""

import threading
from collections import OrderedDict

from albert_demo import settings
from albert_demo.engine.predictor import MaskPredictor
from albert_demo.presets.resolve import cache_key

# Memory one compiled forward program keeps (code and its buffers' allocator pools):
# measured 9.7 MB per program on the embedded preset (8 programs, RSS before/after).
PROGRAM_BYTES = 10_000_000


class ModelCache:
    def __init__(self, max_bytes=None, loader=None, limits=None, activity=None):
        self.max_bytes = max_bytes or settings.current().cache_bytes
        self.loader = loader or self._load
        self.limits = limits
        self.activity = activity  # a ServingActivity its predictors mark
        self._models = OrderedDict()
        self._lock = threading.Lock()
        self._loading = {}

    @staticmethod
    def _load(name, progress=None):
        from albert_demo import AlbertMaskedLM
        dtype = settings.current().serving_dtype
        extra = {} if dtype == "float32" else {"dtype": dtype}  # float32: the preset's own
        return AlbertMaskedLM.from_preset(name, progress=progress, **extra)

    @staticmethod
    def size_of(predictor):
        compiled = predictor.compiled
        weights = sum(int(v.size) * v.dtype.itemsize
                      for v in compiled.trainable + compiled.non_trainable)
        return weights + compiled.trace_count * PROGRAM_BYTES

    def get(self, name, progress=None):
        shown, name = name, cache_key(name)
        with self._lock:
            if name in self._models:
                self._models.move_to_end(name)
                # Programs compiled since the last look count too.
                self._evict(keep=name)
                return self._models[name]
            lock = self._loading.setdefault(name, threading.Lock())
        with lock:
            with self._lock:
                if name in self._models:
                    return self._models[name]
            predictor = MaskPredictor(self.loader(name, progress=progress), name=shown,
                                      limits=self.limits, activity=self.activity)
            with self._lock:
                self._models[name] = predictor
                self._evict(keep=name)
                self._loading.pop(name, None)
            return predictor

    def put(self, name, predictor):
        with self._lock:
            self._models[name] = predictor
            self._evict(keep=name)

    def _evict(self, keep):
        total = sum(self.size_of(p) for p in self._models.values())
        for name in list(self._models):
            if total <= self.max_bytes:
                break
            if name != keep:
                total -= self.size_of(self._models.pop(name))

    def loaded(self):
        with self._lock:
            return list(self._models)

    def drop(self, name):
        with self._lock:
            self._models.pop(name, None)
