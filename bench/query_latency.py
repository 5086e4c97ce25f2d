"""Query latency per encoder backend: the whole ``search`` call with a cold query cache.

For each backend (torch, onnx, onnx-int8) in one run: the time to load the encoder, then every
query once through ``Podsearch.search`` (hybrid, k=10) over the four-corpora index, each query
distinct (the 108 TREC Podcasts topics + the curated queries), so every query pays for its
encoding. Reports p50/p95/p99 of the whole call and of the encoding stage, and ratios to the
PyTorch path. Backends run one after another in the same process, in rotating order per round,
so that a change in the machine's load hits all of them alike.

    .venv/bin/python bench/query_latency.py --index var/bench/index
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from podsearch import Podsearch

BACKENDS = ("torch", "onnx", "onnx-int8")


def queries(data: Path, curated: Path) -> list[str]:
    out: list[str] = []
    for f in sorted((data / "trec-podcasts").glob("*topics*.xml")):
        out += [q.strip() for q in re.findall(r"<query>(.*?)</query>", f.read_text(), re.S)]
    out += [json.loads(line)["query"] for line in curated.read_text().splitlines() if line]
    return list(dict.fromkeys(q for q in out if q))


def pct(xs: list[float], p: float) -> float:
    return round(float(np.percentile(np.asarray(xs), p)), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=Path("var/bench/index"))
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--queries", type=Path, default=Path("eval/queries/curated.jsonl"))
    ap.add_argument("--mode", default="hybrid")
    ap.add_argument("--rounds", type=int, default=3, help="queries are split over the rounds")
    ap.add_argument("--out", type=Path, default=Path("bench/results/query_latency"))
    args = ap.parse_args()
    qs = queries(args.data, args.queries)
    engines: dict[str, Podsearch] = {}
    load_s: dict[str, float] = {}
    for b in BACKENDS:
        ps = Podsearch(args.index, backend=b)
        t = time.perf_counter()
        ps.warm_up()
        load_s[b] = round(time.perf_counter() - t, 2)
        engines[b] = ps
    total: dict[str, list[float]] = {b: [] for b in BACKENDS}
    encode: dict[str, list[float]] = {b: [] for b in BACKENDS}
    chunks = np.array_split(np.arange(len(qs)), args.rounds)
    for r, chunk in enumerate(chunks):
        order = BACKENDS[r % 3 :] + BACKENDS[: r % 3]
        for b in order:
            ps = engines[b]
            for i in chunk:
                t = time.perf_counter()
                res = ps.search(qs[int(i)], k=10, mode=args.mode)
                total[b].append((time.perf_counter() - t) * 1000)
                encode[b].append(res.timings_ms.get("encode_ms", 0.0))
    load = os.getloadavg()
    rows = {
        b: {
            "load_encoder_and_index_s": load_s[b],
            "search_p50_ms": pct(total[b], 50),
            "search_p95_ms": pct(total[b], 95),
            "search_p99_ms": pct(total[b], 99),
            "encode_p50_ms": pct(encode[b], 50),
            "encode_p95_ms": pct(encode[b], 95),
            "n": len(total[b]),
        }
        for b in BACKENDS
    }
    base = rows["torch"]["search_p50_ms"] or 1.0
    for b in BACKENDS:
        rows[b]["torch_p50_over_this"] = round(base / (rows[b]["search_p50_ms"] or 1.0), 2)
    cmd = " ".join([".venv/bin/python", "bench/query_latency.py", *sys.argv[1:]])
    res = {
        "command": cmd,
        "date": datetime.now(UTC).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_end": load,
        "index_episodes": engines["torch"].stats()["episodes"],
        "mode": args.mode,
        "queries": len(qs),
        "backends": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    md = [
        "# Query latency per encoder backend (cold query cache)",
        "",
        f"Command: `{cmd}`  ",
        f"Date: {res['date']}; machine: {res['machine']}; load average at the end "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (a shared machine: other jobs ran, "
        "which hurts multi-threaded runtimes most).",
        f"{len(qs)} distinct queries, each once per backend, `--mode {args.mode}`, k=10, over "
        f"{res['index_episodes']} episodes; whole `Podsearch.search` call.",
        "",
        "| backend | load s | search p50 ms | p95 | p99 | encode p50 ms | p95 | torch p50 / this |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b, r in rows.items():
        md.append(
            f"| {b} | {r['load_encoder_and_index_s']} | {r['search_p50_ms']} | "
            f"{r['search_p95_ms']} | {r['search_p99_ms']} | {r['encode_p50_ms']} | "
            f"{r['encode_p95_ms']} | {r['torch_p50_over_this']}x |"
        )
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
