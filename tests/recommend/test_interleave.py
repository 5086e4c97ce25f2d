"""Multi-interest interleaving: weighted turns, no duplicates, the per-show cap across lists."""

from __future__ import annotations

from podsearch.models import Episode
from podsearch.recommend.recommender import _interleave


def ranked(*ids: str) -> list[tuple[Episode, float]]:
    """Episodes named "<show>.<n>", scored by position."""
    return [(Episode(i, i.split(".")[0], i), 1.0 - n / 10) for n, i in enumerate(ids)]


def picked_ids(lists: list[list[tuple[Episode, float]]], weights: list[float], need: int,
               per_show: int | None = None) -> list[str]:  # fmt: skip
    out, _ = _interleave(lists, weights, need, per_show)
    return [ep.episode_id for ep, _ in out]


def test_turns_follow_the_weights() -> None:
    a, b = ranked("a.1", "a.2", "a.3", "a.4"), ranked("b.1", "b.2", "b.3")
    # weighted_round_robin([2, 1]) = 0, 1, 0, 0, 1, 0
    assert picked_ids([a, b], [2.0, 1.0], 6) == ["a.1", "b.1", "a.2", "a.3", "b.2", "a.4"]


def test_duplicates_are_skipped_and_origin_is_the_list_that_gave_it() -> None:
    a, b = ranked("a.1", "x.1", "a.2"), ranked("x.1", "b.1")
    out, origin = _interleave([a, b], [1.0, 1.0], 4, None)
    assert [ep.episode_id for ep, _ in out] == ["a.1", "x.1", "a.2", "b.1"]
    assert origin == {"a.1": 0, "x.1": 1, "a.2": 0, "b.1": 1}


def test_an_exhausted_list_drops_out() -> None:
    a, b = ranked("a.1"), ranked("b.1", "b.2", "b.3")
    assert picked_ids([a, b], [5.0, 1.0], 4) == ["a.1", "b.1", "b.2", "b.3"]
    assert picked_ids([a, b], [5.0, 1.0], 10) == ["a.1", "b.1", "b.2", "b.3"]  # all there is


def test_per_show_cap_holds_across_lists() -> None:
    a, b = ranked("s.1", "s.2", "a.1"), ranked("s.3", "b.1")
    assert picked_ids([a, b], [1.0, 1.0], 4, per_show=1) == ["s.1", "b.1", "a.1"]


def test_one_list_is_cut_to_need() -> None:
    a = ranked("a.1", "b.1", "c.1")
    out, origin = _interleave([a], [3.0], 2, None)
    assert [ep.episode_id for ep, _ in out] == ["a.1", "b.1"]
    assert origin == {"a.1": 0, "b.1": 0}
