"""Retrieval metrics over standard shapes.

Qrels are ``{qid: {doc_id: grade}}`` and runs ``{qid: {doc_id: score}}`` (as in BEIR, ranx and
trec_eval), so any stage can hand them to any other. Metrics come from ir-measures, never from
hand-written formulas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podsearch.errors import MissingDependencyError, QueryError
from podsearch.models import Filters

if TYPE_CHECKING:
    from podsearch.engine import Podsearch

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]

DEFAULT_MEASURES: tuple[str, ...] = ("R@1", "R@10", "R@30", "RR@30", "nDCG@10")


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Metrics per system (``{system: {measure: value}}``) plus per-query values."""

    measures: tuple[str, ...]
    systems: dict[str, dict[str, float]]
    per_query: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    n_queries: int = 0
    title: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "n_queries": self.n_queries,
            "measures": list(self.measures),
            "systems": self.systems,
        }

    def to_markdown(self) -> str:
        head = "| system | " + " | ".join(self.measures) + " |"
        sep = "|---|" + "---:|" * len(self.measures)
        rows = [
            f"| {name} | " + " | ".join(f"{vals[m]:.3f}" for m in self.measures) + " |"
            for name, vals in self.systems.items()
        ]
        title = f"**{self.title}** ({self.n_queries} queries)\n\n" if self.title else ""
        return title + "\n".join([head, sep, *rows])


def _parse(measures: Sequence[str]) -> list[Any]:
    try:
        import ir_measures
    except ImportError as e:  # pragma: no cover - a core dependency
        raise MissingDependencyError("ir-measures", "eval", "evaluation") from e
    try:
        return [ir_measures.parse_measure(m) for m in measures]
    except (ValueError, NameError) as e:
        raise QueryError(f"unknown measure in {list(measures)}: {e}") from e


def evaluate_runs(
    qrels: Mapping[str, Mapping[str, int]],
    runs: Mapping[str, Mapping[str, Mapping[str, float]]],
    measures: Sequence[str] = DEFAULT_MEASURES,
    *,
    title: str = "",
) -> EvalReport:
    """Score each named run against the qrels. Queries a run did not answer count as 0."""
    import ir_measures

    parsed = _parse(measures)
    names = [str(m) for m in parsed]
    systems: dict[str, dict[str, float]] = {}
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    qrels_d = {q: {d: int(g) for d, g in docs.items()} for q, docs in qrels.items()}
    for name, run in runs.items():
        run_d = {
            q: {d: float(s) for d, s in docs.items()} for q, docs in run.items() if q in qrels_d
        }
        pq: dict[str, dict[str, float]] = {q: dict.fromkeys(names, 0.0) for q in qrels_d}
        for m in ir_measures.iter_calc(parsed, qrels_d, run_d):
            pq[m.query_id][str(m.measure)] = float(m.value)
        systems[name] = {n: sum(v[n] for v in pq.values()) / max(len(pq), 1) for n in names}
        per_query[name] = pq
    return EvalReport(tuple(names), systems, per_query, len(qrels_d), title)


def search_run(
    ps: Podsearch,
    queries: Mapping[str, str],
    *,
    mode: str,
    k: int = 30,
    filters: Filters | None = None,
    batch: int = 64,
) -> Run:
    """Answer every query with the engine and return the run (scores strictly decreasing)."""
    run: Run = {}
    items = list(queries.items())
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        results = ps.search_batch([q for _, q in chunk], k=k, mode=mode, filters=filters)
        for (qid, _), res in zip(chunk, results, strict=True):
            # Rank-derived scores: trec_eval sorts by score, and fused scores can tie.
            run[qid] = {h.episode_id: float(k - i) for i, h in enumerate(res.hits)}
    return run


def load_queries(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL query file (one object per line; blank lines ignored)."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError as e:
            raise QueryError(f"{path}:{n}: not a JSON object ({e})") from e
    return out


def query_id(q: Mapping[str, Any]) -> str | None:
    """A query line's id: its ``qid``, else its ``id`` (0 is an id), else None."""
    for key in ("qid", "id"):
        if q.get(key) is not None:
            return str(q[key])
    return None


def known_item_qrels(
    queries: Iterable[Mapping[str, Any]], *, id_of: Any = None
) -> tuple[dict[str, str], Qrels]:
    """Queries and qrels from known-item lines ({qid|id, query, episode_id, also_relevant?}).

    Every line needs its own qid (or id): runs are joined to qrels by it, so a made-up id
    (a line number) would not survive filtering the file. QueryError otherwise.
    """
    texts: dict[str, str] = {}
    qrels: Qrels = {}
    for n, q in enumerate(queries, start=1):
        qid = query_id(q)
        if qid is None:
            raise QueryError(f"query {n} ({dict(q)}) has no qid or id: give every query one")
        if qid in texts:
            raise QueryError(f"qid {qid!r} is used twice: give every query its own")
        conv = id_of or (lambda _q, e: e)
        texts[qid] = q["query"]
        qrels[qid] = {conv(q, q["episode_id"]): 1}
        for extra in q.get("also_relevant", ()):
            qrels[qid][conv(q, extra)] = 1
    return texts, qrels
