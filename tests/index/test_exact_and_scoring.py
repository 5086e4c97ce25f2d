"""Exact search below the size threshold, and multi-field keyword scoring (issue 9)."""

from pathlib import Path

import numpy as np

from podsearch.index.base import KeywordDoc
from podsearch.index.faiss_index import FaissVectorIndex
from podsearch.index.tantivy_index import TantivyKeywordIndex
from podsearch.models import DocPayload


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_unfiltered_search_below_the_threshold_is_exact(tmp_path: Path) -> None:
    """A far-away target (the one a graph walk misses) is found: the result is the brute-force
    top k over the live vectors, deleted and replaced ones excluded, in the same order."""
    rng = np.random.default_rng(3)
    x = unit(rng.normal(size=(3000, 24)))
    ids = [f"d{i}" for i in range(len(x))]
    idx = FaissVectorIndex(tmp_path / "v", 24, exact_max=10_000)
    idx.upsert(ids, x, [DocPayload("en", "s")] * len(x))
    idx.delete(["d5", "d6"])
    x[7] = unit(rng.normal(size=(1, 24)))[0]
    idx.upsert(["d7"], x[7:8], [DocPayload("en", "s")])
    q = unit(rng.normal(size=(20, 24)))
    got = idx.search(q, 25)
    sims = q @ x.T
    sims[:, [5, 6]] = -np.inf
    for row, hits in zip(sims, got, strict=True):
        want = [f"d{j}" for j in np.argsort(-row, kind="stable")[:25]]
        assert [i for i, _ in hits] == want
        assert np.allclose([s for _, s in hits], np.sort(row)[::-1][:25], atol=1e-5)


def test_above_the_threshold_the_graph_is_used(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    x = unit(rng.normal(size=(2000, 16)))
    idx = FaissVectorIndex(tmp_path / "v", 16, exact_max=0, exact_fraction=0.0, ef_search=16)
    idx.upsert([f"d{i}" for i in range(len(x))], x, [DocPayload("en", "s")] * len(x))
    q = unit(rng.normal(size=(50, 16)))
    got = idx.search(q, 50)
    truth = np.argsort(-(q @ x.T), axis=1)[:, :50]
    overlap = np.mean(
        [len({int(i[1:]) for i, _ in g} & set(t)) / 50 for g, t in zip(got, truth, strict=True)]
    )
    assert 0.5 < overlap < 1.0  # approximate: a small efSearch misses some of the exact top 50


DOCS = [
    KeywordDoc("happy", "Why we smile", "Why we smile. Research on what makes people happy.",
               DocPayload("en", "s1")),
    KeywordDoc("howto", "The how to show", "The how to show. How to do this, how to do that, "
               "and how to do it all again.", DocPayload("en", "s2")),
    KeywordDoc("cook", "Kitchen basics", "Kitchen basics. Cooking rice the right way.",
               DocPayload("en", "s3")),
]  # fmt: skip


def test_query_stop_words_do_not_match_the_neutral_field(tmp_path: Path) -> None:
    """'how to be happy': the episode made of 'how to' must not match on those words."""
    for drop, expect in ((True, ["happy"]), (False, ["howto", "happy"])):
        idx = TantivyKeywordIndex(tmp_path / f"k{drop}", drop_stopwords=drop)
        idx.upsert(DOCS)
        idx.commit()
        assert sorted(i for i, _ in idx.search("how to be happy", 10)) == sorted(expect)
        idx.close()


def test_a_word_in_several_fields_is_not_counted_once_per_field(tmp_path: Path) -> None:
    """Disjunction-max: the score of a one-word query is its best field's score plus
    tie_breaker x the others', so summing (tie 1.0) scores the same match higher."""
    scores = {}
    for tie in (0.0, 1.0):
        idx = TantivyKeywordIndex(tmp_path / f"k{tie}", tie_breaker=tie, title_boost=1.0)
        idx.upsert(DOCS)
        idx.commit()
        scores[tie] = dict(idx.search("rice", 10))
        idx.close()
    assert set(scores[0.0]) == set(scores[1.0]) == {"cook"}
    # 'rice' sits in the neutral field and the English field of 'cook': summed, it counts twice.
    assert scores[1.0]["cook"] > 1.5 * scores[0.0]["cook"]


def test_a_query_of_stop_words_only_still_searches(tmp_path: Path) -> None:
    idx = TantivyKeywordIndex(tmp_path / "k")
    idx.upsert(DOCS)
    idx.commit()
    assert [i for i, _ in idx.search("how to", 10)] == ["howto"]
