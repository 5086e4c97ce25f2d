"""What query-time facet counts (``search(..., facets=True)``) add to a search.

Side by side in one run, per mode: the same curated queries searched with and without facets,
alternating (query vectors cached first, so encoding is left out), on a read-only copy-free
open of an existing index. Reports the median / p95 wall ms per search and the median added.

    flock /work/heavy.lock python bench/facets_bench.py --index var/bench/index
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

from common import load_snapshot, machine_facts, now_iso
from podsearch.engine import Podsearch

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", default="var/bench/index")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "bench/results/facets_bench"))
    a = ap.parse_args()
    with open(REPO / "eval/queries/curated.jsonl", encoding="utf-8") as f:
        rows = [json.loads(x) for x in f]
    queries = [r["query"] for r in rows][: a.queries]
    ps = Podsearch(a.index, create=False)
    ps.search_batch(queries, k=10, mode="dense")  # encode once: the vectors are cached
    load_before = load_snapshot()
    out: dict[str, dict[str, float]] = {}
    for mode in ("hybrid", "dense", "keyword"):
        times: dict[bool, list[float]] = {False: [], True: []}
        added: list[float] = []
        counting: list[float] = []  # the engine's own facets_ms: counting alone
        for _ in range(a.rounds):
            for q in queries:
                pair = {}
                for facets in (False, True):
                    t0 = time.perf_counter()
                    r = ps.search(q, k=10, mode=mode, facets=facets)
                    pair[facets] = (time.perf_counter() - t0) * 1000
                    if facets:
                        counting.append(r.timings_ms["facets_ms"])
                    times[facets].append(pair[facets])
                added.append(pair[True] - pair[False])
        out[mode] = {
            "plain_p50_ms": statistics.median(times[False]),
            "facets_p50_ms": statistics.median(times[True]),
            "plain_p95_ms": statistics.quantiles(times[False], n=20)[-1],
            "facets_p95_ms": statistics.quantiles(times[True], n=20)[-1],
            "added_p50_ms": statistics.median(added),
            "counting_p50_ms": statistics.median(counting),
            "searches": len(added),
        }
        print(mode, {k: round(v, 2) for k, v in out[mode].items()}, flush=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    result = {
        "command": "python bench/facets_bench.py "
        + " ".join(f"--{k} {v}" for k, v in vars(a).items() if k != "out"),
        "date": now_iso(),
        "commit": commit,
        "index": str(a.index),
        "episodes": ps.store.count(),
        "machine": machine_facts(["onnxruntime", "tantivy", "faiss-cpu"]),
        "load_before": load_before,
        "load_after": load_snapshot(),
        "threads": os.environ.get("PODSEARCH_THREADS", ""),
        "modes": out,
    }
    Path(a.out + ".json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    lines = [
        "# Query-time facet counts: added cost per search",
        "",
        f"`{result['command']}` · {result['date']} · commit {commit} · "
        f"{result['episodes']} episodes · load {load_before} → {result['load_after']}",
        "",
        "Same queries, with and without `facets=True`, alternating; query vectors cached. Dense "
        "and hybrid already fetch 100 candidates (fusion; the dense hubness correction), so "
        "facets add the counting only; keyword mode then searches 100 deep instead of k + 1 "
        "and fetches those episodes. The machine is shared: see the load.",
        "",
        "| mode | p50 plain ms | p50 facets ms | median added ms (paired) | counting alone p50 ms "
        "| p95 plain | p95 facets |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, m in out.items():
        lines.append(
            f"| {mode} | {m['plain_p50_ms']:.2f} | {m['facets_p50_ms']:.2f} | "
            f"{m['added_p50_ms']:.2f} | {m['counting_p50_ms']:.2f} | {m['plain_p95_ms']:.2f} | "
            f"{m['facets_p95_ms']:.2f} |"
        )
    Path(a.out + ".md").write_text("\n".join(lines) + "\n")
    ps.close()


if __name__ == "__main__":
    main()
