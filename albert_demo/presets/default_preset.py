"""The preset a new visitor gets (ALBERT_DEMO_DEFAULT_PRESET).

Unset, it is the official `albert_base_en_uncased` when the Hub answers the start-up probe
(`reachability`, at most ~2.5 s), else the embedded preset. A preset that is not embedded
is downloaded and compiled in the background from the start; until that has finished (and
for good if it fails) visitors get the embedded preset, and the page says so.

    default = DefaultPreset.from_settings(settings.current())
    default.start(predictions)       # background thread
    default.current()                # "albert_tiny_en_uncased" until the download is ready
    default.status()                 # Status(state="downloading", step=..., ...)
"""

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from albert_demo.presets import reachability
from albert_demo.presets.registry import EMBEDDED_PRESET, OFFICIAL_PRESETS

OFFICIAL_DEFAULT = "albert_base_en_uncased"

log = logging.getLogger("albert_demo.default_preset")


@dataclass(frozen=True)
class Status:
    """state: "ready" (serving `wanted`), "downloading", "compiling" or "failed" (serving
    the fallback). step: the file being fetched; received: bytes in the cache so far."""

    wanted: str
    fallback: str
    state: str
    step: str = ""
    received: int = 0
    error: str = ""

    @property
    def serving(self):
        return self.wanted if self.state == "ready" else self.fallback


def received_bytes(repo):
    """Bytes of `repo` in the Hugging Face cache, unfinished files included."""
    from huggingface_hub import constants

    blobs = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}" / "blobs"
    try:
        return sum(p.stat().st_size for p in blobs.iterdir() if p.is_file())
    except OSError:
        return 0


class DefaultPreset:
    def __init__(self, wanted, fallback=EMBEDDED_PRESET):
        self.wanted, self.fallback = wanted, fallback
        self._state = "ready" if wanted == fallback else "downloading"
        self._step, self._error = "", ""
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, config):
        wanted = config.default_preset
        if wanted is None:
            reason = reachability.hub_unreachable_reason()
            wanted = OFFICIAL_DEFAULT if reason is None else EMBEDDED_PRESET
            if reason:
                log.info("Default preset: %s (Hugging Face not reachable: %s)", wanted, reason)
        return cls(wanted)

    def start(self, predictions):
        """Download and compile `wanted` in a background thread (nothing when embedded)."""
        if self._state == "ready":
            return None
        thread = threading.Thread(target=self.load, args=(predictions,),
                                  name="default-preset", daemon=True)
        thread.start()
        return thread

    def load(self, predictions):
        log.info("Default preset %s: downloading in the background; serving %s until ready",
                 self.wanted, self.fallback)
        try:
            predictions.model(self.wanted, progress=self._progress)
            self._set("compiling", "")
            # Compiled before it is offered: the same programs the embedded one gets.
            predictions.compile_forward(self.wanted)
        except Exception as error:  # a PresetError says what went wrong and what to do
            log.warning("Default preset %s failed; serving %s: %s", self.wanted,
                        self.fallback, error)
            self._set("failed", "", str(error))
        else:
            log.info("Default preset %s is ready", self.wanted)
            self._set("ready", "")

    def _progress(self, fraction=None, desc=None, *args, **kwargs):
        if self._state == "downloading" and desc:
            self._set("downloading", desc)

    def _set(self, state, step, error=""):
        with self._lock:
            self._state, self._step, self._error = state, step, error

    def status(self):
        with self._lock:
            state, step, error = self._state, self._step, self._error
        info = OFFICIAL_PRESETS.get(self.wanted)
        received = received_bytes(info.hf_repo) if info and state == "downloading" else 0
        return Status(self.wanted, self.fallback, state, step, received, error)

    def current(self):
        """The preset a visitor gets now (asked on every request: no look at the cache)."""
        with self._lock:
            return self.wanted if self._state == "ready" else self.fallback

    @property
    def offers_official(self):
        """Whether the page may offer a one-click switch to `wanted` (it is an official
        preset and its download has not failed)."""
        return self.wanted in OFFICIAL_PRESETS and self._state != "failed"
