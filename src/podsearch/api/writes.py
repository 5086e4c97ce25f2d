"""The write API: upsert and delete episodes, build the index in the background.

Every route here needs ``Authorization: Bearer KEY`` (``api/auth.py``). Upserts go through the
catalog's own record reader (``catalog.tabular.read_records``), so cleaning, ids and the row
accounting (``imported + updated + unchanged + skipped = read``) are those of
``podsearch ingest``. Index builds run in a background thread: searches keep being answered
(a build holds the engine's writer lock, never the lock searches take).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from podsearch.errors import NotFoundError, PodsearchError, QueryError

if TYPE_CHECKING:
    from podsearch.engine import Podsearch

log = logging.getLogger(__name__)

MAX_BATCH = 1000  # episodes per PUT /api/episodes
KEEP_JOBS = 100  # finished jobs remembered for GET /api/jobs/{id}
INTERRUPTED = "the server stopped before the job ended"


class EpisodeIn(BaseModel):
    """One episode in the catalog's field names (those of a JSONL catalog line)."""

    model_config = ConfigDict(extra="forbid")

    episode_id: str | None = Field(None, description="Taken from the path in PUT /{id}.")
    title: str | None = None
    description: str | None = None
    show_id: str | None = None
    show_title: str | None = None
    show_description: str | None = None
    language: str | None = Field(None, description="ISO 639-1 code or name; detected if empty.")
    categories: str | list[str] | None = Field(None, description='"A | B" or ["A", "B"]')
    pub_date: str | None = Field(None, description="ISO 8601 date or time, or RFC 2822.")
    audio_url: str | None = None
    # strict: JSON true is not a number of seconds (the schema says number).
    duration_s: float | None = Field(None, strict=True)


class IngestOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: str
    read: int
    imported: int
    updated: int
    unchanged: int
    skipped: int
    skipped_rows: list[dict[str, Any]]


class IndexIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rebuild: bool = Field(False, description="Re-encode every episode.")


class JobOut(BaseModel):
    job_id: str
    kind: str
    status: Literal["queued", "running", "done", "failed", "interrupted"] = Field(
        description="`interrupted`: the server stopped before the job ended; an index build "
        "resumes where it stopped when started again, an ingest is all or nothing."
    )
    created: float
    started: float | None = None
    finished: float | None = None
    progress: dict[str, int] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None


class ServerStoppingError(PodsearchError):
    """A job was asked for while the server is shutting down."""

    http_status = 503


class JobInterrupted(Exception):
    """Raised inside a job (from its progress callback) when the server is stopping."""


class Jobs:
    """Background jobs by id (the latest ``KEEP_JOBS``); one index build at a time.

    ``shutdown`` asks running jobs to stop (an index build stops at its next progress call,
    after the chunk it is committing), waits for them, and marks them ``interrupted``.
    """

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(
        self,
        kind: str,
        work: Callable[[Callable[[int, int], None]], Any],
        *,
        single: bool = True,
        cleanup: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Run ``work(progress)`` in a thread. ``single``: a job of this kind still running is
        returned instead of starting a second one (it would wait for the first anyway).
        ``cleanup`` runs when the job ends, however it ends."""
        with self._lock:
            if self._stopping.is_set():
                if cleanup:
                    cleanup()
                raise ServerStoppingError("the server is stopping: send the request again later")
            if single:
                for job in self._jobs.values():
                    if job["kind"] == kind and job["status"] in ("queued", "running"):
                        if cleanup:
                            cleanup()
                        return dict(job)
            job = {"job_id": uuid.uuid4().hex, "kind": kind, "status": "queued",
                   "created": time.time(), "progress": {}}  # fmt: skip
            self._jobs[job["job_id"]] = job
            while len(self._jobs) > KEEP_JOBS:
                self._jobs.popitem(last=False)
            thread = threading.Thread(
                target=self._run, args=(job, work, cleanup), daemon=True, name=f"job-{kind}"
            )
            self._threads[job["job_id"]] = thread
        thread.start()
        return dict(job)

    def _run(
        self,
        job: dict[str, Any],
        work: Callable[[Callable[[int, int], None]], Any],
        cleanup: Callable[[], None] | None,
    ) -> None:
        job.update(status="running", started=time.time())

        def progress(done: int, total: int) -> None:
            job["progress"] = {"done": done, "total": total}
            if self._stopping.is_set():
                raise JobInterrupted

        try:
            if self._stopping.is_set():
                raise JobInterrupted
            result = work(progress)
            job.update(status="done", result=result)
        except JobInterrupted:
            log.warning("%s job %s interrupted: the server is stopping", job["kind"], job["job_id"])
            job.update(status="interrupted", error=INTERRUPTED)
        except PodsearchError as exc:
            log.warning("%s job %s failed: %s", job["kind"], job["job_id"], exc)
            job.update(status="failed", error=_public(exc))
        except Exception:
            log.exception("%s job %s failed", job["kind"], job["job_id"])
            job.update(status="failed", error="the job failed; the server log has the cause")
        finally:
            job["finished"] = time.time()
            with self._lock:
                self._threads.pop(job["job_id"], None)
            if cleanup:
                try:
                    cleanup()
                except Exception:
                    log.exception("cleaning up after job %s failed", job["job_id"])

    def shutdown(self, timeout: float) -> list[str]:
        """Stop accepting jobs, ask running ones to stop, wait up to ``timeout`` seconds;
        the ids of jobs that had to be interrupted (or were still running at the end)."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        with self._lock:
            running = list(self._threads.items())
        for _, thread in running:
            thread.join(max(0.0, deadline - time.monotonic()))
        stopped = []
        with self._lock:
            for job_id, _ in running:
                job = self._jobs.get(job_id)
                if job is None:
                    continue
                if job["status"] in ("queued", "running"):
                    log.warning("%s job %s still running at shutdown", job["kind"], job_id)
                    job.update(status="interrupted", error=INTERRUPTED)
                if job["status"] == "interrupted":
                    stopped.append(job_id)
        return stopped

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job with id {job_id!r} (jobs are kept until restart)")
        return dict(job)


def _public(exc: PodsearchError) -> str:
    """A job's error as its caller may read it: no server paths or operator hints."""
    if exc.http_status >= 500:
        return "the job failed; the server log has the cause"
    return str(exc)


def register(app: FastAPI, engine: Podsearch, require_key: Callable[..., Any]) -> None:
    """Add the write routes to ``app``, each guarded by ``require_key``."""
    jobs = Jobs()
    app.state.jobs = jobs
    guarded = [Depends(require_key)]
    errors: dict[int | str, dict[str, Any]] = {
        401: {"description": "No API key (send Authorization: Bearer KEY)"},
        403: {"description": "Wrong API key, or no key configured on the server"},
        422: {"description": "Invalid request"},
    }

    def upsert(records: list[dict[str, Any]]) -> dict[str, Any]:
        return engine.ingest_records(records, source="api").to_dict()

    @app.put(
        "/api/episodes",
        response_model=IngestOut,
        responses=errors,
        dependencies=guarded,
        tags=["write"],
        summary="Upsert a batch of episodes",
    )
    def put_episodes(episodes: list[EpisodeIn]) -> dict[str, Any]:
        """Add or update up to 1000 episodes; rows that cannot be used are skipped with a
        reason (`skipped_rows`). Run `POST /api/index` to make them searchable by meaning."""
        if not episodes:
            raise QueryError("send a JSON list of one or more episodes")
        if len(episodes) > MAX_BATCH:
            raise QueryError(f"{len(episodes)} episodes in one request; the limit is {MAX_BATCH}")
        return upsert([e.model_dump(exclude_none=True) for e in episodes])

    @app.put(
        "/api/episodes/{episode_id:path}",
        response_model=IngestOut,
        responses=errors,
        dependencies=guarded,
        tags=["write"],
        summary="Upsert one episode",
    )
    def put_episode(episode_id: str, episode: EpisodeIn) -> Any:
        """Add or update the episode `episode_id`; 422 with the reason when it is skipped."""
        if episode.episode_id is not None and episode.episode_id != episode_id:
            raise QueryError(
                f"the body's episode_id {episode.episode_id!r} differs from the path's "
                f"{episode_id!r}: leave it out or make them equal"
            )
        report = upsert([{**episode.model_dump(exclude_none=True), "episode_id": episode_id}])
        if report["skipped"]:
            reason = report["skipped_rows"][0]["reason"]
            return JSONResponse(
                {"error": "CatalogError", "detail": reason, "report": report}, status_code=422
            )
        return report

    @app.delete(
        "/api/episodes/{episode_id:path}",
        responses={**errors, 404: {"description": "No such episode"}},
        dependencies=guarded,
        tags=["write"],
        summary="Delete one episode",
    )
    def delete_episode(episode_id: str) -> dict[str, Any]:
        """Delete the episode from the catalog and both indexes (searches stop returning it
        at once)."""
        if not engine.delete([episode_id]):
            raise NotFoundError(f"no episode with id {episode_id!r}")
        return {"deleted": episode_id}

    @app.post(
        "/api/index",
        response_model=JobOut,
        status_code=202,
        responses=errors,
        dependencies=guarded,
        tags=["write"],
        summary="Index new and changed episodes (background job)",
    )
    def post_index(body: IndexIn | None = None) -> dict[str, Any]:
        """Start encoding what changed since the last build; poll `GET /api/jobs/{job_id}`.
        While a build runs, another request returns the running job."""
        rebuild = bool(body and body.rebuild)

        def work(progress: Callable[[int, int], None]) -> dict[str, Any]:
            return engine.build_index(rebuild=rebuild, progress=progress).to_dict()

        return jobs.start("index", work)

    @app.get(
        "/api/jobs/{job_id}",
        response_model=JobOut,
        response_model_exclude_none=True,
        responses={**errors, 404: {"description": "No such job"}},
        dependencies=guarded,
        tags=["write"],
        summary="A background job's status",
    )
    def get_job(job_id: str) -> dict[str, Any]:
        return jobs.get(job_id)
