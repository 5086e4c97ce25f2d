"""Query classes for fusion: cross-lingual queries lean on dense search (issue 9)."""

from collections.abc import Sequence

from podsearch.search.querylang import CROSS_LINGUAL, SAME_LANGUAGE, QueryClassifier
from podsearch.search.searcher import FusionSettings, Searcher


def test_language_of_a_query_among_the_catalog_languages() -> None:
    clf = QueryClassifier(["en", "sv", "de", "es"])
    assert clf.language("hur man överlever en vinter i lappland")[0] == "sv"
    assert clf.language("gut doctor's advice for staying healthy over the holidays")[0] == "en"
    assert clf.language("wie man im Winter gesund bleibt")[0] == "de"


def test_cross_lingual_when_most_neighbours_are_in_another_language() -> None:
    clf = QueryClassifier(["en", "sv"])
    q = "a singer remembers growing up on a farm in the north"
    sv = [(f"s{i}", "sv") for i in range(10)]
    en = [(f"e{i}", "en") for i in range(10)]
    assert clf.classify(q, sv) == CROSS_LINGUAL
    assert clf.classify(q, en) == SAME_LANGUAGE
    assert clf.classify(q, sv[:5] + en[:5]) == SAME_LANGUAGE  # no majority: default weights
    assert clf.classify(q, []) == SAME_LANGUAGE
    unsure = QueryClassifier(["en", "sv"], min_confidence=1.01)  # never sure of the language
    assert unsure.classify(q, sv) == SAME_LANGUAGE


class _Ep:
    def __init__(self, language: str) -> None:
        self.language = language


def _searcher(fusion: FusionSettings, langs: dict[str, str]) -> Searcher:
    def lookup(ids: Sequence[str]) -> dict:
        return {i: _Ep(langs[i]) for i in ids if i in langs}

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
