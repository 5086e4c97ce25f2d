"""Index backends side by side on the ~19,000 real episodes: embedded vs PostgreSQL vs Milvus.

Every backend is built from the SAME stored vectors and episode texts (read from an existing
index: its vector index's ``iter_vectors`` and its catalog; nothing is re-encoded) and queried
with the SAME query vectors (encoded once with the default encoder, cached in
``--work-dir/queries.npz`` and reused by every later invocation). Per backend:

* build: upsert + commit in chunks of 2,048 (the engine's ``commit_every``) into a fresh
  location, vectors then keywords, plus what makes the data searchable at full speed (Milvus
  standalone: ``flush`` to seal segments, then waiting for the HNSW build);
* disk (how each is measured is in the result), RSS of this client and of the server processes;
* latency p50/p95/p99 of dense (the backend's ``VectorIndex.search``, k=10), keyword
  (``KeywordIndex.search``, k=10) and hybrid (the engine's ``Searcher`` end to end over the
  backend, query vectors pre-cached: retrieval + fusion + hydration, no encoding), unfiltered
  and with a ~1% and a ~10% filter (real filters whose share is measured);
* dense recall@10 against exact search (NumPy over the same vectors, same filter), with the
  product's settings (its exact fallback for small or filtered sets) and with the fallback off
  (``-ann``: the HNSW graph is always used);
* quality on the curated known-item queries (``eval/queries/curated.jsonl``): R@30 and MRR@30
  of keyword (tantivy BM25 / PostgreSQL ts_rank / Milvus BM25), dense and hybrid search.

Backends are adapters (``ADAPTERS``: name -> function returning a ``Backend``); data and
queries come in as a ``Corpus`` and a ``QuerySet``, so the 1 M scale benchmark can reuse
``run_backend`` with generated data. Each backend's result is cached in
``--work-dir/parts/NAME.json``; ``--report`` merges the parts into ``--out``.json / .md.

    eval "$(bash scripts/servers.sh env)"
    PYTHONPATH=src .venv/bin/python bench/backend_bench.py \\
        --backends embedded,postgresql,milvus-lite
    ip netns exec podsearch env PYTHONPATH=src .venv/bin/python bench/backend_bench.py \\
        --backends milvus-standalone            # Milvus' TCP port lives in that namespace
    PYTHONPATH=src .venv/bin/python bench/backend_bench.py --report
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    REPO,
    SHARED_DATA,
    RssSampler,
    Stopwatch,
    dir_size,
    load_snapshot,
    load_trec_queries,
    log,
    machine_facts,
    mib,
    now_iso,
    summarize,
)
from podsearch.evaluate import evaluate_runs  # noqa: E402
from podsearch.index.backends import IndexLocation, open_location, redact  # noqa: E402
from podsearch.index.base import KeywordDoc, KeywordIndex, VectorIndex  # noqa: E402
from podsearch.models import DocPayload, Episode, Filters  # noqa: E402
from podsearch.search.searcher import Searcher  # noqa: E402
from search_data import BenchFilter, CorpusArrays, choose_filter, exact_topk, recall_at  # noqa: E402

K = 10
QUALITY_K = 30
CHUNK = 2048  # the engine's commit_every
BACKENDS = ("embedded", "postgresql", "milvus-lite", "milvus-standalone",
            "milvus-standalone-session")  # fmt: skip
MODES = ("dense", "dense-ann", "keyword", "hybrid")
PACKAGES = ("podsearch", "faiss-cpu", "tantivy", "psycopg", "psycopg-pool", "pymilvus",
            "milvus-lite", "numpy", "onnxruntime", "psutil")  # fmt: skip
PREFIX = {"listennotes": "ln:", "taddy": "taddy:", "spotify": "spotify:", "sommar": "sommar:"}


# -- data: what every backend is fed ---------------------------------------------------------
@dataclass
class Corpus:
    """The episodes every backend indexes, and what hybrid search needs beside the indexes."""

    arrays: CorpusArrays  # ids, vectors, filter columns, titles, texts (search_data.py)
    payloads: list[DocPayload]
    lookup: Callable[[Sequence[str]], dict[str, Episode]]  # the catalog (hydration, fusion)
    hub_scores: Callable[[Sequence[str]], dict[str, float]] | None
    languages: list[str]
    encoder: Callable[[], Any]  # the index's model, for the queries (loaded only if needed)

    def head(self, n: int) -> Corpus:
        a = self.arrays
        arrays = CorpusArrays(a.ids[:n], a.vecs[:n], a.language[:n], a.show_id[:n],
                              a.pub_ts[:n], a.title[:n], a.text[:n])  # fmt: skip
        return dataclasses.replace(self, arrays=arrays, payloads=self.payloads[:n])

    def keyword_docs(self, lo: int, hi: int) -> list[KeywordDoc]:
        a = self.arrays
        return [
            KeywordDoc(a.ids[i], a.title[i], a.text[i], self.payloads[i]) for i in range(lo, hi)
        ]


@dataclass
class QuerySet:
    """Query texts with their vectors (encoded once) and, for some, known relevant episodes."""

    texts: list[str]
    vectors: np.ndarray
    source: list[str]  # "curated" / "trec" per query
    qrels: dict[str, dict[str, int]]  # qid -> relevant episode ids (curated only)
    qids: list[str]


def load_source(index: Path) -> Corpus:
    """Read an existing index's stored vectors (``iter_vectors``) and episodes (its catalog)."""
    from podsearch import Podsearch
    from search_data import NO_TS

    ps = Podsearch(index, create=False)
    vi = ps.vector_index()
    ids: list[str] = []
    parts = []
    for batch_ids, vecs in vi.iter_vectors(4096):
        ids += batch_ids
        parts.append(np.asarray(vecs, dtype=np.float32))
    vecs = np.concatenate(parts)
    order = np.argsort(np.asarray(ids))
    ids = [ids[i] for i in order]
    vecs = vecs[order]
    eps: dict[str, Episode] = {}
    for s in range(0, len(ids), 500):
        eps.update(ps.store.get_many(ids[s : s + 500]))
    missing = [i for i in ids if i not in eps]
    if missing:
        raise SystemExit(f"{len(missing)} indexed ids are not in the catalog, e.g. {missing[:3]}")
    e = [eps[i] for i in ids]
    arrays = CorpusArrays(
        ids=ids,
        vecs=vecs,
        language=np.array([x.language or "" for x in e], dtype=object),
        show_id=np.array([x.show_id for x in e], dtype=object),
        pub_ts=np.array(
            [int(x.pub_date.timestamp()) if x.pub_date else NO_TS for x in e], dtype=np.int64
        ),
        title=[x.title for x in e],
        text=[x.text for x in e],
    )
    return Corpus(
        arrays=arrays,
        payloads=[DocPayload.of(x) for x in e],
        lookup=ps.store.get_many,
        hub_scores=ps.store.hub_scores,
        languages=list(ps.store.facet_counts("language")),
        encoder=ps.encoder,
    )


def load_queries(
    curated: Path, trec_dir: Path, cache: Path, encoder: Callable[[], Any]
) -> QuerySet:
    """Curated known-item queries + TREC Podcasts topics; vectors from ``cache`` when it holds
    exactly these texts, else encoded once with the default encoder and cached."""
    texts, source, qids = [], [], []
    qrels: dict[str, dict[str, int]] = {}
    for line in curated.read_text().splitlines():
        if line.strip():
            q = json.loads(line)
            p = PREFIX[q["corpus"]]
            texts.append(q["query"])
            source.append("curated")
            qids.append(q["qid"])
            qrels[q["qid"]] = {p + e: 1 for e in [q["episode_id"], *q.get("also_relevant", [])]}
    for n, t in enumerate(load_trec_queries(trec_dir)):
        texts.append(t)
        source.append("trec")
        qids.append(f"trec{n:03d}")
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        if str(z["key"]) == key:
            return QuerySet(texts, z["vectors"], source, qrels, qids)
    enc = encoder()
    log(f"encoding {len(texts)} queries with {enc.name}")
    vectors = np.asarray(enc.encode_queries(texts), dtype=np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, key=np.asarray(key), vectors=vectors, model=np.asarray(enc.name))
    return QuerySet(texts, vectors, source, qrels, qids)


# -- backends ----------------------------------------------------------------------------
@dataclass
class Backend:
    """One opened backend: its indexes, where its server runs, how to size and drop it."""

    name: str
    location: IndexLocation
    vectors: VectorIndex
    keywords: KeywordIndex
    ann_vectors: Callable[[], VectorIndex]  # the same stored vectors, exact fallback off
    disk: Callable[[], dict[str, Any]]
    server_pids: Callable[[], list[int]] = lambda: []
    finish_build: Callable[[], None] = lambda: None
    drop: Callable[[], None] = lambda: None
    notes: list[str] = field(default_factory=list)


@dataclass
class Settings:
    work_dir: Path
    dim: int
    pg_url: str | None
    milvus_uri: str | None
    tag: str = "backbench"


def _embedded(s: Settings) -> Backend:
    from podsearch.index.faiss_index import FaissVectorIndex

    path = s.work_dir / "run" / "embedded"
    shutil.rmtree(path, ignore_errors=True)
    loc = open_location(path)
    return Backend(
        "embedded",
        loc,
        loc.open_vectors(s.dim, fresh=True),
        loc.open_keywords(),
        ann_vectors=lambda: FaissVectorIndex(
            path / "vectors", s.dim, exact_max=0, exact_fraction=0.0
        ),  # fmt: skip
        disk=lambda: {
            "bytes": dir_size(path / "vectors") + dir_size(path / "keyword"),
            "vectors_bytes": dir_size(path / "vectors"),
            "keyword_bytes": dir_size(path / "keyword"),
            "how": "files under vectors/ and keyword/",
        },  # fmt: skip
        drop=lambda: shutil.rmtree(path, ignore_errors=True),
        notes=["FAISS HNSW (M 32, efConstruction 200, efSearch 512) + tantivy BM25, in process"],
    )


def _pg_admin_url(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path=f"/{dbname}").geturl()


def _postgresql(s: Settings) -> Backend:
    import psycopg

    from podsearch.index.postgres import PgVectorIndex

    if not s.pg_url:
        raise SystemExit('no PostgreSQL URL: eval "$(bash scripts/servers.sh env)" or --pg-url')
    db = f"h_{s.tag}"
    with psycopg.connect(s.pg_url, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {db}")
        c.execute(f"CREATE DATABASE {db}")
    url = _pg_admin_url(s.pg_url, db)
    sep = "&" if urlsplit(url).query else "?"
    loc = open_location(f"{url}{sep}index={s.tag}", catalog_dir=s.work_dir / "run" / "pg-catalog")
    vi = loc.open_vectors(s.dim, fresh=True)
    kw = loc.open_keywords()
    pgdb = loc.db()  # type: ignore[attr-defined]

    def disk() -> dict[str, Any]:
        with pgdb.connection() as conn:
            rel = {t: int(conn.execute("SELECT pg_total_relation_size(%s)", [f"{s.tag}_{t}"])
                          .fetchone()[0]) for t in ("vectors", "keywords")}  # fmt: skip
            dbsize = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])
            hnsw = int(conn.execute("SELECT pg_relation_size(%s)", [f"{s.tag}_vectors_hnsw"])
                       .fetchone()[0])  # fmt: skip
            gin = int(conn.execute("SELECT pg_relation_size(%s)", [f"{s.tag}_keywords_tsv"])
                      .fetchone()[0])  # fmt: skip
        return {"bytes": rel["vectors"] + rel["keywords"], "vectors_bytes": rel["vectors"],
                "keyword_bytes": rel["keywords"], "hnsw_index_bytes": hnsw,
                "tsv_gin_index_bytes": gin, "database_bytes": dbsize,
                "how": "pg_total_relation_size of the two tables (heap + TOAST + all indexes); "
                       "database_bytes = pg_database_size (with the system catalogs)"}  # fmt: skip

    def pids() -> list[int]:
        """The postmaster (the parent of this connection's backend) and its children."""
        import psutil

        with pgdb.connection() as conn:
            backend = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
        try:
            master = psutil.Process(backend).ppid()
        except psutil.Error:
            return []
        return [master, *_children(master)]

    def drop() -> None:
        loc.close()
        with psycopg.connect(s.pg_url, autocommit=True) as c:  # type: ignore[arg-type]
            c.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")

    return Backend(
        "postgresql", loc, vi, kw,
        ann_vectors=lambda: PgVectorIndex(pgdb, s.dim, exact_max=0),
        disk=disk, server_pids=pids, drop=drop,
        notes=[f"pgvector {'.'.join(map(str, pgdb.pgvector))} HNSW (m 16, ef_construction 64, "
               "ef_search 512, iterative_scan relaxed_order when filtered) + full-text search "
               "(tsvector, GIN, ts_rank); one database h_backbench, Unix socket"],
    )  # fmt: skip


def _children(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _milvus_lite(s: Settings) -> Backend:
    from podsearch.index.milvus import MilvusVectorIndex

    path = (s.work_dir / "run" / "lite" / f"{s.tag}.db").resolve()
    shutil.rmtree(path.parent, ignore_errors=True)
    path.parent.mkdir(parents=True)
    loc = open_location(f"milvus-lite://{path}?index={s.tag}")
    vi = loc.open_vectors(s.dim, fresh=True)
    kw = loc.open_keywords()
    conn = loc.conn()  # type: ignore[attr-defined]

    def drop() -> None:
        for c in (f"{s.tag}_vectors", f"{s.tag}_keywords"):
            with suppress(Exception):
                conn.call("drop_collection", c)
        loc.close()
        shutil.rmtree(path.parent, ignore_errors=True)

    return Backend(
        "milvus-lite", loc, vi, kw,
        ann_vectors=lambda: MilvusVectorIndex(conn, s.dim, exact_max=0),
        disk=lambda: {"bytes": dir_size(path.parent),
                      "how": "every file Milvus Lite wrote beside and in the .db file "
                             "(both collections share it)"},  # fmt: skip
        drop=drop,
        notes=["Milvus Lite (in this process: its RSS is the client's) HNSW (M 16, "
               "efConstruction 64, ef 512; filtered: ef 2 * 512 / share kept, at most 32,768) "
               "+ built-in BM25 function (SPARSE_INVERTED_INDEX)"],
    )  # fmt: skip


def _milvus_pids() -> list[int]:
    import psutil

    out = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "milvus run standalone" in cmd or "milvus-server" in cmd:
            out.append(int(p.info["pid"]))
    return out


def _milvus_data_dir() -> Path | None:
    import psutil

    for pid in _milvus_pids():
        with suppress(psutil.Error, ValueError):
            cmd = psutil.Process(pid).cmdline()
            if "--data" in cmd:
                return Path(cmd[cmd.index("--data") + 1]) / "data"
    return None


def _milvus_standalone(s: Settings) -> Backend:
    from podsearch.index.milvus import MilvusVectorIndex

    uri = s.milvus_uri or os.environ.get("PODSEARCH_TEST_MILVUS_URI") or "http://127.0.0.1:19530"
    local = s.work_dir / "run" / "standalone"
    shutil.rmtree(local, ignore_errors=True)
    loc = open_location(f"{uri}?index={s.tag}", catalog_dir=local)
    vi = loc.open_vectors(s.dim, fresh=True)
    kw = loc.open_keywords()  # 2.3.5 has no BM25: the embedded tantivy index in `local`
    conn = loc.conn()  # type: ignore[attr-defined]
    coll = f"{s.tag}_vectors"
    data_dir = _milvus_data_dir()
    before = dir_size(data_dir) if data_dir else 0

    def finish() -> None:
        conn.call("flush", coll)  # seal the growing segments so HNSW covers every row
        conn.wait_built(coll, "vec")

    def disk() -> dict[str, Any]:
        out: dict[str, Any] = {"keyword_bytes": dir_size(local / "keyword")}
        if data_dir is None:
            out["how"] = "data dir not found (server process not visible): vectors unmeasured"
            return out
        cid = str(conn.call("describe_collection", coll).get("collection_id", ""))
        logs = sum(
            dir_size(p)
            for kind in ("insert_log", "stats_log", "delta_log")
            for p in (data_dir / kind / cid,) if cid and p.exists()
        )  # fmt: skip
        grown = dir_size(data_dir) - before
        out.update({"bytes": grown + out["keyword_bytes"], "vectors_bytes": grown,
                    "collection_binlog_bytes": logs,
                    "how": "vectors: growth of the server's data dir (binlogs, index files, "
                           "rocksmq WAL, etcd) across the build, other clients' writes "
                           "included; collection_binlog_bytes: insert/stats/delta logs under "
                           "its collection id; keywords: tantivy files"})  # fmt: skip
        return out

    def drop() -> None:
        with suppress(Exception):
            conn.call("drop_collection", coll)
        loc.close()
        shutil.rmtree(local, ignore_errors=True)

    return Backend(
        "milvus-standalone", loc, vi, kw,
        ann_vectors=lambda: MilvusVectorIndex(conn, s.dim, exact_max=0),
        disk=disk, server_pids=_milvus_pids, finish_build=finish, drop=drop,
        notes=[f"Milvus {'.'.join(map(str, conn.version))} standalone HNSW (M 16, "
               "efConstruction 64, ef 512); keywords: embedded tantivy (no BM25 before 2.5), "
               "as the product pairs them; build includes flush + waiting for the index"],
    )  # fmt: skip


def _milvus_standalone_session(s: Settings) -> Backend:
    """The standalone server with consistency level Session instead of the product's Strong
    (a bench-only variant: it shows what Strong's wait for the next time tick costs)."""
    b = _milvus_standalone(s)
    conn = b.location.conn()  # type: ignore[attr-defined]
    call = conn.call

    def session_call(method: str, *args: Any, **kwargs: Any) -> Any:
        if method in ("search", "query", "get"):
            kwargs["consistency_level"] = "Session"
        return call(method, *args, **kwargs)

    conn.call = session_call
    b.name = "milvus-standalone-session"
    b.notes.append("bench-only variant: every search / query / get at consistency Session")
    return b


ADAPTERS: dict[str, Callable[[Settings], Backend]] = {
    "embedded": _embedded,
    "postgresql": _postgresql,
    "milvus-lite": _milvus_lite,
    "milvus-standalone": _milvus_standalone,
    "milvus-standalone-session": _milvus_standalone_session,
}


# -- measuring ---------------------------------------------------------------------------
def server_rss(pids: Sequence[int]) -> dict[str, Any]:
    """RSS summed over the server processes, and PSS (shared pages split between them)."""
    import psutil

    rss = pss = 0
    n = 0
    for pid in pids:
        with suppress(psutil.Error):
            p = psutil.Process(pid)
            rss += p.memory_info().rss
            with suppress(psutil.Error, AttributeError):
                pss += p.memory_full_info().pss
            n += 1
    return {"processes": n, "rss_mib": mib(rss), "pss_mib": mib(pss)} if n else {}


def build(b: Backend, corpus: Corpus, rss: RssSampler) -> dict[str, Any]:
    a = corpus.arrays
    n = len(a.ids)
    out: dict[str, Any] = {"episodes": n, "chunk": CHUNK}
    with rss.phase(out, "client_peak_rss_mib"), Stopwatch() as total:
        with Stopwatch() as sw_v:
            for lo in range(0, n, CHUNK):
                hi = min(n, lo + CHUNK)
                b.vectors.upsert(a.ids[lo:hi], a.vecs[lo:hi], corpus.payloads[lo:hi])
                b.vectors.commit()
        with Stopwatch() as sw_f:
            b.finish_build()
        with Stopwatch() as sw_k:
            for lo in range(0, n, CHUNK):
                b.keywords.upsert(corpus.keyword_docs(lo, min(n, lo + CHUNK)))
                b.keywords.commit()
    out.update({"seconds": round(total.s, 2), "vector_seconds": round(sw_v.s + sw_f.s, 2),
                "vector_finish_seconds": round(sw_f.s, 2), "keyword_seconds": round(sw_k.s, 2),
                "client_cpu_seconds": round(total.cpu, 2),
                "episodes_per_second": round(n / total.s, 1)})  # fmt: skip
    got_v, got_k = len(b.vectors), len(b.keywords)
    if got_v != n or got_k != n:
        raise SystemExit(f"{b.name}: built {got_v} vectors and {got_k} keyword docs, not {n}")
    return out


def make_searcher(b: Backend, corpus: Corpus, qs: QuerySet, vi: VectorIndex) -> Searcher:
    """The engine's searcher over this backend, with every query vector already cached."""

    class _NoEncoder:
        name = "cached"

        def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
            raise RuntimeError(f"query {texts[0]!r} was not pre-encoded")

    searcher = Searcher(
        encoder=lambda: _NoEncoder(),  # type: ignore[arg-type,return-value]
        vectors=lambda: vi,
        keywords=lambda: b.keywords,
        lookup=corpus.lookup,
        hub_scores=corpus.hub_scores,
        languages=lambda: corpus.languages,
    )
    searcher.cache.size = max(searcher.cache.size, 2 * len(qs.texts))
    searcher.cache.get_many(qs.texts, lambda _: qs.vectors)
    return searcher


def query_pass(
    b: Backend,
    corpus: Corpus,
    qs: QuerySet,
    filters: dict[str, BenchFilter | None],
    warmup: int,
    latency_queries: int = 0,
    quality: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Latency (and dense recall@10) per mode and filter; quality runs on the curated queries."""
    a = corpus.arrays
    ann = b.ann_vectors()
    views = {"dense": b.vectors, "dense-ann": ann}
    searchers = {m: make_searcher(b, corpus, qs, v) for m, v in views.items()}
    lat: dict[str, Any] = {}
    # every query, or an even spread of n of them (curated and TREC alike)
    n_all = len(qs.texts)
    n = min(latency_queries or n_all, n_all)
    picked = sorted({int(x) for x in np.linspace(0, n_all - 1, n)})

    def one_query(mode: str, i: int, q: str, flt: Filters | None) -> Any:
        if mode in views:
            return views[mode].search(qs.vectors[i : i + 1], K, flt)[0]
        if mode == "keyword":
            return b.keywords.search(q, K, flt)
        return searchers["dense"].search_batch([q], k=K, mode="hybrid", filters=flt)

    for fname, bf in filters.items():
        flt = bf.filters if bf is not None else None
        truth = exact_topk(qs.vectors[picked], a, bf.mask if bf is not None else None, K)
        for mode in MODES:
            ts: list[float] = []
            got: list[list[str]] = []
            for j, i in enumerate(picked):
                q = qs.texts[i]
                if j < warmup:
                    one_query(mode, i, q, flt)
                t = time.perf_counter()
                r = one_query(mode, i, q, flt)
                ts.append((time.perf_counter() - t) * 1000)
                if mode in views:
                    got.append([d for d, _ in r])
            row: dict[str, Any] = summarize(ts)
            if mode in views:
                row["recall@10"] = recall_at(got, truth, K)
            lat[f"{mode}/{fname}"] = row
            log(f"  {b.name} {mode:9s} {fname:8s} p50 {row['p50']:8.2f} ms  p99 {row['p99']:8.2f}"
                + (f"  recall@10 {row['recall@10']}" if "recall@10" in row else ""))  # fmt: skip
    # quality: curated queries, depth 30
    cur = [i for i, s in enumerate(qs.source) if s == "curated"] if quality else []
    if not cur:
        return lat, {}
    runs: dict[str, dict[str, dict[str, float]]] = {}

    def put(name: str, qid: str, ranked: Sequence[str]) -> None:
        runs.setdefault(name, {})[qid] = {d: float(QUALITY_K - r) for r, d in enumerate(ranked)}

    for i in cur:
        qid, q = qs.qids[i], qs.texts[i]
        put("keyword", qid, [d for d, _ in b.keywords.search(q, QUALITY_K)])
        put("dense", qid, [d for d, _ in b.vectors.search(qs.vectors[i : i + 1], QUALITY_K)[0]])
        put("dense-ann", qid, [d for d, _ in ann.search(qs.vectors[i : i + 1], QUALITY_K)[0]])
        for m, s in searchers.items():
            name = "hybrid" if m == "dense" else "hybrid-ann"
            res = s.search_batch([q], k=QUALITY_K, mode="hybrid")[0]
            put(name, qid, [h.episode_id for h in res.hits])
    report = evaluate_runs({qs.qids[i]: qs.qrels[qs.qids[i]] for i in cur}, runs, ("R@30", "RR@30"))
    quality = {name: {m: round(v, 4) for m, v in vals.items()}
               for name, vals in report.systems.items()}  # fmt: skip
    quality["queries"] = len(cur)  # type: ignore[assignment]
    return lat, quality


def run_backend(
    name: str,
    settings: Settings,
    corpus: Corpus,
    qs: QuerySet,
    filters: dict[str, BenchFilter | None],
    *,
    warmup: int = 5,
    keep: bool = False,
    latency_queries: int = 0,
    quality: bool = True,
) -> dict[str, Any]:
    """Open ``name`` fresh, build it from ``corpus``, measure it, drop it (unless ``keep``)."""
    rss = RssSampler()
    res: dict[str, Any] = {"backend": name, "started": now_iso(), "load_before": load_snapshot()}
    client_before = rss.current()
    b = ADAPTERS[name](settings)
    try:
        res["location"] = redact(b.location.display)
        res["notes"] = b.notes
        log(f"{name}: building {len(corpus.arrays.ids)} episodes")
        res["build"] = build(b, corpus, rss)
        res["disk"] = b.disk()
        res["server_rss_after_build"] = server_rss(b.server_pids())
        log(
            f"{name}: built in {res['build']['seconds']} s, "
            f"disk {mib(res['disk'].get('bytes', 0))} MiB"
        )
        with rss.phase(res, "client_peak_rss_mib_queries"):
            res["latency_ms"], res["quality"] = query_pass(
                b, corpus, qs, filters, warmup, latency_queries, quality
            )
        res["server_rss_after_queries"] = server_rss(b.server_pids())
        res["client_rss_mib"] = {"before_open": mib(client_before), "after": mib(rss.current())}
        res["load_after"] = load_snapshot()
        res["finished"] = now_iso()
    finally:
        if not keep:
            b.drop()
        else:
            b.location.close()
    return res


# -- report ------------------------------------------------------------------------------
def _git(*args: str) -> str:
    with suppress(Exception):
        return subprocess.check_output(["git", *args], cwd=REPO, text=True).strip()
    return ""


def to_markdown(doc: dict[str, Any]) -> str:
    parts = doc["backends"]
    names = [n for n in BACKENDS if n in parts]
    flt = "; ".join(
        f"{k} = {v['description']} ({v['kept']} episodes, {100 * v['fraction']:.2f}%)"
        for k, v in doc["filters"].items()
    )
    lines = [
        "# Backend benchmark: embedded vs PostgreSQL vs Milvus",
        "",
        f"{doc['episodes']} episodes ({doc['dim']}-d), {doc['queries']['total']} queries "
        f"({doc['queries']['curated']} curated + {doc['queries']['trec']} TREC topics), same "
        "query vectors for every backend. Commands:",
        "",
        *[f"    {c}" for c in doc["commands"]],
        "",
        "Commits (per backend run): "
        + ", ".join(f"{n} {parts[n].get('commit', '?')}" for n in names)
        + f"; report {doc['commit']}. {doc['machine']['cpu_model']}, "
        f"{doc['machine']['cpu_count_usable']} usable cores, shared machine. "
        "Filters: " + flt + ".",
        "",
        "## Build, disk, memory",
        "",
        "| backend | build s (vectors + keywords) | disk MiB (vectors + keywords) "
        "| client peak RSS MiB | server RSS / PSS MiB | load 1m |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for n in names:
        r = parts[n]
        bd, dk = r["build"], r["disk"]
        srv = r.get("server_rss_after_queries") or {}
        peak = max(bd["client_peak_rss_mib"], r["client_peak_rss_mib_queries"])
        srv_s = (
            f"{srv['rss_mib']} / {srv['pss_mib']} ({srv['processes']} proc)"
            if srv
            else "in process"
        )
        lines.append(
            f"| {n} | {bd['seconds']} ({bd['vector_seconds']} + {bd['keyword_seconds']}) | "
            f"{mib(dk.get('bytes', 0))} ({mib(dk.get('vectors_bytes', 0))} + "
            f"{mib(dk.get('keyword_bytes', 0))}) | {peak} | "
            f"{srv_s} | {r['load_before']['loadavg_1m']} → {r['load_after']['loadavg_1m']} |"
        )  # fmt: skip
    lines += ["", "## Latency ms p50 / p95 / p99 (k = 10) and dense recall@10 vs exact", ""]
    fnames = list(doc["filters"]) and ["none", *doc["filters"]]
    lines += ["| backend | mode | " + " | ".join(fnames) + " |", "|---|---|" + "---|" * len(fnames)]
    for n in names:
        for mode in MODES:
            cells = []
            for f in fnames:
                row = parts[n]["latency_ms"].get(f"{mode}/{f}")
                if not row:
                    cells.append("")
                    continue
                c = f"{row['p50']:.1f} / {row['p95']:.1f} / {row['p99']:.1f}"
                if "recall@10" in row:
                    c += f" (R {row['recall@10']:.3f})"
                cells.append(c)
            lines.append(f"| {n} | {mode} | " + " | ".join(cells) + " |")
    lines += ["", f"## Quality on the curated known-item queries ({doc['queries']['curated']})",
              "", "| backend | keyword R@30 / MRR@30 | dense | dense-ann | hybrid | hybrid-ann |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for n in names:
        q = parts[n]["quality"]
        if not q:
            lines.append(f"| {n} | not measured (--no-quality) | | | | |")
            continue
        cell = [f"{q[m]['R@30']:.3f} / {q[m]['RR@30']:.3f}" for m in
                ("keyword", "dense", "dense-ann", "hybrid", "hybrid-ann")]  # fmt: skip
        lines.append(f"| {n} | " + " | ".join(cell) + " |")
    lines += ["", "## Notes", ""]
    for n in names:
        timed = parts[n]["latency_ms"]["dense/none"]["n"]
        lines.append(
            f"- {n}: " + "; ".join(parts[n]["notes"]) + f". Disk: {parts[n]['disk']['how']}. "
            f"Queries timed per cell: {timed}."
        )
    lines += [f"- {x}" for x in doc["caveats"]]
    return "\n".join(lines) + "\n"


def short_table(doc: dict[str, Any]) -> str:
    """The few numbers docs/BACKENDS.md quotes: one row per backend."""
    parts = doc["backends"]
    rows = [
        "| backend | build s | disk MiB | server RSS MiB | dense p50 ms (none / 1% / 10%) "
        "| dense-ann recall@10 (none / 10%) | keyword p50 ms | hybrid p50 / p99 ms "
        "| keyword R@30 / MRR@30 | hybrid R@30 / MRR@30 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in [x for x in BACKENDS if x in parts]:
        r = parts[n]
        lat, q = r["latency_ms"], r["quality"]
        srv = (r.get("server_rss_after_queries") or {}).get("rss_mib", "in process")
        dense = " / ".join(f"{lat[f'dense/{f}']['p50']:.1f}" for f in ("none", "1pct", "10pct"))
        rec = " / ".join(f"{lat[f'dense-ann/{f}']['recall@10']:.3f}" for f in ("none", "10pct"))
        hy = lat["hybrid/none"]
        qual = [f"{q[m]['R@30']:.3f} / {q[m]['RR@30']:.3f}" if q else "-" for m in
                ("keyword", "hybrid")]  # fmt: skip
        rows.append(
            f"| {n} | {r['build']['seconds']} | {mib(r['disk'].get('bytes', 0))} | {srv} | "
            f"{dense} | {rec} | {lat['keyword/none']['p50']:.1f} | "
            f"{hy['p50']:.1f} / {hy['p99']:.1f} | {qual[0]} | {qual[1]} |"
        )
    return "\n".join(rows) + "\n"


CAVEATS = (
    "dense = the backend's VectorIndex.search with the product's settings: below its exact "
    "threshold (FAISS 100,000 rows or 5%; PostgreSQL 50,000 rows; Milvus 2,000 rows, filtered "
    "only) it scans exactly, so at 19k rows FAISS and PostgreSQL always answer exactly; "
    "dense-ann turns that fallback off (exact_max 0) to measure the HNSW graphs themselves.",
    "hybrid = the engine's Searcher (convex fusion, CSLS hub correction, query-class keyword "
    "weight, 100 candidates per retriever, snippets) over the backend, query vectors cached: "
    "it includes the SQLite catalog look-ups, the same for every backend; hybrid-ann uses the "
    "dense-ann view.",
    "Latency is one pass per query (after a few warm-up queries), one client thread, on a "
    "2-core machine shared with other jobs (load averages beside each row); the servers run "
    "on the same machine (PostgreSQL with fsync=off, as the test servers are started).",
    "Keyword quality: tantivy and Milvus BM25 vs PostgreSQL ts_rank (not BM25); Milvus "
    "standalone 2.3.5 has no BM25 and uses the embedded tantivy index, as the product does.",
)


def merge(work_dir: Path, out: Path, commands: list[str]) -> dict[str, Any]:
    parts = {}
    for p in sorted((work_dir / "parts").glob("*.json")):
        r = json.loads(p.read_text())
        parts[r["backend"]] = r
    meta = json.loads((work_dir / "meta.json").read_text())
    made = [p["command"] for p in parts.values() if "command" in p]
    commands = list(dict.fromkeys([*made, *commands]))
    doc = {**meta, "backends": parts, "commands": commands, "caveats": list(CAVEATS),
           "commit": _git("rev-parse", "--short", "HEAD"), "date": now_iso(),
           "machine": machine_facts(PACKAGES)}  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    out.with_suffix(".md").write_text(to_markdown(doc))
    return doc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=REPO / "var" / "bench" / "index",
                    help="the index whose vectors and catalog are read (not written)")  # fmt: skip
    ap.add_argument("--backends", default=",".join(BACKENDS[:3]))
    ap.add_argument("--work-dir", type=Path, default=REPO / "var" / "backbench")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "backend_bench")
    ap.add_argument("--queries", type=Path, default=REPO / "eval" / "queries" / "curated.jsonl")
    ap.add_argument("--pg-url", default=os.environ.get("PODSEARCH_TEST_PG_SOCKET_URL"))
    ap.add_argument("--milvus-uri", default=os.environ.get("PODSEARCH_TEST_MILVUS_URI"))
    ap.add_argument("--report", action="store_true", help="only merge the cached parts")
    ap.add_argument("--keep", action="store_true", help="do not drop what was built")
    ap.add_argument("--latency-queries", type=int, default=0,
                    help="time an even spread of N queries (default: all)")  # fmt: skip
    ap.add_argument("--no-quality", action="store_true", help="skip the curated-query quality")
    ap.add_argument("--limit", type=int, default=0, help="first N episodes only (smoke test)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cmd = "PYTHONPATH=src python bench/backend_bench.py " + shlex.join(sys.argv[1:])
    if args.report:
        doc = merge(args.work_dir, args.out, [cmd])
        print(short_table(doc))
        return
    log("reading the source index")
    corpus = load_source(args.index)
    qs = load_queries(
        args.queries, SHARED_DATA / "trec-podcasts", args.work_dir / "queries.npz", corpus.encoder
    )
    if args.limit:
        corpus = corpus.head(args.limit)
    a = corpus.arrays
    filters: dict[str, BenchFilter | None] = {
        "none": None,
        "1pct": choose_filter(a, 0.01, "1pct"),
        "10pct": choose_filter(a, 0.10, "10pct"),
    }
    meta = {"episodes": len(a.ids), "dim": int(a.vecs.shape[1]), "source_index": str(args.index),
            "queries": {"total": len(qs.texts), "curated": qs.source.count("curated"),
                        "trec": qs.source.count("trec")},
            "filters": {k: {kk: v for kk, v in f.to_dict(len(a.ids)).items() if kk != "lance_where"}
                        for k, f in filters.items() if f is not None}}  # fmt: skip
    args.work_dir.mkdir(parents=True, exist_ok=True)
    (args.work_dir / "meta.json").write_text(json.dumps(meta, indent=1))
    settings = Settings(args.work_dir, meta["dim"], args.pg_url, args.milvus_uri)
    for name in [x.strip() for x in args.backends.split(",") if x.strip()]:
        if name not in ADAPTERS:
            raise SystemExit(f"unknown backend {name!r}: one of {', '.join(ADAPTERS)}")
        r = run_backend(
            name, settings, corpus, qs, filters, keep=args.keep,
            latency_queries=args.latency_queries, quality=not args.no_quality,
        )  # fmt: skip
        r["command"] = cmd
        r["commit"] = _git("rev-parse", "--short", "HEAD")
        (args.work_dir / "parts").mkdir(exist_ok=True)
        (args.work_dir / "parts" / f"{name}.json").write_text(json.dumps(r, indent=1) + "\n")
    log("done; merge with --report")


if __name__ == "__main__":
    main()
