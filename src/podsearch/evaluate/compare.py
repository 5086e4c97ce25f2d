"""Full-retrieval comparison of systems (base / fine-tuned dense, BM25, hybrid) on query sets,
and the report: Markdown, self-contained HTML with plots, and JSON."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podsearch.evaluate.metrics import DEFAULT_MEASURES, Qrels, evaluate_runs, search_run

if TYPE_CHECKING:
    from podsearch.engine import Podsearch

CURVE_KS = (1, 2, 3, 5, 10, 20, 30, 50, 100)


@dataclass
class QuerySet:
    name: str
    texts: dict[str, str]
    qrels: Qrels


@dataclass
class ComparisonReport:
    """Metrics per query set and system, recall curves, in-batch numbers, free-form facts."""

    title: str
    sets: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    n_queries: dict[str, int] = field(default_factory=dict)
    curves: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    inbatch: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, str] = field(default_factory=dict)  # name -> PNG path
    # {set: {system: {qid: {measure: value}}}}: what paired significance tests need
    per_query: dict[str, dict[str, dict[str, dict[str, float]]]] = field(default_factory=dict)
    # {set: {"B vs A": {measure: paired_test result}}}
    significance: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)

    def add_significance(
        self, pairs: Sequence[tuple[str, str]], measures: Sequence[str] = ("RR@30", "R@30")
    ) -> None:
        """Paired randomisation test of system B against A on every set both answered."""
        from podsearch.evaluate.significance import compare_per_query

        for set_name, pq in self.per_query.items():
            for a, b in pairs:
                if a in pq and b in pq:
                    self.significance.setdefault(set_name, {})[f"{b} vs {a}"] = compare_per_query(
                        pq, a, b, measures
                    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "sets": self.sets,
            "n_queries": self.n_queries,
            "recall_curves": {"k": list(CURVE_KS), **self.curves},
            "inbatch": self.inbatch,
            "facts": self.facts,
            "significance": self.significance,
            "per_query": self.per_query,
        }

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        if self.inbatch:
            lines += ["## In-batch reranking MRR@5", ""]
            lines += [
                "| model (query set) | batches of 64 | vs all episodes of the set | queries |",
                "|---|---:|---:|---:|",
            ]
            for name, r in self.inbatch.items():
                lines.append(
                    f"| {name} | {r['mrr@5_batch64']:.3f} | {r['mrr@5_all']:.3f} | {r['queries']} |"
                )
            lines.append("")
        for set_name, systems in self.sets.items():
            measures = list(next(iter(systems.values())).keys()) if systems else []
            lines += [f"## {set_name} ({self.n_queries.get(set_name, 0)} queries)", ""]
            lines.append("| system | " + " | ".join(measures) + " |")
            lines.append("|---|" + "---:|" * len(measures))
            for sys_name, vals in systems.items():
                lines.append(
                    f"| {sys_name} | " + " | ".join(f"{vals[m]:.3f}" for m in measures) + " |"
                )
            lines.append("")
            lines += significance_lines(self.significance.get(set_name, {}))
        if self.facts:
            lines += ["## Run", ""] + [f"- {k}: {v}" for k, v in self.facts.items()] + [""]
        for name, path in self.plots.items():
            lines.append(f"![{name}]({Path(path).name})")
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        parts = [f"<h1>{html.escape(self.title)}</h1>"]
        if self.inbatch:
            rows = "".join(
                f"<tr><td>{html.escape(n)}</td><td>{r['mrr@5_batch64']:.3f}</td>"
                f"<td>{r['mrr@5_all']:.3f}</td><td>{r['queries']}</td></tr>"
                for n, r in self.inbatch.items()
            )
            parts.append(
                "<h2>In-batch reranking MRR@5</h2><table><tr><th>model</th><th>batches of 64"
                f"</th><th>vs all episodes of the set</th><th>queries</th></tr>{rows}</table>"
            )
        for set_name, systems in self.sets.items():
            measures = list(next(iter(systems.values())).keys()) if systems else []
            head = "".join(f"<th>{html.escape(m)}</th>" for m in measures)
            rows = "".join(
                f"<tr><td>{html.escape(s)}</td>"
                + "".join(f"<td>{v[m]:.3f}</td>" for m in measures)
                + "</tr>"
                for s, v in systems.items()
            )
            parts.append(
                f"<h2>{html.escape(set_name)} ({self.n_queries.get(set_name, 0)} queries)</h2>"
                f"<table><tr><th>system</th>{head}</tr>{rows}</table>"
            )
        if self.facts:
            items = "".join(
                f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>"
                for k, v in self.facts.items()
            )
            parts.append(f"<h2>Run</h2><ul>{items}</ul>")
        for name, path in self.plots.items():
            data = base64.b64encode(Path(path).read_bytes()).decode()
            parts.append(
                f"<h2>{html.escape(name)}</h2><img alt='{html.escape(name)}' "
                f"src='data:image/png;base64,{data}'>"
            )
        style = (
            "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
            "padding:.3em .6em;text-align:right}td:first-child,th:first-child{text-align:left}"
            "img{max-width:100%}"
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(self.title)}</title><style>{style}</style></head><body>"
            + "".join(parts)
            + "</body></html>"
        )

    def write(self, folder: str | Path) -> dict[str, Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.plots.update(self._plot(folder))
        out = {
            "markdown": folder / "report.md",
            "html": folder / "report.html",
            "json": folder / "report.json",
        }
        out["markdown"].write_text(self.to_markdown(), "utf-8")
        out["html"].write_text(self.to_html(), "utf-8")
        out["json"].write_text(json.dumps(self.to_dict(), indent=2), "utf-8")
        return out

    def _plot(self, folder: Path) -> dict[str, str]:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        def bars(ax: Any, systems: dict[str, dict[str, float]]) -> None:
            names = list(systems)
            x = range(len(names))
            for j, m in enumerate(("R@30", "RR@30")):
                vals = [systems[s].get(m, 0.0) for s in names]
                ax.bar([i + 0.4 * j for i in x], vals, width=0.4, label=m)
            ax.set_xticks([i + 0.2 for i in x], names, rotation=30, ha="right", fontsize=8)
            ax.legend(fontsize=8)

        def curves(ax: Any, per_sys: dict[str, list[float]]) -> None:
            for s, ys in per_sys.items():
                ax.plot(CURVE_KS, ys, marker="o", label=s)
            ax.set_xscale("log")
            ax.set_xlabel("k")
            ax.set_ylabel("Recall@k")
            ax.legend(fontsize=7)

        plots: dict[str, str] = {}
        charts: list[tuple[str, str, dict[str, Any], Callable[[Any, Any], None]]] = [
            ("Recall@30 and MRR@30 per system", "metrics.png", self.sets, bars),
            ("Recall@k curves", "recall_curves.png", self.curves, curves),
        ]
        for title, name, panels, draw in charts:
            if not panels:
                continue
            cols = min(3, len(panels))
            rows = -(-len(panels) // cols)
            fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.2 * rows), squeeze=False)
            for ax, (set_name, data) in zip(axes.flat, panels.items(), strict=False):
                draw(ax, data)
                ax.set_ylim(0, 1)
                ax.set_title(set_name, fontsize=9)
            for ax in list(axes.flat)[len(panels) :]:
                ax.axis("off")
            fig.tight_layout()
            fig.savefig(folder / name, dpi=110)
            plt.close(fig)
            plots[title] = str(folder / name)
        return plots


def significance_lines(tests: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """Markdown rows: difference, 95% interval, p-value, wins/losses per comparison."""
    if not tests:
        return []
    lines = [
        "| comparison | measure | difference | 95% interval | p (paired randomisation) "
        "| queries better / worse |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, by_m in tests.items():
        for m, r in by_m.items():
            lo, hi = r["ci95"]
            lines.append(
                f"| {name} | {m} | {r['diff']:+.3f} | [{lo:+.3f}, {hi:+.3f}] | {r['p']:.4f} "
                f"| {r['wins']} / {r['losses']} |"
            )
    return [*lines, ""]


def compare_systems(
    systems: Mapping[str, tuple[Podsearch, str]],
    query_sets: Sequence[QuerySet],
    report: ComparisonReport,
    measures: Sequence[str] = DEFAULT_MEASURES,
) -> ComparisonReport:
    """Search every query set with every (engine, mode) system at depth 100 and score it."""
    curve = [f"R@{k}" for k in CURVE_KS]
    for qs in query_sets:
        if not qs.texts:
            continue
        runs = {
            name: search_run(ps, qs.texts, mode=mode, k=100) for name, (ps, mode) in systems.items()
        }
        rep = evaluate_runs(qs.qrels, runs, tuple(dict.fromkeys([*measures, *curve])))
        report.sets[qs.name] = {
            s: {m: v for m, v in vals.items() if m in measures} for s, vals in rep.systems.items()
        }
        report.curves[qs.name] = {s: [vals[m] for m in curve] for s, vals in rep.systems.items()}
        report.n_queries[qs.name] = len(qs.texts)
        report.per_query[qs.name] = {
            s: {q: {m: v[m] for m in measures} for q, v in pq.items()}
            for s, pq in rep.per_query.items()
        }
    return report


def projection_plot(
    encoder: Any,
    queries: Sequence[str],
    docs: Sequence[str],
    labels: Sequence[str],
    out: str | Path,
    title: str,
) -> Path:
    """The walkthrough's picture: queries and episodes in one PCA plane (viz.project)."""
    import numpy as np

    from podsearch.viz import project, render_png

    qv = encoder.encode_queries(list(queries))
    dv = encoder.encode_documents(list(docs))
    vecs = np.vstack([dv, qv])
    mask = np.array([True] * len(dv) + [False] * len(qv))
    coords = project(vecs, "pca", 2, fit_mask=mask)
    color = [*labels, *(["query"] * len(qv))]
    text = [""] * len(dv) + [q[:40] for q in queries]
    return render_png(coords, out, color=color, text=text, title=title)
