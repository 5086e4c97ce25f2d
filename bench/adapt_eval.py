"""Stage 3 of the adaptation benchmark: index all episodes with the fine-tuned model (ONNX
backend, the default) and compare base / fine-tuned / BM25 / both hybrids on the synthetic
test queries (the test split's generated queries, never round-trip filtered) and the curated
queries by kind, with paired significance tests. Resumable (the tuned index is kept).

    nice -n 19 ionice -c3 .venv/bin/python bench/adapt_eval.py --index var/index \
        --model var/adapt/model --out var/adapt/report > var/adapt/eval.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

CURATED = "eval/queries/curated.jsonl"
PREFIXES = "listennotes=ln:,taddy=taddy:,spotify=spotify:,sommar=sommar:"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", default="var/index")
    ap.add_argument("--model", default="var/adapt/model")
    ap.add_argument("--tuned-index", default=None, help="default: MODEL-index")
    ap.add_argument("--out", default="var/adapt/report")
    args = ap.parse_args()

    from podsearch import Podsearch
    from podsearch.train.pipeline import CARD_JSON, evaluate_adaptation, tuned_index

    model = Path(args.model)
    card = json.loads((model / CARD_JSON).read_text("utf-8"))
    times: dict[str, float] = {}
    base = Podsearch(args.index, create=False)
    t = time.time()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.time() - last[0] > 60 or done == total:
            last[0] = time.time()
            print(f"{time.strftime('%H:%M:%S')} encoded {done}/{total}", flush=True)

    target = Path(args.tuned_index or f"{model}-index")
    tuned = tuned_index(base, target, model, progress=progress)
    times["tuned index seconds"] = round(time.time() - t, 1)
    print(f"tuned index: {times}", flush=True)
    t = time.time()
    evaluate_adaptation(
        base, tuned, model / "splits", args.out,
        curated=[("curated queries (curated)", CURATED, None, PREFIXES)], card=card,
        log=lambda m: print(m, flush=True),
    )  # fmt: skip
    times["evaluation seconds"] = round(time.time() - t, 1)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    times["cpu seconds (whole stage)"] = round(ru.ru_utime + ru.ru_stime, 1)
    times["load average at the end"] = Path("/proc/loadavg").read_text().split()[:3]  # type: ignore[assignment]
    Path(args.out, "times.json").write_text(json.dumps(times, indent=2), "utf-8")
    print(json.dumps(times), flush=True)


if __name__ == "__main__":
    main()
