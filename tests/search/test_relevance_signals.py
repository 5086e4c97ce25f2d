"""Typo tolerance, has_more and the "no close match" flag, on the tiny hand-checked catalog."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from podsearch.api import create_app
from podsearch.engine import Podsearch
from podsearch.search.confidence import dense_peak, is_weak
from podsearch.search.spelling import did_you_mean, edit_distance


def test_keyword_typo_is_retried_fuzzy_and_says_so(engine: Podsearch) -> None:
    # Before: "chrismas" found nothing in keyword mode.
    res = engine.search("chrismas", mode="keyword")
    assert [h.episode_id for h in res.hits] == ["e1"]
    assert res.fuzzy and res.weak and res.did_you_mean == "christmas"
    exact = engine.search("christmas", mode="keyword")
    assert not exact.fuzzy and exact.did_you_mean is None and not exact.weak


def test_short_words_are_not_fuzzy(engine: Podsearch) -> None:
    assert engine.search("pizza", mode="keyword").hits == ()  # 5 letters, nothing 1 edit away
    assert engine.search("bred", mode="keyword").hits  # 4 letters: one edit from "bread"
    assert engine.search("brd", mode="keyword").hits == ()  # 3 letters: exact only


@pytest.mark.parametrize("mode", ["hybrid", "dense", "keyword"])
def test_has_more_tells_whether_another_page_exists(engine: Podsearch, mode: str) -> None:
    q = "sleep health" if mode == "keyword" else "sleep"
    total = len(engine.search(q, mode=mode, k=100).hits)
    assert total >= 2
    assert engine.search(q, mode=mode, k=1).has_more
    assert not engine.search(q, mode=mode, k=total).has_more
    assert not engine.search(q, mode=mode, k=1, offset=total - 1).has_more


def test_nonsense_is_weak_and_real_queries_are_not(engine: Podsearch) -> None:
    # Before: every result looked equally confident. (The fake encoder's cosines mean nothing,
    # so the dense peak is checked in test_weak_rule; the real model is measured in the bench.)
    assert engine.searcher.word_share("asdfgh qwerty zxcvb") == 0.0
    assert engine.searcher.word_share("sourdough bread baking") == 1.0
    assert engine.search("asdfgh qwerty zxcvb", mode="keyword").weak
    assert not engine.search("sourdough bread baking", mode="keyword").weak


def test_word_presence_is_one_lookup_cached_per_generation(
    engine: Podsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: word_share ran one keyword search per query word, on every search.
    kw = engine.keyword_index()
    asked: list[list[str]] = []
    searched: list[str] = []
    present, search = kw.present_words, kw.search
    monkeypatch.setattr(kw, "present_words", lambda ws: asked.append(list(ws)) or present(ws))
    monkeypatch.setattr(kw, "search", lambda q, *a, **k: searched.append(q) or search(q, *a, **k))
    assert engine.searcher.word_share("sourdough bread asdfgh") == pytest.approx(2 / 3)
    assert asked == [["sourdough", "bread", "asdfgh"]] and searched == []
    assert engine.searcher.word_share("Bread asdfgh christmas") == pytest.approx(2 / 3)
    assert asked[1:] == [["christmas"]]  # the others are cached for this generation
    engine.searcher.word_share("bread asdfgh christmas")
    assert len(asked) == 2
    monkeypatch.setattr(engine, "_seen_generation", engine.generation + 1)  # another write
    engine.searcher.word_share("bread asdfgh")
    assert asked[2:] == [["bread", "asdfgh"]]


def test_weak_rule() -> None:
    flat = [(str(i), 0.85) for i in range(50)]
    peaked = [("a", 0.95)] + flat[1:]
    assert dense_peak(flat) == pytest.approx(0.0) and dense_peak([]) is None
    assert is_weak("dense", flat, False, lambda: 0.0)
    assert not is_weak("dense", flat, False, lambda: 1.0)
    assert not is_weak("hybrid", peaked, False, lambda: 0.0)  # a sharp dense match wins
    assert is_weak("keyword", [], True, lambda: 1.0)


def test_spelling() -> None:
    assert edit_distance("chrismas", "christmas", 2) == 1
    assert edit_distance("teh", "the", 1) == 1
    assert did_you_mean("Chrismas docter", ["Christmas", "A doctor, doctors"]) == "christmas doctor"
    assert did_you_mean("christmas", ["Christmas"]) is None


def test_api_exposes_the_signals(engine: Any) -> None:
    with TestClient(create_app(engine)) as c:
        body = c.get("/api/search", params={"q": "chrismas", "mode": "keyword", "k": 1}).json()
        assert body["fuzzy"] and body["did_you_mean"] == "christmas" and body["weak"]
        assert body["has_more"] is False
        body = c.get("/api/search", params={"q": "sleep", "k": 1}).json()
        assert body["has_more"] is True and body["weak"] is False
