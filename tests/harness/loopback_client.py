"""gradio_client Clients for measuring the app, without the client's own per-request cost.

gradio_client opens a fresh httpx client for every request, and each builds an SSL context
from certifi's bundle (~25 ms of CPU), even for http://. py-spy showed that as 74% of the
load generator's CPU, which on a 2-core machine starved the server it was measuring. One
ready context per process keeps certificate checks on and does that work once.
"""

import ssl
import threading

_context = None
_lock = threading.Lock()


def make_client(url):
    global _context
    from gradio_client import Client
    with _lock:
        if _context is None:
            _context = ssl.create_default_context()
    return Client(url, verbose=False, ssl_verify=_context)
