"""Query-time facet counts and totals (search/facets.py), through the engine and the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podsearch.api import create_app
from podsearch.models import Filters
from tests.conftest import SHOWS, write_catalog

MODES = ("hybrid", "dense", "keyword")
DIMENSIONS = {"languages": "languages", "categories": "categories", "shows": "show_ids"}


def _values(facets: Any, name: str) -> dict[str, int]:
    if name == "shows":
        return {sid: n for sid, _, n in facets.shows}
    return dict(getattr(facets, name))


def test_keyword_counts_are_the_matches_not_the_catalog(engine: Any) -> None:
    r = engine.search("sleep", mode="keyword", facets=True)
    # Only e2 ("Sleep and recovery") holds the word: the catalog has 5 English, 3 German.
    assert [h.episode_id for h in r.hits] == ["e2"]
    assert r.facets.languages == (("en", 1),)
    assert r.facets.shows == (("1", "Healthy Living", 1),)
    assert dict(r.facets.categories) == {"Fitness & Nutrition": 1, "Health": 1}
    assert (r.total, r.total_exact) == (1, True)


def test_no_facets_unless_asked(engine: Any) -> None:
    r = engine.search("sleep", mode="keyword")
    assert r.facets is None and r.total is None
    assert "facets" not in r.to_dict() and "total" not in r.to_dict()


@pytest.mark.parametrize("mode", MODES)
def test_a_counted_value_never_gives_an_empty_result(engine: Any, mode: str) -> None:
    """Choosing a value counted c gives at least c hits; and a second value counted under
    the first filter still gives at least its count ("Swedish (10)" + "Cricket (5)")."""
    for query in ("sleep and health", "baking bread", "Korallenriffe Klimawandel", "sleep"):
        first = engine.search(query, k=100, mode=mode, facets=True)
        assert first.total == len(first.hits) and first.total_exact
        for lang, n in first.facets.languages:
            narrowed = engine.search(
                query, k=100, mode=mode, facets=True, filters=Filters(languages=(lang,))
            )
            assert len(narrowed.hits) >= n, (query, lang)
            for cat, m in narrowed.facets.categories:
                both = Filters(languages=(lang,), categories=(cat,))
                hits = engine.search(query, k=100, mode=mode, filters=both).hits
                assert len(hits) >= m >= 1, (query, lang, cat)
        for sid, _title, n in first.facets.shows:
            hits = engine.search(query, k=100, mode=mode, filters=Filters(show_ids=(sid,))).hits
            assert len(hits) >= n, (query, sid)


@pytest.fixture
def big_engine(tmp_path: Path) -> Any:
    """150 episodes: more than the fusion depth (100), so dense results are cut."""
    from podsearch.encode.fake import FakeEncoder
    from podsearch.engine import Podsearch

    episodes = [
        (f"b{i}", str(1 + i % 3), f"Episode {i} about gardening", f"Plants and soil, part {i}.",
         "2019-01-01 08:00:00+00")
        for i in range(150)
    ]  # fmt: skip
    ps = Podsearch(tmp_path / "index", encoder=FakeEncoder(dim=64))
    ps.ingest(write_catalog(tmp_path / "cat", SHOWS, episodes))
    ps.build_index()
    yield ps
    ps.close()


def test_cut_pool_reports_a_lower_bound(big_engine: Any) -> None:
    r = big_engine.search("gardening soil", k=10, mode="dense", facets=True)
    assert (r.total, r.total_exact) == (100, False)  # "100+ results"
    assert sum(n for _, n in r.facets.languages) == 100
    # Paging past the pool widens it to offset + k.
    deep = big_engine.search("gardening soil", k=10, offset=110, mode="dense", facets=True)
    assert (deep.total, deep.total_exact) == (120, False)
    # A filter that leaves fewer episodes than the depth: every match is counted.
    one = big_engine.search(
        "gardening soil", mode="dense", facets=True, filters=Filters(show_ids=("1",))
    )
    assert (one.total, one.total_exact) == (50, True)
    assert one.facets.shows == (("1", "Healthy Living", 50),)


def test_api_returns_facets_and_totals(engine: Any) -> None:
    with TestClient(create_app(engine)) as client:
        body = client.get("/api/search", params={"q": "sleep", "mode": "keyword"}).json()
        assert body.get("facets") is None
        body = client.get(
            "/api/search", params={"q": "sleep", "mode": "keyword", "facets": "true"}
        ).json()
        assert body["facets"] == {
            "languages": [{"value": "en", "count": 1}],
            "categories": [
                {"value": "Fitness & Nutrition", "count": 1},
                {"value": "Health", "count": 1},
            ],
            "shows": [{"show_id": "1", "title": "Healthy Living", "episodes": 1}],
        }
        assert (body["total"], body["total_exact"]) == (1, True)
        hit = body["hits"][0]
        assert [hit["snippet"][a:b] for a, b in hit["highlights"]] == ["sleep"]
        assert (hit["duration_s"], hit["image_url"]) == (600, "")
        post = client.post("/api/search", json={"q": "sleep", "mode": "keyword", "facets": True})
        assert post.json()["facets"] == body["facets"]
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        assert "facets" in schema["SearchResponse"]["properties"]


def test_hits_carry_show_artwork_http_only(tmp_path: Path) -> None:
    import csv

    from podsearch.encode.fake import FakeEncoder
    from podsearch.engine import Podsearch

    folder = write_catalog(tmp_path / "cat")
    with open(folder / "podcasts.csv", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    images = {"1": "https://img.example.org/a.png", "2": "javascript:alert(1)"}
    for row in rows[1:]:
        row[2] = images.get(row[0], "")
    with open(folder / "podcasts.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    with Podsearch(tmp_path / "index", encoder=FakeEncoder(dim=64)) as ps:
        ps.ingest(folder)
        ps.build_index()
        assert ps.store.show_images(["1", "2", "3", "nope"]) == {
            "1": "https://img.example.org/a.png"
        }
        by_id = {h.episode_id: h.image_url for h in ps.search("x", k=8, mode="dense").hits}
        assert by_id["e1"] == "https://img.example.org/a.png"
        assert by_id["e4"] == "" and by_id["e7"] == ""
