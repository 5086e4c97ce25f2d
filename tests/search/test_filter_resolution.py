"""Filters read as a person writes them: language names, show titles; unknown values are errors
that list the known ones (engine.check_filters, shared by the API and the CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podsearch.api import create_app
from podsearch.engine import Podsearch
from podsearch.errors import QueryError
from podsearch.search.filters import make_filters
from tests.conftest import EPISODES, SHOWS, write_catalog


def ids(res: Any) -> list[str]:
    return [h.episode_id for h in res.hits]


@pytest.mark.parametrize("lang", ["english", "English", "EN", "en-US", "eng"])
def test_language_names_and_codes_read_like_catalog_values(lang: str) -> None:
    # Before: "english" stayed "english" and matched nothing ("en" is what ingest stores).
    assert make_filters([lang]).languages == ("en",)


def test_language_name_filter_finds_episodes(engine: Podsearch) -> None:
    by_name = engine.search("sleep", mode="dense", k=10, filters=make_filters(["German"]))
    assert ids(by_name) and {h.language for h in by_name.hits} == {"de"}
    assert ids(by_name) == ids(
        engine.search("sleep", mode="dense", k=10, filters=make_filters(["de"]))
    )


@pytest.mark.parametrize("lang", ["klingon", "sv"])
def test_unknown_language_lists_the_catalogs(engine: Podsearch, lang: str) -> None:
    with pytest.raises(QueryError, match=r"languages are: en \(5\), de \(3\)"):
        engine.search("sleep", filters=make_filters([lang]))
    with pytest.raises(QueryError, match="languages are"):
        engine.similar("e1", filters=make_filters([lang]))


@pytest.mark.parametrize("show", ["Kitchen Stories", "kitchen   STORIES", "2"])
def test_show_by_title_or_id(engine: Podsearch, show: str) -> None:
    # Before: a title gave 0 hits, show filters took ids only.
    res = engine.search("food", mode="dense", k=10, filters=make_filters(show_ids=[show]))
    assert sorted(ids(res)) == ["e4", "e5"]


def test_unknown_and_ambiguous_show_titles(tmp_path: Path) -> None:
    from podsearch.encode.fake import FakeEncoder

    shows = [*SHOWS, ("4", "kitchen stories", "Another one.", "English", "Arts")]
    episodes = [*EPISODES, ("e9", "4", "Soup", "Soup for winter.", "2018-01-01 08:00:00+00")]
    cat = write_catalog(tmp_path / "cat", shows, episodes)
    with Podsearch(tmp_path / "ix", encoder=FakeEncoder(dim=16)) as ps:
        ps.ingest(cat)
        ps.build_index()
        with pytest.raises(QueryError, match=r"2 shows are titled .*'2', '4'"):
            ps.search("soup", filters=make_filters(show_ids=["Kitchen Stories"]))
        with pytest.raises(QueryError, match="no show with id or title 'The Healthy Hour'"):
            ps.search("soup", filters=make_filters(show_ids=["The Healthy Hour"]))


def test_stats_and_facets_list_the_top_shows(engine: Podsearch) -> None:
    top = engine.stats()["top_shows"]
    assert top[0] == {"show_id": "1", "title": "Healthy Living", "episodes": 3}
    assert {s["show_id"] for s in top} == {"1", "2", "3"}
    with TestClient(create_app(engine)) as c:
        body = c.get("/api/facets").json()
        assert body["shows"] == top
        r = c.get("/api/search", params={"q": "sleep", "lang": "English", "show": "healthy living"})
        assert r.status_code == 200 and {h["episode_id"] for h in r.json()["hits"]} <= {
            "e1", "e2", "e3"
        }  # fmt: skip
        r = c.get("/api/search", params={"q": "sleep", "lang": "klingon"})
        assert r.status_code == 422 and "en (5), de (3)" in r.json()["detail"]


def test_cli_lang_name_and_show_title(engine: Podsearch, capsys) -> None:  # type: ignore[no-untyped-def]
    from podsearch.cli import main

    ix = str(engine.index_dir)
    engine.close()
    main(["search", "sleep", "--index", ix, "--model", "fake", "--mode", "keyword",
          "--lang", "english", "--show", "Healthy Living", "--json"])  # fmt: skip
    res = json.loads(capsys.readouterr().out)
    assert [h["episode_id"] for h in res["hits"]] == ["e2"]
