import pytest

from podsearch.search.fusion import reciprocal_rank_fusion
from podsearch.search.snippet import make_snippet


def test_rrf_hand_checked() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    keyword = [("c", 12.0), ("d", 5.0)]
    fused = reciprocal_rank_fusion([dense, keyword], k=60)
    scores = {d: s for d, s, _ in fused}
    assert scores["a"] == 1 / 61
    assert scores["c"] == 1 / 63 + 1 / 61
    assert [d for d, _, _ in fused] == ["c", "a", "b", "d"]
    assert dict((d, r) for d, _, r in fused)["d"] == [None, 2]


def test_rrf_weights_keep_dense_order_when_keyword_is_noise() -> None:
    dense = [("a", 0.9), ("b", 0.8)]
    keyword = [("x", 9.0), ("y", 8.0)]
    fused = reciprocal_rank_fusion([dense, keyword], weights=[1.0, 0.5])
    assert [d for d, _, _ in fused][:2] == ["a", "b"]


def test_rrf_ties_keep_first_seen_order_and_duplicates_count_once() -> None:
    fused = reciprocal_rank_fusion([[("a", 1.0), ("a", 0.5)], [("b", 1.0)]])
    assert [d for d, _, _ in fused] == ["a", "b"]
    assert fused[0][1] == fused[1][1] == 1 / 61


def test_snippet_prefers_matching_sentence() -> None:
    text = "Intro words here. " * 20 + "Holiday dinners and portion sizes matter. The end."
    s = make_snippet("holiday portion", text, max_chars=80)
    assert "portion sizes" in s and s.startswith("…")
    assert len(s) <= 84
    assert make_snippet("x", "short text") == "short text"


def test_convex_fusion_hand_checked() -> None:
    from podsearch.search.fusion import convex_fusion

    dense = [("a", 0.9), ("b", 0.8)]
    keyword = [("c", 10.0), ("b", 5.0)]
    cos = {"a": 0.9, "b": 0.8, "c": 0.7}  # mean 0.8, std 0.08165
    fused = convex_fusion(dense, keyword, cos, keyword_weight=0.5)
    z = {d: (c - 0.8) / (0.02 / 3) ** 0.5 for d, c in cos.items()}
    expect = {"a": z["a"], "b": z["b"] + 0.25, "c": z["c"] + 0.5}
    assert [d for d, _, _ in fused] == sorted(expect, key=lambda d: -expect[d])
    for d, s, _ in fused:
        assert s == pytest.approx(expect[d])
    assert dict((d, r) for d, _, r in fused) == {"a": [1, None], "b": [2, 2], "c": [None, 1]}
    # with no keyword weight the dense order is kept exactly
    assert [d for d, _, _ in convex_fusion(dense, keyword, cos, keyword_weight=0.0)] == [
        "a", "b", "c"]  # fmt: skip
