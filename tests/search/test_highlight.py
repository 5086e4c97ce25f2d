"""Highlighting by stems in the episode's language (search/snippet.py)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from podsearch.search.snippet import highlight_spans, make_snippet

DEMO = Path(__file__).resolve().parents[2] / "src/podsearch/data/demo/episodes.csv"


def marked(query: str, text: str, lang: str) -> list[str]:
    return [text[a:b] for a, b in highlight_spans(query, text, lang)]


def test_whole_words_by_english_stem() -> None:
    text = "Staying healthy is good for your health and for healthcare."
    # Snowball: health -> health, healthy -> healthi, healthcare -> healthcar.
    assert marked("health", text, "en") == ["health"]
    assert marked("healthy", text, "en") == ["healthy"]
    text = "Holiday dinners: eating well on holidays."
    assert marked("eat better during xmas holidays", text, "en") == [
        "Holiday",
        "eating",
        "holidays",
    ]


def test_stop_words_are_not_highlighted() -> None:
    text = "What the doctor said during the show about the festive season."
    assert marked("what did the doctor say during the holidays", text, "en") == ["doctor"]


def test_episode_language_decides_the_stemmer() -> None:
    text = "Warum Schlaf für die Gesundheit wichtig ist."
    assert marked("gesunder Schlaf", text, "de") == ["Schlaf", "Gesundheit"]
    # In a language without a Snowball stemmer, words must be equal (case and accents aside).
    assert marked("zdrowie zdrowy", "Zdrowie i zdrowa dieta.", "pl") == ["Zdrowie"]


def test_christmas_query_on_the_demo_doctor_episode() -> None:
    with open(DEMO, encoding="utf-8") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    query = "eat better during xmas holidays"
    snippet = make_snippet(query, rows["1"]["description"], language="en")
    # "holiday" is what the episode shares with the query; nothing else is lit up
    # ("xmas" is not "Christmas", "during" is a stop word, "eat" is not inside "great").
    assert marked(query, snippet, "en") == ["holiday"]
    assert "holiday dinners" in snippet


def test_hits_carry_spans_into_their_snippet(engine: Any) -> None:
    hit = engine.search("holidays dinner", mode="keyword").hits[0]
    assert hit.episode_id == "e1"
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["holiday", "dinners"]
    assert hit.to_dict()["highlights"] == [list(s) for s in hit.highlights]


def test_typo_forgiving_hits_mark_the_words_as_spelt_in_the_hits(engine: Any) -> None:
    result = engine.search("sourdogh bred", mode="keyword")
    assert result.fuzzy and result.did_you_mean == "sourdough bread"
    hit = result.hits[0]
    assert hit.episode_id == "e4"
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["sourdough"]
