"""Milvus backend: vectors in a Milvus collection (HNSW, cosine), keywords in Milvus' BM25.

Locations (``?index=NAME``, default ``podsearch``, names the collections ``NAME_vectors`` and
``NAME_keywords``, so several indexes share one server):

- ``milvus-lite:///abs/path/file.db`` (an absolute path: three slashes): Milvus Lite, embedded
  in this process, no server. Vectors and BM25 keywords both in the file.
- ``milvus://host:19530`` (``milvus://user:password@host:19530``) or ``http(s)://host:19530``:
  a Milvus server (standalone or cluster). On Milvus >= 2.5 keywords use its built-in BM25
  function; an older server (the PyPI ``milvus`` 2.3.5 standalone server has none) gets the
  embedded tantivy keyword index in the location's local directory instead, so keyword and
  hybrid search then work on one API node only.

The catalog (SQLite) lives in the location's local directory, as for PostgreSQL: beside the
file for Milvus Lite (``file.db.NAME.catalog/``), one per URL under ``$PODSEARCH_HOME`` otherwise.

Why this design:
- Filters: every filter field is a scalar field (language, show id, lower-cased categories as an
  ARRAY of VARCHAR, the date as INT64 epoch seconds with ``NO_DATE`` for none). A filter compiles
  to an expression with ``{placeholders}`` whose values go to the server as template parameters
  (``filter_params``, Milvus >= 2.5). Servers without templates (Milvus Lite 3.2 and 2.3.5
  both reject them, checked) get the values as quoted literals that ``_literal`` escapes; the
  user's text never reaches the expression any other way.
- Every call uses consistency level ``Strong``: a search right after an upsert sees it.
- A search is HNSW at ``ef`` 512 (the embedded index's setting above its exact threshold). When
  a filter keeps at most ``exact_max`` rows (one count per call), their vectors are fetched and
  scored exactly here, as the embedded index does for selective filters; above that, ``ef``
  grows to ``2 * 512 / share kept`` (at most 32,768; ``filtered_ef``): at ef 512 Milvus Lite
  found 0.38-0.54 of the exact top 10 at a 10% filter on the 19k index, at this ef 0.99.
- Milvus writes are not transactional across calls; one upsert writes each episode as one row,
  so a reader sees an episode whole or not at all (the write contract in ``base.py``).
  ``delete`` counts what existed (a ``get`` first): Milvus' own delete count is the ids asked.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from podsearch.errors import IndexStateError, MissingDependencyError, QueryError, ServerError
from podsearch.index.backends import LocalCatalog, default_catalog_dir, index_name, redact
from podsearch.index.base import (
    CatalogStore,
    KeywordDoc,
    KeywordIndex,
    VectorIndex,
    upsert_batch,
)
from podsearch.models import DocPayload, Filters

NO_DATE = -(2**62)  # pub_ts of an episode without a date: below every real bound
EXACT_MAX = 2_000
EF = 512
EF_MAX = 32_768  # the largest HNSW ef Milvus accepts
FILTERED_EF_FACTOR = 2.0  # filtered ef = FACTOR * ef / (share of rows the filter keeps)
_MAX_CATS, _MAX_STR, _MAX_TEXT = 64, 512, 65_535
_CONNECT_TIMEOUT_S = 5.0
_BUILD_WAIT_S = 120.0
_STEM_PREFIX = "s_"  # stemmed forms sit beside the words in one analysed field


def _pymilvus() -> Any:
    try:
        import pymilvus
    except ImportError as e:
        raise MissingDependencyError("pymilvus", "milvus", "The Milvus backend") from e
    # pymilvus logs every failed RPC with a traceback; our errors say it in one line.
    log = logging.getLogger("pymilvus")
    if log.level == logging.NOTSET:
        log.setLevel(logging.CRITICAL)
    return pymilvus


def _literal(value: str | int) -> str:
    """A value as a Milvus expression literal (for servers without template parameters)."""
    if isinstance(value, int):
        return str(int(value))
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        raise QueryError(f"filter value {value!r} holds control characters")
    esc = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + esc.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def compile_filter(filters: Filters | None) -> tuple[str, dict[str, Any]]:
    """A filter as (expression with ``{placeholders}``, their values); ``""`` keeps all."""
    if filters is None or filters.empty:
        return "", {}
    parts: list[str] = []
    params: dict[str, Any] = {}
    if filters.languages:
        parts.append("language in {langs}")
        params["langs"] = list(filters.languages)
    if filters.show_ids:
        parts.append("show_id in {shows}")
        params["shows"] = list(filters.show_ids)
    if filters.categories:
        parts.append("array_contains_any(categories, {cats})")
        params["cats"] = [c.lower() for c in filters.categories]
    if filters.date_from is not None or filters.date_to is not None:
        parts.append("pub_ts > {no_date}")
        params["no_date"] = NO_DATE
    if filters.date_from is not None:
        parts.append("pub_ts >= {date_from}")
        params["date_from"] = int(filters.date_from.timestamp())
    if filters.date_to is not None:
        parts.append("pub_ts <= {date_to}")
        params["date_to"] = int(filters.date_to.timestamp())
    return " and ".join(parts), params


def render_filter(expr: str, params: dict[str, Any]) -> str:
    """The expression with each placeholder replaced by its escaped literal."""

    def lit(v: Any) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(_literal(x) for x in v) + "]"
        return _literal(v)

    return re.sub(r"\{([a-z_]+)\}", lambda m: lit(params[m.group(1)]), expr)


def _payload_row(p: DocPayload) -> dict[str, Any]:
    cats = list(dict.fromkeys(c.lower()[:256] for c in p.categories))[:_MAX_CATS]
    ts = int(p.pub_date.timestamp()) if p.pub_date is not None else NO_DATE
    return {"language": (p.language or "")[:64], "show_id": p.show_id[:_MAX_STR],
            "categories": cats, "pub_ts": ts}  # fmt: skip


class MilvusConnection:
    """One ``MilvusClient`` per location, shared by its vector and keyword indexes."""

    def __init__(self, url: str) -> None:
        pm = _pymilvus()
        self.url, self.display = url, redact(url)
        self.uri, self.token, self.name, self.lite = split_url(url)
        self.where = self.uri if not self.lite else f"Milvus Lite file {self.uri}"
        kw: dict[str, Any] = {"uri": self.uri, "timeout": _CONNECT_TIMEOUT_S}
        if self.token:
            kw["token"] = self.token
        if self.lite:
            try:
                import milvus_lite  # noqa: F401
            except ImportError as e:
                raise MissingDependencyError("milvus-lite", "milvus", "Milvus Lite") from e
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client = pm.MilvusClient(**kw)
            self.version = self._version()
        except pm.MilvusException as e:
            raise self.error(e) from None
        except Exception as e:  # grpc / timeout errors arrive as several types
            raise self.error(e) from None
        self._templates: bool | None = None
        self.lock = threading.Lock()

    def _version(self) -> tuple[int, ...]:
        if self.lite:
            return (2, 5)  # Milvus Lite speaks the 2.5 API (BM25 functions), checked
        v = str(self.client.get_server_version())
        nums = [int(x) for x in re.findall(r"\d+", v)[:3]]
        return tuple(nums) or (0,)

    @property
    def has_bm25(self) -> bool:
        return self.version >= (2, 5)

    def error(self, e: Exception) -> ServerError:
        """One line naming the server (never a password) and the fix."""
        msg = str(getattr(e, "message", "") or e).strip().splitlines()
        first = msg[0] if msg else type(e).__name__
        low = str(e).lower()
        if any(s in low for s in ("fail connecting", "unavailable", "timeout", "deadline",
                                  "connection refused", "failed to connect")):  # fmt: skip
            return ServerError(
                f"cannot reach Milvus at {self.display}: is the server running and the host "
                "and port in the index URL right? (test server: bash scripts/servers.sh start "
                "milvus)"
            )
        if "auth" in low or "credential" in low or "password" in low:
            return ServerError(
                f"Milvus at {self.display} rejected the credentials: check the user and "
                "password in the index URL"
            )
        if self.token:
            first = first.replace(self.token, "***")
        return ServerError(f"Milvus at {self.display}: {first}")

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A client call; Milvus' errors become one-line ServerErrors."""
        pm = _pymilvus()
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except pm.MilvusException as e:
            raise self.error(e) from None

    def filter_kwargs(self, filters: Filters | None, collection: str) -> dict[str, Any]:
        """``filter`` (+ ``filter_params`` where the server takes template parameters)."""
        expr, params = compile_filter(filters)
        if not expr:
            return {"filter": ""}
        if self._templates is None:
            self._templates = self._probe_templates(collection)
        if self._templates:
            return {"filter": expr, "filter_params": params}
        return {"filter": render_filter(expr, params)}

    def _probe_templates(self, collection: str) -> bool:
        if self.lite or self.version < (2, 5):
            return False
        try:
            self.client.query(
                collection, filter="pub_ts > {x}", filter_params={"x": 0}, limit=1,
                output_fields=["id"], consistency_level="Strong",
            )  # fmt: skip
            return True
        except Exception:
            return False

    def collection_exists(self, name: str) -> bool:
        return bool(self.call("has_collection", name))

    def load(self, name: str) -> None:
        """Reopened collections start released: load before search / query."""
        self.call("load_collection", name)

    def ensure_collection(self, name: str, schema: Any, index_params: Any) -> None:
        """Create the collection (Strong consistency) unless it exists, then load it."""
        with self.lock:
            if not self.collection_exists(name):
                self.call("create_collection", name, schema=schema, index_params=index_params,
                          consistency_level="Strong")  # fmt: skip
        self.load(name)

    def count(self, name: str, filters: Filters | None = None) -> int:
        rows = self.call(
            "query", name, output_fields=["count(*)"], consistency_level="Strong",
            **self.filter_kwargs(filters, name),
        )  # fmt: skip
        return int(rows[0]["count(*)"]) if rows else 0

    def existing(self, name: str, ids: Sequence[str]) -> list[str]:
        out: list[str] = []
        uniq = list(dict.fromkeys(ids))
        for s in range(0, len(uniq), 1000):
            rows = self.call("get", name, ids=uniq[s : s + 1000], output_fields=["id"])
            out += [r["id"] for r in rows]
        return out

    def delete(self, name: str, ids: Sequence[str]) -> int:
        found = self.existing(name, ids)
        if found:
            self.call("delete", name, ids=found)
        return len(found)

    def wait_built(self, name: str, field: str) -> None:
        """Poll until the index covers every row (servers build sealed segments later).

        Milvus Lite first flushes: it keeps rows in a memtable (up to 128 MiB) that it scans
        and, for BM25, re-indexes on every search (measured on 3,000 episodes: 0.8 s a
        keyword search, 0.35 s a dense one; 10-30 ms once flushed)."""
        if self.lite:
            self.call("flush", name)
        deadline = time.monotonic() + _BUILD_WAIT_S
        while time.monotonic() < deadline:
            info = self.call("describe_index", name, field) or {}
            state = str(info.get("state", "Finished"))
            pending = int(info.get("pending_index_rows", 0) or 0)
            if state.lower().endswith("finished") and pending == 0:
                return
            if "failed" in state.lower():
                raise ServerError(f"Milvus at {self.display} failed to build {name}: {info}")
            time.sleep(0.2)
        raise ServerError(f"Milvus at {self.display} did not build {name} in {_BUILD_WAIT_S} s")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a dead connection must not hide the real error
            self.client.close()


def split_url(url: str) -> tuple[str, str, str, bool]:
    """(client URI, token, index name, is Milvus Lite) of a Milvus location URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    name = index_name(url, query)
    scheme = parts.scheme.lower()
    if scheme == "milvus-lite":
        if parts.netloc or not parts.path.endswith(".db"):
            raise QueryError(
                f"a Milvus Lite location names a .db file by its absolute path, "
                f"milvus-lite:///abs/path/file.db: not {redact(url)}"
            )
        return str(Path(parts.path).resolve()), "", name, True
    if not parts.hostname:
        raise QueryError(f"no host in the Milvus URL {redact(url)}: use milvus://host:19530")
    token = ""
    if parts.username is not None:
        token = f"{parts.username}:{parts.password or ''}"
    http = "https" if scheme == "https" else "http"
    return f"{http}://{parts.hostname}:{parts.port or 19530}", token, name, False


def _field_dim(desc: dict[str, Any], field: str) -> int:
    for f in desc.get("fields", []):
        if f.get("name") == field:
            return int(f.get("params", {}).get("dim", 0))
    return 0


def _filter_fields(schema: Any, dt: Any) -> None:
    schema.add_field("language", dt.VARCHAR, max_length=64)
    schema.add_field("show_id", dt.VARCHAR, max_length=_MAX_STR)
    schema.add_field("categories", dt.ARRAY, element_type=dt.VARCHAR,
                     max_capacity=_MAX_CATS, max_length=256)  # fmt: skip
    schema.add_field("pub_ts", dt.INT64)


def _filter_indexes(conn: MilvusConnection, ip: Any) -> None:
    if conn.lite or conn.version < (2, 4):  # Lite scans; INVERTED came with Milvus 2.4
        return
    for f in ("language", "show_id", "categories", "pub_ts"):
        ip.add_index(f, index_type="INVERTED")


def filtered_ef(ef: int, share: float) -> int:
    """The HNSW ef of a search whose filter keeps ``share`` of the rows: Milvus walks the graph
    skipping filtered-out nodes, so ef grows as the filter narrows (as FAISS's efSearch does in
    faiss_index.py). Milvus Lite, 19k index, 100 real queries, recall@10 vs exact at a 10.8%
    filter: ef 512 0.377, factor 1 (ef 4,734) 0.914, factor 2 (ef 9,469) 0.994; at a 1.05% filter
    (capped ef) 0.998 (bench/results/backend_bench.md)."""
    return int(min(EF_MAX, max(ef, FILTERED_EF_FACTOR * ef / max(share, 1e-9))))


class MilvusVectorIndex:
    """VectorIndex on a Milvus collection (HNSW, cosine) with scalar filter fields."""

    def __init__(
        self,
        conn: MilvusConnection,
        dim: int,
        *,
        load: bool = True,
        ef: int = EF,
        exact_max: int = EXACT_MAX,
        m: int = 16,
        ef_construction: int = 64,
    ) -> None:
        self.conn, self._dim = conn, int(dim)
        self.ef, self.exact_max, self.m, self.ef_construction = ef, exact_max, m, ef_construction
        self.coll = f"{conn.name}_vectors"
        if load:
            if conn.collection_exists(self.coll):
                stored = _field_dim(conn.call("describe_collection", self.coll), "vec")
                if stored and stored != self._dim:
                    raise IndexStateError(
                        f"the Milvus collection {self.coll} at {conn.display} holds {stored}-d "
                        f"vectors but the model makes {self._dim}-d ones; rebuild with: "
                        "podsearch index --rebuild"
                    )
                conn.load(self.coll)
            else:
                self._create()

    @property
    def dim(self) -> int:
        return self._dim

    def _create(self) -> None:
        pm = _pymilvus()
        dt = pm.DataType
        schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", dt.VARCHAR, is_primary=True, max_length=_MAX_STR)
        schema.add_field("vec", dt.FLOAT_VECTOR, dim=self._dim)
        _filter_fields(schema, dt)
        ip = self.conn.call("prepare_index_params")
        ip.add_index("vec", index_type="HNSW", metric_type="COSINE",
                     params={"M": self.m, "efConstruction": self.ef_construction})  # fmt: skip
        _filter_indexes(self.conn, ip)
        self.conn.ensure_collection(self.coll, schema, ip)

    def __len__(self) -> int:
        return self.conn.count(self.coll)

    def upsert(
        self, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[DocPayload]
    ) -> None:
        vectors, order = upsert_batch(ids, vectors, payloads, self._dim)
        rows = [
            {"id": ids[i], "vec": vectors[i].tolist(), **_payload_row(payloads[i])} for i in order
        ]
        for s in range(0, len(rows), 1000):
            self.conn.call("upsert", self.coll, rows[s : s + 1000])

    def delete(self, ids: Sequence[str]) -> int:
        return self.conn.delete(self.coll, ids) if ids else 0

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(ids))
        for s in range(0, len(uniq), 1000):
            rows = self.conn.call("get", self.coll, ids=uniq[s : s + 1000],
                                  output_fields=["id", "vec"])  # fmt: skip
            out.update({r["id"]: np.asarray(r["vec"], dtype=np.float32) for r in rows})
        return out

    def ids(self) -> list[str]:
        return [i for ids, _ in self.iter_vectors() for i in ids]

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[list[str], np.ndarray]]:
        it = self.conn.call("query_iterator", self.coll, batch_size=max(1, int(batch)),
                            filter="", output_fields=["id", "vec"])  # fmt: skip
        try:
            while rows := it.next():
                yield [r["id"] for r in rows], np.asarray([r["vec"] for r in rows], np.float32)
        finally:
            it.close()

    def reset(self, dim: int) -> None:
        self._dim = int(dim)
        self.conn.call("drop_collection", self.coll)
        self._create()

    def _exact(self, q: np.ndarray, k: int, flt: dict[str, Any]) -> list[list[tuple[str, float]]]:
        rows = self.conn.call("query", self.coll, output_fields=["id", "vec"],
                              consistency_level="Strong", **flt)  # fmt: skip
        if not rows:
            return [[] for _ in range(len(q))]
        ids = [r["id"] for r in rows]
        x = np.asarray([r["vec"] for r in rows], dtype=np.float32)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        scores = q @ x.T
        out = []
        for s in scores:
            top = np.argsort(-s, kind="stable")[:k]
            out.append([(ids[j], float(s[j])) for j in top])
        return out

    def search(
        self, vectors: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[list[tuple[str, float]]]:
        q = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        if k <= 0 or len(q) == 0:
            return [[] for _ in range(len(q))]
        flt = self.conn.filter_kwargs(filters, self.coll)
        ef = max(self.ef, k)
        if filters is not None and not filters.empty:
            allowed = self.conn.count(self.coll, filters)
            if allowed == 0:
                return [[] for _ in range(len(q))]
            if allowed <= self.exact_max:
                return self._exact(q, k, flt)
            ef = filtered_ef(ef, allowed / max(allowed, self.conn.count(self.coll)))
        res = self.conn.call(
            "search", self.coll, data=q.tolist(), anns_field="vec", limit=k,
            search_params={"metric_type": "COSINE", "params": {"ef": ef}},
            output_fields=[], consistency_level="Strong", **flt,
        )  # fmt: skip
        out = []
        for hits in res:
            got = [(str(h["id"]), float(h["distance"])) for h in hits]
            got.sort(key=lambda h: -h[1])
            out.append(got)
        return out

    def commit(self) -> None:
        """Upserts are durable when they return; wait until the HNSW index covers them."""
        self.conn.wait_built(self.coll, "vec")

    def close(self) -> None:
        pass


@functools.cache
def _stemmers() -> list[tuple[str, Any]]:
    from podsearch.index.tantivy_index import STEMMERS, _analyzer

    return [(n, _analyzer(n)) for n in sorted(set(STEMMERS.values()))]


def _stems(text: str, language: str | None) -> list[str]:
    """Stemmed forms (prefixed) of the text: in the language's stemmer, or in every one."""
    from podsearch.index.tantivy_index import STEMMERS

    name = STEMMERS.get(language or "") if language is not None else None
    out: list[str] = []
    for n, an in _stemmers():
        if language is None or n == name:
            out += [_STEM_PREFIX + t for t in an.analyze(text) if re.fullmatch(r"\w+", t)]
    return out


class MilvusKeywordIndex:
    """KeywordIndex on Milvus' built-in BM25 (Milvus >= 2.5 and Milvus Lite).

    Milvus analyses with its standard tokenizer (no stemming), so each document's text carries
    its words, its title once more (the title outranks a mention in the text, as in tantivy),
    and the Snowball stems of its language as ``s_``-prefixed words; a query carries its words
    and their stems in every language. Scores are BM25 but not tantivy's numbers.
    """

    def __init__(self, conn: MilvusConnection) -> None:
        self.conn = conn
        self.coll = f"{conn.name}_keywords"
        if conn.collection_exists(self.coll):
            conn.load(self.coll)
        else:
            self._create()

    def _create(self) -> None:
        pm = _pymilvus()
        dt = pm.DataType
        schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", dt.VARCHAR, is_primary=True, max_length=_MAX_STR)
        schema.add_field("text", dt.VARCHAR, max_length=_MAX_TEXT, enable_analyzer=True)
        schema.add_field("sparse", dt.SPARSE_FLOAT_VECTOR)
        _filter_fields(schema, dt)
        schema.add_function(pm.Function(
            name="bm25", function_type=pm.FunctionType.BM25,
            input_field_names=["text"], output_field_names=["sparse"],
        ))  # fmt: skip
        ip = self.conn.call("prepare_index_params")
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        _filter_indexes(self.conn, ip)
        self.conn.ensure_collection(self.coll, schema, ip)

    def __len__(self) -> int:
        return self.conn.count(self.coll)

    def upsert(self, docs: Sequence[KeywordDoc]) -> None:
        from podsearch.index.tantivy_index import prepare_text

        last = {d.doc_id: d for d in docs}
        rows = []
        for d in last.values():
            title, text = prepare_text(d.title), prepare_text(d.text)
            stems = " ".join(_stems(f"{title} {text}", d.payload.language))
            body = f"{title}\n{text}\n{stems}".encode()[: _MAX_TEXT - 4].decode("utf-8", "ignore")
            rows.append({"id": d.doc_id, "text": body, **_payload_row(d.payload)})
        for s in range(0, len(rows), 500):
            self.conn.call("upsert", self.coll, rows[s : s + 500])

    def delete(self, ids: Sequence[str]) -> int:
        return self.conn.delete(self.coll, ids) if ids else 0

    def reset(self) -> None:
        self.conn.call("drop_collection", self.coll)
        self._create()

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        from podsearch.index.tantivy_index import _ENGLISH_STOPWORDS, prepare_query

        words = prepare_query(query).split()
        kept = [w for w in dict.fromkeys(words) if w not in _ENGLISH_STOPWORDS] or words
        if not kept or k <= 0:
            return []
        terms = list(dict.fromkeys([*kept, *_stems(" ".join(kept), None)]))
        res = self.conn.call(
            "search", self.coll, data=[" ".join(terms)], anns_field="sparse", limit=k,
            search_params={"metric_type": "BM25"}, output_fields=[],
            consistency_level="Strong", **self.conn.filter_kwargs(filters, self.coll),
        )  # fmt: skip
        # BM25 scores are positive, higher is better; Milvus Lite reports them negated
        # (distance = -score, smaller is closer): abs() gives both servers' scores.
        hits = [(str(h["id"]), abs(float(h["distance"]))) for h in res[0]] if res else []
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits

    def present_words(self, words: Sequence[str]) -> set[str]:
        """One batched search (one query per word, limit 1) instead of a call per word."""
        from podsearch.index.tantivy_index import prepare_query

        asked: dict[str, str] = {}
        for w in dict.fromkeys(words):
            kept = prepare_query(w).split()
            if kept:
                asked[w] = " ".join(dict.fromkeys([*kept, *_stems(" ".join(kept), None)]))
        if not asked:
            return set()
        res = self.conn.call(
            "search", self.coll, data=list(asked.values()), anns_field="sparse", limit=1,
            search_params={"metric_type": "BM25"}, output_fields=[],
            consistency_level="Strong",
        )  # fmt: skip
        return {w for w, hits in zip(asked, res or [], strict=False) if hits}

    def commit(self) -> None:
        self.conn.wait_built(self.coll, "sparse")

    def close(self) -> None:
        pass


class MilvusLocation(LocalCatalog):
    """Vectors (and, on Milvus >= 2.5 or Lite, BM25 keywords) in Milvus; the catalog in
    ``local_dir`` or, with ``catalog_url`` (``postgresql://...``), in PostgreSQL: the pairing
    for several API replicas. On an older server the keyword index is the embedded tantivy one
    in ``local_dir/keyword`` (see the module docstring)."""

    kind = "milvus"

    def __init__(self, url: str, local_dir: Path, catalog_url: str | None = None) -> None:
        self.uri, _, self.name, self.lite = split_url(url)  # a bad URL fails now
        self.url, self.display, self.local_dir = url, redact(url), local_dir
        if self.lite:
            self.kind = "milvus-lite"
        self._conn: MilvusConnection | None = None
        self._lock = threading.Lock()
        self._pg: Any = None
        if catalog_url is not None:
            from podsearch.index.postgres import PgCatalogHost

            self._pg = PgCatalogHost(catalog_url, vectors=False)  # no pgvector needed
            self.local_files = False

    def has_catalog(self) -> bool:
        return bool(self._pg.has_catalog()) if self._pg else super().has_catalog()

    def open_catalog(self) -> CatalogStore:
        return self._pg.open_catalog() if self._pg else super().open_catalog()

    def write_lock(self) -> AbstractContextManager[None]:
        return self._pg.write_lock() if self._pg else super().write_lock()

    def conn(self) -> MilvusConnection:
        with self._lock:
            if self._conn is None:
                self._conn = MilvusConnection(self.url)
            return self._conn

    def open_vectors(self, dim: int, *, fresh: bool = False) -> VectorIndex:
        idx = MilvusVectorIndex(self.conn(), dim, load=not fresh)
        if fresh:
            idx.reset(dim)
        return idx

    def open_keywords(self) -> KeywordIndex:
        conn = self.conn()
        if conn.has_bm25:
            return MilvusKeywordIndex(conn)
        from podsearch.index.tantivy_index import TantivyKeywordIndex

        return TantivyKeywordIndex(self.local_dir / "keyword")

    def check(self) -> None:
        """Connect once: ServerError (one line, no password) when the server cannot be used."""
        self.conn().call("list_collections")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._pg is not None:
                self._pg.close()


def open_milvus(url: str, catalog_dir: Path | str | None) -> MilvusLocation:
    """The registry's opener: the catalog in PostgreSQL when ``catalog_dir`` is a
    ``postgresql://`` URL, else a directory: beside a Lite file, or one per URL."""
    uri, _, name, lite = split_url(url)
    catalog_url = None
    if isinstance(catalog_dir, str):
        if urlsplit(catalog_dir).scheme.lower() not in ("postgresql", "postgres"):
            raise QueryError(
                f"a Milvus location keeps its catalog in a directory or in PostgreSQL "
                f"(postgresql://...), not {redact(catalog_dir)}"
            )
        catalog_url, catalog_dir = catalog_dir, None
    if catalog_dir is None:
        catalog_dir = Path(f"{uri}.{name}.catalog") if lite else default_catalog_dir(url)
    return MilvusLocation(url, catalog_dir, catalog_url)
