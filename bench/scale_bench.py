"""Vector search at 1 M episodes: podsearch's embedded indexes (float32 HNSW and the compressed
kinds) vs FAISS flat (exact) and LanceDB, on synthetic mE5-like vectors with realistic metadata.

The data (never in the repository; a seeded generator, cached under var/scale/n<N>/):
``--n`` 384-d unit vectors drawn around real mE5-small episode vectors of the 19k index
(/work/main/var/bench/index, read only): 20k+ Gaussian clusters of log-normal size and spread,
whose noise follows the real vectors' principal directions (not isotropic noise: that makes
ANN indexes look good or bad for the wrong reasons). Languages: a cluster's members mostly
share the real centre episode's language (so a language filter selects regions, as it does in
real data); ~50k shows by a Zipf popularity; dates over 15 years, denser towards now. Queries:
other real vectors plus noise (none is a stored vector).

Per engine (a backend name -> an adapter; PostgreSQL or Milvus would be one more entry in
ADAPTERS), in its own processes so that RSS is its own: build time, disk, build peak RSS; then a
fresh process opens the index and measures the RSS after opening, the first setting of a sweep
(ef / nprobe / leaves) whose recall@10 against exact search reaches --target (200 queries), and
single-query latency there (p50/p99, QPS; 500 queries), unfiltered and with language filters
keeping ~10% and ~1% of the vectors. Each stage runs under ``flock /work/heavy.lock`` and caches
its result, so a later run merges them into one report::

    .venv/bin/python bench/scale_bench.py --n 250000            # every engine, then the report
    .venv/bin/python bench/scale_bench.py --n 1000000 --engines podsearch-ivf-pq,faiss-flat
    .venv/bin/python bench/scale_bench.py --n 250000 --report-only

Results: bench/results/scale_bench.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("LANCEDB_LOG", "error")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, dir_size, log, machine_facts, mib, now_iso, summarize  # noqa: E402

REAL_INDEX = Path("/work/main/var/bench/index/vectors")
DIM = 384
K = 10
SHOWS = 50_000
YEARS = 15
END = datetime(2026, 11, 1, tzinfo=UTC)
LOCK = "/work/heavy.lock"
PACKAGES = ("podsearch", "faiss-cpu", "lancedb", "pylance", "pyarrow", "scann", "numpy")


# -- data ------------------------------------------------------------------------------------
def real_vectors() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The live vectors of the 19k index and their languages (read only)."""
    gen = REAL_INDEX / (REAL_INDEX / "CURRENT").read_text().strip()
    state = json.loads((gen / "state.json").read_text())
    cols = np.load(gen / "columns.npz")
    alive = cols["alive"]
    if (gen / "vectors.npy").exists():  # vector index format 1
        vecs = np.load(gen / "vectors.npy", mmap_mode="r")[alive]
    else:  # format 2: the rows are the HNSW storage
        import faiss

        hnsw = faiss.read_index(str(gen / "hnsw.faiss"))
        xb = faiss.downcast_index(hnsw.storage).get_xb()
        vecs = faiss.rev_swig_ptr(xb, hnsw.ntotal * DIM).reshape(hnsw.ntotal, DIM)[alive]
    return np.asarray(vecs, dtype=np.float32), cols["lang"][alive], list(state["langs"])


def generate(n: int, out: Path, n_queries: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    real, real_lang, langs = real_vectors()
    log(f"real vectors {real.shape}, {len(langs)} languages")
    # Principal directions of the real vectors: noise follows the shape of the real cloud.
    centred = real - real.mean(axis=0)
    _, s, vt = np.linalg.svd(centred[rng.choice(len(real), min(len(real), 8000), False)], False)
    scale = (s / np.sqrt((s**2).sum())).astype(np.float32)  # expected squared norm 1
    basis = (scale[:, None] * vt).astype(np.float32)

    def noise(m: int) -> np.ndarray:
        return rng.standard_normal((m, len(s)), dtype=np.float32) @ basis

    n_clusters = max(64, n // 45)
    centre = rng.integers(0, len(real), n_clusters)
    weight = rng.lognormal(0.0, 1.0, n_clusters)
    spread = np.clip(rng.lognormal(np.log(0.35), 0.35, n_clusters), 0.12, 0.9).astype(np.float32)
    which = rng.choice(n_clusters, n, p=weight / weight.sum())
    global_lang = np.bincount(real_lang, minlength=len(langs)) / len(real_lang)
    lang = real_lang[centre[which]].astype(np.int16)
    switch = rng.random(n) < 0.1  # a tenth speak another language than their cluster's centre
    lang[switch] = rng.choice(len(langs), int(switch.sum()), p=global_lang)
    pop = 1.0 / np.arange(1, SHOWS + 1) ** 1.1
    home = rng.choice(SHOWS, n_clusters, p=pop / pop.sum())
    show = np.where(rng.random(n) < 0.6, home[which], rng.choice(SHOWS, n, p=pop / pop.sum()))
    age_days = (YEARS * 365.25 * (1 - np.sqrt(rng.random(n)))).astype(np.int64)
    date = int(END.timestamp()) - age_days * 86_400
    out.mkdir(parents=True, exist_ok=True)
    vec_path = out / "vectors.npy"
    mm = np.lib.format.open_memmap(vec_path, mode="w+", dtype=np.float32, shape=(n, DIM))
    for start in range(0, n, 50_000):
        w = which[start : start + 50_000]
        x = real[centre[w]] + spread[w, None] * noise(len(w))
        mm[start : start + len(w)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    mm.flush()
    del mm
    qsrc = rng.choice(len(real), n_queries, replace=False)
    q = real[qsrc] + 0.3 * noise(n_queries)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    counts = np.bincount(lang, minlength=len(langs)) / n
    f10 = int(np.argmin(np.abs(counts - 0.10)))
    f1 = int(np.argmin(np.abs(counts - 0.01)))
    np.savez(out / "meta.npz", lang=lang, show=show.astype(np.int32), date=date)
    np.save(out / "queries.npy", q.astype(np.float32))
    filters = {
        "none": None,
        "lang10": {"language": langs[f10], "fraction": round(float(counts[f10]), 4)},
        "lang1": {"language": langs[f1], "fraction": round(float(counts[f1]), 4)},
    }
    meta = {
        "n": n,
        "seed": seed,
        "clusters": n_clusters,
        "langs": langs,
        "filters": filters,
        "distinct_shows": int(len(np.unique(show))),
        "queries": n_queries,
    }
    log(f"ground truth over {n:,} vectors")
    vecs = np.load(vec_path, mmap_mode="r")
    gt = {}
    for name, spec in filters.items():
        allowed = None if spec is None else lang == langs.index(spec["language"])
        gt[name] = exact_topk(vecs, q, K, allowed)
    np.savez(out / "truth.npz", **gt)
    (out / "meta.json").write_text(json.dumps(meta, indent=1))


def exact_topk(vecs: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None) -> np.ndarray:
    best_s = np.full((len(q), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(q), k), -1, dtype=np.int64)
    for start in range(0, len(vecs), 65_536):
        block = np.asarray(vecs[start : start + 65_536])
        sims = q @ block.T
        if allowed is not None:
            sims[:, ~allowed[start : start + len(block)]] = -np.inf
        s = np.concatenate([best_s, sims], axis=1)
        i = np.concatenate(
            [best_i, np.arange(start, start + len(block))[None, :].repeat(len(q), 0)], 1
        )
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    return best_i


@dataclass
class Data:
    dir: Path
    meta: dict[str, Any]

    def vectors(self) -> np.ndarray:
        return np.load(self.dir / "vectors.npy", mmap_mode="r")

    def columns(self) -> dict[str, np.ndarray]:
        m = np.load(self.dir / "meta.npz")
        return {k: m[k] for k in ("lang", "show", "date")}

    def queries(self) -> np.ndarray:
        return np.load(self.dir / "queries.npy")

    def truth(self) -> dict[str, np.ndarray]:
        t = np.load(self.dir / "truth.npz")
        return {k: t[k] for k in t.files}


# -- adapters --------------------------------------------------------------------------------
class Adapter:
    """One engine: build into ``work`` (from the cached data), open it again, search with a
    setting of its sweep. ``search`` returns row numbers (ints) best first."""

    sweep: list[dict[str, Any]] = [{}]

    def build(self, data: Data, work: Path) -> dict[str, Any]:
        raise NotImplementedError

    def open(self, data: Data, work: Path) -> None:
        raise NotImplementedError

    def apply(self, setting: dict[str, Any]) -> None:
        pass

    def search(self, q: np.ndarray, k: int, language: str | None) -> list[int]:
        raise NotImplementedError


class PodsearchAdapter(Adapter):
    """podsearch's embedded FaissVectorIndex with ``kind`` (through its public API: upsert with
    DocPayloads, commit, reopen, search with Filters)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        # ef_search: efSearch (hnsw, hnsw-sq8), nprobe (ivf-pq), leaves searched (scann);
        # refine: candidates re-scored exactly per result (compressed kinds).
        if kind == "hnsw":
            self.sweep = [{"ef_search": e} for e in (16, 32, 64, 128, 256, 512)]
        elif kind == "hnsw-sq8":
            self.sweep = [{"ef_search": e, "refine": 3} for e in (16, 32, 64, 128)]
            self.sweep += [{"ef_search": e, "refine": 10} for e in (128, 256, 512)]
        else:
            self.sweep = [{"ef_search": e, "refine": 10} for e in (8, 16, 32, 64)]
            self.sweep += [
                {"ef_search": e, "refine": r} for e, r in ((64, 30), (128, 30), (128, 100))
            ]

    def build(self, data: Data, work: Path) -> dict[str, Any]:
        import faiss

        from podsearch.index.faiss_index import FaissVectorIndex
        from podsearch.models import DocPayload

        faiss.omp_set_num_threads(2)
        cols, langs = data.columns(), data.meta["langs"]
        vecs = data.vectors()
        idx = FaissVectorIndex(work / "vectors", DIM, kind=self.kind)
        t0 = time.perf_counter()
        n = len(vecs)
        for start in range(0, n, 50_000):
            stop = min(n, start + 50_000)
            payloads = [
                DocPayload(
                    langs[cols["lang"][i]],
                    f"s{cols['show'][i]}",
                    pub_date=datetime.fromtimestamp(int(cols["date"][i]), UTC),
                )
                for i in range(start, stop)
            ]
            idx.upsert(
                [f"e{i}" for i in range(start, stop)], np.asarray(vecs[start:stop]), payloads
            )
        t_add = time.perf_counter() - t0
        idx.commit()
        return {
            "build_s": round(time.perf_counter() - t0, 1),
            "add_s": round(t_add, 1),
            "params": {"m": idx.m, "refine": idx.refine, "exact_max": idx.exact_max},
        }

    def open(self, data: Data, work: Path) -> None:
        import faiss

        from podsearch.index.faiss_index import FaissVectorIndex

        faiss.omp_set_num_threads(1)
        self.idx = FaissVectorIndex(work / "vectors", DIM, kind=self.kind)
        from podsearch.models import Filters

        self._filters = Filters

    def apply(self, setting: dict[str, Any]) -> None:
        self.idx.ef_search = int(setting["ef_search"])
        self.idx.refine = int(setting.get("refine", self.idx.refine))

    def search(self, q: np.ndarray, k: int, language: str | None) -> list[int]:
        f = self._filters(languages=(language,)) if language else None
        return [int(i[1:]) for i, _ in self.idx.search(q[None, :], k, f)[0]]


class FlatAdapter(Adapter):
    """FAISS IndexFlatIP: exact search, float32 in memory (the ground truth's engine)."""

    def build(self, data: Data, work: Path) -> dict[str, Any]:
        import faiss

        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        idx = faiss.IndexFlatIP(DIM)
        idx.add(np.ascontiguousarray(data.vectors()))
        faiss.write_index(idx, str(work / "flat.faiss"))
        return {"build_s": round(time.perf_counter() - t0, 1)}

    def open(self, data: Data, work: Path) -> None:
        import faiss

        faiss.omp_set_num_threads(1)
        self.idx = faiss.read_index(str(work / "flat.faiss"))
        self.lang = data.columns()["lang"]
        self.langs = data.meta["langs"]
        self._faiss = faiss
        self._bits: dict[str, np.ndarray] = {}

    def search(self, q: np.ndarray, k: int, language: str | None) -> list[int]:
        faiss = self._faiss
        if language is None:
            _, lab = self.idx.search(q[None, :], k)
        else:
            if language not in self._bits:
                code = self.langs.index(language)
                self._bits[language] = np.packbits(self.lang == code, bitorder="little")
            bits = self._bits[language]
            sel = faiss.IDSelectorBitmap(len(self.lang), faiss.swig_ptr(bits))
            params = faiss.SearchParameters(sel=sel)
            _, lab = self.idx.search(q[None, :], k, params=params)
        return [int(x) for x in lab[0] if x >= 0]


class LanceAdapter(Adapter):
    """LanceDB (embedded): a table with language / show / date columns, a BITMAP index on
    language, and IVF_PQ or IVF_HNSW_SQ over the vectors with ``refine_factor`` re-ranking on
    the full vectors; filters with prefilter=True."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "IVF_PQ":
            self.sweep = [{"nprobes": p, "refine_factor": 10} for p in (8, 16, 32, 64, 128)]
            self.sweep += [{"nprobes": 128, "refine_factor": r} for r in (30, 100)]
        else:
            self.sweep = [
                {"ef": e, "refine_factor": 3} for e in (32, 64, 128, 256, 512)
            ]  # ef >= k x refine

    def build(self, data: Data, work: Path) -> dict[str, Any]:
        import lancedb
        import pyarrow as pa
        from lancedb.index import HnswSq, IvfPq

        if work.exists():
            shutil.rmtree(work)
        db = lancedb.connect(str(work))
        cols, langs = data.columns(), data.meta["langs"]
        vecs = data.vectors()
        n = len(vecs)

        def batches() -> Any:
            for start in range(0, n, 50_000):
                stop = min(n, start + 50_000)
                v = np.ascontiguousarray(vecs[start:stop]).reshape(-1)
                yield pa.record_batch(
                    {
                        "id": pa.array(np.arange(start, stop), pa.int64()),
                        "vector": pa.FixedSizeListArray.from_arrays(pa.array(v), DIM),
                        "language": pa.array([langs[c] for c in cols["lang"][start:stop]]),
                        "show_id": pa.array(cols["show"][start:stop], pa.int32()),
                        "pub_ts": pa.array(cols["date"][start:stop], pa.int64()),
                    }
                )

        schema = pa.schema(
            [
                ("id", pa.int64()),
                ("vector", pa.list_(pa.float32(), DIM)),
                ("language", pa.string()),
                ("show_id", pa.int32()),
                ("pub_ts", pa.int64()),
            ]
        )
        t0 = time.perf_counter()
        tbl = db.create_table("episodes", data=pa.RecordBatchReader.from_batches(schema, batches()))
        t_write = time.perf_counter() - t0
        tbl.create_scalar_index("language", index_type="BITMAP")
        if self.kind == "IVF_PQ":
            cfg: Any = IvfPq(
                distance_type="cosine", num_partitions=max(1, int(np.sqrt(n))), num_sub_vectors=48
            )
        else:
            cfg = HnswSq(distance_type="cosine", num_partitions=max(1, n // 500_000))
        t1 = time.perf_counter()
        tbl.create_index("vector", config=cfg)
        t_index = time.perf_counter() - t1
        return {
            "build_s": round(time.perf_counter() - t0, 1),
            "write_s": round(t_write, 1),
            "index_s": round(t_index, 1),
            "params": repr(cfg),
        }

    def open(self, data: Data, work: Path) -> None:
        import lancedb

        self.tbl = lancedb.connect(str(work)).open_table("episodes")
        self.setting: dict[str, Any] = {}

    def apply(self, setting: dict[str, Any]) -> None:
        self.setting = setting

    def search(self, q: np.ndarray, k: int, language: str | None) -> list[int]:
        s = self.tbl.search(q, vector_column_name="vector").distance_type("cosine")
        for name, value in self.setting.items():
            s = getattr(s, name)(value)
        if language:
            s = s.where(f"language = '{language}'", prefilter=True)
        return s.limit(k).select(["id"]).to_arrow().column("id").to_pylist()


ADAPTERS: dict[str, Callable[[], Adapter]] = {
    "podsearch-hnsw": lambda: PodsearchAdapter("hnsw"),
    "podsearch-hnsw-sq8": lambda: PodsearchAdapter("hnsw-sq8"),
    "podsearch-ivf-pq": lambda: PodsearchAdapter("ivf-pq"),
    "podsearch-scann": lambda: PodsearchAdapter("scann"),
    "faiss-flat": FlatAdapter,
    "lancedb-ivf-pq": lambda: LanceAdapter("IVF_PQ"),
    "lancedb-ivf-hnsw-sq": lambda: LanceAdapter("IVF_HNSW_SQ"),
    # A server engine is one more line here, e.g. "pgvector-hnsw": lambda: PgAdapter(url).
}


# -- workers ---------------------------------------------------------------------------------
def rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker_build(engine: str, data: Data, work: Path) -> dict[str, Any]:
    adapter = ADAPTERS[engine]()
    base = rss_now()
    if work.exists():
        shutil.rmtree(work)
    rec = adapter.build(data, work)
    rec |= {
        "disk_mib": mib(dir_size(work)),
        "build_peak_rss_mib": mib(peak_rss()),
        "baseline_rss_mib": mib(base),
        "load_after_build": os.getloadavg(),
    }
    return rec


def recall(got: list[list[int]], truth: np.ndarray) -> float:
    return float(
        np.mean(
            [len(set(g) & set(t[t >= 0].tolist())) / K for g, t in zip(got, truth, strict=True)]
        )
    )


def worker_query(
    engine: str, data: Data, work: Path, n_recall: int, n_latency: int, target: float
) -> dict[str, Any]:
    q, truth = data.queries(), data.truth()
    adapter = ADAPTERS[engine]()
    base = rss_now()
    t0 = time.perf_counter()
    adapter.open(data, work)
    rec: dict[str, Any] = {
        "open_s": round(time.perf_counter() - t0, 2),
        "baseline_rss_mib": mib(base),
        "rss_after_open_mib": mib(rss_now()),
    }
    if engine == "faiss-flat":
        n_latency = min(n_latency, 100)  # ~10^8 multiply-adds a query: exact at 1 M is slow
    out = {}
    for fname, spec in data.meta["filters"].items():
        language = None if spec is None else spec["language"]
        sweep_rows = []
        chosen = None
        for setting in adapter.sweep:
            adapter.apply(setting)
            got = [adapter.search(q[i], K, language) for i in range(n_recall)]
            r = recall(got, truth[fname][:n_recall])
            sweep_rows.append({"setting": setting, "recall": round(r, 4)})
            if r >= target:
                chosen = setting
                break
        reached = chosen is not None
        chosen = chosen if reached else adapter.sweep[-1]
        adapter.apply(chosen)
        lat = []
        got = []
        for i in range(n_latency):
            qi = q[i % len(q)]
            t = time.perf_counter()
            got.append(adapter.search(qi, K, language))
            lat.append((time.perf_counter() - t) * 1000)
        s = summarize(lat)
        out[fname] = {
            "setting": chosen,
            "reached_target": reached,
            "sweep": sweep_rows,
            "latency_ms": s,
            "qps_1_thread": round(1000 / s["mean"], 1),
            "recall_at_setting": round(recall(got[: len(q)], truth[fname][: len(got)]), 4),
        }
        log(f"  {engine} {fname}: {chosen} recall {sweep_rows[-1]['recall']} p50 {s['p50']} ms")
    rec |= {
        "filters": out,
        "query_peak_rss_mib": mib(peak_rss()),
        "rss_end_mib": mib(rss_now()),
        "load_after_queries": os.getloadavg(),
    }
    return rec


# -- driver ----------------------------------------------------------------------------------
def run_stage(args: argparse.Namespace, stage: str, engine: str, out: Path, timeout: float) -> None:
    cmd = [
        sys.executable,
        __file__,
        "--n",
        str(args.n),
        "--work-dir",
        str(args.work_dir),
        "--worker",
        stage,
        "--engine",
        engine,
        "--recall-queries",
        str(args.recall_queries),
        "--latency-queries",
        str(args.latency_queries),
        "--target",
        str(args.target),
        "--result",
        str(out),
    ]
    log(f"stage {stage} {engine} (n={args.n:,}, load {os.getloadavg()[0]:.1f})")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), HF_HUB_OFFLINE="1")
    subprocess.run(cmd, check=True, env=env, timeout=timeout)


def pending(args: argparse.Namespace, res_dir: Path) -> list[str]:
    engines = [e for e in args.engines.split(",") if e]
    return [
        e for e in engines if not (res_dir / f"{e}.query.json").exists() and not _failed(res_dir, e)
    ]


def _failed(res_dir: Path, engine: str) -> bool:
    path = res_dir / f"{engine}.build.json"
    return path.exists() and "error" in json.loads(path.read_text())


def run_batch(args: argparse.Namespace, res_dir: Path) -> None:
    """Inside one hold of the shared lock: the pending engines one after another (build, then
    query, each in its own process) while the stage's budget lasts (--stage-timeout)."""
    start = time.monotonic()
    for engine in pending(args, res_dir):
        for stage in ("build", "query"):
            path = res_dir / f"{engine}.{stage}.json"
            if path.exists():
                continue
            left = args.stage_timeout - (time.monotonic() - start)
            if left < 120:
                return
            try:
                run_stage(args, stage, engine, path, left)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
                log(f"  {engine} {stage} failed: {e}")
                res_dir.joinpath(f"{engine}.build.json").write_text(
                    json.dumps({"error": f"{stage}: {e}", "finished": now_iso()})
                )
                break


def report(args: argparse.Namespace, data: Data, results: dict[str, dict[str, Any]]) -> None:
    rows = []
    for engine, r in results.items():
        b, qr = r.get("build", {}), r.get("query", {})
        for fname, f in qr.get("filters", {}).items():
            rows.append(
                {
                    "engine": engine,
                    "filter": fname,
                    "p50": f["latency_ms"]["p50"],
                    "p99": f["latency_ms"]["p99"],
                    "qps": f["qps_1_thread"],
                    "recall": f["sweep"][-1]["recall"],
                    "reached": f["reached_target"],
                    "setting": f["setting"],
                    "build_s": b.get("build_s"),
                    "disk_mib": b.get("disk_mib"),
                    "build_rss": b.get("build_peak_rss_mib"),
                    "open_rss": qr.get("rss_after_open_mib"),
                    "query_rss": qr.get("query_peak_rss_mib"),
                }
            )
    for row in rows:  # ratios to the best peer (the fastest other engine reaching the target)
        peers = [
            x["p50"]
            for x in rows
            if x["filter"] == row["filter"] and x["reached"] and x["engine"] != row["engine"]
        ]
        row["p50_vs_best_peer"] = round(row["p50"] / min(peers), 2) if peers else None
        base = results[row["engine"]].get("query", {}).get("baseline_rss_mib") or 0.0
        row["index_rss_per_million_mib"] = (
            round((row["query_rss"] - base) * 1e6 / data.meta["n"]) if row["query_rss"] else None
        )
    res = {
        "date": now_iso(),
        "command": " ".join(
            [
                ".venv/bin/python",
                "bench/scale_bench.py",
                *[a for a in sys.argv[1:] if a != "--report-only"],
            ]
        ),
        "machine": machine_facts(PACKAGES),
        "load_average_end": os.getloadavg(),
        "data": data.meta,
        "target_recall": args.target,
        "engines": results,
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
    f = data.meta["filters"]
    md = [
        f"# Vector search at {data.meta['n']:,} episodes: podsearch vs FAISS flat vs LanceDB",
        "",
        f"Command: `{res['command']}`  ",
        f"Date: {res['date']}; {res['machine'].get('cpu_model', '')} ({os.cpu_count()} CPUs, "
        "shared with other jobs; stages ran under flock /work/heavy.lock unless marked below); "
        "load average at the end "
        f"{res['load_average_end'][0]:.2f}.  ",
        f"Data: {data.meta['n']:,} synthetic 384-d vectors in {data.meta['clusters']:,} clusters "
        f"around real mE5-small episode vectors, {data.meta['distinct_shows']:,} shows, "
        f"{YEARS} years of dates (seed {data.meta['seed']}). Filters: `lang10` = language "
        f"{f['lang10']['language']} ({f['lang10']['fraction']:.1%} of vectors), `lang1` = "
        f"{f['lang1']['language']} ({f['lang1']['fraction']:.1%}).  ",
        f"Each engine: the first setting of its sweep with recall@10 >= {args.target} against "
        f"exact search ({args.recall_queries} queries), then {args.latency_queries} single "
        "queries one at a time at that setting (FAISS flat: 100). RSS: the engine's own "
        "process (build; then a fresh process that opens the index and queries).",
        "",
        "| engine | filter | setting | recall@10 | p50 ms | p99 ms | QPS (1 thread) "
        "| p50 / best peer | build s | disk MiB | build peak RSS MiB | RSS after open MiB "
        "| query peak RSS MiB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        setting = ", ".join(f"{k}={v}" for k, v in r["setting"].items()) or "-"
        mark = "" if r["reached"] else " (below target)"
        md.append(
            f"| {r['engine']} | {r['filter']} | {setting} | {r['recall']:.3f}{mark} | "
            f"{r['p50']:.2f} | {r['p99']:.2f} | {r['qps']:.0f} | {r['p50_vs_best_peer']} | "
            f"{r['build_s']} | {r['disk_mib']} | {r['build_rss']} | {r['open_rss']} | "
            f"{r['query_rss']} |"
        )
    outside = [
        e
        for e, r in results.items()
        if any(r.get(st, {}).get("outside_lock") for st in ("build", "query"))
    ]
    if outside:
        md += [
            "",
            "Stages run outside the shared lock (the lock queue was long; other jobs ran "
            "beside them, see each stage's load average in the JSON): " + ", ".join(outside) + ".",
        ]
    missing = [e for e in args.engines.split(",") if e and e not in results]
    if missing:
        md += ["", "Not measured in this run: " + ", ".join(missing) + " (see the JSON)."]
    md += [
        "",
        "Memory per million episodes, from the query process's peak RSS less the RSS "
        "before the engine was opened (Python, numpy and the bench's queries; "
        + (
            "measured at 1 M):"
            if args.n == 1_000_000
            else "linear scaling of a run at this size, not a 1 M measurement):"
        ),
        "",
    ]
    for engine in results:
        qr = results[engine].get("query", {})
        if qr.get("query_peak_rss_mib"):
            per = (
                (qr["query_peak_rss_mib"] - qr.get("baseline_rss_mib", 0.0)) * 1e6 / data.meta["n"]
            )
            md.append(f"- {engine}: {per:.0f} MiB (+ {qr.get('baseline_rss_mib')} MiB baseline)")
    versions = res["machine"].get("versions", {})
    md += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v) + "."]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    log(f"wrote {out}.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--engines", default=",".join(ADAPTERS))
    ap.add_argument("--work-dir", type=Path, default=REPO / "var" / "scale")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--recall-queries", type=int, default=200)
    ap.add_argument("--latency-queries", type=int, default=500)
    ap.add_argument("--target", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="redo cached stages")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--no-lock", action="store_true")
    ap.add_argument("--stage-timeout", type=int, default=15 * 60)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "scale_bench"))
    ap.add_argument("--worker", choices=("build", "query"), help=argparse.SUPPRESS)
    ap.add_argument("--batch", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    base = args.work_dir / f"n{args.n}"
    if args.worker:
        data = Data(base / "data", json.loads((base / "data" / "meta.json").read_text()))
        work = base / "engines" / args.engine
        if args.worker == "build":
            rec = worker_build(args.engine, data, work)
        else:
            rec = worker_query(
                args.engine, data, work, args.recall_queries, args.latency_queries, args.target
            )
        rec["finished"] = now_iso()
        args.result.write_text(json.dumps(rec, indent=1, default=str))
        return
    if not (base / "data" / "meta.json").exists():
        cmd = [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import scale_bench as s; from pathlib import Path; "
            f"s.generate({args.n}, Path({str(base / 'data')!r}), {args.queries}, {args.seed})",
        ]
        log(f"generating {args.n:,} vectors under {base / 'data'}")
        subprocess.run(["flock", LOCK, *cmd] if not args.no_lock else cmd, check=True)
    data = Data(base / "data", json.loads((base / "data" / "meta.json").read_text()))
    results: dict[str, dict[str, Any]] = {}
    res_dir = base / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    for engine in [e for e in args.engines.split(",") if e]:
        if engine not in ADAPTERS:
            raise SystemExit(f"unknown engine {engine}; known: {', '.join(ADAPTERS)}")
        if args.force:
            for stage in ("build", "query"):
                (res_dir / f"{engine}.{stage}.json").unlink(missing_ok=True)
    if args.batch:
        run_batch(args, res_dir)
        return
    while not args.report_only and (todo := pending(args, res_dir)):
        cmd = [
            sys.executable,
            __file__,
            "--batch",
            "--n",
            str(args.n),
            "--work-dir",
            str(args.work_dir),
            "--engines",
            ",".join(todo),
            "--recall-queries",
            str(args.recall_queries),
            "--latency-queries",
            str(args.latency_queries),
            "--target",
            str(args.target),
            "--stage-timeout",
            str(args.stage_timeout),
        ]
        log(f"waiting for {LOCK} for {', '.join(todo)}" if not args.no_lock else "batch")
        subprocess.run(cmd if args.no_lock else ["flock", LOCK, *cmd], check=True)
        if pending(args, res_dir) == todo:
            log("no engine finished in a whole stage: giving up on " + ", ".join(todo))
            break
    for engine in ADAPTERS:
        r = {}
        for stage in ("build", "query"):
            path = res_dir / f"{engine}.{stage}.json"
            if path.exists():
                r[stage] = json.loads(path.read_text())
        if r:
            results[engine] = r
    report(args, data, {e: r for e, r in results.items() if "filters" in r.get("query", {})})


if __name__ == "__main__":
    main()
