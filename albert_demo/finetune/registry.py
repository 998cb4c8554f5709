"""Fine-tuned presets on disk, each visible only to the session that made it.

Layout: `<data_dir>/finetuned/<owner key>/<name>/` (a keras-hub preset folder plus
`finetune.json`), where the owner key is a hash of the session id, so folder names reveal
no session ids and cannot escape the root. Its owner sees the model as `finetuned/<name>`;
with sharing on (`ALBERT_DEMO_SHARE_FINETUNED=1`) everyone sees everyone's, others' as
`finetuned/<owner key[:8]>/<name>`. A published model is never overwritten (a repeated
name gets a suffix), so nobody has a model change under them.

Example:
```python
registry = FinetunedRegistry("data")
[m.name for m in registry.list(session_id)]      # ["finetuned/legal-v1"]
predictor = registry.predictor(session_id, "finetuned/legal-v1", models=model_cache)
```
"""

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from albert_demo import settings
from albert_demo.finetune.data import FinetuneDataError
from albert_demo.finetune.checkpoints import remove_partial

PREFIX = "finetuned/"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_publish_lock = threading.Lock()


def check_name(name):
    name = (name or "").strip().removeprefix(PREFIX)
    if not NAME_PATTERN.match(name):
        raise FinetuneDataError(f"Model name {name!r} is not allowed: use 1-64 letters, "
                                "digits, '.', '_' or '-', starting with a letter or digit, "
                                "e.g. 'legal-v1'.")
    return name


def owner_key(owner):
    if not isinstance(owner, str) or not owner.strip():
        raise FinetuneDataError("No session id: reload the page to get one.")
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()[:24]


def sharing_enabled():
    """`ALBERT_DEMO_SHARE_FINETUNED=1`: everyone sees everyone's fine-tuned models."""
    return settings.current().share_finetuned


@dataclass(frozen=True)
class FinetunedModel:
    name: str  # as the caller sees it: finetuned/<name> (or finetuned/<owner8>/<name>)
    path: Path
    owner_key: str
    mine: bool

    @property
    def cache_key(self):
        """A ModelCache key unique across owners."""
        return f"{PREFIX}{self.owner_key}/{self.path.name}"

    def info(self):
        try:
            return json.loads((self.path / "finetune.json").read_text())
        except (OSError, ValueError):
            return {}


class FinetunedRegistry:
    def __init__(self, data_dir, sharing=None):
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "finetuned"
        self.sharing = sharing_enabled() if sharing is None else sharing

    # -- where things go ------------------------------------------------------------
    def owner_dir(self, owner):
        return self.root / owner_key(owner)

    def runs_dir(self, owner):
        """Where one person's training runs keep their files."""
        return self.data_dir / "finetune_runs" / owner_key(owner)

    def run_dir(self, owner, job_id):
        """Checkpoints, manifest and the download zip of one training run."""
        return self.runs_dir(owner) / job_id

    def reserve(self, owner, name):
        """A free folder path for `name` (suffixed -2, -3, ... if taken), held by a hidden
        lock file until `release`; the caller writes it with save_to_preset."""
        base = check_name(name)
        folder = self.owner_dir(owner)
        folder.mkdir(parents=True, exist_ok=True)
        with _publish_lock:
            candidate, n = base, 1
            while (folder / candidate).exists() or (folder / f".{candidate}.lock").exists():
                n += 1
                candidate = f"{base}-{n}"
            (folder / f".{candidate}.lock").touch()
        return folder / candidate

    @staticmethod
    def release(path):
        Path(path).with_name(f".{Path(path).name}.lock").unlink(missing_ok=True)

    # -- what the caller may see ----------------------------------------------------
    def list(self, owner):
        mine = owner_key(owner)
        if not self.root.is_dir():
            return []
        owners = sorted(p for p in self.root.iterdir() if p.is_dir()
                        and not p.name.startswith(".")) if self.sharing else [self.root / mine]
        found = []
        for owner_dir in owners:
            if not owner_dir.is_dir():
                continue
            remove_partial(owner_dir, older_than=3600)  # leftovers of a killed process
            for preset in sorted(owner_dir.iterdir()):
                if preset.name.startswith(".") or not (preset / "config.json").is_file():
                    continue
                own = owner_dir.name == mine
                name = (f"{PREFIX}{preset.name}" if own
                        else f"{PREFIX}{owner_dir.name[:8]}/{preset.name}")
                found.append(FinetunedModel(name, preset, owner_dir.name, own))
        return found

    def names(self, owner):
        return [m.name for m in self.list(owner)]

    def resolve(self, owner, name):
        name = name if name.startswith(PREFIX) else PREFIX + name
        for model in self.list(owner):
            if model.name == name:
                return model
        yours = ", ".join(self.names(owner)) or "none yet"
        raise FinetuneDataError(f"No fine-tuned model {name!r} for this session (yours: "
                                f"{yours}). Fine-tune one in the Fine-tune tab.")

    def load(self, owner, name, **kwargs):
        from albert_demo import AlbertMaskedLM
        model = self.resolve(owner, name)
        return AlbertMaskedLM.from_preset(str(model.path), allowed_dirs=[self.root.resolve()],
                                          **kwargs)

    def predictor(self, owner, name, models=None):
        """A MaskPredictor for one of the caller's models, cached in `models` if given."""
        from albert_demo.engine import MaskPredictor
        entry = self.resolve(owner, name)
        if models is not None and entry.cache_key in models.loaded():
            return models.get(entry.cache_key)
        predictor = MaskPredictor(self.load(owner, name), name=entry.name,
                                  limits=getattr(models, "limits", None),
                                  activity=getattr(models, "activity", None))
        if models is not None:
            models.put(entry.cache_key, predictor)
        return predictor
