"""`POST /models/<preset>`: the fill-mask task over plain HTTP, as Hugging Face's clients
speak it, on the same server as the page but outside Gradio's queue and event protocol.

    InferenceClient(model="http://127.0.0.1:7860/models/albert_tiny_en_uncased"
                    ).fill_mask("The sky is [MASK].", top_k=3)
    requests.post("http://127.0.0.1:7860/models/albert_tiny_en_uncased",
                  json={"inputs": "The sky is [MASK].", "parameters": {"top_k": 3}}).json()

A mistake the caller can fix answers 400 with `{"error": message}` (what the Hub's API
answers and what `huggingface_hub` shows in its exception); a body over the bound 413; a
fault of ours 500 with the same JSON and no trace; a server already holding
`MAX_PENDING` requests 503, at once, with `Retry-After`; a body not sent within
`BODY_SECONDS` 408. `finetuned/<name>` models are the caller's, named by the
`X-Session-Id` header.
"""

import base64
import binascii
import json
import logging
import secrets

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from albert_demo.errors import UserError
from albert_demo.ui.bounded_workers import BoundedWorkers, Busy

log = logging.getLogger("albert_demo.fill_mask")

SESSION_HEADER = "X-Session-Id"
# 16 texts of 2,000 characters, each of which JSON may spell in 6 bytes ("\u00e9"), fit
# with room to spare; anything larger is refused before it is read in full.
MAX_BODY_BYTES = 256 * 1024
# Worker threads the route's requests may hold at once; the rest wait, at no cost, for one.
# Its own pool (`BoundedWorkers`): run on anyio's default one (40 threads, which Gradio's
# page events use too), 50 programs held every thread and a person on the page waited
# behind them. 24 keep
# the engine's shared batches full (16 short texts) with room for the next ones' encoding.
ROUTE_THREADS = 24
# Requests the route holds at once, running or waiting for a thread; one more is refused
# (503) before any work. Without a bound, a flood of connections queues without
# end, each holding its body, and every caller's wait grows with it. 256 is about a
# second of waiting at the ~200 requests/s 2 cores serve (benchmarks/README.md).
MAX_PENDING = 256
RETRY_AFTER_S = 1
# A body must arrive within this; a request counts towards `MAX_PENDING` only once it
# has, so connections trickling a byte at a time (slowloris) cannot hold the places of
# real requests: each costs at most `MAX_BODY_BYTES` for at most this long.
BODY_SECONDS = 10


class _Refused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def error_reply(status, message, headers=None):
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def read_body(request, limit=MAX_BODY_BYTES):
    """The request body, refused (413) as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _Refused(413, f"The request body is {int(declared):,} bytes; at most "
                            f"{limit:,} are accepted.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Refused(413, f"The request body is over {limit:,} bytes; at most "
                                f"{limit:,} are accepted.")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body):
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise _Refused(400, 'The body must be JSON, e.g. {"inputs": "The sky is [MASK]."}.'
                       ) from None
    except RecursionError:  # thousands of nested brackets: no request of ours looks so
        raise _Refused(400, "The body's JSON is nested too deeply: send {\"inputs\": ..., "
                       "\"parameters\": {...}}.") from None


def basic_auth_checker(users):
    """users: [(name, password)] as Gradio's `auth` takes them, or None (open server).
    -> check(request) that raises `_Refused(401)` unless HTTP Basic names one of them."""
    if not users:
        return lambda request: None
    passwords = dict(users)

    def check(request):
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        try:
            name, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            name = password = None
        expected = passwords.get(name) if scheme.lower() == "basic" else None
        if expected is None or not secrets.compare_digest(password.encode(), expected.encode()):
            raise _Refused(401, "This server needs a login: send HTTP Basic credentials of "
                                "one of its users.")
    return check


def fill_mask_routes(fill_mask, users=None, max_pending=MAX_PENDING,
                     body_seconds=BODY_SECONDS):
    """The routes to put in front of Gradio's (`launch(app_kwargs={"routes": ...})`).

    fill_mask: a `FillMaskService`; users: the server's logins, if it has any;
    max_pending: requests held at once (their bodies read) before the next is answered
    503; body_seconds: the time a body may take to arrive."""
    router = APIRouter()
    check_login = basic_auth_checker(users)
    workers = BoundedWorkers(ROUTE_THREADS, max_pending, "fill-mask-route")

    async def read_in_time(request):
        try:
            with anyio.fail_after(body_seconds):
                return await read_body(request)
        except TimeoutError:
            raise _Refused(408, f"The request body did not arrive within {body_seconds} "
                                "s.") from None

    @router.post("/models/{preset:path}")
    async def fill_mask_task(preset: str, request: Request):
        try:
            check_login(request)
            # Read before a place is taken: a body trickling in holds none.
            payload = parse_json(await read_in_time(request))
            # The forward runs on a worker thread, where the engine's batcher shares it
            # with whatever else is waiting at the same length.
            reply = await workers.run(fill_mask.answer, preset, payload,
                                      request.headers.get(SESSION_HEADER))
            # Inside the try: a score JSON cannot hold (a diverged fine-tune's NaN) is
            # our fault, answered as one, not a bare 500.
            return JSONResponse(reply)
        except _Refused as refused:
            return error_reply(refused.status, str(refused))
        except Busy:
            return error_reply(503, f"The server is holding {max_pending} requests; try "
                                    f"again in {RETRY_AFTER_S} s.",
                               headers={"Retry-After": str(RETRY_AFTER_S)})
        except UserError as error:
            return error_reply(400, str(error))
        except ClientDisconnect:  # the caller left while sending: nobody to answer
            return error_reply(400, "The request body was cut off.")
        except Exception as error:
            log.exception("unexpected error in POST /models/%s", preset)
            return error_reply(500, f"Something went wrong ({type(error).__name__}); the "
                                    "details are in the server log.")

    return router.routes
