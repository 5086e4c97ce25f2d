"""The write API: upsert and delete episodes, build the index in the background.

Every route here needs ``Authorization: Bearer KEY`` (``api/auth.py``). Upserts go through the
catalog's own record reader (``catalog.tabular.read_records``), so cleaning, ids and the row
accounting (``imported + updated + unchanged + skipped = read``) are those of
``podsearch ingest``. Index builds run in a background thread: searches keep being answered
(a build holds the engine's writer lock, never the lock searches take).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from podsearch.errors import NotFoundError, PodsearchError, QueryError

if TYPE_CHECKING:
    from podsearch.engine import Podsearch

log = logging.getLogger(__name__)

MAX_BATCH = 1000  # episodes per PUT /api/episodes
KEEP_JOBS = 100  # jobs remembered for GET /api/jobs/{id} (in memory and in the catalog)
HEARTBEAT_S = 2.0  # a running job's record is refreshed this often
STALE_S = 30.0  # another process's job whose record is older than this reads "interrupted"
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


class JobRecords(Protocol):
    """Where job records live for every server on the index (the catalog store)."""

    def save_job(self, job: Mapping[str, Any], *, keep: int | None = None) -> None: ...

    def load_job(self, job_id: str) -> dict[str, Any] | None: ...


_HOST = socket.gethostname()
_LIVE: set[str] = set()  # the Jobs instances of this process (several apps in one process)


def _owner_alive(owner: Mapping[str, Any]) -> bool | None:
    """Whether the process that owns a job still runs: True/False when it is on this host,
    None when it cannot be told (another host: only its heartbeat can say)."""
    if owner.get("host") != _HOST:
        return None
    pid = owner.get("pid")
    if pid == os.getpid():
        return owner.get("instance") in _LIVE
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, run by another user
        return True
    return True


class Jobs:
    """Background jobs by id (the latest ``KEEP_JOBS``); one index build at a time.

    With ``records`` (the catalog store), every record is also written there: its state at
    each change and, while it runs, its progress and a heartbeat every ``HEARTBEAT_S``; so
    ``GET /api/jobs/{id}`` answers on every server of the index and after a restart. A job
    whose server died (its process is gone, or its heartbeat is older than ``STALE_S``)
    reads ``interrupted``. Without ``records`` (or when writing them fails: a read-only
    index) jobs live in this process's memory only.

    ``shutdown`` asks running jobs to stop (an index build stops at its next progress call,
    after the chunk it is committing), waits for them, and marks them ``interrupted``.
    """

    def __init__(self, records: JobRecords | None = None) -> None:
        self._jobs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._records = records
        self.instance = uuid.uuid4().hex
        self._owner = {"host": _HOST, "pid": os.getpid(), "instance": self.instance}
        self._beat: threading.Thread | None = None
        _LIVE.add(self.instance)

    # -- the shared records -------------------------------------------------------------
    def _save(self, job: dict[str, Any], *, keep: int | None = None) -> None:
        if self._records is None:
            return
        record = {**job, "owner": self._owner, "heartbeat": time.time()}
        try:
            self._records.save_job(record, keep=keep)
        except Exception as exc:  # the job still runs and is visible here
            log.warning("cannot record %s job %s: %s", job["kind"], job["job_id"], exc)

    def _heartbeat(self) -> None:
        """While jobs run: their progress and a heartbeat in the records."""
        while not self._stopping.wait(HEARTBEAT_S):
            with self._lock:
                running = [dict(j) for j in self._jobs.values() if j["status"] == "running"]
            if not running and not self._threads:
                with self._lock:
                    if not self._threads:
                        self._beat = None
                        return
            for job in running:
                self._save(job)

    def _load(self, job_id: str) -> dict[str, Any] | None:
        """Another server's job (or one from before a restart), its liveness decided."""
        if self._records is None:
            return None
        try:
            record = self._records.load_job(job_id)
        except Exception as exc:
            log.warning("cannot read job %s: %s", job_id, exc)
            return None
        if record is None:
            return None
        owner = record.pop("owner", None) or {}
        beat = float(record.pop("heartbeat", 0) or 0)
        if record.get("status") in ("queued", "running"):
            alive = _owner_alive(owner)
            # A live job of this process is known; any other one refreshes its record every
            # HEARTBEAT_S, so a stale one is dead (also when its pid was reused meanwhile).
            ours = alive is True and owner.get("pid") == os.getpid()
            if alive is False or (not ours and time.time() - beat > STALE_S):
                record.update(status="interrupted", error=INTERRUPTED, finished=beat)
                try:  # so that every server says so from now on
                    self._records.save_job({**record, "owner": owner, "heartbeat": beat})
                except Exception as exc:
                    log.warning("cannot record job %s as interrupted: %s", job_id, exc)
        return record

    # -- jobs ---------------------------------------------------------------------------
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
            beat = None
            if self._records is not None and self._beat is None:
                beat = self._beat = threading.Thread(
                    target=self._heartbeat, daemon=True, name="job-heartbeat"
                )
            snapshot = dict(job)
        self._save(snapshot, keep=KEEP_JOBS)
        if beat is not None:
            beat.start()
        thread.start()
        return snapshot

    def _run(
        self,
        job: dict[str, Any],
        work: Callable[[Callable[[int, int], None]], Any],
        cleanup: Callable[[], None] | None,
    ) -> None:
        job.update(status="running", started=time.time())
        self._save(dict(job))

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
            self._save(dict(job))
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
            late = [dict(self._jobs[j]) for j, _ in running if j in self._jobs]
        for job in late:
            self._save(job)
        _LIVE.discard(self.instance)
        return stopped

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
        found = dict(job) if job is not None else self._load(job_id)
        if found is None:
            raise NotFoundError(f"no job with id {job_id!r} (the latest {KEEP_JOBS} are kept)")
        return found


def _public(exc: PodsearchError) -> str:
    """A job's error as its caller may read it: no server paths or operator hints."""
    if exc.http_status >= 500:
        return "the job failed; the server log has the cause"
    return str(exc)


def register(app: FastAPI, engine: Podsearch, require_key: Callable[..., Any]) -> None:
    """Add the write routes to ``app``, each guarded by ``require_key``."""
    jobs = Jobs(engine.store)
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
