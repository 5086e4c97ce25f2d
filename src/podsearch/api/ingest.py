"""``POST /api/ingest``: a feed URL or an uploaded catalog file, ingested as a background job.

Two request shapes:

- ``application/json`` ``{"url": "https://.../feed.xml"}``: the feed is fetched by the job
  with :mod:`podsearch.api.fetch` (http/https only, public addresses only, size- and
  time-limited);
- ``multipart/form-data`` with a ``file`` field (CSV/TSV, JSONL, Parquet, RSS/Atom): stored
  in a private temporary folder (the body limit caps it) and read by the catalog's readers.

Either way the answer is 202 with a job (``GET /api/jobs/{job_id}``), whose result is the
CLI's row accounting (``imported + updated + unchanged + skipped = read``, reasons per row).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile

from podsearch.api.fetch import FetchPolicy, check_url, fetch_feed
from podsearch.api.writes import JobOut, Jobs
from podsearch.errors import CatalogError, QueryError

if TYPE_CHECKING:
    from podsearch.engine import Podsearch

# Upload formats (the ``format`` field, else the file name's suffix) -> read_catalog's fmt.
UPLOAD_FORMATS = {
    "csv": "table",
    "tsv": "table",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "parquet": "parquet",
    "rss": "feed",
    "atom": "feed",
    "xml": "feed",
}
_SUFFIX = {"table": ".csv", "jsonl": ".jsonl", "parquet": ".parquet", "feed": ".xml"}
MAX_PREFIX = 64


class IngestUrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="An http(s) feed URL on a public address.",
        examples=["https://example.org/feed.xml"],
    )
    language: str | None = Field(
        None, max_length=40, description="ISO 639-1 code for episodes whose feed gives none."
    )
    id_prefix: str = Field("", max_length=MAX_PREFIX, description="Prepended to every id.")


def _check_language(language: str | None) -> str | None:
    from podsearch.catalog.clean import normalize_language

    if language is None or not language.strip():
        return None
    if not normalize_language(language):
        raise QueryError(f"unknown language {language!r}; expected an ISO 639-1 code like 'en'")
    return language


def _safe_name(filename: str) -> str:
    """A file name's stem made of safe characters (it becomes the upload's label)."""
    stem = Path(filename.replace("\\", "/")).name.rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:80]
    return stem or "upload"


def _request_body(url_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": url_schema},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A catalog: CSV/TSV, JSONL, Parquet, RSS/Atom.",
                        },
                        "format": {"type": "string", "enum": sorted(UPLOAD_FORMATS)},
                        "language": {"type": "string", "maxLength": 40},
                        "id_prefix": {"type": "string", "maxLength": MAX_PREFIX},
                    },
                }
            },
        },
    }


def register(
    app: FastAPI,
    engine: Podsearch,
    require_key: Callable[..., Any],
    jobs: Jobs,
    policy: Callable[[], FetchPolicy],
    errors: dict[int | str, dict[str, Any]],
) -> None:
    url_schema = IngestUrlIn.model_json_schema()

    def feed_job(body: IngestUrlIn) -> Callable[[Callable[[int, int], None]], Any]:
        from podsearch.catalog.builder import CatalogBuilder
        from podsearch.catalog.rss import read_feed_into

        fetch_policy = policy()

        def work(_progress: Callable[[int, int], None]) -> dict[str, Any]:
            data, final_url = fetch_feed(body.url, fetch_policy)
            b = CatalogBuilder(
                body.url, label=body.url, id_prefix=body.id_prefix, language=body.language
            )
            read_feed_into(
                b, data, name=body.url, base_url=final_url, feed_url=body.url,
                fallback_id=body.url,
            )  # fmt: skip
            return engine.ingest_data(b.finish()).to_dict()

        return work

    def file_job(
        path: Path, name: str, fmt: str, language: str | None, id_prefix: str
    ) -> Callable[[Callable[[int, int], None]], Any]:
        from podsearch.catalog import read_catalog

        def work(_progress: Callable[[int, int], None]) -> dict[str, Any]:
            try:
                data = read_catalog(path, fmt=fmt, language=language, id_prefix=id_prefix)
            except CatalogError as exc:  # the temporary path is the server's, not the caller's
                raise CatalogError(
                    str(exc).replace(str(path.parent), "").replace(str(path), name)
                ) from exc
            data.source = f"upload:{name}"
            return engine.ingest_data(data).to_dict()

        return work

    @app.post(
        "/api/ingest",
        response_model=JobOut,
        response_model_exclude_none=True,
        status_code=202,
        responses={
            **errors,
            413: {"description": "The upload is larger than the limit (docs/CONFIG.md)"},
            415: {"description": "Neither JSON nor multipart/form-data"},
            429: {"description": "Too many ingests from this client; see Retry-After"},
        },
        dependencies=[Depends(require_key)],
        tags=["write"],
        summary="Ingest a feed URL or an uploaded catalog file (background job)",
        openapi_extra={"requestBody": _request_body(url_schema)},
    )
    async def post_ingest(request: Request) -> Any:
        """Send `{"url": "https://.../feed.xml"}` as JSON, or a catalog file as multipart field
        `file` (`curl -F file=@catalog.csv`); poll `GET /api/jobs/{job_id}` for the row
        accounting (`imported + updated + unchanged + skipped = read`, reasons per row)."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            raw = await request.body()
            try:
                body = IngestUrlIn.model_validate_json(raw)
            except ValidationError as exc:
                raise RequestValidationError(
                    [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors()]
                ) from exc
            check_url(body.url)
            body.language = _check_language(body.language)
            return jobs.start("ingest", feed_job(body), single=False)
        if ctype != "multipart/form-data":
            from fastapi import HTTPException

            raise HTTPException(
                415,
                'send JSON {"url": "https://.../feed.xml"} or a multipart upload with a '
                "'file' field (curl -F file=@catalog.csv)",
            )
        form = await request.form(max_files=1, max_fields=8)
        tmp: Path | None = None
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise QueryError(
                    "send the catalog as a multipart file field named 'file' "
                    "(curl -F file=@catalog.csv)"
                )
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            filename = upload.filename or "upload"
            fmt_name = (fields.get("format") or "").strip().lower()
            if not fmt_name:
                fmt_name = Path(filename).suffix.lower().lstrip(".")
            fmt = UPLOAD_FORMATS.get(fmt_name)
            if fmt is None:
                raise QueryError(
                    f"unknown catalog format {fmt_name or '(none)'!r}: name the file with a "
                    f"suffix or send a 'format' field, one of {', '.join(sorted(UPLOAD_FORMATS))}"
                )
            language = _check_language(fields.get("language"))
            id_prefix = fields.get("id_prefix", "")
            if len(id_prefix) > MAX_PREFIX:
                raise QueryError(f"id_prefix is longer than {MAX_PREFIX} characters")
            name = _safe_name(filename)
            tmp = Path(tempfile.mkdtemp(prefix="podsearch-ingest-"))
            path = tmp / f"{name}{_SUFFIX[fmt]}"

            def save() -> None:
                upload.file.seek(0)
                with open(path, "wb") as fh:
                    shutil.copyfileobj(upload.file, fh, 1024 * 1024)

            await anyio.to_thread.run_sync(save)
        except BaseException:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            await form.close()
        folder = tmp

        def cleanup() -> None:
            shutil.rmtree(folder, ignore_errors=True)

        work = file_job(path, f"{name}{_SUFFIX[fmt]}", fmt, language, id_prefix)
        return jobs.start("ingest", work, single=False, cleanup=cleanup)
