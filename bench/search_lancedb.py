"""The LanceDB side of the search benchmark: an embedded table over the same vectors and texts
as podsearch, searched with the same query vectors."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from common import RssSampler, Stopwatch, dir_size, log, mib
from search_data import NO_TS, CorpusArrays

# Search-time settings tried beside each index's defaults: ef as podsearch's efSearch (128),
# and a re-ranking of quantised candidates on the full vectors (refine_factor).
TUNING: dict[str, dict[str, int]] = {
    "IVF_HNSW_SQ": {"ef": 128, "refine_factor": 4},
    "IVF_PQ": {"nprobes": 40, "refine_factor": 10},
    "IVF_FLAT": {"nprobes": 40},
}
COLUMNS = ["id", "title"]  # plus the score column of each query kind (as Lance will require)


class LanceSide:
    """An embedded LanceDB table ``episodes`` (id, vector, title, text, language, show_id,
    pub_ts) with a native FTS index on ``text`` and scalar indexes on the filter columns."""

    def __init__(self, lance_dir: Path, ca: CorpusArrays, sampler: RssSampler) -> None:
        import lancedb
        import pyarrow as pa
        from lancedb.index import FTS
        from lancedb.rerankers import RRFReranker

        if lance_dir.exists():
            shutil.rmtree(lance_dir)
        self.rec: dict[str, Any] = {"seconds": {}}
        self._rrf = RRFReranker()
        db = lancedb.connect(str(lance_dir))
        dim = ca.vecs.shape[1]
        ts = ca.pub_ts
        table = pa.table(
            {
                "id": pa.array(ca.ids, pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(ca.vecs.reshape(-1)), dim),
                "title": pa.array(ca.title, pa.string()),
                "text": pa.array(ca.text, pa.string()),
                "language": pa.array(ca.language.tolist(), pa.string()),
                "show_id": pa.array(ca.show_id.tolist(), pa.string()),
                "pub_ts": pa.array(ts, pa.int64(), mask=ts == NO_TS),
            }
        )
        secs = self.rec["seconds"]
        with sampler.phase(self.rec, "write_peak_rss_mib"), Stopwatch() as sw:
            self.tbl = db.create_table("episodes", data=table, mode="overwrite")
        secs["write_table"] = round(sw.s, 3)
        self.table_dir = lance_dir / "episodes.lance"
        with sampler.phase(self.rec, "fts_peak_rss_mib"), Stopwatch() as sw:
            self.tbl.create_index("text", config=FTS())  # native inverted index, no tantivy
        secs["fts_index"] = round(sw.s, 3)
        with Stopwatch() as sw:
            self.tbl.create_scalar_index("language", index_type="BITMAP")
            self.tbl.create_scalar_index("pub_ts", index_type="BTREE")
        secs["scalar_indexes_language_pub_ts"] = round(sw.s, 3)
        self.n = len(ca.ids)

    # -- indexes ---------------------------------------------------------------------------
    def create_vector_index(self, kind: str) -> dict[str, Any]:
        """(Re)build the vector index; ``kind`` is IVF_HNSW_SQ, IVF_PQ or IVF_FLAT."""
        from lancedb.index import HnswSq, IvfFlat, IvfPq

        parts = max(1, int(round(np.sqrt(self.n))))  # Lance's own rule of thumb for IVF
        if kind == "IVF_PQ":
            cfg: Any = IvfPq(distance_type="cosine", num_partitions=parts)
        elif kind == "IVF_HNSW_SQ":
            # One partition: at ~19k rows a single HNSW graph, like podsearch's.
            cfg = HnswSq(distance_type="cosine", num_partitions=1)
        elif kind == "IVF_FLAT":
            cfg = IvfFlat(distance_type="cosine", num_partitions=parts)
        else:
            raise SystemExit(f"unknown LanceDB index type {kind!r}; use IVF_HNSW_SQ, IVF_PQ")
        before = self._index_dirs()
        with Stopwatch() as sw:
            self.tbl.create_index("vector", config=cfg, replace=True)
        info: dict[str, Any] = {"build_seconds": round(sw.s, 3), "params": repr(cfg)}
        new = self._index_dirs() - before
        info["index_mib"] = mib(sum(dir_size(self.table_dir / "_indices" / d) for d in new))
        return info

    def _index_dirs(self) -> set[str]:
        d = self.table_dir / "_indices"
        return {p.name for p in d.iterdir()} if d.exists() else set()

    def disk(self) -> dict[str, Any]:
        try:  # drop replaced index versions so that sizes are the live table's
            self.tbl.cleanup_old_versions(older_than=timedelta(0), delete_unverified=True)
        except Exception as e:  # best effort: sizes then include replaced indexes
            self.rec["cleanup_error"] = f"{type(e).__name__}: {e}"
        return {
            "total_mib": mib(dir_size(self.table_dir)),
            "data_mib": mib(dir_size(self.table_dir / "data")),
            "indices_mib": mib(dir_size(self.table_dir / "_indices")),
            "indexes": {
                ix.name: mib(ix.size_bytes) if getattr(ix, "size_bytes", None) else None
                for ix in self.tbl.list_indices()
            },
        }

    # -- queries (each returns an Arrow table with COLUMNS) ----------------------------------
    def vector(
        self,
        v: np.ndarray,
        k: int,
        where: str | None = None,
        flat: bool = False,
        tuning: dict[str, int] | None = None,
    ) -> Any:
        q = self.tbl.search(v, vector_column_name="vector").distance_type("cosine")
        if flat:
            q = q.bypass_vector_index()
        for name, value in (tuning or {}).items():
            q = getattr(q, name)(value)  # ef / nprobes / refine_factor
        if where:
            q = q.where(where, prefilter=True)
        return q.limit(k).select([*COLUMNS, "_distance"]).to_arrow()

    def fts(self, text: str, k: int, where: str | None = None) -> Any:
        q = self.tbl.search(text, query_type="fts")
        if where:
            q = q.where(where, prefilter=True)
        return q.limit(k).select([*COLUMNS, "_score"]).to_arrow()

    def scan_one(self) -> Any:
        """The cheapest query there is: the fixed per-query cost of the Python API."""
        return self.tbl.search().limit(1).select(["id"]).to_arrow()

    def hybrid(self, v: np.ndarray, text: str, k: int, where: str | None = None) -> Any:
        q = (
            self.tbl.search(query_type="hybrid", vector_column_name="vector")
            .vector(v)
            .text(text)
            .distance_type("cosine")
        )
        if where:
            q = q.where(where, prefilter=True)
        return q.rerank(self._rrf).limit(k).select(COLUMNS).to_arrow()


_FAILURES: list[str] = []


def lance_one(run: Callable[[int], Any], i: int) -> tuple[float, list[str], int]:
    """Run query ``i``: wall ms, returned ids, and 1 if it raised (counted, not fatal)."""
    t0 = time.perf_counter()
    try:
        got = run(i).column("id").to_pylist()
        err = 0
    except Exception as e:  # a query the engine rejects: counted and reported
        got, err = [], 1
        _FAILURES.append(f"{type(e).__name__}: {str(e)[:160]}")
        if len(_FAILURES) <= 10:
            log(f"    lancedb query {i} failed: {_FAILURES[-1]}")
    return (time.perf_counter() - t0) * 1000, got, err


def lance_pass(run: Callable[[int], Any], n: int) -> tuple[list[float], list[list[str]], int]:
    """Run queries 0..n-1 one at a time: wall ms, returned ids, and how many raised."""
    wall: list[float] = []
    ids: list[list[str]] = []
    errors = 0
    for i in range(n):
        w, got, e = lance_one(run, i)
        wall.append(w)
        ids.append(got)
        errors += e
    return wall, ids, errors
