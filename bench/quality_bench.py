"""Retrieval quality on queries nobody tuned for: every mode and every ablation, one run.

Runs the hand-written known-item queries of ``eval/queries/curated.jsonl`` (their ``split``
field separates the queries settings were tuned on from the held-out ones) against an index of
the four corpora in ../shared/data (``var/bench/index``, built as bench/README.md says) and
scores, with ir-measures (R@1/10/30, MRR@30, nDCG@10):

* the engine's own modes end to end (``Podsearch.search_batch``: what users get);
* the candidate generators: exact cosine over the stored vectors and FAISS HNSW at several
  ``efSearch`` values, with their recall of the exact top 30, how many targets they lose
  against exact search, and their latency;
* CSLS hubness correction on and off, over exact and HNSW candidates;
* keyword ranking: the engine's keyword index vs a plain BM25 (``bm25s``, English stop words)
  over the same episode texts;
* fusion: plain RRF (k=60) of exact cosine and plain BM25, convex fusion with a fixed keyword
  weight, and the engine's query-class fusion (keyword weight by query class);

by split (tune / held-out), by query kind, corpus and cross-lingual direction, plus a set of
"title" queries (an episode's exact title: the class where keyword search should win).

    .venv/bin/python bench/quality_bench.py --index var/bench/index
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from podsearch import Podsearch
from podsearch.evaluate import evaluate_runs
from podsearch.index.faiss_index import FaissVectorIndex
from podsearch.index.tantivy_index import TantivyKeywordIndex
from podsearch.search.fusion import convex_fusion, reciprocal_rank_fusion
from podsearch.search.querylang import (
    CROSS_LINGUAL,
    RULES,
    TITLE,
    QueryClassifier,
    is_title_query,
)

PREFIX = {"listennotes": "ln:", "taddy": "taddy:", "spotify": "spotify:", "sommar": "sommar:"}
MEASURES = ("R@1", "R@10", "R@30", "RR@30", "nDCG@10")
DEPTH = 100
EF_VALUES = (128, 512, 2048)
Run = dict[str, dict[str, float]]


def load_queries(path: Path) -> tuple[dict[str, str], dict[str, dict[str, int]], dict[str, dict]]:
    texts, qrels, meta = {}, {}, {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        p = PREFIX[q["corpus"]]
        texts[q["qid"]] = q["query"]
        qrels[q["qid"]] = {p + e: 1 for e in [q["episode_id"], *q.get("also_relevant", [])]}
        q.setdefault("split", "tune")
        meta[q["qid"]] = q
    return texts, qrels, meta


def to_run(ranked: Sequence[str], depth: int = 30) -> dict[str, float]:
    return {d: float(depth - i) for i, d in enumerate(ranked[:depth])}


def topk(scores: np.ndarray, k: int) -> np.ndarray:
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def pct(xs: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(xs), p)) if xs else 0.0


def timed(fn: Callable[[], Any], repeats: int) -> tuple[Any, list[float]]:
    out, ts = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append((time.perf_counter() - t) * 1000)
    return out, ts


def plain_bm25(ids: list[str], texts: list[str]) -> Callable[[str, int], list[tuple[str, float]]]:
    """bm25s with its English stop words and no stemming: the 'plain BM25' baseline."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def search(query: str, k: int) -> list[tuple[str, float]]:
        tok = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tok.ids[0]:
            return []
        docs, scores = retriever.retrieve(tok, k=k, show_progress=False)
        return [(ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    return search


def main() -> None:  # noqa: C901 - one linear script
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=Path("var/bench/index"))
    ap.add_argument("--queries", type=Path, default=Path("eval/queries/curated.jsonl"))
    ap.add_argument("--out", type=Path, default=Path("bench/results/quality_bench"))
    ap.add_argument("--titles", type=int, default=200, help="exact-title queries (0: none)")
    ap.add_argument("--repeats", type=int, default=3, help="latency passes per setting")
    ap.add_argument("--backend", default=None, help="query encoder backend (default: engine's)")
    args = ap.parse_args()
    t_start = time.time()
    ps = Podsearch(args.index, **({"backend": args.backend} if args.backend else {}))
    texts, qrels, meta = load_queries(args.queries)
    vi = ps.vector_index()
    kw = ps.keyword_index()
    ids = vi.ids()
    vec_map = vi.get_vectors(ids)
    V = np.stack([vec_map[i] for i in ids]).astype(np.float32)
    pos = {d: i for i, d in enumerate(ids)}
    hub_map = ps.store.hub_scores(ids)
    if len(hub_map) != len(ids):
        raise SystemExit(f"{len(ids) - len(hub_map)} episodes lack hub scores: run podsearch index")
    hub = np.array([hub_map[i] for i in ids], dtype=np.float32)
    episodes = ps.store.get_many(ids)
    lang = {d: episodes[d].language for d in ids}

    # Exact-title queries: sampled episodes whose title is specific (>= 4 words, unique).
    title_count: dict[str, int] = {}
    for d in ids:
        title_count[episodes[d].title.lower()] = title_count.get(episodes[d].title.lower(), 0) + 1
    pool = [
        d
        for d in ids
        if len(episodes[d].title.split()) >= 4 and title_count[episodes[d].title.lower()] == 1
    ]
    for n, d in enumerate(random.Random(11).sample(pool, min(args.titles, len(pool)))):
        qid = f"t{n:03d}"
        texts[qid] = episodes[d].title
        qrels[qid] = {d: 1}
        meta[qid] = {"kind": "title", "split": "title", "corpus": d.split(":")[0]}
    qids = list(texts)
    print(f"{len(ids)} episodes, {len(qids)} queries", flush=True)

    # Query vectors, encoded once (the engine's own encoder and prefixes).
    enc = ps.encoder()
    qv = enc.encode_queries([texts[q] for q in qids])
    _, enc_ms = timed(lambda: enc.encode_queries(["how to stay healthy over christmas"]), 20)

    runs: dict[str, Run] = {}
    latency: dict[str, list[float]] = {}
    candidates: dict[str, dict[str, list[tuple[str, float]]]] = {}

    def put(name: str, qid: str, ranked: Sequence[str]) -> None:
        runs.setdefault(name, {})[qid] = to_run(ranked)

    # -- dense candidates: exact and HNSW ---------------------------------------------------
    exact: dict[str, list[tuple[str, float]]] = {}
    ts = []
    for i, q in enumerate(qids):
        s = V @ qv[i]
        exact[q] = [(ids[j], float(s[j])) for j in topk(s, DEPTH)]
    # The engine's own index answers exactly below its size threshold: time that, and check it.
    for _ in range(args.repeats):
        for i, q in enumerate(qids):
            t = time.perf_counter()
            got = vi.search(qv[i : i + 1], DEPTH)[0]
            ts.append((time.perf_counter() - t) * 1000)
            # Same top 30 up to float rounding (einsum and BLAS sum in different orders, so
            # near-ties may swap): compare the scores.
            if not np.allclose([x for _, x in got[:30]], [x for _, x in exact[q][:30]], atol=1e-5):
                raise SystemExit(f"the engine's exact search differs from numpy on {q}")
    candidates["exact"] = exact
    latency["dense candidates: exact (FaissVectorIndex below its threshold)"] = ts
    ts_exact = ts
    ann_rows = []
    for ef in EF_VALUES:
        hnsw = FaissVectorIndex(args.index / "vectors", V.shape[1], ef_search=ef, exact_max=0)
        hnsw.exact_fraction = 0.0
        found: dict[str, list[tuple[str, float]]] = {}
        ts = []
        for _ in range(args.repeats):
            for i, q in enumerate(qids):
                t = time.perf_counter()
                found[q] = hnsw.search(qv[i : i + 1], DEPTH)[0]
                ts.append((time.perf_counter() - t) * 1000)
        candidates[f"hnsw ef={ef}"] = found
        latency[f"dense candidates: hnsw ef={ef}"] = ts
        overlap = [
            len({d for d, _ in found[q][:30]} & {d for d, _ in exact[q][:30]}) / 30 for q in qids
        ]
        lost = sum(
            1
            for q in qids
            if any(d in qrels[q] for d, _ in exact[q][:30])
            and not any(d in qrels[q] for d, _ in found[q][:30])
        )
        in_exact = sum(1 for q in qids if any(d in qrels[q] for d, _ in exact[q][:30]))
        ann_rows.append(
            {
                "setting": f"hnsw ef={ef}",
                "recall_of_exact_top30": round(float(np.mean(overlap)), 4),
                "min_recall_of_exact_top30": round(float(np.min(overlap)), 4),
                "targets_lost_vs_exact": lost,
                "targets_in_exact_top30": in_exact,
                "p50_ms": round(pct(ts, 50), 3),
                "p95_ms": round(pct(ts, 95), 3),
            }
        )
        hnsw.close()
    ann_rows.insert(
        0,
        {
            "setting": "exact (engine default below the threshold)",
            "recall_of_exact_top30": 1.0,
            "min_recall_of_exact_top30": 1.0,
            "targets_lost_vs_exact": 0,
            "targets_in_exact_top30": ann_rows[0]["targets_in_exact_top30"],
            "p50_ms": round(pct(ts_exact, 50), 3),
            "p95_ms": round(pct(ts_exact, 95), 3),
        },
    )

    beta = ps.searcher.fusion.hubness_beta
    for cname, cand in candidates.items():
        for q in qids:
            put(f"cosine, {cname}", q, [d for d, _ in cand[q]])
            put(
                f"cosine + csls b={beta}, {cname}",
                q,
                sorted(
                    (d for d, _ in cand[q]), key=lambda d: -(dict(cand[q])[d] - beta * hub[pos[d]])
                ),
            )
    for b in (0.25, 0.75, 1.0):
        for q in qids:
            c = dict(exact[q])
            put(
                f"cosine + csls b={b}, exact", q, sorted(c, key=lambda d: -(c[d] - b * hub[pos[d]]))
            )
    # CSLS over the whole index (not only the top-100 cosine candidates).
    for q_i, q in enumerate(qids):
        s = V @ qv[q_i] - beta * hub
        put(f"cosine + csls b={beta}, exact over all", q, [ids[j] for j in topk(s, DEPTH)])

    # -- keyword: engine vs plain BM25 --------------------------------------------------------
    keyword: dict[str, list[tuple[str, float]]] = {}
    ts = []
    for q in qids:
        t = time.perf_counter()
        keyword[q] = kw.search(texts[q], DEPTH)
        ts.append((time.perf_counter() - t) * 1000)
        put("keyword: podsearch (tantivy)", q, [d for d, _ in keyword[q]])
    latency["keyword: podsearch (tantivy)"] = ts
    variants = {
        "keyword ablation: fields summed, title x2 (before)": {"tie_breaker": None},
        "keyword ablation: dismax, stop words kept": {"drop_stopwords": False},
        "keyword ablation: dismax, title x2": {"title_boost": 2.0},
        "keyword ablation: dismax, title x1.5": {"title_boost": 1.5},
        "keyword ablation: dismax, tie 0.3": {"tie_breaker": 0.3},
        "keyword ablation: dismax, tie 0": {"tie_breaker": 0.0},
    }
    for name, kwargs in variants.items():
        alt = TantivyKeywordIndex(args.index / "keyword", **kwargs)  # type: ignore[arg-type]
        for q in qids:
            put(name, q, [d for d, _ in alt.search(texts[q], DEPTH)])
        alt.close()
    bm25 = plain_bm25(ids, [episodes[d].text for d in ids])
    plain: dict[str, list[tuple[str, float]]] = {}
    ts = []
    for q in qids:
        t = time.perf_counter()
        plain[q] = bm25(texts[q], DEPTH)
        ts.append((time.perf_counter() - t) * 1000)
        put("keyword: plain BM25 (bm25s, en stop words)", q, [d for d, _ in plain[q]])
    latency["keyword: plain BM25 (bm25s)"] = ts

    # -- fusion ---------------------------------------------------------------------------
    catalog_langs = sorted({x for x in lang.values() if x})
    classifiers = {r: QueryClassifier(catalog_langs, rule=r) for r in RULES}
    engine_rule = QueryClassifier(catalog_langs).rule  # the rule hybrid search uses by default
    classes: dict[str, dict[str, str]] = {}
    w0 = ps.searcher.fusion.keyword_weight
    for q_i, q in enumerate(qids):
        rrf = reciprocal_rank_fusion([exact[q], plain[q]])
        put("plain RRF k=60 (exact cosine + plain BM25)", q, [d for d, _, _ in rrf])
        cand = list(dict.fromkeys([d for d, _ in exact[q]] + [d for d, _ in keyword[q]]))
        cos = {d: float(V[pos[d]] @ qv[q_i]) for d in cand}
        adj = {d: cos[d] - beta * hub[pos[d]] for d in cand}
        d_adj = sorted(((d, adj[d]) for d in cand), key=lambda x: -x[1])[:DEPTH]
        for w in (0.0, 0.1, w0, 0.5):
            fused = convex_fusion(d_adj, keyword[q], adj, keyword_weight=w)
            put(f"convex w_kw={w} + csls, exact", q, [d for d, _, _ in fused])
        top10 = [(d, lang[d]) for d, _ in d_adj[:10]]
        kw_titles = [episodes[d].title for d, _ in keyword[q][:3] if d in episodes]
        is_title = is_title_query(texts[q], kw_titles)
        for rule, clf in classifiers.items():
            qc = clf.classify(texts[q], top10)
            classes.setdefault(rule, {})[q] = TITLE if is_title else qc
            for xl_w, title_w in ((0.0, None), (0.0, 1.0), (0.0, 2.0)):
                w = xl_w if qc == CROSS_LINGUAL else w0
                if title_w is not None and is_title:
                    w = title_w
                fused = convex_fusion(d_adj, keyword[q], adj, keyword_weight=w)
                name = f"convex by class ({rule}: xl {xl_w}" + (
                    f", title {title_w})" if title_w is not None else ")"
                )
                put(name + " + csls, exact", q, [d for d, _, _ in fused])
        meta[q]["predicted_class"] = classes[engine_rule][q]

    # -- the engine end to end ------------------------------------------------------------
    ps.search_batch([texts[q] for q in qids], k=30)  # fill the query-vector cache first
    for mode in ("dense", "keyword", "hybrid"):
        ts = []
        res = []
        for _ in range(args.repeats):
            res = []
            for q in qids:
                t = time.perf_counter()
                res.append(ps.search(texts[q], k=30, mode=mode))
                ts.append((time.perf_counter() - t) * 1000)
        for q, r in zip(qids, res, strict=True):
            put(f"podsearch --mode {mode}", q, [h.episode_id for h in r.hits])
        latency[f"podsearch --mode {mode} (query vector cached)"] = ts

    # -- reports --------------------------------------------------------------------------
    def xl_dir(q: str) -> str:
        m = meta[q]
        if m.get("kind") != "cross-lingual":
            return ""
        ql, el = m.get("query_language", "?"), m.get("episode_language", "?")
        return "en->other" if ql == "en" else ("other->en" if el == "en" else "other->other")

    curated = [q for q in qids if meta[q]["split"] != "title"]
    subsets: dict[str, list[str]] = {
        "held-out": [q for q in curated if meta[q]["split"] == "heldout"],
        "held-out cross-lingual": [
            q
            for q in curated
            if meta[q]["split"] == "heldout" and meta[q]["kind"] == "cross-lingual"
        ],
        "tune": [q for q in curated if meta[q]["split"] == "tune"],
        "tune cross-lingual": [
            q for q in curated if meta[q]["split"] == "tune" and meta[q]["kind"] == "cross-lingual"
        ],
        "all curated": curated,
        "all cross-lingual": [q for q in curated if meta[q]["kind"] == "cross-lingual"],
        "exact titles": [q for q in qids if meta[q]["split"] == "title"],
    }
    for kind in sorted({meta[q]["kind"] for q in curated} - {"cross-lingual"}):
        subsets[f"kind {kind}"] = [q for q in curated if meta[q]["kind"] == kind]
    for corpus in PREFIX:
        subsets[f"corpus {corpus}"] = [q for q in curated if meta[q]["corpus"] == corpus]
    for direction in ("en->other", "other->en", "other->other"):
        subsets[f"cross-lingual {direction}"] = [q for q in curated if xl_dir(q) == direction]
    subsets = {k: v for k, v in subsets.items() if v}
    reports = {}
    for name, sub in subsets.items():
        rep = evaluate_runs(
            {q: qrels[q] for q in sub},
            {s: {q: r[q] for q in sub if q in r} for s, r in runs.items()},
            MEASURES,
            title=name,
        )
        reports[name] = rep
    cls_rules = {
        rule: {
            "cross-lingual queries predicted cross-lingual": sum(
                1 for q in curated if meta[q]["kind"] == "cross-lingual" and c[q] == CROSS_LINGUAL
            ),
            "other curated queries predicted cross-lingual": sum(
                1 for q in curated if meta[q]["kind"] != "cross-lingual" and c[q] == CROSS_LINGUAL
            ),
            "title queries predicted title": sum(
                1 for q in qids if meta[q]["split"] == "title" and c[q] == TITLE
            ),
            "curated queries predicted title": sum(1 for q in curated if c[q] == TITLE),
        }
        for rule, c in classes.items()
    }
    cls_acc = {
        "engine rule (the counts below)": engine_rule,
        "cross-lingual queries predicted cross-lingual": sum(
            1 for q in curated if meta[q]["kind"] == "cross-lingual"
            and meta[q]["predicted_class"] == "cross-lingual"
        ),
        "cross-lingual queries": sum(1 for q in curated if meta[q]["kind"] == "cross-lingual"),
        "other curated queries predicted cross-lingual": sum(
            1 for q in curated if meta[q]["kind"] != "cross-lingual"
            and meta[q]["predicted_class"] == "cross-lingual"
        ),
        "other curated queries": sum(1 for q in curated if meta[q]["kind"] != "cross-lingual"),
        "title queries predicted cross-lingual": sum(
            1 for q in qids if meta[q]["split"] == "title"
            and meta[q]["predicted_class"] == "cross-lingual"
        ),
        "by rule": cls_rules,
    }  # fmt: skip
    lat = {
        name: {"p50_ms": round(pct(v, 50), 3), "p95_ms": round(pct(v, 95), 3), "n": len(v)}
        for name, v in latency.items()
    }
    lat["query encoding (one short query)"] = {
        "p50_ms": round(pct(enc_ms, 50), 3),
        "p95_ms": round(pct(enc_ms, 95), 3),
        "n": len(enc_ms),
    }
    load = os.getloadavg()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = "?"
    head = [
        "# Retrieval quality: every mode and ablation on hand-written known-item queries",
        "",
        f"Index: {len(ids)} episodes of the four corpora in ../shared/data; model "
        f"{ps.indexed_model}; queries: {args.queries} ({len(curated)} curated: "
        f"{len(subsets.get('tune', []))} tune, {len(subsets.get('held-out', []))} held-out) "
        f"+ {len(subsets.get('exact titles', []))} exact-title queries; candidates: top "
        f"{DEPTH} of each retriever; engine fusion {ps.searcher.fusion}.",
        "",
        f"Command: `.venv/bin/python bench/quality_bench.py --index {args.index}`  ",
        f"Date: {datetime.now(UTC).isoformat(timespec='minutes')}; commit {commit}; machine: "
        f"{platform.machine()}, {os.cpu_count()} CPUs; load average at the end "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (latencies are on a shared machine).",
        "",
        "## Candidate generation: exact vs HNSW on these queries",
        "",
        "| setting | recall of exact top 30 (mean) | (min) | targets lost vs exact "
        "| p50 ms | p95 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in ann_rows:
        head.append(
            f"| {r['setting']} | {r['recall_of_exact_top30']:.4f} | "
            f"{r['min_recall_of_exact_top30']:.3f} | {r['targets_lost_vs_exact']} of "
            f"{r['targets_in_exact_top30']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} |"
        )
    head += [
        "",
        "## Latency (per query)",
        "",
        "| stage | p50 ms | p95 ms | n |",
        "|---|---:|---:|---:|",
    ]
    for name, v in lat.items():
        head.append(f"| {name} | {v['p50_ms']:.2f} | {v['p95_ms']:.2f} | {v['n']} |")
    head += ["", "## Query classifier", "", "```", json.dumps(cls_acc, indent=1), "```", ""]
    md = head + [f"## {name}\n\n" + rep.to_markdown() + "\n" for name, rep in reports.items()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("\n".join(md))
    args.out.with_suffix(".json").write_text(
        json.dumps(
            {
                "index_episodes": len(ids),
                "model": ps.indexed_model,
                "queries": str(args.queries),
                "commit": commit,
                "date": datetime.now(UTC).isoformat(timespec="minutes"),
                "load_average": load,
                "seconds": round(time.time() - t_start, 1),
                "ann": ann_rows,
                "latency": lat,
                "classifier": cls_acc,
                "subsets": {k: v.to_dict() for k, v in reports.items()},
                "per_query": {
                    k: {q: v for q, v in pq.items()}
                    for k, pq in reports["all curated"].per_query.items()
                }
                if "all curated" in reports
                else {},
            },
            indent=1,
        )
    )
    for name in ("held-out", "held-out cross-lingual", "tune", "exact titles"):
        if name in reports:
            print(reports[name].to_markdown(), "\n")
    print(f"wrote {args.out}.md / .json in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
