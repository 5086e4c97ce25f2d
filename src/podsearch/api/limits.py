"""Request-size limits on every body and per-client rate limits on the expensive endpoints.

Both are plain ASGI middleware, so they act before a route reads anything:

- :class:`BodyLimit` answers 413 at once when ``Content-Length`` is over the endpoint's limit,
  and stops a body sent without one (chunked) as soon as the bytes read pass the limit.
- :class:`RateLimit` keeps a token bucket per client address and endpoint: ``rate`` requests
  per minute on average, ``burst`` at once; an empty bucket answers 429 with ``Retry-After``.

The rate limiter is a small token bucket here rather than slowapi/limits: the buckets live in
the process (no storage server to run), the rule is one formula that a test can check
exactly, and it needs no decorator and ``request`` argument on every route. Its limits are per
server process: with several workers a client may get ``workers`` times the rate.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class EndpointLimit:
    method: str
    path: str  # a regular expression over the whole path
    max_bytes: int
    doc_path: str  # as docs/CONFIG.md writes it


def body_limits(max_upload_bytes: int, audio_bytes: int) -> list[EndpointLimit]:
    """The largest body each endpoint accepts, first match wins; the last line is every other
    request. ``docs/CONFIG.md`` lists the same table (a test compares them)."""
    return [
        EndpointLimit("POST", r"/api/search", 64 * KIB, "POST /api/search"),
        EndpointLimit("POST", r"/api/search/audio", audio_bytes, "POST /api/search/audio"),
        EndpointLimit("POST", r"/api/recommend", 256 * KIB, "POST /api/recommend"),
        EndpointLimit("PUT", r"/api/episodes", 16 * MIB, "PUT /api/episodes"),
        EndpointLimit("PUT", r"/api/episodes/.+", 1 * MIB, "PUT /api/episodes/{id}"),
        EndpointLimit("POST", r"/api/index", 4 * KIB, "POST /api/index"),
        EndpointLimit("POST", r"/api/ingest", max_upload_bytes + 64 * KIB, "POST /api/ingest"),
        EndpointLimit("*", r".*", 64 * KIB, "any other request"),
    ]


def _json(status: int, error: str, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()):
    body = json.dumps({"error": error, "detail": detail}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    return start, {"type": "http.response.body", "body": body}


def _size(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n / KIB:.0f} KiB"


class BodyLimit:
    """413 for a body over its endpoint's limit, before it is read (see module docstring)."""

    def __init__(self, app: ASGIApp, limits: Sequence[EndpointLimit]) -> None:
        self.app = app
        self.limits = [(lim, re.compile(lim.path)) for lim in limits]

    def limit_for(self, method: str, path: str) -> EndpointLimit:
        for lim, rx in self.limits:
            if lim.method in ("*", method) and rx.fullmatch(path):
                return lim
        return self.limits[-1][0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lim = self.limit_for(scope["method"], scope["path"])
        detail = (
            f"the request body is larger than {_size(lim.max_bytes)}, the limit of "
            f"{lim.doc_path}: send less (docs/CONFIG.md lists the limits)"
        )
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > lim.max_bytes:
            for message in _json(413, "PayloadTooLarge", detail, [(b"connection", b"close")]):
                await send(message)
            return
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > lim.max_bytes:
                    # FastAPI lets an HTTPException out of body parsing as it is: the app's
                    # handler turns it into the JSON 413.
                    raise HTTPException(413, detail)
            return message

        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped, watch)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            for message in _json(413, "PayloadTooLarge", detail, [(b"connection", b"close")]):
                await send(message)


@dataclass(frozen=True, slots=True)
class RateRule:
    method: str
    path: str  # a regular expression over the whole path
    name: str


# The endpoints whose requests cost seconds of CPU (or start background work).
EXPENSIVE: tuple[RateRule, ...] = (
    RateRule("POST", r"/api/search/audio", "POST /api/search/audio"),
    RateRule("POST", r"/api/recommend", "POST /api/recommend"),
    RateRule("POST", r"/api/ingest", "POST /api/ingest"),
    RateRule("POST", r"/api/index", "POST /api/index"),
)
MAX_CLIENTS = 10_000  # buckets kept; the least recently seen client is forgotten first


class TokenBuckets:
    """``rate_per_minute`` tokens a minute per key, at most ``burst`` saved up."""

    def __init__(
        self,
        rate_per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_CLIENTS,
    ) -> None:
        self.rate = rate_per_minute / 60.0  # tokens per second
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: tuple[str, str]) -> float:
        """0.0 when a request may pass (a token is spent), else the seconds until one may."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait


class RateLimit:
    """429 with ``Retry-After`` when a client's bucket for an expensive endpoint is empty."""

    def __init__(
        self,
        app: ASGIApp,
        buckets: TokenBuckets,
        rules: Sequence[RateRule] = EXPENSIVE,
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.rules = [(r, re.compile(r.path)) for r in rules]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for rule, rx in self.rules:
                if rule.method == scope["method"] and rx.fullmatch(scope["path"]):
                    client = (scope.get("client") or ("unknown", 0))[0]
                    wait = self.buckets.take((client, rule.name))
                    if wait > 0:
                        retry = max(1, math.ceil(wait))
                        detail = (
                            f"too many requests to {rule.name} from this client: retry in {retry} s"
                        )
                        headers = [(b"retry-after", str(retry).encode())]
                        for message in _json(429, "TooManyRequests", detail, headers):
                            await send(message)
                        return
                    break
        await self.app(scope, receive, send)
