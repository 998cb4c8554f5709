"""A loopback stand-in for the parts of the Hugging Face Hub's HTTP API that a Space deploy
and a dataset push use, recording every request. Only what huggingface_hub's upload path
calls (Xet off), for Space and dataset repositories ({kind}: spaces or datasets):

    POST /api/repos/create                               create (409 when it exists)
    POST /api/validate-yaml                              README front matter (always valid)
    GET  /api/{kind}/{id}/tree/{rev}                     files now in the repository
    POST /api/{kind}/{id}/preupload/{rev}                per file: "lfs" or "regular"
    POST /{kind}/{id}.git/info/lfs/objects/batch         LFS batch: where to PUT each binary
    PUT  /lfs-upload/{sha256}                            the binary itself (sha256 checked)
    POST /api/{kind}/{id}/commit/{rev}                   NDJSON commit: inline files, LFS
                                                         pointers, deletions
    POST /api/spaces/{id}/variables                      a Space variable (key, value)

FakeHub(token="hf_...") answers 401 to any request without "Authorization: Bearer hf_...".

Upload modes follow the Hub's documented rule, not this repository's .gitattributes: a file
is "lfs" when its first 512 bytes (the sample the client sends) hold a NUL byte or it is over
10 MiB. The real Hub also consults the Space's .gitattributes; that is not imitated.
"""

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HUB_MAX_PLAIN_BYTES = 10 * 1024 * 1024
KINDS = {"spaces": "space", "datasets": "dataset"}  # URL part -> repository type


class FakeHub:
    def __init__(self, token=None):
        self.token = token        # None: any or no token is accepted
        self.requests = []        # (method, path, headers dict, parsed body or None)
        self.repos = {}           # "space/owner/name" or "dataset/owner/name" -> {path: bytes}
        self.lfs_store = {}       # sha256 -> bytes PUT
        self.commits = []         # parsed NDJSON lines of each commit
        self.variables = {}       # "owner/name" -> {key: value} of a Space's variables
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                hub._handle(self, "GET")

            def do_POST(self):
                hub._handle(self, "POST")

            def do_PUT(self):
                hub._handle(self, "PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # -- plumbing -----------------------------------------------------------------------
    @staticmethod
    def _body(handler):
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(handler.rfile.readline().split(b";")[0], 16)
                chunk = handler.rfile.read(size)
                handler.rfile.readline()
                if size == 0:
                    return data
                data += chunk
        return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))

    @staticmethod
    def _reply(handler, status, payload):
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, handler, method):
        url = urlsplit(handler.path)
        raw = self._body(handler)
        with self.lock:
            self.requests.append((method, url.path, dict(handler.headers), raw))
        if self.token is not None and (handler.headers.get("Authorization")
                                       != f"Bearer {self.token}"):
            return self._reply(handler, 401, {"error": "Invalid credentials in Authorization"})
        try:
            status, payload = self._route(method, url.path, raw)
        except Exception as error:  # a bad request from the client: fail the test fast
            status, payload = 400, {"error": f"fake hub: {type(error).__name__}: {error}"}
        self._reply(handler, status, payload)

    # -- the API ------------------------------------------------------------------------
    def _route(self, method, path, raw):
        if (method, path) == ("POST", "/api/repos/create"):
            return self._create(json.loads(raw))
        if (method, path) == ("POST", "/api/validate-yaml"):
            return 200, {"errors": [], "warnings": []}
        if method == "PUT" and path.startswith("/lfs-upload/"):
            oid = path.rsplit("/", 1)[1]
            if hashlib.sha256(raw).hexdigest() != oid:
                return 400, {"error": "sha256 mismatch"}
            self.lfs_store[oid] = raw
            return 200, {}
        if method == "POST" and path.endswith(".git/info/lfs/objects/batch"):
            return self._lfs_batch(json.loads(raw))
        top, _, rest = path.lstrip("/").partition("/")   # "api", "spaces/owner/name/tree/main"
        kind, _, rest = rest.partition("/")
        if top == "api" and kind in KINDS:
            owner, name, action, *_ = rest.split("/")
            repo = self.repos.get(f"{KINDS[kind]}/{owner}/{name}")
            if repo is None:
                return 404, {"error": "Repository not found"}
            if method == "GET" and action == "tree":
                return 200, [{"type": "file", "path": p, "size": len(b),
                              "oid": hashlib.sha1(b).hexdigest()} for p, b in repo.items()]
            if method == "POST" and action == "preupload":
                return 200, {"files": [self._upload_mode(f) for f in json.loads(raw)["files"]]}
            if method == "POST" and action == "commit":
                return self._commit(repo, f"{kind}/{owner}/{name}", raw)
            if (method, kind, action) == ("POST", "spaces", "variables"):
                variables = self.variables.setdefault(f"{owner}/{name}", {})
                sent = json.loads(raw)
                variables[sent["key"]] = sent["value"]
                return 200, {k: {"value": v} for k, v in variables.items()}
        return 404, {"error": f"fake hub has no {method} {path}"}

    def _create(self, payload):
        kind = payload.get("type", "model")
        key = f"{kind}/{payload['organization']}/{payload['name']}"
        url = f"{self.url}/{kind}s/{payload['organization']}/{payload['name']}"
        if key in self.repos:
            return 409, {"error": f"You already created this {kind} repo", "url": url}
        self.repos[key] = {}
        return 200, {"url": url, "name": f"{payload['organization']}/{payload['name']}"}

    @staticmethod
    def _upload_mode(file):
        sample = base64.b64decode(file["sample"])
        lfs = b"\0" in sample or file["size"] > HUB_MAX_PLAIN_BYTES
        return {"path": file["path"], "uploadMode": "lfs" if lfs else "regular",
                "shouldIgnore": False, "oid": None}

    def _lfs_batch(self, payload):
        objects = []
        for obj in payload["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.lfs_store:
                entry["actions"] = {"upload": {"href": f"{self.url}/lfs-upload/{obj['oid']}"}}
            objects.append(entry)
        return 200, {"transfer": "basic", "objects": objects}

    def _commit(self, repo, repo_id, raw):
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "file":
                repo[value["path"]] = base64.b64decode(value["content"])
            elif key == "lfsFile":
                blob = self.lfs_store[value["oid"]]  # KeyError: committed before uploaded
                if len(blob) != value["size"]:
                    raise ValueError(f"{value['path']}: size {value['size']} != {len(blob)}")
                repo[value["path"]] = blob
            elif key == "deletedFile":
                del repo[value["path"]]
            elif key != "header":
                raise ValueError(f"unexpected commit line {key}")
        self.commits.append(lines)
        oid = hashlib.sha1(raw).hexdigest()
        return 200, {"commitUrl": f"{self.url}/{repo_id}/commit/{oid}",
                     "commitOid": oid, "pullRequestUrl": None}

    # -- what the tests read ------------------------------------------------------------
    def calls(self, method=None, contains=""):
        return [r for r in self.requests
                if (method is None or r[0] == method) and contains in r[1]]
