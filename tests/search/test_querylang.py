"""Query classes for fusion: cross-lingual queries lean on dense search (issue 9)."""

from collections.abc import Sequence

import pytest

from podsearch.search.querylang import (
    CROSS_LINGUAL,
    SAME_LANGUAGE,
    QueryClassifier,
    is_title_query,
)
from podsearch.search.searcher import FusionSettings, Searcher


def test_language_of_a_query_among_the_catalog_languages() -> None:
    clf = QueryClassifier(["en", "sv", "de", "es"])
    assert clf.language("hur man överlever en vinter i lappland")[0] == "sv"
    assert clf.language("gut doctor's advice for staying healthy over the holidays")[0] == "en"
    assert clf.language("wie man im Winter gesund bleibt")[0] == "de"


def test_cross_lingual_when_the_nearest_episode_is_in_another_language() -> None:
    q = "a singer remembers growing up on a farm in the north"
    sv = [(f"s{i}", "sv") for i in range(10)]
    en = [(f"e{i}", "en") for i in range(10)]
    clf = QueryClassifier(["en", "sv"])  # default rule: the nearest episode decides
    assert clf.classify(q, sv) == CROSS_LINGUAL
    assert clf.classify(q, en) == SAME_LANGUAGE
    assert clf.classify(q, sv[:1] + en[:9]) == CROSS_LINGUAL
    assert clf.classify(q, en[:1] + sv[:9]) == SAME_LANGUAGE
    assert clf.classify(q, []) == SAME_LANGUAGE
    majority = QueryClassifier(["en", "sv"], rule="majority")
    assert majority.classify(q, sv[:1] + en[:9]) == SAME_LANGUAGE
    assert majority.classify(q, en[:4] + sv[:6]) == CROSS_LINGUAL
    anyone = QueryClassifier(["en", "sv"], rule="any")
    assert anyone.classify(q, en[:9] + sv[:1]) == CROSS_LINGUAL
    assert anyone.classify(q, en) == SAME_LANGUAGE
    with pytest.raises(ValueError, match="unknown rule"):
        QueryClassifier(["en"], rule="most")
    unsure = QueryClassifier(["en", "sv"], min_confidence=1.01)  # never sure of the language
    assert unsure.classify(q, sv) == SAME_LANGUAGE


def test_title_queries() -> None:
    titles = ["How to Stay on Track over the Holidays", "Episode 12: The Fall of the Republic"]
    assert is_title_query("how to stay on track over the holidays", titles)
    assert is_title_query("Episode 12 the fall of the republic", titles)
    assert not is_title_query("the fall of rome", titles)
    assert not is_title_query("how to stay on track", titles)  # a part of a title is not one
    assert not is_title_query("", titles)


class _Ep:
    def __init__(self, language: str, title: str = "") -> None:
        self.language = language
        self.title = title


def _searcher(fusion: FusionSettings, langs: dict[str, str]) -> Searcher:
    def lookup(ids: Sequence[str]) -> dict:
        return {i: _Ep(langs[i], f"Title of {i}") for i in ids if i in langs}

    def fail() -> None:
        raise AssertionError("not needed")

    return Searcher(
        encoder=fail, vectors=fail, keywords=fail, lookup=lookup, fusion=fusion,  # type: ignore[arg-type]
        languages=lambda: ["en", "sv"],
    )  # fmt: skip


def test_hybrid_keyword_weight_by_query_class() -> None:
    langs = {f"s{i}": "sv" for i in range(10)} | {f"e{i}": "en" for i in range(10)}
    q = "a singer remembers growing up on a farm in the north"
    sv_first = [(f"s{i}", 0.9 - i / 100) for i in range(10)]
    en_first = [(f"e{i}", 0.9 - i / 100) for i in range(10)]
    s = _searcher(FusionSettings(keyword_weight=0.25, cross_lingual_keyword_weight=0.0), langs)
    assert s.keyword_weight_for(q, sv_first) == 0.0
    assert s.keyword_weight_for(q, en_first) == 0.25
    off = _searcher(FusionSettings(keyword_weight=0.25, cross_lingual_keyword_weight=None), langs)
    assert off.keyword_weight_for(q, sv_first) == 0.25
    # a query that is the title of a top keyword hit leans on keyword search
    kw = [("e3", 12.0), ("e4", 8.0)]
    assert s.keyword_weight_for("title of e3", en_first, kw) == 2.0
    assert s.keyword_weight_for("title of e9", en_first, kw) == 0.25  # not a top keyword hit
