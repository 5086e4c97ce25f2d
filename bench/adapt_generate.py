"""Stage 1 of the adaptation benchmark: generated queries for thousands of episodes.

Draws N episodes from all four corpora of a copy of the bench index (stratified by corpus, see
``querygen.sampling``; descriptions of >= 5 words; the 1% most hub-like episodes skipped),
generates 3 queries each with the CTranslate2 path and cleans them. No round-trip filter here:
the split by episode comes first (``adapt_train.py``) and only the training split is filtered.
Resumable: re-run the same command after an interrupt. Long: run it in the background, e.g.

    nice -n 19 ionice -c3 .venv/bin/python bench/adapt_generate.py --index var/index \
        --out var/adapt/generated.jsonl --episodes 5000 > var/adapt/generate.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from podsearch.querygen.ct2 import CT2Generator
from podsearch.querygen.pipeline import generate_pairs
from podsearch.querygen.sampling import corpus_of, eligible, stratified_sample
from podsearch.store import CatalogStore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", default="var/index", help="index folder (a copy: it is opened)")
    ap.add_argument("--out", default="var/adapt/generated.jsonl")
    ap.add_argument("--episodes", type=int, default=5000)
    ap.add_argument("--per-episode", type=int, default=3)
    ap.add_argument("--quantization", default="int8", choices=["int8", "float32"])
    ap.add_argument("--batch", type=int, default=8, help="CTranslate2 batch size")
    ap.add_argument("--chunk", type=int, default=32, help="episodes per generate call")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    store = CatalogStore(Path(args.index) / "catalog.sqlite")
    episodes = list(store.iter_episodes())
    hubs = store.hub_scores([e.episode_id for e in episodes])
    ok, skipped = eligible(episodes, hubs)
    chosen = stratified_sample(ok, args.episodes, seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sample = {
        "episodes_in_catalog": len(episodes),
        "eligible": len(ok),
        "skipped": skipped,
        "eligible_by_corpus": dict(Counter(corpus_of(e.episode_id) for e in ok)),
        "sampled_by_corpus": dict(Counter(corpus_of(e.episode_id) for e in chosen)),
        "sampled_by_language": dict(Counter(e.language for e in chosen).most_common()),
        "seed": args.seed,
    }
    out.with_name(out.stem + ".sample.json").write_text(json.dumps(sample, indent=2), "utf-8")
    print(json.dumps(sample), flush=True)

    gen = CT2Generator(batch_size=args.batch, quantization=args.quantization)
    t0 = time.time()

    def progress(_phase: str, done: int, total: int) -> None:
        load = Path("/proc/loadavg").read_text().split()[0]
        print(f"{time.strftime('%H:%M:%S')} {done}/{total} episodes, "
              f"{time.time() - t0:.0f} s, load {load}", flush=True)  # fmt: skip

    report = generate_pairs(
        chosen,
        out,
        generator=gen,
        per_episode=args.per_episode,
        titles=False,
        roundtrip=None,
        seed=args.seed,
        batch_size=args.chunk,
        progress=progress,
    )
    print(json.dumps(report.to_dict(), indent=2), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
