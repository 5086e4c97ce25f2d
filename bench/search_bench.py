"""Search benchmark on the ~19,000 real episodes in ../shared/data: podsearch vs LanceDB.

One run measures, on this machine:

1. indexing with podsearch (ingest, encoding, vector + keyword index build, disk, peak RSS);
2. podsearch query latency (dense / keyword / hybrid; encoding cold vs retrieval only; a ~1%
   and a ~10% selective filter) and HNSW recall@10 against exact search on the same vectors;
3. LanceDB (embedded) over the SAME vectors and texts, with the SAME query vectors: vector
   search (ANN index and flat), native full-text search, hybrid (RRF), filtered vector search
   with prefilter=True, recall@10, build time and disk size;
4. a known-item sanity check (an episode's title as the query; an easy proxy, not relevance).

Usage (from the repository root)::

    .venv/bin/python bench/search_bench.py                 # fresh: ingest + encode (~20 min)
    .venv/bin/python bench/search_bench.py --reuse         # reuse var/bench/index if built
    .venv/bin/python bench/search_bench.py --limit 200 --work-dir var/bench/small  # quick

Results: bench/results/search_bench.json and .md (override with --out).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# LanceDB's Rust logger warns on every hybrid query (scoring-column projection): a log line per
# query would be timed too.
os.environ.setdefault("LANCEDB_LOG", "error")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    REPO,
    SHARED_DATA,
    RssSampler,
    Stopwatch,
    benchmark_queries,
    dir_size,
    load_snapshot,
    log,
    machine_facts,
    mib,
    now_iso,
    peak_rss_bytes,
    summarize,
)
from podsearch import Filters, Podsearch  # noqa: E402
from podsearch.errors import PodsearchError  # noqa: E402
from search_data import (  # noqa: E402
    BenchFilter,
    CorpusArrays,
    K,
    choose_filter,
    corpus_arrays,
    exact_topk,
    recall_at,
)
from search_lancedb import TUNING, LanceSide, lance_one, lance_pass  # noqa: E402
from search_report import KNOWN_ITEM_K, caveats, to_markdown  # noqa: E402

PACKAGES = (
    "podsearch", "lancedb", "pylance", "faiss-cpu", "tantivy", "numpy", "torch",
    "sentence-transformers", "transformers", "pyarrow", "pandas", "psutil",
)  # fmt: skip
WARMUP_QUERIES = ("warm up the encoder", "calentamiento", "uppvärmning", "Aufwärmen")


@dataclass(frozen=True)
class Corpus:
    """One source catalog and how to read it."""

    prefix: str
    path: str  # relative to the shared data folder
    fmt: str | None = None
    mapping: dict[str, str] | None = None
    language: str | None = None


# The Sommar CSV has no show columns and Swedish-specific names: map them onto episode fields.
SOMMAR_MAPPING = {
    "episode_id": "sr_episode_id",
    "title": "source_title",
    "description": "short_summary",
    "pub_date": "date",
    "audio_url": "mp3_url",
    "duration_s": "length_seconds",
    "show_title": "=Sommar & Vinter i P1",
    "show_id": "=sommar-i-p1",
}

CORPORA = (
    Corpus("ln:", "listennotes-2017-12-sample"),
    Corpus("taddy:", "taddy-episodes-sample/podcastepisode.parquet"),
    Corpus("spotify:", "spotify-podcasts-metadata-sample/metadata.tsv"),
    Corpus("sommar:", "sommar-i-p1/episodes.csv", mapping=SOMMAR_MAPPING, language="sv"),
)


# ---------------------------------------------------------------------------------------
# 1. indexing
# ---------------------------------------------------------------------------------------
def _ingest(ps: Podsearch, corpus: Corpus, data_dir: Path, limit: int | None) -> dict[str, Any]:
    """Ingest one corpus through the facade (full run) or a per-corpus sample (--limit)."""
    src = data_dir / corpus.path
    with Stopwatch() as sw:
        if limit is None:
            rep = ps.ingest(
                src,
                fmt=corpus.fmt,
                mapping=corpus.mapping,
                id_prefix=corpus.prefix,
                language=corpus.language,
            )
        else:
            # Same two steps as Podsearch.ingest, with the episode list cut to the sample.
            from podsearch.catalog import read_catalog

            data = read_catalog(
                src,
                fmt=corpus.fmt,
                mapping=corpus.mapping,
                id_prefix=corpus.prefix,
                language=corpus.language,
            )
            rnd = random.Random(7)
            keep = sorted(rnd.sample(range(len(data.episodes)), min(limit, len(data.episodes))))
            data.episodes = [data.episodes[i] for i in keep]
            data.read = len(data.episodes) + len(data.skipped)
            rep = ps.store.ingest(data)
    d = rep.to_dict()
    out = {k: d[k] for k in ("read", "imported", "updated", "unchanged", "shows") if k in d}
    out["skipped"] = rep.skipped_count
    out["seconds"] = round(sw.s, 3)
    out["episodes_per_s"] = round(rep.read / sw.s, 1) if sw.s else None
    if rep.skipped:
        reasons: dict[str, int] = {}
        for s in rep.skipped:
            key = s.reason.split("(")[0].strip()[:60]
            reasons[key] = reasons.get(key, 0) + 1
        out["skipped_reasons"] = dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:8])
    if rep.warnings:
        out["warnings"] = rep.warnings[:5]
    return out


def index_sizes(index_dir: Path) -> dict[str, float]:
    sqlite = sum(dir_size(p) for p in index_dir.glob("catalog.sqlite*"))
    parts = {
        "catalog_sqlite_mib": mib(sqlite),
        "vectors_mib": mib(dir_size(index_dir / "vectors")),
        "keyword_mib": mib(dir_size(index_dir / "keyword")),
        "total_mib": mib(dir_size(index_dir)),
    }
    return parts


def build_podsearch(args: argparse.Namespace, sampler: RssSampler) -> dict[str, Any]:
    """A fresh index: ingest the four corpora, then encode and build both indexes."""
    index_dir: Path = args.work_dir
    if index_dir.exists():
        shutil.rmtree(index_dir)
    rec: dict[str, Any] = {"built_at": now_iso(), "limit_per_corpus": args.limit}
    rec["command"] = args.command
    ps = Podsearch(index_dir, model=args.model)
    corpora: dict[str, Any] = {}
    ing: dict[str, Any] = {}
    with sampler.phase(ing), Stopwatch() as sw:
        for c in CORPORA:
            log(f"ingest {c.path} (id_prefix {c.prefix!r})")
            corpora[c.prefix.rstrip(":")] = _ingest(ps, c, args.data_dir, args.limit)
            log(f"  -> {corpora[c.prefix.rstrip(':')]}")
    n_eps = ps.store.count()
    ing.update(seconds=round(sw.s, 3), episodes=n_eps, episodes_per_s=round(n_eps / sw.s, 1))
    rec["corpora"] = corpora
    rec["ingest"] = ing

    enc_rec: dict[str, Any] = {}
    with Stopwatch() as sw:
        enc = ps.encoder()
    enc_rec["model_load_seconds"] = round(sw.s, 3)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last[0] > 30:
            last[0] = now
            log(f"  encoded {done}/{total}")

    build: dict[str, Any] = {}
    log(f"build_index with {enc.name} (dim {enc.dim}) over {n_eps} episodes")
    rec["load_before_build"] = load_snapshot()
    with sampler.phase(build), Stopwatch() as sw_build:
        report = ps.build_index(progress=progress)
    build["cores_used"] = round(sw_build.cpu / sw_build.s, 2)
    r = report.to_dict()  # the engine times its own stages
    vec_s, kw_s = report.vector_index_seconds, report.keyword_index_seconds
    build.update(
        model=r["model"],
        dim=enc.dim,
        encoded=r["encoded"],
        total_indexed=r["total_indexed"],
        encode_seconds=r["encode_seconds"],
        encode_episodes_per_s=r["episodes_per_second"],
        build_index_seconds=r["seconds"],
        vector_index_seconds=round(vec_s, 3),
        keyword_index_seconds=round(kw_s, 3),
        index_build_seconds=round(vec_s + kw_s, 3),
        **enc_rec,
    )
    rec["build"] = build
    rec["disk"] = index_sizes(index_dir)
    rec["peak_rss_mib_process_after_build"] = mib(peak_rss_bytes())
    ps.close()
    return rec


def open_or_build(args: argparse.Namespace, sampler: RssSampler) -> tuple[Podsearch, dict]:
    record_path = args.work_dir.with_name(args.work_dir.name + ".build.json")
    if args.reuse and record_path.exists() and (args.work_dir / "catalog.sqlite").exists():
        rec = json.loads(record_path.read_text())
        if args.limit is not None and args.limit != rec.get("limit_per_corpus"):
            sys.exit(
                f"{args.work_dir} was built with --limit {rec.get('limit_per_corpus')}; "
                f"run without --reuse to rebuild with --limit {args.limit}"
            )
        args.limit = rec.get("limit_per_corpus")
        ps = Podsearch(args.work_dir, model=args.model)
        st = ps.stats()
        if st["indexed"] != st["episodes"] or st["model"] != ps.model_name:
            sys.exit(
                f"{args.work_dir} is not fully indexed with {ps.model_name} ({st['indexed']}/"
                f"{st['episodes']} with {st['model']}); run without --reuse"
            )
        log(f"reusing {args.work_dir} built at {rec['built_at']} ({st['indexed']} episodes)")
        rec["reused"] = True
        return ps, rec
    if args.reuse:
        log(f"--reuse: no built index at {args.work_dir}, building it")
    rec = build_podsearch(args, sampler)
    rec["reused"] = False
    record_path.write_text(json.dumps(rec, indent=2, ensure_ascii=False))
    return Podsearch(args.work_dir, model=args.model), rec


# ---------------------------------------------------------------------------------------
# 2. podsearch queries
# ---------------------------------------------------------------------------------------
def _reset_query_cache(ps: Podsearch) -> None:
    ps.searcher.cache = type(ps.searcher.cache)(ps.searcher.cache.size)


def ps_query(
    ps: Podsearch, q: str, mode: str, filters: Filters | None, k: int = K
) -> tuple[float, list[str], dict[str, float]]:
    """One query as a user sends it: wall ms, hit ids and ``timings_ms`` by stage."""
    t0 = time.perf_counter()
    res = ps.search(q, k=k, mode=mode, filters=filters)
    wall = (time.perf_counter() - t0) * 1000
    t = dict(res.timings_ms)
    if mode == "hybrid":
        t["retrieval_ms"] = t.get("dense_ms", 0.0) + t.get("keyword_ms", 0.0)
    return wall, [h.episode_id for h in res.hits], t


def bench_podsearch_cold(ps: Podsearch, queries: list[str]) -> tuple[dict[str, Any], np.ndarray]:
    """Query encoding with the query-vector cache cold; returns the vectors it then holds."""
    lat: dict[str, Any] = {}
    rec: dict[str, Any] = {"latency_ms": lat}
    # Load the model's kernels and open every index once, on queries outside the set.
    ps.searcher.encode_queries(list(WARMUP_QUERIES))
    for mode in ("dense", "keyword", "hybrid"):
        ps.search("warm up", mode=mode)
    for mode in ("dense", "hybrid"):
        _reset_query_cache(ps)
        enc: list[float] = []
        wall: list[float] = []
        for q in queries:
            w, _ids, t = ps_query(ps, q, mode, None)
            wall.append(w)
            enc.append(t["encode_ms"])
        lat[f"{mode}/cold/encode"] = summarize(enc)
        lat[f"{mode}/cold/end_to_end"] = summarize(wall)
        log(f"  podsearch {mode} cold: encode {lat[f'{mode}/cold/encode']}")
    # Batched encoding (search_batch), cold: the throughput a bulk client sees.
    _reset_query_cache(ps)
    with Stopwatch() as sw:
        ps.search_batch(queries, k=K, mode="dense")
    rec["search_batch_dense_cold"] = {
        "queries": len(queries),
        "seconds": round(sw.s, 3),
        "queries_per_s": round(len(queries) / sw.s, 1),
    }
    # Every query vector is now cached: later passes measure retrieval (+ fusion, hydration).
    # These exact vectors also go to LanceDB and to the exact search.
    return rec, ps.searcher.encode_queries(queries)


@dataclass
class Paired:
    """podsearch and (optionally) LanceDB timed on the same queries, alternating per query so
    that both see the same background load."""

    ps_wall: list[float]
    ps_stages: dict[str, list[float]]
    ps_ids: list[list[str]]
    lance_wall: list[float]
    lance_ids: list[list[str]]
    lance_errors: int


def run_paired(
    ps: Podsearch | None,
    queries: Sequence[str],
    mode: str,
    flt: Filters | None,
    lance_fn: Callable[[int], Any] | None,
    repeats: int,
) -> Paired:
    out = Paired([], {}, [], [], [], 0)
    for rep in range(repeats + 1):  # pass 0 warms caches and is not counted
        ps_ids: list[list[str]] = []
        lance_ids: list[list[str]] = []
        for i, q in enumerate(queries):
            for side in ("ps", "lance") if (i + rep) % 2 == 0 else ("lance", "ps"):
                if side == "ps" and ps is not None:
                    w, ids, t = ps_query(ps, q, mode, flt)
                    ps_ids.append(ids)
                    if rep:
                        out.ps_wall.append(w)
                        for name, v in t.items():
                            out.ps_stages.setdefault(name, []).append(v)
                elif side == "lance" and lance_fn is not None:
                    w_l, ids_l, err = lance_one(lance_fn, i)
                    lance_ids.append(ids_l)
                    if rep:
                        out.lance_wall.append(w_l)
                        out.lance_errors += err
        out.ps_ids, out.lance_ids = ps_ids, lance_ids
    return out


def bench_queries(
    ps: Podsearch,
    side: LanceSide | None,
    queries: list[str],
    qv: np.ndarray,
    ca: CorpusArrays,
    filters: list[BenchFilter],
    sampler: RssSampler,
    *,
    repeats: int,
    kinds: Sequence[str],
) -> dict[str, Any]:
    """Warm-cache latency and recall of podsearch, each measurement paired with the matching
    LanceDB query when ``side`` is given (vector indexes are built here, one kind at a time)."""
    ps_lat: dict[str, Any] = {}
    ps_recall: dict[str, float] = {}
    empties: dict[str, int] = {}
    lance_lat: dict[str, Any] = {}
    lance_recall: dict[str, float] = {}
    lance_errors: dict[str, int] = {}
    main_rows: list[dict[str, Any]] = []
    extra_rows: list[dict[str, Any]] = []
    truths = {None: exact_topk(qv, ca, None, K)}
    truths.update({f.name: exact_topk(qv, ca, f.mask, K) for f in filters})
    settings: list[BenchFilter | None] = [None, *filters]
    retrieval = {"dense": "dense_ms", "keyword": "keyword_ms", "hybrid": "retrieval_ms"}
    # The vector index alone at k = 10: its ANN recall against exact search. Dense *mode* may
    # re-rank a deeper candidate list (hubness correction), so its top 10 is not pure cosine.
    vi = ps.vector_index()
    index_recall: dict[str, float] = {}
    for bf in settings:
        label = bf.name if bf else "unfiltered"
        flt = bf.filters if bf else None
        walls: list[float] = []
        got: list[list[str]] = []
        for rep in range(repeats + 1):
            got = []
            for i in range(len(queries)):
                t0 = time.perf_counter()
                hits = vi.search(qv[i : i + 1], K, flt)[0]
                if rep:
                    walls.append((time.perf_counter() - t0) * 1000)
                got.append([d for d, _ in hits])
        ps_lat[f"dense/{label}/vector_index_only_k10"] = summarize(walls)
        index_recall[label] = recall_at(got, truths[bf.name if bf else None], K)
        log(f"  FAISS index alone, {label}: {ps_lat[f'dense/{label}/vector_index_only_k10']} "
            f"recall@10 {index_recall[label]}")  # fmt: skip

    def run(
        what: str,
        mode: str,
        bf: BenchFilter | None,
        lance_key: str | None = None,
        lance_fn: Callable[[int], Any] | None = None,
        main: bool = False,
    ) -> None:
        label = bf.name if bf else "unfiltered"
        flt = bf.filters if bf else None
        p = run_paired(ps, queries, mode, flt, lance_fn, repeats)
        exact = truths[bf.name if bf else None]
        ps_ret = summarize(p.ps_stages[retrieval[mode]])
        ps_wall = summarize(p.ps_wall)
        if main:
            key = f"{mode}/{label}"
            ps_lat[f"{key}/retrieval"] = ps_ret
            ps_lat[f"{key}/fuse_hydrate"] = summarize(p.ps_stages["fuse_hydrate_ms"])
            ps_lat[f"{key}/end_to_end_warm"] = ps_wall
            if mode == "hybrid":
                ps_lat[f"{key}/dense_part"] = summarize(p.ps_stages["dense_ms"])
                ps_lat[f"{key}/keyword_part"] = summarize(p.ps_stages["keyword_ms"])
            if mode == "dense":
                ps_recall[f"{label}/dense_mode_vs_exact_cosine"] = recall_at(p.ps_ids, exact, K)
            n_empty = sum(1 for r in p.ps_ids if not r)
            if n_empty:
                empties[key] = n_empty
        msg = f"  {what}: podsearch retrieval {ps_ret['p50']} wall {ps_wall['p50']} ms"
        if lance_key is None:
            log(msg)
            return
        lance_lat[lance_key] = summarize(p.lance_wall)
        if p.lance_errors:
            lance_errors[lance_key] = p.lance_errors
        if lance_key.startswith("vector"):
            lance_recall[lance_key] = recall_at(p.lance_ids, exact, K)
        row = {
            "what": what,
            "podsearch_retrieval": ps_ret,
            "podsearch_wall": ps_wall,
            "lancedb_key": lance_key,
            "lancedb": lance_lat[lance_key],
            "podsearch_recall_at_10": index_recall[label] if mode == "dense" else None,
            "podsearch_dense_mode_overlap_at_10": (
                recall_at(p.ps_ids, exact, K) if mode == "dense" else None
            ),
            "lancedb_recall_at_10": lance_recall.get(lance_key),
        }
        (main_rows if main else extra_rows).append(row)
        log(f"{msg}; lancedb {lance_key} {lance_lat[lance_key]['p50']} ms")

    if side is None:
        for bf in settings:
            for mode in ("dense", "keyword", "hybrid"):
                run(f"{mode}/{bf.name if bf else 'unfiltered'}", mode, bf, main=True)
        return {
            "podsearch": {
                "latency_ms": ps_lat,
                "recall_at_10": {
                    **{f"{k}/vector_index": v for k, v in index_recall.items()},
                    **ps_recall,
                },
                "empty": empties,
            },
        }

    w_l, _ids, _e = lance_pass(lambda i: side.scan_one(), len(queries))
    w_l, _ids, _e = lance_pass(lambda i: side.scan_one(), len(queries) * repeats)
    lance_lat["scan_limit_1"] = summarize(w_l)
    for bf in settings:
        where = bf.lance_where if bf else None
        suffix = f", filter {bf.name}" if bf else ""
        run(
            f"dense vs vector flat (exact){suffix}",
            "dense",
            bf,
            "vector/flat" + (f"/{bf.name}" if bf else ""),
            lambda i, w=where: side.vector(qv[i], K, where=w, flat=True),
        )
    primary = kinds[0]
    vix: dict[str, Any] = {}
    for kind in [*kinds[1:], primary]:  # the primary last: it stays for hybrid and filters
        log(f"lancedb: building {kind}")
        info: dict[str, Any] = {}
        with sampler.phase(info):
            info.update(side.create_vector_index(kind))
        vix[kind] = info
        log(f"  {info}")
        tuning = TUNING.get(kind)
        if tuning:
            name = ",".join(f"{a}={b}" for a, b in tuning.items())
            info["tuned_key"] = f"vector/{kind}[{name}]"
            run(
                f"dense vs vector {kind} [{name}]",
                "dense",
                None,
                info["tuned_key"],
                lambda i, t=tuning: side.vector(qv[i], K, tuning=t),
            )
        if kind == primary:
            break
        for bf in settings:
            where = bf.lance_where if bf else None
            suffix = f", filter {bf.name}" if bf else ""
            run(
                f"dense vs vector {kind}{suffix}",
                "dense",
                bf,
                f"vector/{kind}" + (f"/{bf.name}" if bf else ""),
                lambda i, w=where: side.vector(qv[i], K, where=w),
            )
    for bf in settings:
        where = bf.lance_where if bf else None
        sfx = f"/{bf.name}" if bf else ""
        txt = f", filter {bf.name}" if bf else ""
        run(
            f"dense vs vector {primary}{txt}",
            "dense",
            bf,
            f"vector/{primary}{sfx}",
            lambda i, w=where: side.vector(qv[i], K, where=w),
            main=True,
        )
        run(
            f"keyword vs FTS{txt}",
            "keyword",
            bf,
            f"fts{sfx}",
            lambda i, w=where: side.fts(queries[i], K, where=w),
            main=True,
        )
        run(
            f"hybrid vs hybrid{txt}",
            "hybrid",
            bf,
            f"hybrid{sfx}",
            lambda i, w=where: side.hybrid(qv[i], queries[i], K, where=w),
            main=True,
        )
    lance = side.rec
    lance.update(
        latency_ms=lance_lat,
        recall_at_10=lance_recall,
        errors=lance_errors,
        vector_indexes=vix,
        primary_vector_index=primary,
        disk=side.disk(),
    )
    return {
        "podsearch": {
            "latency_ms": ps_lat,
            "recall_at_10": {
                **{f"{k}/vector_index": v for k, v in index_recall.items()},
                **ps_recall,
            },
            "empty": empties,
        },
        "lancedb": lance,
        "comparison": main_rows + extra_rows,
    }


# ---------------------------------------------------------------------------------------
# 4. known item (title as query)
# ---------------------------------------------------------------------------------------
def known_item(ps: Podsearch, ca: CorpusArrays, n: int, lance: LanceSide | None) -> dict[str, Any]:
    lower = [t.strip().lower() for t in ca.title]
    counts: dict[str, int] = {}
    for t in lower:
        counts[t] = counts.get(t, 0) + 1
    pool = [
        i
        for i, doc_id in enumerate(ca.ids)
        if doc_id.startswith("ln:") and counts[lower[i]] == 1 and len(lower[i]) >= 3
    ]
    pick = sorted(random.Random(11).sample(pool, min(n, len(pool))))
    titles = [ca.title[i] for i in pick]
    targets = [ca.ids[i] for i in pick]
    out: dict[str, Any] = {
        "sample": len(pick),
        "from": "Listen Notes episodes whose title is unique in the index",
        "k": KNOWN_ITEM_K,
        "note": "query = the episode's own title (which is part of the indexed text): an easy "
        "proxy that checks the plumbing, not a relevance judgement",
    }

    def score(runs: list[list[str]]) -> dict[str, float]:
        rr = []
        for got, t in zip(runs, targets, strict=True):
            r = got.index(t) + 1 if t in got else None
            rr.append(1.0 / r if r else 0.0)
        found = sum(1 for x in rr if x > 0)
        return {
            f"recall@{KNOWN_ITEM_K}": round(found / len(rr), 4),
            f"mrr@{KNOWN_ITEM_K}": round(float(np.mean(rr)), 4),
        }

    res: dict[str, Any] = {}
    for mode in ("dense", "keyword", "hybrid"):
        runs = []
        for t in titles:
            try:
                runs.append([h.episode_id for h in ps.search(t, k=KNOWN_ITEM_K, mode=mode).hits])
            except PodsearchError:
                runs.append([])
        res[f"podsearch/{mode}"] = score(runs)
    if lance is not None:
        tv = ps.searcher.encode_queries(titles)
        runners: dict[str, Callable[[int], Any]] = {
            "vector": lambda i: lance.vector(tv[i], KNOWN_ITEM_K),
            "fts": lambda i: lance.fts(titles[i], KNOWN_ITEM_K),
            "hybrid": lambda i: lance.hybrid(tv[i], titles[i], KNOWN_ITEM_K),
        }
        for name, run in runners.items():
            _w, ids, _e = lance_pass(run, len(titles))
            res[f"lancedb/{name}"] = score(ids)
    out["results"] = res
    return out


def code_version() -> dict[str, Any]:
    """The commit the library code was at, and whether src/ had uncommitted changes."""

    def git(*a: str) -> str:
        try:
            out = subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_dirty": bool(git("status", "--porcelain", "src")),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="me5-small", help="encoder alias, HF name or path")
    ap.add_argument("--limit", type=int, default=None, help="episodes per corpus (quick run)")
    ap.add_argument("--reuse", action="store_true", help="reuse the index in --work-dir")
    ap.add_argument("--work-dir", type=Path, default=REPO / "var" / "bench" / "index")
    ap.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "search_bench")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3, help="measured passes per setting")
    ap.add_argument(
        "--lance-index",
        default="IVF_HNSW_SQ,IVF_PQ",
        help="LanceDB vector index types; the first one is kept for hybrid and filters",
    )
    ap.add_argument("--no-lancedb", action="store_true")
    ap.add_argument("--known-item", type=int, default=300, help="0 to skip")
    args = ap.parse_args(argv)
    args.work_dir = args.work_dir.resolve()
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    cmd_args = list(sys.argv[1:] if argv is None else argv)
    command = shlex.join([".venv/bin/python", "bench/search_bench.py", *cmd_args])
    args.command = command
    sampler = RssSampler()
    res: dict[str, Any] = {
        "benchmark": "search_bench",
        "command": command,
        "date": now_iso(),
        "machine": machine_facts(PACKAGES),
        "config": {
            "model": args.model,
            "limit_per_corpus": args.limit,
            "k": K,
            "repeats": args.repeats,
            "work_dir": str(args.work_dir.relative_to(REPO))
            if args.work_dir.is_relative_to(REPO)
            else str(args.work_dir),
            "corpora": [
                {
                    "id_prefix": c.prefix,
                    "path": c.path,
                    "mapping": c.mapping,
                    "language": c.language,
                }
                for c in CORPORA
            ],  # fmt: skip
        },
        "rss_mib": {},
    }
    t_start = time.perf_counter()
    log(f"search_bench: {command}")
    ps, ix = open_or_build(args, sampler)
    res["config"]["limit_per_corpus"] = args.limit
    res["indexing"] = ix
    res["rss_mib"]["peak_ingest"] = ix["ingest"].get("peak_rss_mib")
    res["rss_mib"]["peak_build_index"] = ix["build"].get("peak_rss_mib")
    st = ps.stats()
    res["index_stats"] = {k: st[k] for k in ("episodes", "shows", "indexed", "model", "dim")}
    res["index_stats"]["languages"] = dict(
        sorted(st["languages"].items(), key=lambda kv: -kv[1])[:15]
    )
    res["code"] = code_version()
    fusion = dataclasses.asdict(ps.searcher.fusion)
    hubs = ps.store.get_meta("hub_probes_model")
    res["podsearch_settings"] = {
        "fusion": fusion,
        "hub_scores_from_model": hubs,
        "faiss": {
            k: getattr(ps.vector_index(), k, None)
            for k in ("m", "ef_construction", "ef_search", "exact_fraction", "exact_max")
        },
    }

    queries, qinfo = benchmark_queries(args.queries)
    res["queries"] = qinfo
    log("reading the stored vectors and episode fields")
    ca = corpus_arrays(ps)
    filters = [choose_filter(ca, 0.01, "1pct"), choose_filter(ca, 0.10, "10pct")]
    res["filters"] = {f.name: f.to_dict(len(ca.ids)) for f in filters}
    log(f"filters: {res['filters']}")
    res["load"] = {"before_podsearch_cold_queries": load_snapshot()}
    log("podsearch: query encoding, cold cache")
    # No RSS sampling thread while queries are timed (see RssSampler): RSS after, instead.
    cold, qv = bench_podsearch_cold(ps, queries)
    res["rss_mib"]["after_podsearch_cold_queries"] = mib(sampler.current())
    lance: LanceSide | None = None
    if not args.no_lancedb:
        log("lancedb: table, FTS and scalar indexes")
        lance = LanceSide(args.work_dir.parent / "lancedb", ca, sampler)
        res["rss_mib"]["peak_lancedb_write_table"] = lance.rec.get("write_peak_rss_mib")
        res["rss_mib"]["peak_lancedb_fts_index"] = lance.rec.get("fts_peak_rss_mib")
    res["load"]["before_warm_queries"] = load_snapshot()
    log("warm queries" + (", podsearch and LanceDB alternating" if lance else ""))
    kinds = [x.strip() for x in args.lance_index.split(",") if x.strip()]
    with Stopwatch() as sw:
        out = bench_queries(
            ps, lance, queries, qv, ca, filters, sampler, repeats=args.repeats, kinds=kinds
        )
    res["podsearch"] = out["podsearch"]
    res["podsearch"]["latency_ms"] = {**cold.pop("latency_ms"), **res["podsearch"]["latency_ms"]}
    res["podsearch"].update(cold)
    res["warm_phase"] = {"seconds": round(sw.s, 1), "cores_used": round(sw.cpu / sw.s, 2)}
    if lance is not None:
        res["lancedb"] = out["lancedb"]
        res["comparison"] = out["comparison"]
        for kind, info in res["lancedb"]["vector_indexes"].items():
            res["rss_mib"][f"peak_lancedb_{kind}_index"] = info.get("peak_rss_mib")
    res["rss_mib"]["after_warm_queries"] = mib(sampler.current())
    if args.known_item:
        log("known-item check")
        res["known_item"] = known_item(ps, ca, args.known_item, lance)
    res["rss_mib"]["peak_process"] = mib(peak_rss_bytes())
    res["load"]["end"] = load_snapshot()
    res["caveats"] = caveats(res["podsearch_settings"])
    res["seconds_total"] = round(time.perf_counter() - t_start, 1)
    ps.close()

    md = to_markdown(res)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n")
    args.out.with_suffix(".md").write_text(md)
    print(md, flush=True)
    log(f"wrote {args.out.with_suffix('.json')} and .md in {res['seconds_total']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
