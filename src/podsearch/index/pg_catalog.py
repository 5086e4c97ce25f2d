"""The catalog store in PostgreSQL, beside the pgvector and full-text tables of one index.

Tables (``NAME`` is the location's ``?index=NAME``, default ``podsearch``): ``NAME_meta``,
``NAME_shows``, ``NAME_episodes``, ``NAME_tombstones``, ``NAME_hubness``, ``NAME_blobs``,
``NAME_jobs`` (the HTTP API's background jobs) and ``NAME_schema_version``. Their columns
mirror the SQLite store's (``podsearch.store``): the same row <-> Episode conversion, dates as
ISO text, categories as a JSON list, so both stores give identical answers.

Schema migrations are the project's own: ``MIGRATIONS[i]`` takes the schema from version
``i`` to ``i + 1``; opening a store applies the missing ones in one transaction under the
index's advisory lock (two processes opening an old schema at once migrate it once). A schema
newer than this code is refused with a message naming the fix.

Every write runs in one transaction; inside the location's ``transaction()`` it joins that
one, so an index chunk's vectors, keyword rows, ``mark_indexed`` and the generation bump
commit together. Parameters are always bound; only table names (``psycopg.sql.Identifier``)
are composed into SQL.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from podsearch.errors import IndexStateError, QueryError
from podsearch.models import Episode, IngestReport, Show
from podsearch.store import (
    _EP_COLS,
    _episode_values,
    _row_to_episode,
    category_counts,
    id_conflict,
    show_from_row,
)

if TYPE_CHECKING:
    import psycopg

    from podsearch.catalog.base import CatalogData
    from podsearch.index.postgres import PgDatabase

_SHOW_COLS = "show_id, title, description, language, categories, author, website, image"

# Each entry takes the schema from version i to i + 1. {t} is replaced by the table prefix
# (an identifier checked by split_url: [a-z_][a-z0-9_]*). Never edit a released entry: add one.
MIGRATIONS: list[list[str]] = [
    [  # 1: the catalog as the SQLite store has it
        "CREATE TABLE {t}_meta (key text PRIMARY KEY, value text NOT NULL)",
        "CREATE TABLE {t}_shows (show_id text PRIMARY KEY, title text NOT NULL, "
        "description text NOT NULL DEFAULT '', language text NOT NULL DEFAULT '', "
        "categories text NOT NULL DEFAULT '[]', author text NOT NULL DEFAULT '', "
        "website text NOT NULL DEFAULT '', image text NOT NULL DEFAULT '')",
        "CREATE TABLE {t}_episodes (episode_id text PRIMARY KEY, show_id text NOT NULL, "
        "title text NOT NULL, description text NOT NULL DEFAULT '', "
        "show_title text NOT NULL DEFAULT '', show_description text NOT NULL DEFAULT '', "
        "language text NOT NULL DEFAULT '', categories text NOT NULL DEFAULT '[]', "
        "pub_date text, audio_url text NOT NULL DEFAULT '', duration_s integer, "
        "source text NOT NULL DEFAULT '', content_hash text NOT NULL, indexed_hash text, "
        "updated_at text NOT NULL)",
        "CREATE INDEX {t}_episodes_show ON {t}_episodes (show_id)",
        "CREATE INDEX {t}_episodes_lang ON {t}_episodes (language)",
        "CREATE TABLE {t}_tombstones (episode_id text PRIMARY KEY)",
        "CREATE TABLE {t}_hubness (episode_id text PRIMARY KEY, score double precision NOT NULL)",
    ],
    [  # 2: hubness probes in the database (no file on the API node); the paging order
        # (byte order, as SQLite's: COLLATE "C") indexed, for all rows and for dirty ones
        "CREATE TABLE {t}_blobs (key text PRIMARY KEY, value bytea NOT NULL)",
        'CREATE INDEX {t}_episodes_c ON {t}_episodes (episode_id COLLATE "C")',
        'CREATE INDEX {t}_episodes_dirty ON {t}_episodes (episode_id COLLATE "C") '
        "WHERE indexed_hash IS DISTINCT FROM content_hash",
    ],
    [  # 3: the HTTP API's background jobs, readable by every server on this index
        "CREATE TABLE {t}_jobs (job_id text PRIMARY KEY, created double precision NOT NULL, "
        "record text NOT NULL)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class PgCatalogStore:
    """CatalogStore on PostgreSQL: the same database (and pool) as the vector index."""

    read_only = False  # the role's privileges decide; a refused write is the server's error

    def __init__(self, db: PgDatabase, *, create: bool = True) -> None:
        self.db = db
        self.name = db.name
        if create:
            migrate(db)
        elif schema_version(db) == 0:
            raise IndexStateError(f"no catalog at {db.display}")
        else:
            migrate(db)  # an older schema is upgraded on open, as a fresh one is created

    # -- helpers ------------------------------------------------------------------------
    def _q(self, text: str) -> Any:
        """``text`` with ``{meta}``, ``{episodes}``, ... replaced by this index's tables."""
        sql = self.db.sql
        names = ("meta", "shows", "episodes", "tombstones", "hubness", "blobs", "jobs")
        return sql.SQL(text).format(**{n: self.db.table(n) for n in names if f"{{{n}}}" in text})

    def _one(self, text: str, params: Sequence[Any] = ()) -> Any:
        with self.db.connection() as conn:
            row = conn.execute(self._q(text), list(params)).fetchone()
        return row[0] if row else None

    def _all(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.db.connection() as conn:
            return conn.execute(self._q(text), list(params)).fetchall()

    def _write(self, text: str, params: Sequence[Any] = ()) -> int:
        with self.db.connection() as conn, conn.transaction():
            return conn.execute(self._q(text), list(params)).rowcount

    # -- meta and generation ------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        value = self._one("SELECT value FROM {meta} WHERE key = %s", [key])
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        self._write(
            "INSERT INTO {meta} (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [key, value],
        )

    def generation(self) -> int:
        value = self._one("SELECT value FROM {meta} WHERE key = 'generation'")
        return int(value) if value is not None else 0

    def bump_generation(self) -> int:
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute(
                self._q(
                    "INSERT INTO {meta} (key, value) VALUES ('generation', '1') "
                    "ON CONFLICT (key) DO UPDATE SET value = ({meta}.value::bigint + 1)::text "
                    "RETURNING value"
                )
            ).fetchone()
        assert row is not None
        return int(row[0])

    # -- ingest -------------------------------------------------------------------------
    def ingest(self, data: CatalogData) -> IngestReport:
        """The SQLite store's classification, with the existing rows read in batches."""
        report = IngestReport(source=data.source, read=data.read, shows=len(data.shows))
        report.skipped.extend(data.skipped)
        report.warnings.extend(data.warnings)
        now = _now()
        with self.db.connection() as conn, conn.transaction(), conn.cursor() as cur:
            if data.shows:
                cur.executemany(
                    self._q(
                        f"INSERT INTO {{shows}} ({_SHOW_COLS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) "
                        "ON CONFLICT (show_id) DO UPDATE SET title = EXCLUDED.title, "
                        "description = EXCLUDED.description, language = EXCLUDED.language, "
                        "categories = EXCLUDED.categories, author = EXCLUDED.author, "
                        "website = EXCLUDED.website, image = EXCLUDED.image"
                    ),
                    [_show_values(s) for s in data.shows],
                )
            known: dict[str, tuple[str, str, str]] = {}  # id -> (hash, source, show_id)
            ids = list(dict.fromkeys(ep.episode_id for ep in data.episodes))
            for start in range(0, len(ids), 5000):
                rows = conn.execute(
                    self._q(
                        "SELECT episode_id, content_hash, source, show_id FROM {episodes} "
                        "WHERE episode_id = ANY(%s)"
                    ),
                    [ids[start : start + 5000]],
                ).fetchall()
                known.update({r[0]: (r[1], r[2], r[3]) for r in rows})
            inserts: list[tuple[Any, ...]] = []
            updates: list[tuple[Any, ...]] = []
            for i, ep in enumerate(data.episodes):
                h = ep.content_hash
                row = known.get(ep.episode_id)
                if row is None:
                    inserts.append((*_episode_values(ep), h, now))
                    report.imported += 1
                elif conflict := id_conflict(f"{data.source} episode {i + 1}", ep, row):
                    report.skipped.append(conflict)
                    continue
                elif row[0] == h:
                    report.unchanged += 1
                    continue
                else:
                    updates.append((*_episode_values(ep)[1:], h, now, ep.episode_id))
                    report.updated += 1
                known[ep.episode_id] = (h, ep.source, ep.show_id)
            # A repeated id: the last row wins, as in the SQLite store's row-by-row upsert.
            if inserts:
                cur.executemany(
                    self._q(
                        f"INSERT INTO {{episodes}} ({_EP_COLS}, content_hash, indexed_hash, "
                        "updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,NULL,%s) "
                        "ON CONFLICT (episode_id) DO UPDATE SET show_id = EXCLUDED.show_id, "
                        "title = EXCLUDED.title, description = EXCLUDED.description, "
                        "show_title = EXCLUDED.show_title, "
                        "show_description = EXCLUDED.show_description, "
                        "language = EXCLUDED.language, categories = EXCLUDED.categories, "
                        "pub_date = EXCLUDED.pub_date, audio_url = EXCLUDED.audio_url, "
                        "duration_s = EXCLUDED.duration_s, source = EXCLUDED.source, "
                        "content_hash = EXCLUDED.content_hash, updated_at = EXCLUDED.updated_at"
                    ),
                    inserts,
                )
                cur.execute(
                    self._q("DELETE FROM {tombstones} WHERE episode_id = ANY(%s)"),
                    [[r[0] for r in inserts]],
                )
            if updates:
                cur.executemany(
                    self._q(
                        "UPDATE {episodes} SET show_id=%s, title=%s, description=%s, "
                        "show_title=%s, show_description=%s, language=%s, categories=%s, "
                        "pub_date=%s, audio_url=%s, duration_s=%s, source=%s, content_hash=%s, "
                        "updated_at=%s WHERE episode_id=%s"
                    ),
                    updates,
                )
        return report

    # -- reads --------------------------------------------------------------------------
    def get(self, episode_id: str) -> Episode | None:
        rows = self._all(f"SELECT {_EP_COLS} FROM {{episodes}} WHERE episode_id = %s", [episode_id])
        return _row_to_episode(rows[0]) if rows else None

    def get_many(self, episode_ids: Sequence[str]) -> dict[str, Episode]:
        if not episode_ids:
            return {}
        rows = self._all(
            f"SELECT {_EP_COLS} FROM {{episodes}} WHERE episode_id = ANY(%s)",
            [list(dict.fromkeys(episode_ids))],
        )
        return {r[0]: _row_to_episode(r) for r in rows}

    def iter_episodes(self, batch: int = 2000) -> Iterator[Episode]:
        last = ""
        while True:
            rows = self._all(
                f'SELECT {_EP_COLS} FROM {{episodes}} WHERE episode_id COLLATE "C" > %s '
                'ORDER BY episode_id COLLATE "C" LIMIT %s',
                [last, batch],
            )
            if not rows:
                return
            yield from (_row_to_episode(r) for r in rows)
            last = rows[-1][0]

    def shows(self) -> list[Show]:
        return [show_from_row(r) for r in self._all(f"SELECT {_SHOW_COLS} FROM {{shows}} "
                                                     "ORDER BY show_id")]  # fmt: skip

    def count(self) -> int:
        return int(self._one("SELECT count(*) FROM {episodes}"))

    def count_shows(self) -> int:
        return int(self._one("SELECT count(DISTINCT show_id) FROM {episodes}"))

    def count_indexed(self) -> int:
        return int(self._one("SELECT count(*) FROM {episodes} WHERE indexed_hash = content_hash"))

    def top_shows(self, n: int = 20) -> list[tuple[str, str, int]]:
        rows = self._all(
            "SELECT show_id, max(show_title) AS t, count(*) AS c FROM {episodes} "
            'GROUP BY show_id ORDER BY c DESC, max(show_title) COLLATE "C" LIMIT %s',
            [n],
        )
        return [(r[0], r[1] or "", int(r[2])) for r in rows]

    def show_images(self, show_ids: Sequence[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(show_ids))
        if not ids:
            return {}
        rows = self._all(
            "SELECT show_id, image FROM {shows} WHERE show_id = ANY(%s) AND image <> ''", [ids]
        )
        return {sid: img for sid, img in rows if img.lower().startswith(("https://", "http://"))}

    def find_shows(self, value: str) -> list[tuple[str, str]]:
        rows = self._all(
            "SELECT show_id, max(show_title) FROM {episodes} WHERE show_id = %s GROUP BY show_id",
            [value],
        )
        if rows:
            return [(rows[0][0], rows[0][1] or "")]
        want = " ".join(value.split()).casefold()
        rows = self._all(
            'SELECT DISTINCT show_id COLLATE "C", show_title FROM {episodes} ORDER BY 1'
        )
        return [(r[0], r[1]) for r in rows if " ".join(r[1].split()).casefold() == want]

    def facet_counts(self, column: str) -> dict[str, int]:
        if column == "language":
            rows = self._all(
                "SELECT language, count(*) AS c FROM {episodes} GROUP BY language "
                'ORDER BY c DESC, language COLLATE "C"'
            )
            return {r[0] or "unknown": int(r[1]) for r in rows}
        if column == "categories":
            return category_counts(r[0] for r in self._all("SELECT categories FROM {episodes}"))
        raise QueryError(f"no facet {column!r}: choose language or categories")

    def sample_titles(self, n: int, seed: int = 0) -> list[str]:
        from podsearch.search.hubness import pick_probe_texts

        titles = [r[0] for r in self._all("SELECT title FROM {episodes} ORDER BY episode_id "
                                          "COLLATE \"C\"")]  # fmt: skip
        return pick_probe_texts(titles, n, seed)

    # -- index state --------------------------------------------------------------------
    def dirty(self) -> list[tuple[Episode, str]]:
        rows = self._all(
            f"SELECT {_EP_COLS}, content_hash FROM {{episodes}} "
            'WHERE indexed_hash IS DISTINCT FROM content_hash ORDER BY episode_id COLLATE "C"'
        )
        return [(_row_to_episode(r), r[12]) for r in rows]

    def count_dirty(self) -> int:
        return int(
            self._one("SELECT count(*) FROM {episodes} "
                      "WHERE indexed_hash IS DISTINCT FROM content_hash")
        )  # fmt: skip

    def iter_dirty(self, batch: int = 2048) -> Iterator[list[tuple[Episode, str]]]:
        last = ""
        while True:
            rows = self._all(
                f"SELECT {_EP_COLS}, content_hash FROM {{episodes}} "
                'WHERE episode_id COLLATE "C" > %s '
                "AND indexed_hash IS DISTINCT FROM content_hash "
                'ORDER BY episode_id COLLATE "C" LIMIT %s',
                [last, batch],
            )
            if not rows:
                return
            yield [(_row_to_episode(r), r[12]) for r in rows]
            last = rows[-1][0]

    def mark_indexed(self, pairs: Iterable[tuple[str, str]]) -> None:
        rows = [(h, eid) for eid, h in pairs]
        if not rows:
            return
        with self.db.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                self._q("UPDATE {episodes} SET indexed_hash = %s WHERE episode_id = %s"), rows
            )

    def mark_all_unindexed(self) -> None:
        self._write("UPDATE {episodes} SET indexed_hash = NULL")

    # -- deletes ------------------------------------------------------------------------
    def delete(self, episode_ids: Sequence[str]) -> list[str]:
        ids = list(dict.fromkeys(episode_ids))
        if not ids:
            return []
        with self.db.connection() as conn, conn.transaction():
            found = [
                r[0]
                for r in conn.execute(
                    self._q("DELETE FROM {episodes} WHERE episode_id = ANY(%s) "
                            "RETURNING episode_id"),
                    [ids],
                ).fetchall()
            ]  # fmt: skip
            if found:
                conn.execute(self._q("DELETE FROM {hubness} WHERE episode_id = ANY(%s)"), [found])
                conn.execute(
                    self._q(
                        "INSERT INTO {tombstones} (episode_id) SELECT unnest(%s::text[]) "
                        "ON CONFLICT DO NOTHING"
                    ),
                    [found],
                )
            conn.execute(
                self._q(
                    "DELETE FROM {shows} s WHERE NOT EXISTS "
                    "(SELECT 1 FROM {episodes} e WHERE e.show_id = s.show_id)"
                )
            )
        order = {e: i for i, e in enumerate(ids)}
        return sorted(found, key=order.__getitem__)

    def tombstones(self) -> list[str]:
        return [r[0] for r in self._all("SELECT episode_id FROM {tombstones}")]

    def clear_tombstones(self, episode_ids: Sequence[str]) -> None:
        if episode_ids:
            self._write("DELETE FROM {tombstones} WHERE episode_id = ANY(%s)", [list(episode_ids)])

    # -- hubness ------------------------------------------------------------------------
    def set_hub_scores(self, pairs: Iterable[tuple[str, float]]) -> None:
        rows = [(e, float(v)) for e, v in pairs]
        if not rows:
            return
        with self.db.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                self._q(
                    "INSERT INTO {hubness} (episode_id, score) VALUES (%s, %s) "
                    "ON CONFLICT (episode_id) DO UPDATE SET score = EXCLUDED.score"
                ),
                rows,
            )

    def hub_scores(self, episode_ids: Sequence[str]) -> dict[str, float]:
        if not episode_ids:
            return {}
        rows = self._all(
            "SELECT episode_id, score FROM {hubness} WHERE episode_id = ANY(%s)",
            [list(dict.fromkeys(episode_ids))],
        )
        return {r[0]: float(r[1]) for r in rows}

    def clear_hub_scores(self) -> None:
        self._write("DELETE FROM {hubness}")

    def load_hub_probes(self) -> np.ndarray | None:
        value = self._one("SELECT value FROM {blobs} WHERE key = 'hub_probes'")
        return None if value is None else np.load(io.BytesIO(bytes(value)), allow_pickle=False)

    def save_hub_probes(self, probes: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(probes, dtype=np.float32), allow_pickle=False)
        self._write(
            "INSERT INTO {blobs} (key, value) VALUES ('hub_probes', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [buf.getvalue()],
        )

    # -- background jobs of the HTTP API ----------------------------------------------------
    def save_job(self, job: Mapping[str, Any], *, keep: int | None = None) -> None:
        with self.db.connection() as conn, conn.transaction():
            conn.execute(
                self._q(
                    "INSERT INTO {jobs} (job_id, created, record) VALUES (%s, %s, %s) "
                    "ON CONFLICT (job_id) DO UPDATE SET record = EXCLUDED.record"
                ),
                [job["job_id"], float(job["created"]), json.dumps(job, ensure_ascii=False)],
            )
            if keep is not None:
                conn.execute(
                    self._q(
                        "DELETE FROM {jobs} WHERE job_id NOT IN "
                        "(SELECT job_id FROM {jobs} ORDER BY created DESC LIMIT %s)"
                    ),
                    [keep],
                )

    def load_job(self, job_id: str) -> dict[str, Any] | None:
        record = self._one("SELECT record FROM {jobs} WHERE job_id = %s", [job_id])
        return dict(json.loads(record)) if record else None

    def close(self) -> None:
        pass  # the location owns the pool


def _show_values(s: Show) -> tuple[Any, ...]:
    import json

    cats = json.dumps(list(s.categories), ensure_ascii=False)
    return (s.show_id, s.title, s.description, s.language, cats, s.author, s.website, s.image)


def _version_table(db: PgDatabase) -> Any:
    return db.table("schema_version")


def schema_version(db: PgDatabase) -> int:
    """The catalog schema version in the database (0: no catalog yet)."""
    with db.connection() as conn:
        return _read_version(db, conn)


def _read_version(db: PgDatabase, conn: psycopg.Connection[Any]) -> int:
    exists = conn.execute("SELECT to_regclass(%s)", [f"{db.name}_schema_version"]).fetchone()
    if exists is None or exists[0] is None:
        return 0
    row = conn.execute(
        db.sql.SQL("SELECT max(version) FROM {}").format(_version_table(db))
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(db: PgDatabase, *, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migrations up to ``target`` (one transaction, under the index's
    advisory lock); returns the version before. IndexStateError for a newer schema."""
    sql = db.sql
    with db.connection() as conn:
        if _read_version(db, conn) == target:
            return target  # the common case: no lock taken
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"podsearch:{db.name}"])
            before = _read_version(db, conn)  # again, under the lock
            if before > SCHEMA_VERSION:
                raise IndexStateError(
                    f"the catalog at {db.display} has schema version {before}, newer than this "
                    f"podsearch knows ({SCHEMA_VERSION}): upgrade podsearch"
                )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, "
                    "applied_at timestamptz NOT NULL DEFAULT now())"
                ).format(_version_table(db))
            )
            for version in range(before + 1, target + 1):
                for statement in MIGRATIONS[version - 1]:
                    # {t}: the index name, checked against [a-z_][a-z0-9_]{0,39} by split_url.
                    conn.execute(sql.SQL(statement.replace("{t}", db.name)))
                conn.execute(
                    sql.SQL("INSERT INTO {} (version) VALUES (%s)").format(_version_table(db)),
                    [version],
                )
        return before
