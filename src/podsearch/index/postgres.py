"""PostgreSQL backend: vectors in pgvector (HNSW, cosine), keywords in PostgreSQL full-text search.

Location: ``postgresql://user:password@host:5432/dbname[?index=NAME]``. ``index`` (default
``podsearch``) prefixes the tables, so several indexes share one database:
``NAME_vectors`` and ``NAME_keywords``, each with the filter columns (language, show_id,
categories, pub_ts) indexed.

Why this design:
- Every write is one transaction (``upsert`` / ``delete``), so readers never see half of one
  episode and ``commit`` has nothing left to do. Upserts are ``INSERT ... ON CONFLICT DO
  UPDATE``: repeating one is harmless. Parameters are always bound; only identifiers built
  with ``psycopg.sql`` and integer type modifiers (the dimension) are composed into SQL.
- Vector search sets ``hnsw.ef_search`` per query; filtered queries use pgvector >= 0.8's
  iterative index scan (``relaxed_order``: without it a selective filter returns 1-2 rows,
  because the graph walk stops at ef_search candidates before the filter). When at most
  ``exact_max`` rows pass the filter (one bounded count per call), the HNSW index is switched
  off for that transaction and the planner scans exactly, as the embedded index does.
- Keyword search: each document is analysed with the Snowball configuration of its language
  (``simple`` for the rest) and with ``simple`` (word for word), title weighted A, text B,
  the word-for-word text D; a query is the OR of its words, analysed with ``simple`` and every
  configuration the index's languages use, ranked by ``ts_rank`` with every weight class
  equal and no length normalisation (chosen on the curated queries' tune split: MRR@30 0.454
  vs 0.189 for the title-weighted, length-normalised rank; held-out 0.242 vs 0.154; a one-off
  probe, not yet rerun by bench/backend_bench.py). It is not
  BM25: scores differ from tantivy's (MRR@30 0.425 over all curated queries), the filters do
  not.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np

from podsearch.errors import IndexStateError, MissingDependencyError, QueryError, ServerError
from podsearch.index.backends import index_name, redact
from podsearch.index.base import (
    CatalogStore,
    KeywordDoc,
    KeywordIndex,
    VectorIndex,
    upsert_batch,
)
from podsearch.models import DocPayload, Filters

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

# ISO 639-1 -> PostgreSQL 15's built-in Snowball text-search configurations.
PG_CONFIGS: dict[str, str] = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "da": "danish",
    "nl": "dutch", "en": "english", "fi": "finnish", "fr": "french", "de": "german",
    "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "nb": "norwegian",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "es": "spanish",
    "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip
# Filtered or small: exact scan. HNSW at a low ef_search loses far-away (cross-lingual) targets:
# on the embedded index efSearch 128 lost 47 of 348 exact top-30 targets and 512 lost 16
# (bench/results/quality_bench.md), so both settings follow that measurement. Not yet
# benchmarked on PostgreSQL itself (issue 10's benchmark).
EXACT_MAX = 50_000
_LANG_TTL_S = 60.0


def _sql() -> Any:
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
        from psycopg import sql
    except ImportError as e:
        raise MissingDependencyError("psycopg", "server", "The PostgreSQL backend") from e
    return sql


def split_url(url: str) -> tuple[str, str]:
    """(libpq URL without podsearch's own ``index`` parameter, index name)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    name = index_name(url, query)
    rest = urlencode([(k, v) for k, v in query if k != "index"])
    return parts._replace(query=rest).geturl(), name


class PgDatabase:
    """One connection pool per location, shared by its vector and keyword indexes."""

    def __init__(
        self, url: str, *, max_size: int = 8, connect_timeout: int = 5, vectors: bool = True
    ) -> None:
        """``vectors=False``: a catalog-only database (beside Milvus), no pgvector needed."""
        self.sql = _sql()
        import psycopg
        from psycopg_pool import ConnectionPool

        self.conninfo, self.name = split_url(url)
        self.display = redact(url)
        try:
            info = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        except psycopg.ProgrammingError as e:
            raise QueryError(f"cannot parse the PostgreSQL URL {self.display}") from e
        self._where = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"
        self._user = str(info.get("user") or "")
        self._dbname = str(info.get("dbname") or "")
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": connect_timeout}
        try:
            with psycopg.connect(self.conninfo, **kwargs) as conn:
                self.pgvector = self._ensure_vector(conn) if vectors else ()
        except psycopg.OperationalError as e:
            raise self.error(e) from None
        self.pool = ConnectionPool(
            self.conninfo, min_size=1, max_size=max_size, kwargs=kwargs, open=True,
            name=f"podsearch-{self.name}",
        )  # fmt: skip
        self._lock = threading.Lock()
        self._local = threading.local()

    def _ensure_vector(self, conn: psycopg.Connection[Any]) -> tuple[int, ...]:
        ext = "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        row = conn.execute(ext).fetchone()
        if row is None:
            import psycopg

            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except psycopg.Error:
                raise ServerError(
                    f"the pgvector extension is not enabled in database {self._dbname!r} at "
                    f"{self._where}: install pgvector on the server and run CREATE EXTENSION "
                    "vector as a superuser in that database"
                ) from None
            row = conn.execute(ext).fetchone()
        assert row is not None
        return tuple(int(x) for x in re.findall(r"\d+", str(row[0]))[:3])

    def error(self, e: Exception) -> ServerError:
        """A one-line error naming the fix; the server's message, never the password."""
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        low = str(e).lower()
        if "password authentication failed" in low or "no password supplied" in low:
            return ServerError(
                f"PostgreSQL at {self._where} rejected the credentials of user "
                f"{self._user!r}: check the user and password in the index URL"
            )
        if "does not exist" in low and "database" in low:
            return ServerError(
                f"database {self._dbname!r} does not exist at {self._where}: create it "
                "(createdb) or fix the database name in the index URL"
            )
        if any(s in low for s in ("connection refused", "could not connect", "timeout", "no such")):
            return ServerError(
                f"cannot reach PostgreSQL at {self._where}: is the server running and the host "
                "and port in the index URL right? (test server: bash scripts/servers.sh start pg)"
            )
        return ServerError(f"PostgreSQL at {self._where}: {msg}".replace(self.conninfo, "<url>"))

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; inside ``transaction()`` on this thread, that transaction's
        connection (so a caller's own ``conn.transaction()`` becomes a savepoint in it)."""
        import psycopg
        from psycopg_pool import PoolTimeout

        held = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        try:
            with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as e:
            raise self.error(e) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction for every call on this thread until the block ends: the catalog,
        vector and keyword writes of one index chunk commit together or not at all."""
        if getattr(self._local, "conn", None) is not None:
            yield  # nested: the outer block commits
            return
        with self.connection() as conn, conn.transaction():
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    @contextmanager
    def advisory_lock(self, key: str) -> Iterator[None]:
        """A session-level advisory lock on ``key`` for the block (blocking): one writer per
        index across every process and host that uses this database."""
        with self.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])

    def table(self, suffix: str) -> sql.Identifier:
        return self.sql.Identifier(f"{self.name}_{suffix}")

    def create(self, conn: psycopg.Connection[Any], statements: list[Any]) -> None:
        """DDL under an advisory lock, so two processes opening one index do not race."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"podsearch:{self.name}"])
            for st in statements:
                conn.execute(st)

    def count(self, table: Any) -> int:
        """Rows in ``table`` (an identifier from ``table()``)."""
        with self.connection() as conn:
            row = conn.execute(self.sql.SQL("SELECT count(*) FROM {}").format(table))
            return int(row.fetchone()[0])  # type: ignore[index]

    def delete_ids(self, table: Any, ids: Sequence[str]) -> int:
        """Delete the rows of ``table`` (an identifier from ``table()``) with these ids, in one
        transaction; how many there were."""
        if not ids:
            return 0
        q = self.sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(table)
        with self.connection() as conn, conn.transaction():
            return conn.execute(q, [list(dict.fromkeys(ids))]).rowcount

    def close(self) -> None:
        self.pool.close()


def _where(filters: Filters | None) -> tuple[sql.Composable, list[Any]]:
    """The WHERE clause of a filter, with its bound parameters (same semantics as FAISS)."""
    sql = _sql()
    parts: list[Any] = [sql.SQL("TRUE")]
    params: list[Any] = []
    if filters is not None and not filters.empty:
        if filters.languages:
            parts.append(sql.SQL("language = ANY(%s)"))
            params.append(list(filters.languages))
        if filters.show_ids:
            parts.append(sql.SQL("show_id = ANY(%s)"))
            params.append(list(filters.show_ids))
        if filters.categories:
            parts.append(sql.SQL("categories && %s::text[]"))
            params.append([c.lower() for c in filters.categories])
        if filters.date_from is not None:
            parts.append(sql.SQL("pub_ts >= %s"))
            params.append(int(filters.date_from.timestamp()))
        if filters.date_to is not None:
            parts.append(sql.SQL("pub_ts <= %s"))
            params.append(int(filters.date_to.timestamp()))
    return sql.SQL(" AND ").join(parts), params


def _payload_row(p: DocPayload) -> tuple[str, str, list[str], int | None]:
    ts = int(p.pub_date.timestamp()) if p.pub_date is not None else None
    return p.language or "", p.show_id, [c.lower() for c in p.categories], ts


def _filter_columns(db: PgDatabase, t: sql.Identifier, suffix: str) -> list[sql.Composable]:
    sql = db.sql
    out = []
    for col, using in (("language", ""), ("show_id", ""), ("categories", "USING gin"),
                       ("pub_ts", "")):  # fmt: skip
        out.append(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} {} ({})").format(
                db.table(f"{suffix}_{col}"), t, sql.SQL(using), sql.Identifier(col)
            )
        )
    return out


def _vec_text(v: np.ndarray) -> str:
    return "[" + ",".join(map(str, v.tolist())) + "]"


def _parse_vec(s: str) -> np.ndarray:
    return np.array(s[1:-1].split(","), dtype=np.float32)


class PgVectorIndex:
    """VectorIndex on a pgvector table (HNSW, cosine) with indexed filter columns."""

    def __init__(
        self,
        db: PgDatabase,
        dim: int,
        *,
        load: bool = True,
        ef_search: int = 512,
        exact_max: int = EXACT_MAX,
        m: int = 16,
        ef_construction: int = 64,
    ) -> None:
        self.db, self._dim = db, int(dim)
        self.ef_search, self.exact_max = ef_search, exact_max
        self.m, self.ef_construction = m, ef_construction
        self._t = db.table("vectors")
        if load:
            stored = self._stored_dim()
            if stored and stored != self._dim:
                raise IndexStateError(
                    f"the vector table {self.db.name}_vectors at {db.display} holds {stored}-d "
                    f"vectors but the model makes {self._dim}-d ones; rebuild with: "
                    "podsearch index --rebuild"
                )
            self._create()

    @property
    def dim(self) -> int:
        return self._dim

    def _stored_dim(self) -> int:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT atttypmod FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                "AND attname = 'embedding'",
                [f"{self.db.name}_vectors"],
            ).fetchone()
        return int(row[0]) if row else 0

    def _create(self) -> None:
        sql, t = self.db.sql, self._t
        stmts: list[Any] = [
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY, "
                "embedding vector({}) NOT NULL, language text NOT NULL DEFAULT '', "
                "show_id text NOT NULL DEFAULT '', "
                "categories text[] NOT NULL DEFAULT '{{}}', pub_ts bigint)"
            ).format(t, sql.Literal(self._dim)),
            sql.SQL(
                "CREATE INDEX IF NOT EXISTS {} ON {} USING hnsw (embedding vector_cosine_ops) "
                "WITH (m = {}, ef_construction = {})"
            ).format(
                self.db.table("vectors_hnsw"),
                t,
                sql.Literal(int(self.m)),
                sql.Literal(int(self.ef_construction)),
            ),  # fmt: skip
            *_filter_columns(self.db, t, "vectors"),
        ]
        with self.db.connection() as conn:
            self.db.create(conn, stmts)

    def __len__(self) -> int:
        return self.db.count(self._t)

    def upsert(
        self, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[DocPayload]
    ) -> None:
        vectors, order = upsert_batch(ids, vectors, payloads, self._dim)
        rows = [(ids[i], _vec_text(vectors[i]), *_payload_row(payloads[i])) for i in order]
        if not rows:
            return
        q = self.db.sql.SQL(
            "INSERT INTO {} (id, embedding, language, show_id, categories, pub_ts) "
            "VALUES (%s, %s::vector, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "embedding = EXCLUDED.embedding, language = EXCLUDED.language, "
            "show_id = EXCLUDED.show_id, categories = EXCLUDED.categories, "
            "pub_ts = EXCLUDED.pub_ts"
        ).format(self._t)
        with self.db.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(q, rows)

    def delete(self, ids: Sequence[str]) -> int:
        return self.db.delete_ids(self._t, ids)

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        q = self.db.sql.SQL("SELECT id, embedding::text FROM {} WHERE id = ANY(%s)").format(self._t)
        with self.db.connection() as conn:
            return {i: _parse_vec(v) for i, v in conn.execute(q, [list(ids)]).fetchall()}

    def ids(self) -> list[str]:
        with self.db.connection() as conn:
            q = self.db.sql.SQL("SELECT id FROM {}").format(self._t)
            return [r[0] for r in conn.execute(q).fetchall()]

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[list[str], np.ndarray]]:
        q = self.db.sql.SQL(
            "SELECT id, embedding::text FROM {} WHERE id > %s ORDER BY id LIMIT %s"
        ).format(self._t)
        after = ""
        while True:  # keyset pages: each a short query, nothing held open between them
            with self.db.connection() as conn:
                rows = conn.execute(q, [after, max(1, int(batch))]).fetchall()
            if not rows:
                return
            yield [r[0] for r in rows], np.stack([_parse_vec(r[1]) for r in rows])
            after = rows[-1][0]

    def reset(self, dim: int) -> None:
        self._dim = int(dim)
        with self.db.connection() as conn:
            self.db.create(conn, [self.db.sql.SQL("DROP TABLE IF EXISTS {}").format(self._t)])
        self._create()

    def search(
        self, vectors: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[list[tuple[str, float]]]:
        q = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if k <= 0:
            return [[] for _ in range(len(q))]
        sql = self.db.sql
        where, params = _where(filters)
        count = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} LIMIT %s) s").format(
            self._t, where
        )
        select = sql.SQL(
            "SELECT id, embedding <=> %s::vector AS d FROM {} WHERE {} ORDER BY "
            "embedding <=> %s::vector LIMIT %s"
        ).format(self._t, where)
        filtered = filters is not None and not filters.empty
        out: list[list[tuple[str, float]]] = []
        with self.db.connection() as conn:
            allowed = conn.execute(count, [*params, self.exact_max + 1]).fetchone()[0]  # type: ignore[index]
            if allowed == 0:
                return [[] for _ in range(len(q))]
            exact = allowed <= self.exact_max
            for v in q:
                text = _vec_text(v)
                with conn.transaction():
                    if exact:  # no HNSW in this transaction: a (bitmap) scan + sort, exact
                        conn.execute("SELECT set_config('enable_indexscan', 'off', true)")
                    else:
                        ef = str(min(1000, max(self.ef_search, k)))
                        conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", [ef])
                        if filtered and self.db.pgvector >= (0, 8):
                            conn.execute(
                                "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)"
                            )
                    rows = conn.execute(select, [text, *params, text, k]).fetchall()
                hits = [(doc_id, 1.0 - float(d)) for doc_id, d in rows]
                hits.sort(key=lambda h: -h[1])  # relaxed_order may return slightly out of order
                out.append(hits)
        return out

    def commit(self) -> None:
        """Nothing to do: every upsert and delete committed its own transaction."""

    def close(self) -> None:
        pass


class PgKeywordIndex:
    """KeywordIndex on PostgreSQL full-text search (tsvector + GIN), same filters."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db
        self._t = db.table("keywords")
        self._langs: set[str] = set()
        self._langs_at = 0.0
        self._create()

    def _create(self) -> None:
        sql, t = self.db.sql, self._t
        stmts = [
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (id text PRIMARY KEY, "
                "language text NOT NULL DEFAULT '', show_id text NOT NULL DEFAULT '', "
                "categories text[] NOT NULL DEFAULT '{{}}', pub_ts bigint, tsv tsvector NOT NULL)"
            ).format(t),
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gin (tsv)").format(
                self.db.table("keywords_tsv"), t
            ),
            *_filter_columns(self.db, t, "keywords"),
        ]
        with self.db.connection() as conn:
            self.db.create(conn, stmts)

    def __len__(self) -> int:
        return self.db.count(self._t)

    def upsert(self, docs: Sequence[KeywordDoc]) -> None:
        from podsearch.index.tantivy_index import prepare_text

        last = {d.doc_id: d for d in docs}
        if not last:
            return
        rows = []
        for d in last.values():
            cfg = PG_CONFIGS.get(d.payload.language, "simple")
            title, text = prepare_text(d.title), prepare_text(d.text)
            rows.append((d.doc_id, *_payload_row(d.payload), cfg, title, title, cfg, text, text))
        q = self.db.sql.SQL(
            "INSERT INTO {} (id, language, show_id, categories, pub_ts, tsv) VALUES "
            "(%s, %s, %s, %s, %s, setweight(to_tsvector(%s::regconfig, %s) || "
            "to_tsvector('simple', %s), 'A') || setweight(to_tsvector(%s::regconfig, %s), 'B') "
            "|| setweight(to_tsvector('simple', %s), 'D')) ON CONFLICT (id) DO UPDATE SET "
            "language = EXCLUDED.language, show_id = EXCLUDED.show_id, "
            "categories = EXCLUDED.categories, pub_ts = EXCLUDED.pub_ts, tsv = EXCLUDED.tsv"
        ).format(self._t)
        with self.db.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(q, rows)
        self._langs |= {d.payload.language for d in last.values()}

    def delete(self, ids: Sequence[str]) -> int:
        return self.db.delete_ids(self._t, ids)

    def reset(self) -> None:
        with self.db.connection() as conn, conn.transaction():
            conn.execute(self.db.sql.SQL("TRUNCATE {}").format(self._t))

    def _configs(self, conn: psycopg.Connection[Any]) -> list[str]:
        """``simple`` + the configurations of the languages indexed (refreshed every minute,
        so languages another process added are searched too)."""
        if time.monotonic() - self._langs_at > _LANG_TTL_S:
            q = self.db.sql.SQL("SELECT DISTINCT language FROM {}").format(self._t)
            self._langs = {r[0] for r in conn.execute(q).fetchall()}
            self._langs_at = time.monotonic()
        return ["simple", *sorted({PG_CONFIGS[x] for x in self._langs if x in PG_CONFIGS})]

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        from podsearch.index.tantivy_index import _ENGLISH_STOPWORDS, prepare_query

        words = prepare_query(query).split()
        kept = [w for w in dict.fromkeys(words) if w not in _ENGLISH_STOPWORDS] or words
        if not kept or k <= 0:
            return []
        sql = self.db.sql
        where, params = _where(filters)
        text = " | ".join(kept)  # \w+ words only (prepare_query): no tsquery syntax
        with self.db.connection() as conn:
            cfgs = self._configs(conn)
            tsq = sql.SQL(" || ").join([sql.SQL("to_tsquery(%s::regconfig, %s)")] * len(cfgs))
            q = sql.SQL(
                "WITH q AS (SELECT {} AS q) SELECT id, "
                "ts_rank('{{1,1,1,1}}', tsv, q.q, 0) AS score "
                "FROM {}, q WHERE tsv @@ q.q AND {} ORDER BY score DESC, id LIMIT %s"
            ).format(tsq, self._t, where)
            qparams: list[Any] = [x for c in cfgs for x in (c, text)]
            rows = conn.execute(q, [*qparams, *params, k]).fetchall()
        return [(doc_id, float(s)) for doc_id, s in rows]

    def present_words(self, words: Sequence[str]) -> set[str]:
        """One query for all the words: each is present when some row's tsv matches it (an
        EXISTS over the GIN index; nothing is ranked, unlike ``search(word, 1)``, which ranks
        every row holding a common word)."""
        from podsearch.index.tantivy_index import prepare_query

        asked = {w: " | ".join(prepare_query(w).split()) for w in dict.fromkeys(words)}
        asked = {w: t for w, t in asked.items() if t}
        if not asked:
            return set()
        sql = self.db.sql
        with self.db.connection() as conn:
            cfgs = self._configs(conn)
            tsq = sql.SQL(" || ").join(
                [sql.SQL("to_tsquery({}::regconfig, u.t)").format(sql.Literal(c)) for c in cfgs]
            )
            q = sql.SQL(
                "SELECT u.w FROM unnest(%s::text[], %s::text[]) AS u(w, t) "
                "WHERE EXISTS (SELECT 1 FROM {} WHERE tsv @@ ({}))"
            ).format(self._t, tsq)
            rows = conn.execute(q, [list(asked), list(asked.values())]).fetchall()
        return {r[0] for r in rows}

    def commit(self) -> None:
        """Nothing to do: every upsert and delete committed its own transaction."""

    def close(self) -> None:
        pass


class PgCatalogHost:
    """The catalog part of a location in a PostgreSQL database: a ``CatalogStore`` and the
    writers' advisory lock. PostgresLocation has one; a Milvus location paired with a
    PostgreSQL catalog (``catalog=postgresql://...``) has one of its own."""

    def __init__(self, url: str, *, vectors: bool = True) -> None:
        split_url(url)  # a bad index name fails now, before any connection
        self.url, self.vectors = url, vectors
        self._db: PgDatabase | None = None
        self._lock = threading.Lock()

    def db(self) -> PgDatabase:
        with self._lock:
            if self._db is None:
                self._db = PgDatabase(self.url, vectors=self.vectors)
            return self._db

    def has_catalog(self) -> bool:
        from podsearch.index.pg_catalog import schema_version

        return schema_version(self.db()) > 0

    def open_catalog(self) -> CatalogStore:
        from podsearch.index.pg_catalog import PgCatalogStore

        return PgCatalogStore(self.db())

    def write_lock(self) -> AbstractContextManager[None]:
        """A PostgreSQL advisory lock: one writer per index across processes and hosts."""
        db = self.db()
        return db.advisory_lock(f"podsearch-write:{db.name}")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class PostgresLocation(PgCatalogHost):
    """Catalog, vectors and keywords in one PostgreSQL database: no local state
    (``local_dir`` is never created), so API replicas can share the database."""

    kind = "postgresql"
    local_files = False

    def __init__(self, url: str, local_dir: Path) -> None:
        super().__init__(url)
        self.display = redact(url)
        self.local_dir = local_dir

    def open_vectors(self, dim: int, *, fresh: bool = False) -> VectorIndex:
        idx = PgVectorIndex(self.db(), dim, load=not fresh)
        if fresh:
            idx.reset(dim)
        return idx

    def open_keywords(self) -> KeywordIndex:
        return PgKeywordIndex(self.db())

    def transaction(self) -> AbstractContextManager[None]:
        return self.db().transaction()

    def check(self) -> None:
        """Connect once: ServerError (one line, no password) when the server cannot be used."""
        with self.db().connection() as conn:
            conn.execute("SELECT 1")
