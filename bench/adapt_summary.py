"""Collects the adaptation benchmark's pieces into bench/results/adapt_bench.{md,json}.

Reads what bench/adapt_bench.sh wrote (var/adapt-bench/querygen.json, the model card, and
bench/results/adapt/report.json + times.json) and puts the numbers beside the walkthrough's.

    .venv/bin/python bench/adapt_summary.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

WALKTHROUGH = {
    "inbatch_mrr5": "0.68 -> 0.89",
    "synthetic_r30": "0.88",
    "curated_r30": "0.29 base, 0.57 fine-tuned",
    "querygen_eps": "3.2 episodes/s (GPU, doc2query T5)",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("var/adapt-bench"))
    ap.add_argument("--report", type=Path, default=Path("bench/results/adapt"))
    ap.add_argument("--out", type=Path, default=Path("bench/results/adapt_bench"))
    args = ap.parse_args()
    qg = json.loads((args.work / "querygen.json").read_text())
    card = json.loads((args.work / "model" / "podsearch-card.json").read_text())
    rep = json.loads((args.report / "report.json").read_text())
    times = json.loads((args.report / "times.json").read_text())
    card.pop("losses", None)
    data = {"querygen": qg, "card": card, "report": rep, "times": times}
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=2))

    md = [
        "# Adaptation benchmark (issue 3): synthetic queries -> fine-tuning -> evaluation",
        "",
        "Command: `bash bench/adapt_bench.sh && .venv/bin/python bench/adapt_summary.py` "
        "(SAMPLE=128 generated episodes; 2-core CPU, no GPU). Full report with plots: "
        "[adapt/report.md](adapt/report.md) / `adapt/report.html`.",
        "",
        f"Index: all {rep['facts'].get('episodes in the index', '?')} real episodes of the four "
        "corpora in ../shared/data (Listen Notes, Taddy, Spotify, Sommar). Base model me5-small.",
        "",
        "## Query generation (packaged SmolLM2-135M, batch 8)",
        "",
        f"- {qg['episodes_generated']} sampled English Listen Notes episodes in "
        f"{qg['generate_seconds']:.0f} s = **{qg['episodes_per_second']:.3f} episodes/s** "
        f"(walkthrough: {WALKTHROUGH['querygen_eps']})",
        f"- {qg['raw']} raw queries -> {qg['cleaned']} after cleaning (dropped: {qg['dropped']}) "
        f"-> {qg['cleaned'] - qg['roundtrip_dropped']} after round-trip filtering (base model "
        f"ranks the episode in its top 30 of all episodes)",
        f"- title pairs: {qg['title_pairs']} kept, {qg['title_dropped']} dropped by the same "
        f"filter; {qg['no_text']} episodes have under 5 words of description (no generation)",
        "",
        "## Fine-tuning",
        "",
        f"- {card['training_pairs']} pairs (train split: {card['train_split_pairs_by_generator']}),"
        f" batch {card['settings']['batch_size']}, {card['steps']} steps, max_seq_length "
        f"{card['settings']['max_seq_length']}: **{card['train_seconds']:.0f} s = "
        f"{card['seconds_per_1000_pairs']:.0f} s per 1,000 pairs** on this CPU",
        f"- loss {card['loss_first_last'][0]:.3f} (first step) -> "
        f"{card['loss_first_last'][1]:.3f} (last)",
        f"- splits by episode: {card['splits']['episodes']}",
        f"- stage times (s): {times}",
        "",
        "## In-batch reranking MRR@5 (walkthrough: " + WALKTHROUGH["inbatch_mrr5"] + ")",
        "",
        "| model / query set | batches of 64 | vs all episodes of the set | queries |",
        "|---|---:|---:|---:|",
    ]
    for name, r in rep["inbatch"].items():
        md.append(f"| {name} | {r['mrr@5_batch64']:.3f} | {r['mrr@5_all']:.3f} | {r['queries']} |")
    md += ["", "## Full retrieval over all episodes", ""]
    md.append(
        f"Walkthrough: Recall@30 {WALKTHROUGH['synthetic_r30']} on synthetic test queries; "
        f"curated human queries {WALKTHROUGH['curated_r30']}."
    )
    for set_name, systems in rep["sets"].items():
        measures = list(next(iter(systems.values())))
        md += ["", f"**{set_name}** ({rep['n_queries'][set_name]} queries)", ""]
        md.append("| system | " + " | ".join(measures) + " |")
        md.append("|---|" + "---:|" * len(measures))
        for s, vals in systems.items():
            md.append(f"| {s} | " + " | ".join(f"{vals[m]:.3f}" for m in measures) + " |")
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
