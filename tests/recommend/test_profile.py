"""Profile helpers: recency weights, clustering, weighted round robin (hand-checked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from podsearch.recommend.history import HistoryItem
from podsearch.recommend.profile import (
    cluster_history,
    mean_profile,
    recency_weights,
    weighted_round_robin,
)


def test_recency_weights_halve_per_half_life() -> None:
    now = datetime(2020, 1, 31, tzinfo=UTC)
    items = [
        HistoryItem("a", timestamp=now),
        HistoryItem("b", timestamp=now - timedelta(days=10)),
        HistoryItem("c", weight=2.0, timestamp=now - timedelta(days=20)),
        HistoryItem("d"),  # no timestamp: counts as newest
    ]
    w = recency_weights(items, half_life_days=10, now=now)
    assert np.allclose(w, [1.0, 0.5, 0.5, 1.0])
    assert np.allclose(recency_weights(items, None), [1, 1, 2, 1])


def _unit(rows: list[list[float]]) -> np.ndarray:
    a = np.asarray(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_cluster_history_separates_two_topics() -> None:
    vecs = _unit([[1, 0.1, 0], [1, 0, 0.1], [0.9, 0.1, 0.1], [0, 1, 0.1], [0.1, 1, 0]])
    labels = cluster_history(vecs)
    assert labels[0] == labels[1] == labels[2] != labels[3] == labels[4]
    one_topic = _unit([[1, 0.1, 0], [1, 0, 0.1], [1, 0.05, 0.05], [0.95, 0.1, 0.05]])
    assert set(cluster_history(one_topic).tolist()) == {0}


def test_small_histories() -> None:
    assert cluster_history(_unit([[1, 0]])).tolist() == [0]
    assert cluster_history(_unit([[1, 0], [0, 1]])).tolist() == [0, 1]
    assert cluster_history(_unit([[1, 0], [1, 0.01]])).tolist() == [0, 0]
    three = cluster_history(_unit([[1, 0, 0], [1, 0.1, 0], [0, 0, 1]]))
    assert three[0] == three[1] != three[2]


def test_mean_profile_subtracts_skips() -> None:
    liked = _unit([[1, 1]])
    prof = mean_profile(liked, np.ones(1), _unit([[0, 1]]), np.ones(1), skip_penalty=0.5)
    assert prof[0] > prof[1]
    assert np.isclose(np.linalg.norm(prof), 1.0)
    same = mean_profile(liked, np.ones(1), liked, np.ones(1), skip_penalty=1.0)
    assert np.allclose(same, liked[0])  # cancelled out: fall back to the listens


def test_weighted_round_robin_is_proportional_and_spread() -> None:
    assert weighted_round_robin([2, 1], 6) == [0, 1, 0, 0, 1, 0]
    assert weighted_round_robin([1, 1, 1], 3) == [0, 1, 2]
    assert weighted_round_robin([], 3) == []
