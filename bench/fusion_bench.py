"""Which fusion and hubness settings make search better on real, messy data?

Runs the curated human known-item queries (eval/queries/curated.jsonl, 99 queries, 29
cross-lingual) against an index of all four corpora in ../shared/data (built by
bench/search_bench.py) and scores dense, keyword, RRF and convex hybrid fusion with and without
CSLS hubness correction, on the whole set and on the odd/even halves (tune on odd qids, report
even). Metrics come from ir-measures.

    .venv/bin/python bench/fusion_bench.py --index var/bench/index
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from podsearch import Podsearch
from podsearch.evaluate import evaluate_runs
from podsearch.search.fusion import convex_fusion, reciprocal_rank_fusion

PREFIX = {"listennotes": "ln:", "taddy": "taddy:", "spotify": "spotify:", "sommar": "sommar:"}
MEASURES = ("R@1", "R@10", "R@30", "RR@30", "nDCG@10")
DEPTH = 100


def load(path: Path) -> tuple[dict[str, str], dict[str, dict[str, int]], dict[str, dict]]:
    texts, qrels, meta = {}, {}, {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        p = PREFIX[q["corpus"]]
        texts[q["qid"]] = q["query"]
        qrels[q["qid"]] = {p + e: 1 for e in [q["episode_id"], *q.get("also_relevant", [])]}
        meta[q["qid"]] = q
    return texts, qrels, meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=Path("var/bench/index"))
    ap.add_argument("--queries", type=Path, default=Path("eval/queries/curated.jsonl"))
    ap.add_argument("--out", type=Path, default=Path("bench/results/fusion_bench"))
    args = ap.parse_args()
    t0 = time.time()
    ps = Podsearch(args.index)
    texts, qrels, meta = load(args.queries)
    vi, kw = ps.vector_index(), ps.keyword_index()
    qids = list(texts)
    qv = ps.searcher.encode_queries([texts[q] for q in qids])

    # The hub scores `podsearch index` stored: exactly what search re-ranks with.
    ids = vi.ids()
    hub = ps.store.hub_scores(ids)
    if len(hub) != len(ids):
        raise SystemExit(f"{len(ids) - len(hub)} episodes lack hub scores: run podsearch index")

    runs: dict[str, dict[str, dict[str, float]]] = {}

    def put(name: str, qid: str, ranked: list[str]) -> None:
        runs.setdefault(name, {})[qid] = {d: float(DEPTH - i) for i, d in enumerate(ranked[:30])}

    for i, qid in enumerate(qids):
        d_run = vi.search(qv[i : i + 1], DEPTH)[0]
        k_run = kw.search(texts[qid], DEPTH)
        cand = list(dict.fromkeys([d for d, _ in d_run] + [d for d, _ in k_run]))
        vecs = vi.get_vectors(cand)
        cos = {d: float(vecs[d] @ qv[i]) for d in cand}
        put("dense", qid, [d for d, _ in d_run])
        put("keyword (BM25)", qid, [d for d, _ in k_run])
        for w in (1.0, 0.5, 0.2):
            fused = reciprocal_rank_fusion([d_run, k_run], weights=[1.0, w])
            put(f"hybrid rrf k=60 w_kw={w}", qid, [d for d, _, _ in fused])
        for beta in (0.5, 1.0):
            csls = sorted(cand, key=lambda d: -(cos[d] - beta * hub[d]))
            put(f"dense + csls beta={beta}", qid, csls)
        for w in (0.25, 0.5, 1.0):
            fused = convex_fusion(d_run, k_run, cos, keyword_weight=w)
            put(f"hybrid convex w_kw={w}", qid, [d for d, _, _ in fused])
            for beta in (0.5, 1.0):
                adj = {d: cos[d] - beta * hub[d] for d in cand}
                d_adj = sorted(((d, adj[d]) for d in cand), key=lambda x: -x[1])[:DEPTH]
                fused = convex_fusion(d_adj, k_run, adj, keyword_weight=w)
                put(f"hybrid convex w_kw={w} + csls beta={beta}", qid, [d for d, _, _ in fused])

    subsets = {
        "all": qids,
        "tune (odd qids)": [q for q in qids if int(q[1:]) % 2 == 1],
        "report (even qids)": [q for q in qids if int(q[1:]) % 2 == 0],
        "listennotes": [q for q in qids if meta[q]["corpus"] == "listennotes"],
        "cross-lingual": [q for q in qids if meta[q]["kind"] == "cross-lingual"],
    }
    reports = {}
    md = [
        "# Fusion and hubness on real data",
        "",
        f"Index: {len(ids)} episodes from the four corpora in ../shared/data; model "
        f"{ps.indexed_model}; {len(qids)} curated known-item queries "
        f"({args.queries}); candidates: top {DEPTH} of each retriever.",
        "",
        f"Command: `.venv/bin/python bench/fusion_bench.py --index {args.index}`  ",
        f"Date: {datetime.now(UTC).date()}; machine: {platform.machine()}, "
        f"{__import__('os').cpu_count()} CPUs.",
        "",
    ]
    for name, sub in subsets.items():
        q_sub = {q: qrels[q] for q in sub}
        rep = evaluate_runs(
            q_sub,
            {s: {q: r[q] for q in sub if q in r} for s, r in runs.items()},
            MEASURES,
            title=f"{name}",
        )
        reports[name] = rep.to_dict()
        md += [rep.to_markdown(), ""]
        print(rep.to_markdown(), "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps(
            {
                "index_episodes": len(ids),
                "model": ps.indexed_model,
                "seconds": round(time.time() - t0, 1),
                "subsets": reports,
            },
            indent=1,
        )
    )
    args.out.with_suffix(".md").write_text("\n".join(md))


if __name__ == "__main__":
    main()
