"""Loaded presets in an LRU cache bounded by parameter memory; safe under concurrency.

Two requests for the same preset load it once (a per-name lock); a load that fails
leaves nothing behind.
"""

import os
import threading
from collections import OrderedDict

from albert_demo.engine.predictor import MaskPredictor


def _env_bytes(name, default):
    try:
        return int(float(os.environ.get(name, default)))
    except ValueError:
        return default


class ModelCache:
    def __init__(self, max_bytes=None, loader=None, limits=None):
        self.max_bytes = max_bytes or _env_bytes("ALBERT_DEMO_CACHE_BYTES", 4e9)
        self.loader = loader or self._load
        self.limits = limits
        self._models = OrderedDict()
        self._lock = threading.Lock()
        self._loading = {}

    @staticmethod
    def _load(name, progress=None):
        from albert_demo import AlbertMaskedLM
        return AlbertMaskedLM.from_preset(name, progress=progress)

    @staticmethod
    def size_of(predictor):
        return sum(int(v.size) * v.dtype.itemsize for v in predictor.compiled.trainable
                   + predictor.compiled.non_trainable)

    def get(self, name, progress=None):
        with self._lock:
            if name in self._models:
                self._models.move_to_end(name)
                return self._models[name]
            lock = self._loading.setdefault(name, threading.Lock())
        with lock:
            with self._lock:
                if name in self._models:
                    return self._models[name]
            predictor = MaskPredictor(self.loader(name, progress=progress), name=name,
                                      limits=self.limits)
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
