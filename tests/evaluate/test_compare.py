"""The comparison report: systems x query sets, recall curves, files a person can open."""

from __future__ import annotations

import json
from pathlib import Path

from podsearch.evaluate.compare import CURVE_KS, ComparisonReport, QuerySet, compare_systems


def test_compare_and_write_report(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    qs = QuerySet(
        "tiny",
        {"q1": "sourdough starter baker", "q2": "schwarze löcher astronomen"},
        {"q1": {"e4": 1}, "q2": {"e8": 1}},
    )
    rep = compare_systems(
        {"dense": (engine, "dense"), "bm25": (engine, "keyword")},
        [qs, QuerySet("empty", {}, {})],
        ComparisonReport(title="t"),
    )
    assert list(rep.sets) == ["tiny"] and rep.n_queries == {"tiny": 2}
    # Both queries share words with their episodes: keyword search finds both at rank 1.
    assert rep.sets["tiny"]["bm25"]["R@1"] == 1.0
    assert len(rep.curves["tiny"]["dense"]) == len(CURVE_KS)
    assert rep.curves["tiny"]["dense"] == sorted(rep.curves["tiny"]["dense"])
    rep.inbatch = {"base": {"mrr@5_batch64": 0.5, "mrr@5_all": 0.25, "queries": 2}}
    files = rep.write(tmp_path / "report")
    md = files["markdown"].read_text()
    assert "| bm25 | 1.000 |" in md and "0.500" in md
    html = files["html"].read_text()
    assert html.count("data:image/png;base64,") == 2  # metric bars + recall curves
    data = json.loads(files["json"].read_text())
    assert data["recall_curves"]["k"] == list(CURVE_KS)
