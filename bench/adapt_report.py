"""Collects the adaptation benchmark's stages into bench/results/adapt_bench.{md,json}.

Reads what adapt_generate.py / adapt_train.py / adapt_eval.py wrote under --work (default
var/adapt): the sample and generation meta, the model card (splits, round-trip filter of the
train split, training, held-out check), the WiSE-FT curve and, when stage 3 ran, the full
retrieval report with its significance tests. Says plainly what is partial.

    .venv/bin/python bench/adapt_report.py --work var/adapt --model var/adapt/model
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any


def _secs(hms: str) -> int:
    h, m, sec = (int(x) for x in hms.split(":"))
    return 3600 * h + 60 * m + sec


def load(path: Path) -> Any:
    return json.loads(path.read_text("utf-8")) if path.exists() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("var/adapt"))
    ap.add_argument("--model", type=Path, default=Path("var/adapt/model"))
    ap.add_argument("--report", type=Path, default=Path("var/adapt/report"))
    ap.add_argument("--out", type=Path, default=Path("bench/results/adapt_bench"))
    ap.add_argument("--plots", type=Path, default=Path("bench/results/adapt-19k"))
    args = ap.parse_args()
    sample = load(args.work / "generated.sample.json")
    meta = load(args.work / "generated.jsonl.meta.json") or {}
    gen = meta.get("report", meta)
    done_file = args.work / "generated.jsonl.done"
    finished = not done_file.exists()
    card = load(args.model / "podsearch-card.json")
    alphas = load(args.model / "alphas.json")
    rep = load(args.report / "report.json")
    times = load(args.report / "times.json")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if card:
        card = {k: v for k, v in card.items() if k != "losses"}
        card.get("heldout_check", {}).pop("per_query", None)
    data = {"commit": commit, "sample": sample, "generation": gen,
            "generation_finished": finished, "card": card, "wise": alphas,
            "report": {k: v for k, v in (rep or {}).items() if k != "per_query"} or None,
            "times": times}  # fmt: skip
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=2), "utf-8")

    md = ["# Adaptation benchmark (issue 13): thousands of generated queries -> fine-tuning "
          "-> evaluation on the 19k index", "",
          f"Commit {commit}. Commands (each resumable, run at `nice -n 19 ionice -c3` beside "
          "other work on a shared 2-core CPU, so wall times are what was left over, not what "
          "the work needs): `bench/adapt_generate.py`, `bench/adapt_train.py`, "
          "`bench/adapt_eval.py`, then this summary (`bench/adapt_report.py`).", ""]  # fmt: skip
    bench = (card or {}).get("bench", {})
    if bench.get("partial"):
        md += [
            f"**PARTIAL RUN.** The model below was trained on the queries of the "
            f"{bench['generated_episodes']} episodes generated when training started "
            f"({bench['generated_pairs']} cleaned queries; 5,000 episodes were planned) and "
            f"took {card['steps']} steps; the generation job was still running. Its synthetic "
            "test set is small; read every difference with its interval and p-value.",
            "",
        ]
    if sample:
        md += ["## Query generation (packaged SmolLM2-135M through CTranslate2 int8, 3 each)", "",
               f"- eligible: {sample['eligible']} of {sample['episodes_in_catalog']} episodes "
               f"(skipped: {sample['skipped']}); sample per corpus: "
               f"{sample['sampled_by_corpus']} (eligible: {sample['eligible_by_corpus']})",
               f"- languages of the sampled episodes (top): "
               f"{dict(list(sample['sampled_by_language'].items())[:8])}"]  # fmt: skip
    if gen:
        n = gen.get("episodes_generated", 0)
        state = ("finished" if finished
                 else f"**PARTIAL: {n} of {gen.get('sampled')} episodes so far**")  # fmt: skip
        # Pauses (SIGSTOP/SIGCONT by hand, one "HH:MM:SS HH:MM:SS" line each in pauses.txt)
        # are not generation time.
        pauses = args.work / "pauses.txt"
        spans = [ln.split() for ln in (pauses.read_text("utf-8").splitlines()
                 if pauses.exists() else []) if ln and not ln.startswith("#")]  # fmt: skip
        paused = sum((_secs(b) - _secs(a)) % 86400 for a, b in spans)
        wall = max(gen.get("generate_seconds", 0) - paused, 0)
        eps = n / wall if wall else 0
        loads = [float(line.rsplit("load ", 1)[1]) for line in
                 (args.work / "generate.log").read_text("utf-8").splitlines()
                 if " episodes, " in line and "load " in line]  # fmt: skip
        band = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "not recorded"
        md += [f"- {state}; {n} episodes in {wall:.0f} s of wall time"
               + (f" ({paused:.0f} s of pauses left out)" if paused else "")
               + f" = {eps:.2f} episodes/s, 1-minute load average {band} during the run "
               "(other sessions' work; this job ran at the lowest priority)",
               f"- {gen.get('raw')} raw queries -> {gen.get('cleaned')} after cleaning "
               f"({gen.get('cleaned', 0) / max(gen.get('raw', 1), 1):.0%}; dropped: "
               f"{gen.get('dropped')}); no round-trip filter at this stage", ""]  # fmt: skip
    if card:
        b = card.get("bench", {})
        rt = card.get("roundtrip_train") or {}
        md += ["## Splits, filter, training", "",
               f"- pairs: {b.get('generated_pairs')} generated for "
               f"{b.get('generated_episodes')} episodes"
               + (" (**partial generation**)" if b.get("partial") else "")
               + f" + {b.get('title_pairs')} title pairs of other episodes with >= 5 words "
               "of description",
               f"- split by episode first ({card['splits']['fractions']}): episodes "
               f"{card['splits']['episodes']}, pairs {card['splits']['pairs']}",
               f"- round-trip filter on the **train split only** (base model ranks the episode "
               f"in its top {rt.get('k')} of all 18,791): generated {rt.get('generated_kept')} "
               f"of {rt.get('generated_in')}, titles {rt.get('title_kept')} of "
               f"{rt.get('title_in')} kept; eval and test are unfiltered",
               f"- training: {card['training_pairs']} pairs, {card['steps']} steps, "
               f"{card['train_seconds']} s ({card['seconds_per_1000_pairs']} s per 1,000 "
               f"pairs), settings {card['settings']}",
               f"- frozen word-embedding weights: {card.get('frozen_parameters')}; hard "
               f"negatives: {card.get('hard_negatives') or 'none'}",
               f"- loss {card['loss_first_last']}", ""]  # fmt: skip
        hc = card.get("heldout_check") or {}
        if hc:
            pt = hc.get("paired") or {}
            md += [
                "## Held-out check (what `podsearch adapt` uses to keep a model)",
                "",
                f"{hc['queries']} queries ({hc['queries'] - hc['curated_queries']} eval-split "
                f"generated + {hc['curated_queries']} curated `tune` half) against a pool of "
                f"{hc['pool']} episodes: MRR@30 base **{hc['base_mrr@30']:.3f}**, fine-tuned "
                f"**{hc['tuned_mrr@30']:.3f}** (difference {pt.get('diff', 0):+.3f}, 95% "
                f"interval [{pt['ci95'][0]:+.3f}, {pt['ci95'][1]:+.3f}], paired randomisation "
                f"p {pt['p']:.3f}) -> kept: **{hc['kept']}**",
                "",
            ]
        md += ["## In-batch reranking MRR@5 (walkthrough: 0.68 -> 0.89)", "",
               "| model / query set | batches of 64 | vs all episodes of the set | queries |",
               "|---|---:|---:|---:|"]  # fmt: skip
        for label, key in (
            ("eval split", "inbatch"),
            ("test split, generated queries", "inbatch_test_generated"),
        ):
            for who, when in (("base", "before"), ("fine-tuned", "after")):
                r = card.get(f"{key}_{when}")
                if r:
                    md.append(f"| {who} ({label}) | {r['mrr@5_batch64']:.3f} | "
                              f"{r['mrr@5_all']:.3f} | {r['queries']} |")  # fmt: skip
        n_test = (card.get("inbatch_test_generated_before") or {}).get("queries", 0)
        if n_test < 500:
            md.append(f"\nOnly {n_test} test episodes have a generated query (one query per "
                      "episode): fewer than the 500 the issue asks for.")  # fmt: skip
        md.append("")
    if alphas:
        md += ["## WiSE-FT alpha (same held-out check; alpha 1 = the fine-tuned model)", "",
               f"{alphas['queries']} queries, pool {alphas['pool']}; base MRR@30 "
               f"{next(iter(alphas['alphas'].values()))['base_mrr@30']:.3f} (curated tune half "
               f"{alphas['base_curated_tune_mrr@30']:.3f})", "",
               "| alpha | MRR@30 | curated tune half MRR@30 | difference vs base | p |",
               "|---:|---:|---:|---:|---:|"]  # fmt: skip
        for a, r in alphas["alphas"].items():
            pt = r.get("paired") or {}
            md.append(f"| {a} | {r['tuned_mrr@30']:.3f} | {r['curated_tune_mrr@30']:.3f} | "
                      f"{pt.get('diff', 0):+.3f} | {pt.get('p', 1):.3f} |")  # fmt: skip
        md.append("")
    if rep:
        from podsearch.evaluate.compare import significance_lines

        md += ["## Full retrieval over all 18,791 episodes", ""]
        for set_name, systems in rep["sets"].items():
            measures = list(next(iter(systems.values())))
            md += [f"**{set_name}** ({rep['n_queries'][set_name]} queries)", "",
                   "| system | " + " | ".join(measures) + " |",
                   "|---|" + "---:|" * len(measures)]  # fmt: skip
            md += [f"| {s} | " + " | ".join(f"{v[m]:.3f}" for m in measures) + " |"
                   for s, v in systems.items()]  # fmt: skip
            md += ["", *significance_lines(rep.get("significance", {}).get(set_name, {}))]
        md += [f"- {k}: {v}" for k, v in (times or {}).items()] + [""]
        args.plots.mkdir(parents=True, exist_ok=True)
        for f in [*args.report.glob("report.*"), *args.report.glob("*.png")]:
            shutil.copy(f, args.plots / f.name)
        name = args.plots.name
        md.append(f"Full report with plots: [{name}/report.md]({name}/report.md) / "
                  f"`{name}/report.html`.")  # fmt: skip
        md += [f"![{png.stem}]({args.plots.name}/{png.name})"
               for png in sorted(args.report.glob("*.png"))]  # fmt: skip
    else:
        md += ["## Full retrieval over all 18,791 episodes", "",
               "**Not measured yet**: stage 3 (`bench/adapt_eval.py`) has not run on this model.",
               ""]  # fmt: skip
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n", "utf-8")
    print(args.out.with_suffix(".md").read_text("utf-8"))


if __name__ == "__main__":
    main()
