import pytest

from podsearch.errors import QueryError
from podsearch.evaluate import evaluate_runs, known_item_qrels, search_run


def test_hand_checked_metrics() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"z": 1}}
    run = {"q1": {"a": 3.0, "x": 2.0}, "q2": {"x": 3.0, "y": 2.0, "b": 1.0}}  # q3 unanswered
    rep = evaluate_runs(qrels, {"sys": run}, ["R@1", "R@10", "RR@30"])
    s = rep.systems["sys"]
    assert s["R@1"] == pytest.approx(1 / 3)
    assert s["R@10"] == pytest.approx(2 / 3)
    assert s["RR@30"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert rep.per_query["sys"]["q3"]["R@10"] == 0.0
    assert "| sys | 0.333 | 0.667 | 0.444 |" in rep.to_markdown()


def test_unknown_measure_is_a_clear_error() -> None:
    with pytest.raises(QueryError, match="unknown measure"):
        evaluate_runs({"q": {"a": 1}}, {"s": {"q": {"a": 1.0}}}, ["Bogus@3"])


def test_search_run_and_known_item_qrels(engine) -> None:  # type: ignore[no-untyped-def]
    texts, qrels = known_item_qrels(
        [
            {
                "qid": "1",
                "query": "sourdough bread baker",
                "episode_id": "e4",
                "also_relevant": ["e5"],
            }
        ]  # fmt: skip
    )
    assert qrels == {"1": {"e4": 1, "e5": 1}}
    run = search_run(engine, texts, mode="keyword", k=5)
    assert next(iter(run["1"])) == "e4"
    rep = evaluate_runs(qrels, {"kw": run}, ["R@1"])
    assert rep.systems["kw"]["R@1"] == 0.5


def test_known_item_qrels_ids_are_exact() -> None:
    texts, qrels = known_item_qrels(
        [
            {"qid": 0, "id": "x", "query": "zero", "episode_id": "e1"},  # 0 is an id too
            {"id": "b", "query": "bee", "episode_id": "e2"},
            {"qid": None, "id": 7, "query": "seven", "episode_id": "e3"},
        ]
    )
    assert texts == {"0": "zero", "b": "bee", "7": "seven"}
    assert qrels == {"0": {"e1": 1}, "b": {"e2": 1}, "7": {"e3": 1}}
    with pytest.raises(QueryError, match=r"query 2 .*has no qid or id"):
        known_item_qrels([{"id": "a", "query": "x", "episode_id": "e1"},
                          {"query": "y", "episode_id": "e2"}])  # fmt: skip
    with pytest.raises(QueryError, match="qid 'a' .*twice"):
        known_item_qrels([{"qid": "a", "query": "x", "episode_id": "e1"},
                          {"id": "a", "query": "y", "episode_id": "e2"}])  # fmt: skip
