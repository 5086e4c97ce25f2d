from datetime import UTC, datetime
from pathlib import Path

from podsearch.index.base import KeywordDoc, KeywordIndex
from podsearch.index.tantivy_index import TantivyKeywordIndex, prepare_query
from podsearch.models import DocPayload, Filters

DOCS = [
    KeywordDoc("en1", "Running for beginners", "Running for beginners. How to start runs safely.",
               DocPayload("en", "s1", ("Health",), datetime(2017, 1, 1, tzinfo=UTC))),
    KeywordDoc("de1", "Gesunde Ernährung", "Gesunde Ernährung. Wie man sich gesund ernährt.",
               DocPayload("de", "s2", ("Health",), datetime(2019, 1, 1, tzinfo=UTC))),
    KeywordDoc("ja1", "東京の料理", "東京の料理について話します。", DocPayload("ja", "s3")),
    KeywordDoc("fr1", "La cuisine française", "Les recettes de cuisine de grand-mère.",
               DocPayload("fr", "s4", ("Arts",), None)),
]  # fmt: skip


def make(tmp_path: Path) -> TantivyKeywordIndex:
    idx = TantivyKeywordIndex(tmp_path / "k")
    idx.upsert(DOCS)
    idx.commit()
    return idx


def ids(hits: list[tuple[str, float]]) -> list[str]:
    return [i for i, _ in hits]


def test_keeps_the_keyword_index_contract(tmp_path: Path) -> None:
    """What KeywordIndex promises, checked by behaviour (isinstance only compares names)."""
    idx: KeywordIndex = make(tmp_path)
    assert len(idx) == 4
    hits = idx.search("running beginners runs", 5)
    assert ids(hits) == ["en1"] and hits[0][1] > 0
    two = idx.search("cuisine gesunde", 5)
    assert set(ids(two)) == {"fr1", "de1"} and two[0][1] >= two[1][1]
    assert idx.search("zzzqqq", 5) == []
    idx.upsert([KeywordDoc("fr1", "Le vélo", "Le vélo en ville.", DocPayload("fr", "s4"))])
    idx.commit()
    assert len(idx) == 4 and ids(idx.search("cuisine", 5)) == []
    assert ids(idx.search("vélo", 5)) == ["fr1"]
    assert idx.delete(["en1", "nope"]) == 1
    idx.commit()
    assert len(idx) == 3 and idx.search("running", 5) == []
    idx.close()
    again = TantivyKeywordIndex(tmp_path / "k")
    assert len(again) == 3 and ids(again.search("vélo", 5)) == ["fr1"]
    again.close()


def test_language_aware_stemming_and_cjk(tmp_path: Path) -> None:
    idx = make(tmp_path)
    assert ids(idx.search("run", 5)) == ["en1"]  # english stemmer: runs/running -> run
    assert ids(idx.search("gesunden", 5)) == ["de1"]  # german stemmer
    assert ids(idx.search("recette", 5)) == ["fr1"]  # french stemmer
    assert ids(idx.search("料理", 5)) == ["ja1"]  # CJK bigrams
    assert ids(idx.search("ernahrung", 5)) == ["de1"]  # ASCII folding


def test_filters(tmp_path: Path) -> None:
    idx = make(tmp_path)
    assert idx.search("running gesunde", 5, Filters(languages=("de",))) == idx.search(
        "gesunde", 5, Filters(languages=("de",))
    )
    assert set(ids(idx.search("running gesunde cuisine", 5, Filters(categories=("HEALTH",))))) == {
        "en1", "de1"}  # fmt: skip
    assert ids(idx.search("running", 5, Filters(date_from=datetime(2018, 1, 1, tzinfo=UTC)))) == []
    assert ids(idx.search("gesunde", 5, Filters(show_ids=("s2",)))) == ["de1"]


def test_query_syntax_is_never_an_error(tmp_path: Path) -> None:
    idx = make(tmp_path)
    for q in ['AND "(:', "title:running", "run*", "NOT", "\x00\x07", "a" * 5000, "🙂"]:
        idx.search(q, 5)
    assert prepare_query('foo:"bar" AND (baz)') == "foo bar and baz"


def test_upsert_replaces_and_delete_removes_and_persists(tmp_path: Path) -> None:
    idx = make(tmp_path)
    idx.upsert([KeywordDoc("en1", "Cycling", "Cycling tips.", DocPayload("en", "s1"))])
    idx.commit()
    assert ids(idx.search("running", 5)) == [] and ids(idx.search("cycling", 5)) == ["en1"]
    assert idx.delete(["de1", "missing"]) == 1
    idx.commit()
    idx.close()
    again = TantivyKeywordIndex(tmp_path / "k")
    assert len(again) == 3 and ids(again.search("gesunde", 5)) == []
