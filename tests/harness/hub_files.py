"""A loopback stand-in for the Hugging Face Hub's file downloads (what `hf_hub_download`
reads): HEAD/GET `/{repo}/resolve/{revision}/{filename}` with the headers huggingface_hub
reads (`X-Repo-Commit`, quoted `ETag`, `Content-Length`; 404s carry `X-Error-Code:
EntryNotFound` / `RepoNotFound`), and downloads that can be cut halfway.

    ResolveHub.repos = {"albert/albert-base-v2": {"config.json": b"...", ...}}
    with serving(ResolveHub) as endpoint:     # "http://127.0.0.1:PORT"
        ...
"""

import hashlib
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class ResolveHub(BaseHTTPRequestHandler):
    repos = {}  # repo_id -> {filename: bytes}
    requests = []  # (method, repo, filename, Range header or None)
    # filename -> "once": the first full GET stops halfway (connection dropped), or
    # "dead": every full GET stops halfway and every resume is dropped unanswered.
    cut = {}
    # A threading.Event every file body waits for (a download held "in progress"), or None.
    gate = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _route(self):
        path = unquote(self.path.split("?")[0]).lstrip("/")
        parts = path.split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return None, None
        return "/".join(parts[:2]), "/".join(parts[4:])

    def _answer(self, with_body):
        repo, filename = self._route()
        wanted_range = self.headers.get("Range")
        self.requests.append((self.command, repo, filename, wanted_range))
        files = self.repos.get(repo)
        if files is None or filename not in files:
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound" if files is None else
                             "EntryNotFound")
            self.send_header("X-Error-Message", "not found")
            if files is not None:
                self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = files[filename]
        cut = self.cut.get(filename) if with_body else None
        if cut == "dead" and wanted_range:  # the server went away mid-download
            self.close_connection = True
            return
        start = int(wanted_range.split("=")[1].split("-")[0]) if wanted_range else 0
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", '"' + hashlib.sha256(body).hexdigest() + '"')
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if not with_body:
            return
        if self.gate is not None:
            self.gate.wait(60)
        if cut and not start:  # promise the whole file, send half, drop the connection
            if cut == "once":
                del self.cut[filename]
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])

    def do_HEAD(self):
        self._answer(False)

    def do_GET(self):
        self._answer(True)


@contextmanager
def serving(handler=ResolveHub):
    """The handler on a free loopback port, in a thread; yields its endpoint."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
