"""Every setting the server reads from its environment, in one place.

`Settings.from_env()` parses the variables once, with their defaults and the reason for
each bound. One rule for every variable: unset or blank means the default, and a value
that cannot be used raises `SettingError` naming the variable, the value and what is
accepted (`app.py` stops there, at start). Modules read the settings in force with
`current()`: the object `app.py` installed with `use(...)` (a public server tightens some
policies there, without writing to `os.environ`), or, when nothing was installed (the
library, the tests), the environment as read at the first call; `reset()` reads it again.

    from albert_demo import settings
    settings.current().max_chars            # 2000 unless ALBERT_DEMO_MAX_CHARS says otherwise
    settings.use(settings.Settings.from_env().for_public())
"""

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
SERVING_DTYPES = ("float32", "mixed_bfloat16")
FINETUNE_ISOLATIONS = ("process", "thread")
PRESET_SOURCES = ("hf", "kaggle")
KAGGLE_HANDLES = ("any", "official")


class SettingError(ValueError):
    """A variable holds a value the server cannot use: `app.py` stops at start with it."""

    def __init__(self, name, value, accepted):
        super().__init__(f"{name}={value!r} cannot be used; accepted: {accepted}.")
        self.name = name


def _given(environ, name):
    """The variable's value, or None when it is unset or blank (blank means "default")."""
    value = environ.get(name)
    return None if value is None or not value.strip() else value.strip()


def _number(environ, name, default, kind=int, minimum=1, maximum=None):
    """A number from the environment: a whole one for `int` ("2e9" is fine), within bounds."""
    value = _given(environ, name)
    if value is None:
        return default
    bounds = f"at least {minimum:g}" + (f" and at most {maximum:g}" if maximum else "")
    accepted = f"{'a whole number' if kind is int else 'a number'} {bounds}"
    try:
        number = float(value)
    except ValueError:
        raise SettingError(name, value, accepted) from None
    # The comparisons also refuse nan and inf.
    if not minimum <= number <= (maximum or math.inf) or math.isinf(number) or (
            kind is int and not number.is_integer()):
        raise SettingError(name, value, accepted)
    return kind(number)


def _queue_status_seconds(environ, default):
    name = "ALBERT_DEMO_QUEUE_STATUS_SECONDS"
    value = _given(environ, name)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    # 0 ("auto"), or a period a broadcast to every waiting request can afford; the
    # comparisons also refuse nan and inf.
    if seconds == 0 or 0.1 <= seconds <= 60:
        return seconds
    raise SettingError(name, value, "0 (Gradio's auto) or 0.1 to 60 seconds")


def _flag(environ, name, default):
    value = _given(environ, name)
    if value is None:
        return default
    if value.lower() not in TRUE_WORDS + FALSE_WORDS:
        raise SettingError(name, value, " / ".join(TRUE_WORDS) + " or " + " / ".join(FALSE_WORDS))
    return value.lower() in TRUE_WORDS


def _choice(environ, name, choices, default):
    value = _given(environ, name)
    if value is None:
        return default
    if value.lower() not in choices:
        raise SettingError(name, value, ", ".join(choices))
    return value.lower()


def _names(value):
    """"alice, bob" -> frozenset({"alice", "bob"}) (commas or spaces between names)."""
    return frozenset(n for n in (value or "").replace(",", " ").split() if n)


def _paths(value):
    return None if value is None else tuple(Path(p).resolve() for p in value.split(os.pathsep)
                                            if p)


@dataclass(frozen=True)
class Settings:
    # Where the server keeps annotations, compiled programs and fine-tuned models.
    data_dir: Path = Path("./.albert_demo_data").resolve()
    database_url: str | None = None           # PostgreSQL for annotations when given
    jax_cache: Path | None = None             # default: <data_dir>/jax_cache
    # Presets.
    allowed_dirs: tuple | None = None         # None: anywhere locally; $DATA/models if public
    max_download_bytes: int = 2_000_000_000   # the largest official ALBERT is ~0.9 GB
    kaggle_handles: str | None = None         # "any"; "official" when public
    preset_source: str = "hf"                 # "kaggle": official presets from Kaggle
    # What new visitors get (presets/default_preset.py): unset, albert_base_en_uncased
    # when the Hub answers the start-up probe, else the embedded preset.
    default_preset: str | None = None
    cache_bytes: int = 4_000_000_000          # loaded presets, parameters + programs
    # One request.
    max_chars: int = 2000
    max_masks: int = 20
    max_top_k: int = 50
    # One layer × one head at 512 tokens is 262k weights; 1M (~8 MB of JSON) allows that,
    # or every head of a layer up to ~290 tokens, but not everything at 512 (9-37M).
    max_attention_values: int = 1_048_576
    # Fine-tuning.
    max_upload_bytes: int = 5 * 1024 * 1024
    finetune_max_steps: int = 2000
    finetune_max_seconds: float = 1800.0
    max_concurrent_trainings: int = 1
    share_finetuned: bool = False
    data_parallel: bool = True
    training_yield: float = 3.0
    # One run's estimated peak memory: a 16 GB Space shared with serving.
    finetune_memory_bytes: int = 4_000_000_000
    # "process": each run in its own process at nice 19, so the OS hands serving the CPU
    # within a scheduler tick and a run that runs out of memory ends alone; "thread":
    # inside the server (the library's default; fine for one person on a laptop).
    finetune_isolation: str = "process"
    # Campaigns: logins (Hugging Face usernames on a Space) that may create campaigns,
    # beside the users file's ':owner' lines; nobody named: anyone may.
    campaign_owners: frozenset = frozenset()
    # Serving.
    concurrency: int = 4                      # requests run at once per event
    # Seconds between queue-position updates to waiting browsers (0: Gradio's "auto",
    # which sends every waiting request an update each time any request starts: with 35
    # waiting that is ~1,800 messages/s on the event loop, under 50 users its bottleneck).
    queue_status_seconds: float = 1.0
    # "mixed_bfloat16" (opt-in): the encoder's products in bfloat16 with float32
    # accumulation, 1.35-1.8x faster on the base config here (AVX-512 BF16); top-1 agrees
    # with float32 on 99.2% of the held-out sample (tests/models/test_mixed_precision.py).
    serving_dtype: str = "float32"
    # Programs and agents: Gradio's MCP server (read-only tools only, ui/public_api.py),
    # off unless asked for (`python app.py --mcp`, ALBERT_DEMO_MCP=1).
    mcp_server: bool = False
    space_id: str | None = None               # set on a Hugging Face Space (SPACE_ID)
    public: bool = False

    @classmethod
    def from_env(cls, environ=None):
        env = os.environ if environ is None else environ
        d = cls()
        data_dir = Path(env.get("ALBERT_DEMO_DATA_DIR") or d.data_dir).resolve()
        jax_cache = env.get("ALBERT_DEMO_JAX_CACHE")
        return cls(
            data_dir=data_dir,
            database_url=(env.get("ALBERT_DEMO_DATABASE_URL") or "").strip() or None,
            jax_cache=Path(jax_cache) if jax_cache else None,
            allowed_dirs=_paths(env.get("ALBERT_DEMO_ALLOWED_DIRS")),
            max_download_bytes=_number(env, "ALBERT_DEMO_MAX_DOWNLOAD_BYTES",
                                       d.max_download_bytes),
            kaggle_handles=_choice(env, "ALBERT_DEMO_KAGGLE_HANDLES", KAGGLE_HANDLES, None),
            preset_source=_choice(env, "ALBERT_DEMO_PRESET_SOURCE", PRESET_SOURCES,
                                  d.preset_source),
            default_preset=(env.get("ALBERT_DEMO_DEFAULT_PRESET") or "").strip() or None,
            cache_bytes=_number(env, "ALBERT_DEMO_CACHE_BYTES", d.cache_bytes),
            max_chars=_number(env, "ALBERT_DEMO_MAX_CHARS", d.max_chars),
            max_masks=_number(env, "ALBERT_DEMO_MAX_MASKS", d.max_masks),
            max_top_k=_number(env, "ALBERT_DEMO_MAX_TOP_K", d.max_top_k),
            max_attention_values=_number(env, "ALBERT_DEMO_MAX_ATTENTION_VALUES",
                                         d.max_attention_values),
            max_upload_bytes=_number(env, "ALBERT_DEMO_MAX_UPLOAD_BYTES", d.max_upload_bytes),
            finetune_max_steps=_number(env, "ALBERT_DEMO_FINETUNE_MAX_STEPS",
                                       d.finetune_max_steps),
            finetune_max_seconds=_number(env, "ALBERT_DEMO_FINETUNE_MAX_SECONDS",
                                         d.finetune_max_seconds, float),
            max_concurrent_trainings=_number(env, "ALBERT_DEMO_MAX_CONCURRENT_TRAININGS",
                                             d.max_concurrent_trainings),
            share_finetuned=_flag(env, "ALBERT_DEMO_SHARE_FINETUNED", d.share_finetuned),
            data_parallel=_flag(env, "ALBERT_DEMO_DATA_PARALLEL", d.data_parallel),
            training_yield=_number(env, "ALBERT_DEMO_TRAINING_YIELD", d.training_yield, float,
                                   minimum=0),
            finetune_memory_bytes=_number(env, "ALBERT_DEMO_FINETUNE_MEMORY_BYTES",
                                          d.finetune_memory_bytes),
            finetune_isolation=_choice(env, "ALBERT_DEMO_FINETUNE_ISOLATION",
                                       FINETUNE_ISOLATIONS, d.finetune_isolation),
            campaign_owners=_names(env.get("ALBERT_DEMO_CAMPAIGN_OWNERS")),
            concurrency=_number(env, "ALBERT_DEMO_CONCURRENCY", d.concurrency),
            queue_status_seconds=_queue_status_seconds(env, d.queue_status_seconds),
            serving_dtype=_choice(env, "ALBERT_DEMO_SERVING_DTYPE", SERVING_DTYPES,
                                  d.serving_dtype),
            mcp_server=_flag(env, "ALBERT_DEMO_MCP", d.mcp_server),
            space_id=(env.get("SPACE_ID") or "").strip() or None,
        )

    def queue_status_rate(self):
        """Gradio's `status_update_rate`: seconds between updates, or "auto"."""
        return self.queue_status_seconds or "auto"

    def for_public(self):
        """The same settings on a public server (a Space, --share, a non-loopback host)."""
        return dataclasses.replace(self, public=True)

    @property
    def local_preset_dirs(self):
        """Folders local presets may come from; None means anywhere. A public server
        allows only its data folder's models unless the operator allow-listed others."""
        if self.allowed_dirs is None and self.public:
            return (self.data_dir / "models",)
        return self.allowed_dirs

    @property
    def official_kaggle_only(self):
        """kagglehub unpacks an archive without a size bound, so a public server fetches
        only the official ALBERT archives unless the operator says "any"."""
        return (self.kaggle_handles or ("official" if self.public else "any")) == "official"

    @property
    def compilation_cache(self):
        return self.jax_cache or self.data_dir / "jax_cache"


_installed = None


def use(settings):
    """Install the settings the whole process reads (app.py, once at start)."""
    global _installed
    _installed = settings
    return settings


def current():
    """The installed settings; without any (the library), the environment as first read."""
    global _installed
    if _installed is None:
        _installed = Settings.from_env()
    return _installed


def reset():
    """Forget the settings in force: the next `current()` reads the environment again
    (tests that change a variable; a library user who changed one on purpose)."""
    global _installed
    _installed = None
