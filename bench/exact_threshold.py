"""Up to what size is exact vector search cheap? Exact (one BLAS product) vs FAISS HNSW by size.

The embedded index searches exactly whenever the searchable vectors number at most
``FaissVectorIndex.exact_max``: exact search never loses a target, and graph search loses the
far ones (cross-lingual queries above all, see bench/results/quality_bench.md). This measures
the price: single-query latency (p50/p95) of exact search through ``FaissVectorIndex`` itself
(exact_max above n) and of its HNSW path (exact_max 0, the default efSearch) over clustered
384-d unit vectors (mE5-small's size), at growing sizes, side by side in one run.

    .venv/bin/python bench/exact_threshold.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from podsearch.index.faiss_index import EXACT_MAX, FaissVectorIndex
from podsearch.models import DocPayload


def clustered(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centers = rng.normal(size=(max(n // 200, 8), dim)).astype(np.float32)
    x = centers[rng.integers(0, len(centers), n)] + 0.7 * rng.normal(size=(n, dim)).astype(
        np.float32
    )
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def measure(idx: FaissVectorIndex, q: np.ndarray, k: int) -> list[float]:
    ts = []
    for row in q:
        t = time.perf_counter()
        idx.search(row[None, :], k)
        ts.append((time.perf_counter() - t) * 1000)
    return ts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="20000,50000,100000,200000,400000")
    ap.add_argument("--hnsw-sizes", default="20000,100000", help="HNSW builds are slow here")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=100, help="candidates, as hybrid search asks")
    ap.add_argument("--out", type=Path, default=Path("bench/results/exact_threshold"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    dim = 384
    sizes = [int(s) for s in args.sizes.split(",")]
    hnsw_sizes = {int(s) for s in args.hnsw_sizes.split(",")}
    rows = []
    for n in sizes:
        x = clustered(n, dim, rng)
        q = clustered(args.queries, dim, rng)
        with tempfile.TemporaryDirectory() as tmp:
            idx = FaissVectorIndex(Path(tmp), dim, exact_max=n)
            ids = [str(i) for i in range(n)]
            # Exact search reads the stored matrix; the graph is built only where measured.
            if n in hnsw_sizes:
                t = time.perf_counter()
                idx.upsert(ids, x, [DocPayload("en", "s")] * n)
                build_s = time.perf_counter() - t
            else:
                idx._grow(n)  # noqa: SLF001 - fill the exact path's arrays without a graph
                idx._vecs[:n] = x  # noqa: SLF001
                idx._alive[:n] = True  # noqa: SLF001
                idx._n = n  # noqa: SLF001
                idx._ids = ids  # noqa: SLF001
                idx._slot = {d: i for i, d in enumerate(ids)}  # noqa: SLF001
                build_s = None
            measure(idx, q[:10], args.k)  # warm up
            ex = measure(idx, q, args.k)
            row = {
                "n": n,
                "exact_p50_ms": round(float(np.percentile(ex, 50)), 3),
                "exact_p95_ms": round(float(np.percentile(ex, 95)), 3),
                "vectors_mib": round(n * dim * 4 / 2**20, 1),
            }
            if n in hnsw_sizes:
                idx.exact_max, idx.exact_fraction = 0, 0.0
                measure(idx, q[:10], args.k)
                hn = measure(idx, q, args.k)
                row |= {
                    "hnsw_ef": idx.ef_search,
                    "hnsw_p50_ms": round(float(np.percentile(hn, 50)), 3),
                    "hnsw_p95_ms": round(float(np.percentile(hn, 95)), 3),
                    "hnsw_build_s": round(build_s or 0.0, 1),
                }
            rows.append(row)
            print(row, flush=True)
    load = os.getloadavg()
    res = {
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_average": load,
        "exact_max_default": EXACT_MAX,
        "k": args.k,
        "rows": rows,
        "command": " ".join([".venv/bin/python", "bench/exact_threshold.py", *sys.argv[1:]]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    md = [
        "# Exact vs HNSW vector search by index size",
        "",
        f"Command: `{res['command']}`  ",
        f"Date: {res['date']}; machine: {res['machine']}; load average at the end "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (a shared machine: other jobs ran).",
        f"Single queries, top {args.k} (hybrid search's candidate depth), 384-d clustered unit "
        f"vectors, through FaissVectorIndex. The engine's default threshold: exact up to "
        f"{EXACT_MAX:,} searchable vectors.",
        "",
        "| vectors | float32 MiB | exact p50 ms | exact p95 ms | HNSW p50 ms | HNSW p95 ms |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        md.append(
            f"| {r['n']:,} | {r['vectors_mib']} | {r['exact_p50_ms']:.2f} | "
            f"{r['exact_p95_ms']:.2f} | {r.get('hnsw_p50_ms', '')} | {r.get('hnsw_p95_ms', '')} |"
        )
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
