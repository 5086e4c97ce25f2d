"""The HTTP API and the web page: a thin FastAPI edge over :class:`podsearch.engine.Podsearch`.

Endpoints parse and validate, call the engine, and map :class:`PodsearchError` subclasses to
their ``http_status``. Every error body is ``{"error": <type>, "detail": <message>}``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from podsearch.api.auth import key_checker
from podsearch.api.fetch import FetchPolicy
from podsearch.api.ingest import register as register_ingest
from podsearch.api.limits import MIB, BodyLimit, RateLimit, TokenBuckets, body_limits
from podsearch.api.methods import allowed_methods
from podsearch.api.metrics import Metrics, MetricsMiddleware
from podsearch.api.recommend import register as register_recommend
from podsearch.api.schemas import (
    EpisodeOut,
    ErrorOut,
    FacetsOut,
    HealthOut,
    SearchRequest,
    SearchResponse,
    episode_to_dict,
    facet_list,
)
from podsearch.api.voice import add_voice_routes
from podsearch.api.writes import register as register_writes
from podsearch.encode import DEFAULT_BACKEND
from podsearch.errors import PodsearchError

if TYPE_CHECKING:
    from podsearch.config import Settings
    from podsearch.engine import Podsearch
    from podsearch.voice.transcribe import SpeechToText

log = logging.getLogger(__name__)
# One JSON line per request (method, path, status, latency): no query text, no headers.
access_log = logging.getLogger("podsearch.access")

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"

# The page loads nothing from elsewhere but show artwork (http(s) images from the feeds) and
# audio, which players stream from the episode's host.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: https:; "
    "media-src *; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Not found"},
    422: {"model": ErrorOut, "description": "Invalid request (the detail says which field)"},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No API key (send Authorization: Bearer KEY)"},
    403: {"model": ErrorOut, "description": "Wrong API key, or no key configured on the server"},
    422: {"model": ErrorOut, "description": "Invalid request"},
}


class SearchQuery(SearchRequest):
    """``GET /api/search`` parameters: unknown parameters (cache busters) are ignored."""

    model_config = ConfigDict(extra="ignore")


class SearchBody(SearchRequest):
    """``POST /api/search`` JSON body: strict types (``k: true`` or ``k: "3"`` is a 422, as
    the schema says integer). Query strings are all text, so the GET model stays lax."""

    model_config = ConfigDict(extra="forbid", strict=True)


_HTTP_ERROR_NAMES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
}


def _error(status: int, error: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail, **extra}, status_code=status)


def _public_message(exc: PodsearchError) -> str:
    """What a caller of the public API may read: input errors as they are; the server's
    state (paths, operator commands) replaced by what the caller can do."""
    from podsearch.errors import IndexNotFoundError, IndexStateError

    if isinstance(exc, IndexStateError | IndexNotFoundError):
        return (
            "the search index on this server cannot answer this request yet (it has no "
            "vectors or needs rebuilding); try keyword mode, or again later"
        )
    if exc.http_status >= 500:
        return "the server cannot answer this request now; try again later"
    return str(exc)


def _describe_validation(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    """A one-line human message and a JSON-safe list of the field errors."""
    items: list[dict[str, Any]] = []
    parts: list[str] = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ())]
        source = loc.pop(0) if loc and loc[0] in ("query", "body", "path", "header") else ""
        field = ".".join(loc) or ("body" if source == "body" else "request")
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if source == "body" and not loc and err.get("type") != "missing":
            msg = 'send a JSON object such as {"q": "your query"}'
        if err.get("type") == "json_invalid":
            field, msg = "body", "the request body is not valid JSON"
        # The offending input is left out on purpose: it may be 10k characters long.
        items.append({"field": field, "message": msg, "type": str(err.get("type", ""))})
        # Our own validators write whole sentences; pydantic's need the field name.
        parts.append(msg if err.get("type") == "value_error" else f"{field}: {msg}")
    return "; ".join(parts) or "invalid request", items


def create_app(
    engine: Podsearch,
    *,
    close_engine: bool = False,
    transcriber: SpeechToText | None = None,
    api_keys: Sequence[str] | None = None,
    allowed_hosts: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """Build the FastAPI app serving ``engine`` at ``/api`` and the web page at ``/``.

    ``close_engine``: close the engine when the app shuts down (when the app owns it).
    ``transcriber``: speech-to-text for spoken queries; None: whisper-base, loaded on first use.
    ``api_keys``: the keys the write API accepts; None: ``app.state.settings.api_keys`` when
    the CLI set it, else ``$PODSEARCH_API_KEYS`` (comma-separated). No key: writes are off.
    ``allowed_hosts``: the Host headers answered (others get 400), against DNS rebinding;
    None: any (``podsearch serve`` passes ``Settings.server_hosts()``).
    ``settings``: the ``[server]`` settings (CORS origins, rate limits, upload size, feed
    networks, shutdown timeout); None: their defaults (docs/CONFIG.md).
    """
    from podsearch.config import Settings

    conf = settings if settings is not None else Settings()
    # Engine reads are thread-safe (the store serialises its SQLite connection, the indexes
    # lock their own state), so plain ``def`` endpoints search concurrently in the thread pool.

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        # uvicorn has stopped taking requests and waited for those in flight: stop the
        # background jobs (an index build stops after its current chunk), then close.
        jobs = getattr(_app.state, "jobs", None)
        if jobs is not None:
            import anyio

            stopped = await anyio.to_thread.run_sync(jobs.shutdown, conf.shutdown_timeout)
            if stopped:
                log.warning("stopped %d background job(s) at shutdown: %s", len(stopped), stopped)
        if close_engine:
            engine.close()

    app = FastAPI(
        title="podsearch",
        summary="Natural-language, multilingual search over a podcast catalog.",
        description=(
            "Search episodes by meaning (`dense`), by words (`keyword`, BM25) or both "
            "(`hybrid`), with language, show, category and date filters. Errors are JSON "
            '`{"error": type, "detail": message}` with a 4xx status for bad input.'
        ),
        version=_version(),
        lifespan=lifespan,
    )
    app.state.engine = engine
    metrics = Metrics()
    metrics.watch_index(engine)
    app.state.metrics = metrics

    def keys() -> Sequence[str]:
        if api_keys is not None:
            return api_keys
        settings = getattr(app.state, "settings", None)
        if settings is not None:
            return tuple(settings.api_keys)
        if conf.api_keys:
            return conf.api_keys
        return [k.strip() for k in os.environ.get("PODSEARCH_API_KEYS", "").split(",")]

    @app.exception_handler(PodsearchError)
    async def _podsearch_error(req: Request, exc: PodsearchError) -> JSONResponse:
        public = _public_message(exc)
        if public != str(exc):  # paths and operator hints go to the log, not to the page
            log.error("%s %s: %s: %s", req.method, req.url.path, type(exc).__name__, exc)
        return _error(exc.http_status, type(exc).__name__, public)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_req: Request, exc: RequestValidationError) -> JSONResponse:
        detail, items = _describe_validation(exc)
        return _error(422, "ValidationError", detail, errors=items)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_req: Request, exc: StarletteHTTPException) -> Response:
        name = _HTTP_ERROR_NAMES.get(exc.status_code, "HTTPError")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # every method of the path, not one route's
            headers["Allow"] = ", ".join(allowed_methods(app.router.routes, _req.scope))
        return JSONResponse(
            {"error": name, "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=headers or None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return _error(500, "InternalError", "the server failed; see its log for the cause")

    def run_search(req: SearchRequest, request: Request) -> dict[str, Any]:
        t0 = time.perf_counter()
        request.state.mode = req.mode  # a metrics label
        result = engine.search(
            req.q,
            k=req.k,
            offset=req.offset,
            mode=req.mode,
            filters=req.filters(),
            facets=req.facets,
        )
        body = result.to_dict()
        metrics.observe_search(result.timings_ms)
        body["took_ms"] = round((time.perf_counter() - t0) * 1000.0, 3)
        return body

    @app.get(
        "/api/search",
        response_model=SearchResponse,
        responses=ERROR_RESPONSES,
        tags=["search"],
        summary="Search episodes",
    )
    def search_get(params: Annotated[SearchQuery, Query()], request: Request) -> dict[str, Any]:
        """Search with query parameters; `lang`, `show` and `category` may repeat."""
        return run_search(params, request)

    @app.post(
        "/api/search",
        response_model=SearchResponse,
        responses=ERROR_RESPONSES,
        tags=["search"],
        summary="Search episodes (JSON body)",
    )
    def search_post(body: SearchBody, request: Request) -> dict[str, Any]:
        """Search with a JSON body holding the same fields as the GET parameters."""
        return run_search(body, request)

    # Before /api/episodes/{id}: its path parameter would swallow ".../similar".
    register_recommend(app, engine, ERROR_RESPONSES)
    require_key = key_checker(keys)
    register_writes(app, engine, require_key)
    register_ingest(
        app,
        engine,
        require_key,
        app.state.jobs,
        lambda: FetchPolicy.from_settings(conf.max_upload_mb * MIB, conf.feed_private_networks),
        WRITE_ERRORS,
    )

    @app.get(
        "/metrics",
        tags=["meta"],
        summary="Prometheus metrics (API key required)",
        dependencies=[Depends(require_key)],
        responses={
            200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
            401: {"description": "No API key"},
            403: {"description": "Wrong API key, or no key configured"},
        },
        response_class=Response,
    )
    def get_metrics() -> Response:
        """Request counts and latency per route template and mode, encoder latency, index size
        and generation, in the Prometheus text format. Scrape it with the API key
        (`authorization: {credentials: KEY}` in the scrape config)."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get(
        "/api/episodes/{episode_id:path}",
        response_model=EpisodeOut,
        responses=ERROR_RESPONSES,
        tags=["episodes"],
        summary="One episode",
    )
    def get_episode(episode_id: str) -> dict[str, Any]:
        """The full record of one episode; 404 when the id is unknown."""
        return episode_to_dict(engine.episode(episode_id))

    @app.get(
        "/api/health",
        response_model=HealthOut,
        response_model_exclude_none=True,
        responses={
            503: {
                "model": HealthOut,
                "description": "`degraded` (the index answers, but something is wrong: see "
                "`problems`) or `error` (the index cannot be read): take this replica out",
            }
        },
        tags=["meta"],
        summary="Health check",
    )
    def health() -> Any:
        """`ok` with the index size and model; 503 `degraded` with the problems (and the same
        counts) when the index is damaged, 503 `error` when it cannot be read."""
        try:
            stats = engine.stats()
        except PodsearchError as exc:
            return JSONResponse(
                {"status": "error", "error": type(exc).__name__, "detail": _public_message(exc)},
                status_code=503,
            )
        body: dict[str, Any] = {
            "status": "ok",
            "episodes": stats.get("episodes"),
            "shows": stats.get("shows"),
            "indexed": stats.get("indexed"),
            "model": stats.get("model"),
            "generation": stats.get("generation"),
        }
        if not stats.get("problems"):
            return body
        # The details (paths, the command that repairs it) go to the log, not to the caller.
        for problem in stats["problems"]:
            log.error("health check: %s", problem)
        problems = engine.problems(public=True) or [
            "the index needs the operator's attention"  # gone between the two looks
        ]
        body.update(status="degraded", problems=problems)
        return JSONResponse({k: v for k, v in body.items() if v is not None}, status_code=503)

    @app.get("/api/facets", response_model=FacetsOut, tags=["meta"], summary="Filter values")
    def facets() -> dict[str, Any]:
        """Languages, categories and the largest shows with episode counts, for the filter
        controls."""
        stats = engine.stats()
        return {
            "languages": facet_list(stats.get("languages")),
            "categories": facet_list(stats.get("categories")),
            "shows": stats.get("top_shows") or [],
        }

    @app.get("/", include_in_schema=False)
    def page() -> Response:
        index = STATIC_DIR / "index.html"
        if not index.is_file():
            log.error("the web page is not installed: %s is missing", index)
            return _error(404, "NotFound", "the web page is not installed on this server")
        return FileResponse(
            index,
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"},
        )

    add_voice_routes(app, engine, transcriber)
    _document_edges(app)

    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Innermost first: body limit, rate limit, metrics, CORS, Host check, then the access log
    # outermost (so that every answer, 400/413/429 included, is counted and logged).
    from podsearch.api.voice import FORM_OVERHEAD
    from podsearch.voice.audio import AudioLimits

    audio_bytes = AudioLimits().max_bytes + FORM_OVERHEAD
    app.add_middleware(BodyLimit, limits=body_limits(conf.max_upload_mb * MIB, audio_bytes))
    if conf.rate_limit > 0:
        app.add_middleware(RateLimit, buckets=TokenBuckets(conf.rate_limit, conf.rate_burst))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if conf.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(conf.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
            expose_headers=["Retry-After"],  # so that a page can honour a 429
            max_age=600,
        )
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        t0 = time.perf_counter()
        status = 500
        try:
            response: Response = await call_next(request)
            status = response.status_code
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            return response
        finally:
            access_log.info(
                json.dumps(
                    {
                        "method": request.method,
                        "path": request.url.path,  # never the query string: it holds queries
                        "status": status,
                        "ms": round((time.perf_counter() - t0) * 1000.0, 2),
                    }
                )
            )

    return app


def _document_edges(app: FastAPI) -> None:
    """Add to the OpenAPI schema the answers the middleware gives before a route runs: 400
    (a body that cannot be parsed), 413 (over the body limit) and 429 (rate limit)."""
    import re

    from podsearch.api.limits import EXPENSIVE

    base = app.openapi
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = base()
        for path, item in schema.get("paths", {}).items():
            for method, op in item.items():
                responses = op.setdefault("responses", {})
                if "requestBody" in op:
                    responses.setdefault(
                        "400", {"description": "The body cannot be parsed", "content": error}
                    )
                    responses.setdefault(
                        "413",
                        {"description": "The body is over this endpoint's limit (docs/CONFIG.md)",
                         "content": error},
                    )  # fmt: skip
                probe = re.sub(r"\{[^}]*\}", "x", path)
                if any(
                    r.method == method.upper() and re.fullmatch(r.path, probe) for r in EXPENSIVE
                ):
                    responses.setdefault(
                        "429",
                        {
                            "description": "Too many requests from this client",
                            "headers": {
                                "Retry-After": {
                                    "description": "Seconds until a request may pass",
                                    "schema": {"type": "integer"},
                                }
                            },
                            "content": error,
                        },
                    )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("ErrorOut", ErrorOut.model_json_schema())
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app_from_dir(
    index_dir: str | Path, model: str | None = None, backend: str = DEFAULT_BACKEND
) -> FastAPI:
    """Open the existing index at ``index_dir`` (IndexNotFoundError if there is none: a server
    never creates an empty index); the app closes it."""
    from podsearch.engine import Podsearch

    engine = Podsearch(index_dir, model=model, backend=backend, create=False)
    return create_app(engine, close_engine=True)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("podsearch")
    except Exception:
        return "0.0.0"
