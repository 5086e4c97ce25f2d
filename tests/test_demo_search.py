"""The bundled demo catalog searched with the real default model (multilingual E5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podsearch import Podsearch
from podsearch.catalog.demo import DEMO_CATALOG, DEMO_QUERY_FILE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Podsearch:
    ps = Podsearch(tmp_path_factory.mktemp("demo") / "ix", model="me5-small")
    report = ps.ingest(DEMO_CATALOG)
    assert report.skipped_count == 0 and report.imported >= 120
    ps.build_index()
    return ps


def queries() -> list[dict[str, str]]:
    return [json.loads(x) for x in Path(DEMO_QUERY_FILE).read_text().splitlines() if x.strip()]


def rank_of(ps: Podsearch, q: dict[str, str], mode: str) -> int | None:
    hits = ps.search(q["query"], k=10, mode=mode).hits
    return next((h.rank for h in hits if h.episode_id == q["episode_id"]), None)


def test_walkthrough_example(demo: Podsearch) -> None:
    hits = demo.search("eat better during xmas holidays", k=3).hits
    target = next(q for q in queries() if q["query"] == "eat better during xmas holidays")
    assert target["episode_id"] in [h.episode_id for h in hits]


def test_known_item_recall_dense_and_hybrid(demo: Podsearch) -> None:
    qs = queries()
    for mode, floor in (("dense", 0.85), ("hybrid", 0.85)):
        found = [rank_of(demo, q, mode) is not None for q in qs]
        assert sum(found) / len(qs) >= floor, (mode, sum(found), len(qs))


def test_cross_lingual_queries(demo: Podsearch) -> None:
    eps = {}
    cross = []
    for q in queries():
        ep = eps.setdefault(q["episode_id"], demo.episode(q["episode_id"]))
        if ep.language != q["language"]:
            cross.append(q)
    assert len(cross) >= 8
    found = sum(rank_of(demo, q, "dense") is not None for q in cross)
    assert found / len(cross) >= 0.75, (found, len(cross))
