"""The embedded catalog store: shows and episodes in SQLite, plus what the indexes hold.

``SqliteCatalogStore`` implements the ``CatalogStore`` Protocol (``index/base.py``); the
PostgreSQL one is ``index/pg_catalog.py``. ``CatalogStore`` here is the SQLite class's old
name, kept for code that constructs it directly.

Each episode row carries ``content_hash`` (what the catalog says now) and ``indexed_hash``
(what the vector and keyword indexes were last built from), so ``build_index`` re-encodes only
new or changed episodes. Deleted episodes leave a tombstone until the indexes have dropped them.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from podsearch.catalog.base import CatalogData
from podsearch.catalog.clean import safe_url
from podsearch.errors import DamagedIndexError, QueryError, StorageError
from podsearch.models import Episode, IngestReport, Show, SkippedRow

_T = TypeVar("_T")


def _locked(method: Callable[..., _T]) -> Callable[..., _T]:
    """Serialise use of the one SQLite connection (calls are short; searches run in threads)."""

    @functools.wraps(method)
    def wrapper(self: SqliteCatalogStore, *args: Any, **kwargs: Any) -> _T:
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.DatabaseError as e:
                raise _storage_error(e, self.path) from e

    return wrapper


def _storage_error(e: sqlite3.DatabaseError, path: Path) -> Exception:
    """A podsearch error naming the cause for SQLite's disk and corruption errors; anything
    else (a bug, a lock timeout) is returned as it was."""
    msg = str(e).lower()
    if "disk is full" in msg or "disk i/o error" in msg:
        return StorageError(
            f"cannot write the catalog {path}: {e} (free some space and re-run; what was "
            "committed before is kept)"
        )
    if "readonly" in msg or "read-only" in msg:
        return StorageError(
            f"the index directory {path.parent} is read-only: searching works, but ingest, "
            "index and delete need write access"
        )
    if "not a database" in msg or "malformed" in msg or "file is encrypted" in msg:
        return DamagedIndexError(
            f"the catalog {path} is damaged ({e}): restore it from a backup, or re-create "
            "the index with podsearch ingest into an empty directory"
        )
    if "unable to open" in msg:
        return DamagedIndexError(f"cannot open the catalog {path}: {e}")
    return e


def _connect(path: Path) -> tuple[sqlite3.Connection, bool]:
    """(connection, read_only). A directory podsearch cannot write to is opened read-only;
    when SQLite cannot even create its WAL side files there it reads the file as immutable
    (a snapshot: writes made elsewhere later are not seen)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:
        raise DamagedIndexError(f"{path.parent} is a file, not an index directory") from e
    except OSError as e:
        raise StorageError(f"cannot create the index directory {path.parent}: {e}") from e
    writable = os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))
    if path.parent.is_dir() and not writable:
        for mode in ("ro", "ro&immutable=1"):
            db = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode={mode}",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
            )
            try:
                db.execute("SELECT COUNT(*) FROM meta").fetchone()
                return db, True
            except sqlite3.DatabaseError as e:
                db.close()
                err: sqlite3.DatabaseError = e
        raise _storage_error(err, path) from err
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    return db, False


SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shows (
    show_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    categories TEXT NOT NULL DEFAULT '[]',
    author TEXT NOT NULL DEFAULT '',
    website TEXT NOT NULL DEFAULT '',
    image TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS episodes (
    episode_id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    show_title TEXT NOT NULL DEFAULT '',
    show_description TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    categories TEXT NOT NULL DEFAULT '[]',
    pub_date TEXT,
    audio_url TEXT NOT NULL DEFAULT '',
    duration_s INTEGER,
    source TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL,
    indexed_hash TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS episodes_show ON episodes(show_id);
CREATE INDEX IF NOT EXISTS episodes_lang ON episodes(language);
CREATE TABLE IF NOT EXISTS tombstones (episode_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS hubness (episode_id TEXT PRIMARY KEY, score REAL NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, created REAL NOT NULL,
    record TEXT NOT NULL);
"""

_EP_COLS = (
    "episode_id, show_id, title, description, show_title, show_description, language, "
    "categories, pub_date, audio_url, duration_s, source"
)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _row_to_episode(r: sqlite3.Row | tuple) -> Episode:
    return Episode(
        episode_id=r[0],
        show_id=r[1],
        title=r[2],
        description=r[3],
        show_title=r[4],
        show_description=r[5],
        language=r[6],
        categories=tuple(json.loads(r[7])),
        pub_date=datetime.fromisoformat(r[8]) if r[8] else None,
        audio_url=safe_url(r[9]),  # also for rows stored before ingest dropped other schemes
        duration_s=r[10],
        source=r[11],
    )


def id_conflict(where: str, ep: Episode, stored: tuple[str, str, str]) -> SkippedRow | None:
    """The skip for ``ep`` when the stored episode with its id, ``(content hash, source,
    show id)``, is another catalog's episode of another show: two different episodes whose ids
    collide. (Same show = the same catalog re-exported elsewhere: an update.)"""
    _, source, show_id = stored
    if not (source and ep.source and source != ep.source and show_id != ep.show_id):
        return None
    return SkippedRow(
        where=where,
        reason=(
            f"id conflict: episode id {ep.episode_id!r} already comes from {source!r}; "
            "ingest this catalog with an id prefix (--id-prefix) to keep both"
        ),
        record_id=ep.episode_id,
    )


def _episode_values(ep: Episode) -> tuple:
    return (
        ep.episode_id,
        ep.show_id,
        ep.title,
        ep.description,
        ep.show_title,
        ep.show_description,
        ep.language,
        json.dumps(list(ep.categories), ensure_ascii=False),
        ep.pub_date.isoformat() if ep.pub_date else None,
        ep.audio_url,
        ep.duration_s,
        ep.source,
    )


def category_counts(rows: Iterable[str]) -> dict[str, int]:
    """Episodes per category from each episode's JSON category list. Filters match categories
    case-insensitively, so count them that way; show the spelling most episodes use (ties:
    the first in sort order). Shared by every catalog store."""
    forms: dict[str, Counter[str]] = {}
    for cats in rows:
        once = {c.lower(): c for c in reversed(json.loads(cats))}  # first spelling
        for key, c in once.items():
            forms.setdefault(key, Counter())[c] += 1
    counts = {min(f, key=lambda c: (-f[c], c)): sum(f.values()) for f in forms.values()}
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def show_from_row(r: Sequence[Any]) -> Show:
    """A Show from (show_id, title, description, language, categories JSON, author,
    website, image)."""
    return Show(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], r[6], r[7])


class SqliteCatalogStore:
    """SQLite-backed episode and show store. One writer at a time; readers may share it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db, self.read_only = _connect(self.path)
        try:
            if not self.read_only:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
            if self.get_meta("schema_version") is None and not self.read_only:
                self.set_meta("schema_version", SCHEMA_VERSION)
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise _storage_error(e, self.path) from e
        except BaseException:
            self._db.close()
            raise

    # -- meta ---------------------------------------------------------------------------
    @_locked
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    @_locked
    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    # -- generation (readers in other processes poll it to see committed writes) --------
    @_locked
    def generation(self) -> int:
        """The index generation: bumped by every writer after its changes are committed."""
        row = self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    @_locked
    def bump_generation(self) -> int:
        """Increment the generation atomically (one statement, any number of processes)."""
        row = self._db.execute(
            "INSERT INTO meta(key, value) VALUES('generation', '1') ON CONFLICT(key) DO UPDATE "
            "SET value=CAST(CAST(value AS INTEGER) + 1 AS TEXT) RETURNING value"
        ).fetchone()
        return int(row[0])

    # -- ingest -------------------------------------------------------------------------
    @_locked
    def ingest(self, data: CatalogData) -> IngestReport:
        """Upsert a catalog's shows and episodes in one transaction and classify every row."""
        report = IngestReport(source=data.source, read=data.read, shows=len(data.shows))
        report.skipped.extend(data.skipped)
        report.warnings.extend(data.warnings)
        now = _now()
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for show in data.shows:
                cur.execute(
                    "INSERT INTO shows(show_id, title, description, language, categories, author,"
                    " website, image) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(show_id) DO UPDATE SET "
                    "title=excluded.title, description=excluded.description, "
                    "language=excluded.language, categories=excluded.categories, "
                    "author=excluded.author, website=excluded.website, image=excluded.image",
                    (
                        show.show_id,
                        show.title,
                        show.description,
                        show.language,
                        json.dumps(list(show.categories), ensure_ascii=False),
                        show.author,
                        show.website,
                        show.image,
                    ),
                )
            for i, ep in enumerate(data.episodes):
                h = ep.content_hash
                row = cur.execute(
                    "SELECT content_hash, source, show_id FROM episodes WHERE episode_id=?",
                    (ep.episode_id,),
                ).fetchone()
                if row is None:
                    cur.execute(
                        f"INSERT INTO episodes({_EP_COLS}, content_hash, indexed_hash, updated_at)"
                        " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,?)",
                        (*_episode_values(ep), h, now),
                    )
                    cur.execute("DELETE FROM tombstones WHERE episode_id=?", (ep.episode_id,))
                    report.imported += 1
                elif conflict := id_conflict(f"{data.source} episode {i + 1}", ep, row):
                    report.skipped.append(conflict)
                elif row[0] == h:
                    report.unchanged += 1
                else:
                    cur.execute(
                        "UPDATE episodes SET show_id=?, title=?, description=?, show_title=?, "
                        "show_description=?, language=?, categories=?, pub_date=?, audio_url=?, "
                        "duration_s=?, source=?, content_hash=?, updated_at=? WHERE episode_id=?",
                        (*_episode_values(ep)[1:], h, now, ep.episode_id),
                    )
                    report.updated += 1
            cur.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # SQLite may have rolled back already (disk full)
                cur.execute("ROLLBACK")
            raise
        return report

    # -- reads --------------------------------------------------------------------------
    @_locked
    def get(self, episode_id: str) -> Episode | None:
        row = self._db.execute(
            f"SELECT {_EP_COLS} FROM episodes WHERE episode_id=?", (episode_id,)
        ).fetchone()
        return _row_to_episode(row) if row else None

    def _rows_for_ids(self, select: str, episode_ids: Sequence[str]) -> Iterator[tuple]:
        """Rows of ``select ... WHERE episode_id IN (ids)``, in chunks under SQLite's limit."""
        ids = list(dict.fromkeys(episode_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            yield from self._db.execute(f"{select} WHERE episode_id IN ({marks})", chunk)

    @_locked
    def get_many(self, episode_ids: Sequence[str]) -> dict[str, Episode]:
        out: dict[str, Episode] = {}
        for row in self._rows_for_ids(f"SELECT {_EP_COLS} FROM episodes", episode_ids):
            out[row[0]] = _row_to_episode(row)
        return out

    @_locked
    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM episodes").fetchone()[0])

    @_locked
    def count_shows(self) -> int:
        return int(self._db.execute("SELECT COUNT(DISTINCT show_id) FROM episodes").fetchone()[0])

    @_locked
    def top_shows(self, n: int = 20) -> list[tuple[str, str, int]]:
        """(show_id, title, episode count) of the ``n`` shows with most episodes."""
        rows = self._db.execute(
            "SELECT show_id, MAX(show_title), COUNT(*) FROM episodes GROUP BY show_id "
            "ORDER BY 3 DESC, 2 LIMIT ?",
            (n,),
        ).fetchall()
        return [(r[0], r[1] or "", int(r[2])) for r in rows]

    @_locked
    def show_images(self, show_ids: Sequence[str]) -> dict[str, str]:
        """Artwork URL of each of these shows that has one (http(s) only)."""
        ids = list(dict.fromkeys(show_ids))
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for sid, image in self._db.execute(
                f"SELECT show_id, image FROM shows WHERE show_id IN ({marks}) AND image != ''",
                chunk,
            ):
                if image.lower().startswith(("https://", "http://")):
                    out[sid] = image
        return out

    @_locked
    def find_shows(self, value: str) -> list[tuple[str, str]]:
        """Shows that ``value`` names: the show with that id, else every show whose title is
        ``value`` ignoring case and spacing. (show_id, title) pairs, by id."""
        row = self._db.execute(
            "SELECT show_id, MAX(show_title) FROM episodes WHERE show_id = ? GROUP BY show_id",
            (value,),
        ).fetchone()
        if row is not None:
            return [(row[0], row[1] or "")]
        want = " ".join(value.split()).casefold()
        rows = self._db.execute("SELECT DISTINCT show_id, show_title FROM episodes ORDER BY 1")
        return [(r[0], r[1]) for r in rows if " ".join(r[1].split()).casefold() == want]

    @_locked
    def count_indexed(self) -> int:
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM episodes WHERE indexed_hash = content_hash"
            ).fetchone()[0]
        )

    def iter_episodes(self, batch: int = 2000) -> Iterator[Episode]:
        last = ""
        while True:
            with self._lock:
                try:
                    rows = self._db.execute(
                        f"SELECT {_EP_COLS} FROM episodes WHERE episode_id > ? "
                        "ORDER BY episode_id LIMIT ?",
                        (last, batch),
                    ).fetchall()
                except sqlite3.DatabaseError as e:
                    raise _storage_error(e, self.path) from e
            if not rows:
                return
            for r in rows:
                yield _row_to_episode(r)
            last = rows[-1][0]

    @_locked
    def dirty(self) -> list[tuple[Episode, str]]:
        """Episodes whose indexed content is missing or stale, with their current hash."""
        rows = self._db.execute(
            f"SELECT {_EP_COLS}, content_hash FROM episodes "
            "WHERE indexed_hash IS NULL OR indexed_hash != content_hash ORDER BY episode_id"
        ).fetchall()
        return [(_row_to_episode(r), r[12]) for r in rows]

    _DIRTY = "indexed_hash IS NULL OR indexed_hash != content_hash"

    @_locked
    def count_dirty(self) -> int:
        """How many episodes ``iter_dirty`` would yield now."""
        return int(
            self._db.execute(f"SELECT COUNT(*) FROM episodes WHERE {self._DIRTY}").fetchone()[0]
        )

    def iter_dirty(self, batch: int = 2048) -> Iterator[list[tuple[Episode, str]]]:
        """``dirty()`` in lists of at most ``batch`` (episode_id order), read one list at a
        time, so a build never holds the whole catalog. Episodes marked indexed while
        iterating are not returned again (the reads resume after the last id)."""
        last = ""
        while True:
            with self._lock:
                try:
                    rows = self._db.execute(
                        f"SELECT {_EP_COLS}, content_hash FROM episodes "
                        f"WHERE episode_id > ? AND ({self._DIRTY}) ORDER BY episode_id LIMIT ?",
                        (last, batch),
                    ).fetchall()
                except sqlite3.DatabaseError as e:
                    raise _storage_error(e, self.path) from e
            if not rows:
                return
            yield [(_row_to_episode(r), r[12]) for r in rows]
            last = rows[-1][0]

    @_locked
    def mark_indexed(self, pairs: Iterable[tuple[str, str]]) -> None:
        cur = self._db.cursor()
        cur.execute("BEGIN")
        try:
            cur.executemany(
                "UPDATE episodes SET indexed_hash=? WHERE episode_id=?",
                [(h, eid) for eid, h in pairs],
            )
            cur.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                cur.execute("ROLLBACK")
            raise

    @_locked
    def mark_all_unindexed(self) -> None:
        self._db.execute("UPDATE episodes SET indexed_hash=NULL")

    @_locked
    def facet_counts(self, column: str) -> dict[str, int]:
        if column == "language":
            rows = self._db.execute(
                "SELECT language, COUNT(*) FROM episodes GROUP BY language ORDER BY 2 DESC"
            ).fetchall()
            return {r[0] or "unknown": int(r[1]) for r in rows}
        if column == "categories":
            cats = self._db.execute("SELECT categories FROM episodes")
            return category_counts(r[0] for r in cats)
        raise QueryError(f"no facet {column!r}: choose language or categories")

    # -- deletes ------------------------------------------------------------------------
    @_locked
    def delete(self, episode_ids: Sequence[str]) -> list[str]:
        """Delete episodes; returns the ids that existed. They stay tombstoned until
        ``clear_tombstones`` confirms the indexes dropped them."""
        found: list[str] = []
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for eid in dict.fromkeys(episode_ids):
                n = cur.execute("DELETE FROM episodes WHERE episode_id=?", (eid,)).rowcount
                if n:
                    found.append(eid)
                    cur.execute("DELETE FROM hubness WHERE episode_id=?", (eid,))
                    cur.execute("INSERT OR IGNORE INTO tombstones(episode_id) VALUES(?)", (eid,))
            cur.execute(
                "DELETE FROM shows WHERE show_id NOT IN (SELECT DISTINCT show_id FROM episodes)"
            )
            cur.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # SQLite may have rolled back already (disk full)
                cur.execute("ROLLBACK")
            raise
        return found

    @_locked
    def sample_titles(self, n: int, seed: int = 0) -> list[str]:
        """Up to ``n`` episode titles, a seeded sample (query-like probes for hubness)."""
        from podsearch.search.hubness import pick_probe_texts

        titles = [r[0] for r in self._db.execute("SELECT title FROM episodes")]
        return pick_probe_texts(titles, n, seed)

    @_locked
    def set_hub_scores(self, pairs: Iterable[tuple[str, float]]) -> None:
        self._db.executemany(
            "INSERT INTO hubness(episode_id, score) VALUES(?, ?) "
            "ON CONFLICT(episode_id) DO UPDATE SET score=excluded.score",
            [(e, float(v)) for e, v in pairs],
        )

    @_locked
    def hub_scores(self, episode_ids: Sequence[str]) -> dict[str, float]:
        return dict(self._rows_for_ids("SELECT episode_id, score FROM hubness", episode_ids))

    @_locked
    def clear_hub_scores(self) -> None:
        self._db.execute("DELETE FROM hubness")

    @_locked
    def tombstones(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT episode_id FROM tombstones")]

    @_locked
    def clear_tombstones(self, episode_ids: Sequence[str]) -> None:
        self._db.executemany(
            "DELETE FROM tombstones WHERE episode_id=?", [(e,) for e in episode_ids]
        )

    @_locked
    def shows(self) -> list[Show]:
        rows = self._db.execute(
            "SELECT show_id, title, description, language, categories, author, website, image "
            "FROM shows ORDER BY show_id"
        ).fetchall()
        return [show_from_row(r) for r in rows]

    # -- background jobs of the HTTP API (every server on this index reads them) ----------
    @_locked
    def save_job(self, job: Mapping[str, Any], *, keep: int | None = None) -> None:
        self._db.execute(
            "INSERT INTO jobs(job_id, created, record) VALUES(?, ?, ?) "
            "ON CONFLICT(job_id) DO UPDATE SET record=excluded.record",
            (job["job_id"], float(job["created"]), json.dumps(job, ensure_ascii=False)),
        )
        if keep is not None:
            self._db.execute(
                "DELETE FROM jobs WHERE job_id NOT IN "
                "(SELECT job_id FROM jobs ORDER BY created DESC LIMIT ?)",
                (keep,),
            )

    @_locked
    def load_job(self, job_id: str) -> dict[str, Any] | None:
        try:
            row = self._db.execute("SELECT record FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        except sqlite3.OperationalError:  # a read-only catalog made before the jobs table
            return None
        return dict(json.loads(row[0])) if row else None

    # -- hubness probes: a file beside the catalog (moved here from engine.py) -------------
    def load_hub_probes(self) -> np.ndarray | None:
        path = self.path.with_name("hub-probes.npy")
        return np.load(path) if path.exists() else None

    def save_hub_probes(self, probes: np.ndarray) -> None:
        path = self.path.with_name("hub-probes.npy")
        tmp = path.with_name("hub-probes.tmp.npy")
        try:
            np.save(tmp, probes)
            os.replace(tmp, path)
        except BaseException:  # disk full: leave no partial file taking the space
            tmp.unlink(missing_ok=True)
            raise

    @_locked
    def close(self) -> None:
        self._db.close()


CatalogStore = SqliteCatalogStore  # the class's name before the Protocol (index/base.py)
