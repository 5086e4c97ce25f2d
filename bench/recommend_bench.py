"""Do the recommendations beat popularity and random baselines on real data?

Runs ``podsearch.recommend.evaluate.evaluate_recommendations`` on the Listen Notes episodes
(ids ``ln:``, show and iTunes-category signals) of the index of all four corpora built by
bench/search_bench.py, and times "more like this" and listener recommendations over the whole
index. Opens the index read-only (nothing is written) and loads no model.

    .venv/bin/python bench/recommend_bench.py --index var/bench/index
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from podsearch import Podsearch
from podsearch.recommend.evaluate import evaluate_recommendations

OUT = Path(__file__).resolve().parent / "results"


def latency(ps: Podsearch, n: int, seed: int) -> dict[str, dict[str, float]]:
    """p50 / p95 ms of similar (plain, other shows, per-show cap) and recommend."""
    ids = sorted(ps.vector_index().ids())
    rng = np.random.default_rng(seed)
    sample = [ids[j] for j in rng.choice(len(ids), n, replace=False)]
    calls = {
        "similar": lambda i: ps.similar(i, k=10),
        "similar --exclude-show": lambda i: ps.similar(i, k=10, exclude_same_show=True),
        "similar --per-show 2": lambda i: ps.similar(i, k=10, per_show=2),
    }
    out: dict[str, dict[str, float]] = {}
    for name, fn in calls.items():
        ms = []
        for i in sample:
            t = time.perf_counter()
            fn(i)
            ms.append((time.perf_counter() - t) * 1000)
        out[name] = _pct(ms)
    for strategy in ("mean", "multi-interest"):
        ms = []
        for j in range(n):
            hist = [ids[x] for x in rng.choice(len(ids), 20, replace=False)]
            t = time.perf_counter()
            ps.recommend(hist, k=10, strategy=strategy)
            ms.append((time.perf_counter() - t) * 1000)
            del j
        out[f"recommend {strategy} (20 random listens)"] = _pct(ms)
    return out


def _pct(ms: list[float]) -> dict[str, float]:
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, default=Path("var/bench/index"))
    ap.add_argument("--histories", type=int, default=1200)
    ap.add_argument("--neighbours", type=int, default=1000)
    ap.add_argument("--latency-calls", type=int, default=200)
    ap.add_argument("--id-prefix", default="ln:")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cmd = (
        f".venv/bin/python bench/recommend_bench.py --index {args.index} --histories "
        f"{args.histories} --neighbours {args.neighbours} --latency-calls {args.latency_calls} "
        f"--id-prefix {args.id_prefix} --seed {args.seed}"
    )
    with Podsearch(args.index) as ps:
        stats = ps.stats()
        report = evaluate_recommendations(
            ps, n_histories=args.histories, n_neighbours=args.neighbours,
            id_prefix=args.id_prefix, seed=args.seed,
        )  # fmt: skip
        lat = latency(ps, args.latency_calls, args.seed)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": cmd,
        "index_episodes": stats["episodes"],
        "model": stats["model"],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "load_avg": os.getloadavg(),
    }
    OUT.mkdir(exist_ok=True)
    (OUT / "recommend_bench.json").write_text(
        json.dumps({**meta, "report": report.to_dict(), "latency_ms": lat}, indent=2) + "\n"
    )
    lat_rows = "\n".join(f"| {name} | {v['p50']:.2f} | {v['p95']:.2f} |" for name, v in lat.items())
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    md = f"""# Recommendation benchmark

```
{cmd}
```

{meta["date"]}; index of {stats["episodes"]} real episodes (model {stats["model"]}); evaluation
on the Listen Notes sample ({report.catalog_size} episodes, recommendations restricted to its
shows); {meta["machine"]}; load average at the end {load}.
Seeded ({args.seed}); hit@10 and MRR@10 from ir-measures (Success@10, RR@10).

{report.to_markdown()}
**Latency** (ms, whole engine call incl. SQLite hydration; {args.latency_calls} calls over all
{stats["episodes"]} episodes, no filter)

| call | p50 | p95 |
|---|---:|---:|
{lat_rows}
"""
    (OUT / "recommend_bench.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
