"""Is the Hugging Face Hub reachable from this server? One short probe, remembered a minute.

Without a route to the Hub, huggingface_hub retries each request with back-off (1+2+4+8+8 s)
before it gives up, so picking an official preset offline took ~23 s to fail. Instead,
before a download, one connection to the endpoint (HF_ENDPOINT, default huggingface.co:443)
must open and answer an HTTP request within 2 s; HF_HUB_OFFLINE=1 counts as unreachable
without trying. When the Hub is unreachable a complete earlier download is served from the
Hugging Face cache, and anything else fails at once with a message that says what to pick.

    reason = hub_unreachable_reason()     # None, or e.g. "connection refused by 127.0.0.1:9"
"""

import json
import os
import socket
import ssl
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from albert_demo.presets.registry import EMBEDDED_PRESET

PROBE_SECONDS = 2.0
REMEMBER_SECONDS = 60.0
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                   "all_proxy")
# The files without which a download is not usable (resolve.download_hf fetches the rest).
REQUIRED_FILES = {"keras": ("config.json", "model.weights.h5",
                            "assets/tokenizer/vocabulary.spm"),
                  "hf": ("config.json", "model.safetensors", "spiece.model")}

_remembered = {}  # endpoint -> (monotonic time of the probe, reason or None)
_lock = threading.Lock()


def hub_unreachable_reason(endpoint=None):
    """None when the Hub answered (now or within the last minute), else why not."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE=1 is set"
    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return None  # the route is the proxy's business: let huggingface_hub try
    endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
    with _lock:
        seen = _remembered.get(endpoint)
        if seen and time.monotonic() - seen[0] < REMEMBER_SECONDS:
            return seen[1]
    reason = _probe(endpoint)
    with _lock:
        _remembered[endpoint] = (time.monotonic(), reason)
    return reason


def forget():
    """Drop remembered probes (tests; a server whose network just came back)."""
    with _lock:
        _remembered.clear()


def _probe(endpoint):
    """Connect, and for https shake hands, send one HEAD and wait for the first byte, all
    within PROBE_SECONDS (the name lookup included, so it runs in a thread)."""
    url = urlsplit(endpoint)
    https = url.scheme == "https"
    host, port = url.hostname or "", url.port or (443 if https else 80)
    where = f"{host}:{port}"
    outcome = [f"no answer from {where} within {PROBE_SECONDS:g} s"]

    def attempt():
        try:
            with socket.create_connection((host, port), timeout=PROBE_SECONDS) as raw:
                conn = raw
                if https:  # liveness only: nothing secret is sent, so no certificate check
                    context = ssl.create_default_context()
                    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                    conn = context.wrap_socket(raw, server_hostname=host)
                conn.sendall(f"HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                             "\r\n".encode())
                outcome[0] = None if conn.recv(1) else f"{where} closed without answering"
        except socket.gaierror:
            outcome[0] = f"cannot resolve {host}"
        except ConnectionRefusedError:
            outcome[0] = f"connection refused by {where}"
        except (TimeoutError, socket.timeout):
            pass  # keeps "no answer"
        except OSError as error:
            outcome[0] = f"{where}: {error.strerror or type(error).__name__}"

    thread = threading.Thread(target=attempt, name="hub-probe", daemon=True)
    thread.start()
    thread.join(PROBE_SECONDS + 0.5)
    return outcome[0] if not thread.is_alive() else \
        f"no answer from {where} within {PROBE_SECONDS:g} s"


def unreachable_message(name, reason):
    return (f"Could not download preset {name!r}: Hugging Face is not reachable from this "
            f"server ({reason}). Pick the embedded preset {EMBEDDED_PRESET!r} or a local "
            "preset folder, or try again once the server is online.")


def cached_download(repo, revision=None):
    """The cache folder of an earlier complete download of `repo`, or None."""
    try:
        from huggingface_hub import try_to_load_from_cache

        def cached(filename):
            path = try_to_load_from_cache(repo, filename, revision=revision)
            return path if isinstance(path, str) else None

        config = cached("config.json")
        if config is None:
            return None
        with open(config) as f:
            layout = "keras" if "registered_name" in json.load(f) else "hf"
        if all(cached(filename) for filename in REQUIRED_FILES[layout]):
            return Path(config).parent
    except Exception:  # a broken cache entry or odd repo id is not a download
        pass
    return None
