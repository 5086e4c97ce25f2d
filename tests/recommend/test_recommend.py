"""More like this and listener recommendations on the tiny catalog (fake encoder).

Shows: 1 Healthy Living (e1-e3, en), 2 Kitchen Stories (e4-e5, en), 3 Wissen Heute (e6-e8, de).
Each episode's text includes its show's title and description, so same-show episodes are close.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from podsearch.errors import NotFoundError, QueryError
from podsearch.models import Filters
from podsearch.recommend import HistoryItem, Recommendations

SHOW = {"e1": "1", "e2": "1", "e3": "1", "e4": "2", "e5": "2", "e6": "3", "e7": "3", "e8": "3"}


def ids(res: Any) -> list[str]:
    return [h.episode_id for h in res.hits]


# ---- similar ---------------------------------------------------------------------------------


def test_similar_finds_the_same_show_first_and_never_itself(engine: Any) -> None:
    res = engine.similar("e7", k=7)
    assert res.mode == "similar" and res.query == "e7"
    assert "e7" not in ids(res)
    assert len(ids(res)) == 7
    assert set(ids(res)[:2]) == {"e6", "e8"}
    assert [h.rank for h in res.hits] == list(range(1, 8))
    scores = [h.score for h in res.hits]
    assert scores == sorted(scores, reverse=True)


def test_similar_exclude_show_and_per_show(engine: Any) -> None:
    res = engine.similar("e1", k=10, exclude_same_show=True)
    assert ids(res) and all(SHOW[i] != "1" for i in ids(res))
    assert len(ids(res)) == 5  # everything outside show 1
    capped = engine.similar("e1", k=10, per_show=1)
    shows = [SHOW[i] for i in ids(capped)]
    assert sorted(shows) == ["1", "2", "3"]


def test_similar_filters_and_paging(engine: Any) -> None:
    de = engine.similar("e1", k=10, filters=Filters(languages=("de",)))
    assert set(ids(de)) == {"e6", "e7", "e8"}
    full = ids(engine.similar("e2", k=6))
    page2 = engine.similar("e2", k=3, offset=3)
    assert ids(page2) == full[3:6]
    assert [h.rank for h in page2.hits] == [4, 5, 6]


def test_similar_errors(engine: Any) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        engine.similar("nope")
    with pytest.raises(QueryError, match="k must be"):
        engine.similar("e1", k=0)
    with pytest.raises(QueryError, match="per_show"):
        engine.similar("e1", per_show=0)


# ---- recommend -------------------------------------------------------------------------------


def test_multi_interest_serves_both_interests(engine: Any) -> None:
    history = ["e2", "e3", "e7", "e8"]  # health + German science
    recs = engine.recommend(history, k=2, strategy="multi-interest")
    assert isinstance(recs, Recommendations)
    assert len(recs.interests) == 2
    assert sorted(len(it.members) for it in recs.interests) == [2, 2]
    assert set(ids(recs)) == {"e1", "e6"}  # the unheard episode of each interest
    assert set(recs.interest_of.values()) == {0, 1}


def test_recommend_never_returns_heard_or_skipped(engine: Any) -> None:
    history = [HistoryItem("e2"), HistoryItem("e6", skipped=True), "e4"]
    for strategy in ("mean", "multi-interest"):
        recs = engine.recommend(history, k=10, strategy=strategy)
        assert not {"e2", "e6", "e4"} & set(ids(recs))
        assert len(ids(recs)) == 5
        assert len(set(ids(recs))) == len(ids(recs))


def test_mean_profile_follows_the_heavier_and_newer_listens(engine: Any) -> None:
    old, new = datetime(2017, 1, 1, tzinfo=UTC), datetime(2018, 1, 1, tzinfo=UTC)
    history = [
        HistoryItem("e2", timestamp=old),
        HistoryItem("e7", timestamp=new),
    ]
    recs = engine.recommend(history, k=1, strategy="mean", half_life_days=30)
    assert SHOW[ids(recs)[0]] == "3"  # the year-old listen barely counts
    history = [HistoryItem("e2", weight=5.0), HistoryItem("e7", weight=0.1)]
    recs = engine.recommend(history, k=1, strategy="mean", half_life_days=None)
    assert SHOW[ids(recs)[0]] == "1"


def test_skips_push_away(engine: Any) -> None:
    base = engine.recommend(["e2"], k=7, strategy="mean")
    pushed = engine.recommend(
        [HistoryItem("e2"), HistoryItem("e1", skipped=True)], k=6, strategy="mean",
        skip_penalty=1.0,
    )  # fmt: skip
    assert "e1" not in ids(pushed) and sorted(ids(pushed)) == ["e3", "e4", "e5", "e6", "e7", "e8"]
    # e3 (close to the skipped e1) moves down among the same candidates, and loses score.
    unskipped = [i for i in ids(base) if i != "e1"]
    assert ids(pushed).index("e3") > unskipped.index("e3")
    score = {h.episode_id: h.score for h in pushed.hits}
    assert score["e3"] < next(h.score for h in base.hits if h.episode_id == "e3")


def test_recommend_filters_and_per_show(engine: Any) -> None:
    recs = engine.recommend(["e2"], k=10, filters=Filters(languages=("de",)))
    assert set(ids(recs)) == {"e6", "e7", "e8"}
    recs = engine.recommend(["e2", "e7"], k=10, per_show=1)
    shows = [SHOW[i] for i in ids(recs)]
    assert len(shows) == len(set(shows))


def test_unknown_ids_are_reported_or_refused(engine: Any) -> None:
    recs = engine.recommend(["e2", "ghost", "e2"], k=3)
    assert recs.unknown_ids == ("ghost",)
    assert recs.to_dict()["unknown_ids"] == ["ghost"]
    with pytest.raises(NotFoundError, match="ghost"):
        engine.recommend(["ghost", "phantom"])
    with pytest.raises(NotFoundError, match="listened"):
        engine.recommend([HistoryItem("e1", skipped=True), "ghost"])
    with pytest.raises(QueryError, match="empty"):
        engine.recommend([])
    with pytest.raises(QueryError, match="strategy"):
        engine.recommend(["e1"], strategy="popular")


def test_to_dict_shape(engine: Any) -> None:
    body = engine.recommend(["e2", "e7"], k=3).to_dict()
    assert body["strategy"] == "multi-interest"
    assert {"hits", "interests", "unknown_ids", "k", "offset"} <= set(body)
    assert all("interest" in h for h in body["hits"])
    assert np.isclose(sum(i["weight"] for i in body["interests"]), 2.0)
