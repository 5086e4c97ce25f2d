"""Evaluation: runs in BEIR/ranx shapes, metrics from ir-measures (trec_eval's C core)."""

from podsearch.evaluate.metrics import (
    DEFAULT_MEASURES,
    EvalReport,
    Qrels,
    Run,
    evaluate_runs,
    known_item_qrels,
    load_queries,
    search_run,
)

__all__ = [
    "DEFAULT_MEASURES",
    "EvalReport",
    "Qrels",
    "Run",
    "evaluate_runs",
    "known_item_qrels",
    "load_queries",
    "search_run",
]
