"""Turn a preset handle into a local folder: names, kaggle://, hf://, local paths.

Downloads go through the well-kept hubs' own clients (`huggingface_hub`, `kagglehub`),
which cache and write files atomically. Local paths can be confined to allow-listed
folders (`ALBERT_DEMO_ALLOWED_DIRS`, os.pathsep-separated) when serving the public.
"""

import os
from pathlib import Path

from albert_demo import settings
from albert_demo.errors import UserError
from albert_demo.presets import reachability
from albert_demo.presets.registry import EMBEDDED_PRESET, OFFICIAL_PRESETS, all_presets

HF_FILES_KERAS = ["config.json", "metadata.json", "tokenizer.json", "preprocessor.json",
                  "task.json", "model.weights.h5", "task.weights.h5",
                  "assets/tokenizer/vocabulary.spm"]
HF_FILES_TRANSFORMERS = ["config.json", "model.safetensors", "spiece.model"]
PICKLE_FILES = ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "model.ckpt")


MAX_HANDLE_CHARS = 1024


class PresetError(UserError, ValueError):
    """A preset could not be found, fetched or trusted; the message says what to do."""


def _exists(path):
    try:
        return Path(path).exists()
    except (OSError, ValueError):  # a name too long for the OS, a NUL byte
        return False


def known_names():
    return sorted(all_presets())


def _private_data(real, config):
    """Inside the data folder but not its `models/`: people's fine-tuned models, runs,
    exports. A path there would reach another session's model around the registry's
    owner check, so it is no preset, whatever the allow-list says."""
    data = config.data_dir.resolve()
    return (real == data or data in real.parents) and not (
        real == data / "models" or (data / "models") in real.parents)


def check_local_path(path, allowed_dirs=None):
    """Resolve symlinks and refuse folders outside the allow-list (if one is set). With
    no allow-list given (a request's preset), the data folder's private parts are refused
    too; callers that pass `allowed_dirs` (the fine-tuned registry) decide themselves."""
    config = settings.current()
    allowed = allowed_dirs if allowed_dirs is not None else config.local_preset_dirs
    try:
        real = Path(path).expanduser().resolve()
        is_dir = real.is_dir()
    except (OSError, ValueError) as error:  # names too long for the OS, NUL bytes, loops
        raise PresetError(f"Preset path {str(path)[:200]!r} cannot be used "
                          f"({type(error).__name__}: {getattr(error, 'strerror', None) or error})."
                          ) from None
    if (allowed is not None and not any(real == d or d in real.parents for d in allowed)) or (
            allowed_dirs is None and _private_data(real, config)):
        raise PresetError(f"Preset path {str(path)!r} is outside the allowed folders; "
                          "local paths are limited on this server.")
    if not is_dir:
        raise PresetError(f"Preset folder {str(path)!r} does not exist.")
    return real


def cache_key(handle):
    """One key per preset however it is spelled: a local folder by its real path (so
    `./a/./b` and `a/b` and a symlink to it load once); any other handle as given."""
    if isinstance(handle, str) and (handle.startswith((os.sep, ".", "~"))
                                    or (os.sep in handle and _exists(handle))):
        try:
            return str(Path(handle.strip()).expanduser().resolve())
        except (OSError, ValueError):  # refused with a clear message when loaded
            pass
    return handle


def resolve_preset(handle, source=None, allowed_dirs=None, progress=None):
    """Return (local_folder, description) for any preset handle.

    source: "hf" (default; has the pretrained MLM head) or "kaggle" for official names.
    """
    if not isinstance(handle, str) or not handle.strip():
        raise PresetError("No preset given: pass a preset name, hf://owner/repo, "
                          "kaggle://… or a local folder.")
    handle = handle.strip()
    if len(handle) > MAX_HANDLE_CHARS:
        raise PresetError(f"Preset name is {len(handle):,} characters long; names, hf:// "
                          f"ids and paths are at most {MAX_HANDLE_CHARS}.")
    presets = all_presets()
    if handle in presets and presets[handle].local_dir is not None:
        return presets[handle].local_dir, handle
    if handle in OFFICIAL_PRESETS:
        info = OFFICIAL_PRESETS[handle]
        source = source or settings.current().preset_source
        if source == "kaggle":
            return download_kaggle(info.kaggle_handle, name=handle), handle
        return download_hf(info.hf_repo, name=handle, progress=progress), handle
    if handle.startswith("hf://"):
        return download_hf(handle[len("hf://"):], name=handle, progress=progress), handle
    if handle.startswith("kaggle://"):
        return download_kaggle(handle, name=handle), handle
    looks_like_path = os.sep in handle or handle.startswith(".") or _exists(handle)
    if looks_like_path:
        return check_local_path(handle, allowed_dirs), handle
    raise PresetError(f"Unknown preset {handle!r}. Known presets: {', '.join(known_names())}; "
                      "or pass hf://owner/repo, kaggle://owner/model/keras/variant/version, "
                      "or a local folder.")


def _offline_message(name, error):
    return (f"Could not download preset {name!r} ({type(error).__name__}: {error}). "
            f"Without network access use a local preset instead, e.g. {EMBEDDED_PRESET!r} "
            "or a folder holding config.json + model.safetensors + spiece.model.")


def download_hf(repo, name=None, progress=None, revision=None):
    """Fetch the files of a Hugging Face repo we can read, never a pickle."""
    from huggingface_hub.errors import EntryNotFoundError

    repo, _, rev = repo.partition("@")
    revision = revision or rev or None
    name = name or f"hf://{repo}"
    unreachable = reachability.hub_unreachable_reason()
    if unreachable:  # an earlier complete download, or a clear error now, not retries
        folder = reachability.cached_download(repo, revision)
        if folder is None:
            raise PresetError(reachability.unreachable_message(name, unreachable))
        return folder
    try:
        config_path, used = _fetch_bounded(repo, "config.json", revision, name, 0)
        import json
        with open(config_path) as f:
            config = json.load(f)
        keras_layout = "registered_name" in config
        wanted = HF_FILES_KERAS if keras_layout else HF_FILES_TRANSFORMERS
        optional = {"metadata.json", "task.json", "task.weights.h5", "preprocessor.json",
                    "tokenizer.json"}
        wanted = [f for f in wanted if f != "config.json"]  # fetched above
        for n, filename in enumerate(wanted):
            if progress:
                progress(n / len(wanted), f"downloading {filename}")
            try:
                used += _fetch_bounded(repo, filename, revision, name, used)[1]
            except EntryNotFoundError:
                if filename == "model.safetensors":
                    raise PresetError(
                        f"{name}: no model.safetensors in the repo. Pickled checkpoints "
                        f"({', '.join(PICKLE_FILES)}) are refused because unpickling can "
                        "run arbitrary code; convert it to safetensors first.") from None
                if filename not in optional:
                    raise PresetError(f"{name}: the repo has no {filename}.") from None
        if progress:
            progress(1.0, "downloaded")
        return Path(config_path).parent
    except PresetError:
        raise
    except Exception as error:  # network, auth, missing repo: one clear message
        raise PresetError(_offline_message(name, error)) from error


def download_limit():
    """Bytes one hf:// preset may fetch: the largest official ALBERT is ~0.9 GB."""
    return settings.current().max_download_bytes


def _fetch_bounded(repo, filename, revision, name, used):
    """hf_hub_download, once a HEAD says the file fits what is left of download_limit().

    Anyone can type hf://owner/repo into the app, so a repo with a 50 GB file must be
    refused before it fills the disk. Returns (local path, size in bytes)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

    size = 0
    try:
        size = get_hf_file_metadata(hf_hub_url(repo, filename, revision=revision)).size or 0
    except (EntryNotFoundError, HfHubHTTPError):
        raise
    except Exception:  # Hub unreachable or offline: hf_hub_download serves the cache or says why
        pass
    limit = download_limit()
    if used + size > limit:
        raise PresetError(f"{name}: {filename} is {size / 1e6:,.0f} MB, more than this "
                          f"server fetches for one preset ({limit / 1e6:,.0f} MB, "
                          "ALBERT_DEMO_MAX_DOWNLOAD_BYTES); nothing was downloaded.")
    return hf_hub_download(repo, filename, revision=revision), size


def check_kaggle_handle(handle):
    """kagglehub unpacks a model's whole archive (tar or zip) with no size bound, so a
    server for the public (`ALBERT_DEMO_KAGGLE_HANDLES=official`, app.py's default when
    public) fetches only the Keras team's official ALBERT archives, never a typed-in one."""
    if not settings.current().official_kaggle_only:
        return
    official = {info.kaggle_handle for info in OFFICIAL_PRESETS.values()}
    if handle not in official:
        raise PresetError(f"{handle}: this server downloads only the official Kaggle "
                          f"presets ({', '.join(sorted(OFFICIAL_PRESETS))}); use hf://owner/"
                          "repo for other checkpoints.")


def download_kaggle(handle, name=None):
    check_kaggle_handle(handle)
    try:
        import kagglehub
        return Path(kagglehub.model_download(handle.removeprefix("kaggle://")))
    except Exception as error:
        raise PresetError(_offline_message(name or handle, error)) from error
