"""WiSE-FT check for the adaptation benchmark: interpolate the base and fine-tuned weights
(alpha * tuned + (1 - alpha) * base), index all episodes with the merged model and evaluate it
like the fine-tuned one. Run after bench/adapt_bench.sh:

    .venv/bin/python bench/adapt_merge.py --alpha 0.5
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from podsearch import Podsearch
from podsearch.train.finetune import TrainSettings, interpolate_weights, load_base
from podsearch.train.pipeline import CARD_JSON, evaluate_adaptation, tuned_index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--work", type=Path, default=Path("var/adapt-bench"), help="adapt work dir")
    ap.add_argument("--index", type=Path, default=Path("var/bench/index"), help="base index")
    ap.add_argument("--out", type=Path, default=Path("bench/results/adapt-wise"))
    ap.add_argument(
        "--curated",
        default="listennotes=ln:,taddy=taddy:,spotify=spotify:,sommar=sommar:",
        help="corpus=prefix map for eval/queries/curated.jsonl, or a corpus to keep (no prefix)",
    )
    args = ap.parse_args()
    from sentence_transformers import SentenceTransformer

    tuned_dir = args.work / "model"
    merged_dir = args.work / f"model-wise{args.alpha:g}"
    if not (merged_dir / "modules.json").exists():
        base, _, _ = load_base(TrainSettings(base="me5-small"))
        tuned = SentenceTransformer(str(tuned_dir), device="cpu")
        bsd = base.state_dict()
        merged = interpolate_weights(bsd, tuned.state_dict(), args.alpha)
        print(f"interpolated {sum(k in bsd for k in merged)} of {len(merged)} tensors")
        tuned.load_state_dict(merged)
        tmp = merged_dir.with_name(merged_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tuned.save(str(tmp))
        tmp.rename(merged_dir)
    card = json.loads((tuned_dir / CARD_JSON).read_text())
    card["inbatch_before"] = card["inbatch_after"] = None
    card["inbatch_test_generated_before"] = card["inbatch_test_generated_after"] = None
    card["base_model"] = f"me5-small + fine-tuned, WiSE-FT alpha {args.alpha:g}"
    with Podsearch(args.index) as base_ps:
        merged_ps = tuned_index(base_ps, args.work / f"index-wise{args.alpha:g}", merged_dir)
        try:
            rep = evaluate_adaptation(
                base_ps, merged_ps, tuned_dir / "splits", args.out, card=card, curated=[(
                    "curated queries", "eval/queries/curated.jsonl",
                    None if "=" in args.curated else args.curated,
                    args.curated if "=" in args.curated else "",
                )],
            )  # fmt: skip
        finally:
            merged_ps.close()
    print(rep.to_markdown())


if __name__ == "__main__":
    main()
