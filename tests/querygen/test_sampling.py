"""Which episodes get generated queries: per-corpus shares, no hubs, no bare titles."""

from __future__ import annotations

from collections import Counter

from podsearch.models import Episode
from podsearch.querygen.sampling import allocate, corpus_of, eligible, stratified_sample


def test_allocate_is_proportional_with_a_floor_and_exact_total() -> None:
    sizes = {"big": 7000, "mid": 3800, "sv": 1800, "small": 300}
    a = allocate(sizes, 5000, floor_share=0.1)
    assert sum(a.values()) == 5000
    assert a["small"] == 300  # all of it: smaller than the 10% floor
    assert a["big"] > a["mid"] > a["sv"] >= 500
    assert all(a[g] <= sizes[g] for g in sizes)
    assert allocate(sizes, 10**6) == sizes
    assert sum(allocate({"a": 3, "b": 3, "c": 3}, 4, floor_share=0.0).values()) == 4


def test_eligible_skips_short_descriptions_and_hubs() -> None:
    eps = [Episode(f"x:{i}", "s", f"t{i}", "five words of real text" if i % 3 else "two words")
           for i in range(300)]  # fmt: skip
    hubs = {e.episode_id: (0.99 if i == 1 else 0.5) for i, e in enumerate(eps)}
    ok, skipped = eligible(eps, hubs)
    assert skipped == {"short description": 100, "hub": 1}
    assert "x:1" not in {e.episode_id for e in ok} and len(ok) == 199


def test_stratified_sample_reaches_every_corpus_and_is_seeded() -> None:
    eps = [Episode(f"{c}:{i}", "s", "t", "d") for c, n in (("ln", 900), ("sp", 50))
           for i in range(n)]  # fmt: skip
    s = stratified_sample(eps, 200, seed=1)
    by = Counter(corpus_of(e.episode_id) for e in s)
    # Floor 20 each, then the other 160 in proportion to what is left (880 : 30).
    assert by == {"ln": 175, "sp": 25}
    assert [e.episode_id for e in s] == [e.episode_id for e in stratified_sample(eps, 200, seed=1)]
    assert {e.episode_id for e in s} != {e.episode_id for e in stratified_sample(eps, 200, seed=2)}
    assert corpus_of("plain") == ""
