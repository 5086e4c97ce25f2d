"""Splits by episode: no episode in two splits, duplicates kept out of eval and test."""

from __future__ import annotations

import pytest

from podsearch.errors import QueryError
from podsearch.models import Episode
from podsearch.querygen.base import Pair
from podsearch.train.splits import split_pairs


def catalog(n: int) -> dict[str, Episode]:
    eps = {f"e{i}": Episode(f"e{i}", "s", f"title {i}", f"text {i}") for i in range(n)}
    # e0 and e1 share their text (a re-upload): neither may be an eval/test known item.
    eps["e1"] = Episode("e1", "s", "title 0", "text 0")
    return eps


def pairs_for(eps: dict[str, Episode]) -> list[Pair]:
    out = []
    for i, e in enumerate(eps):
        out.append(Pair(f"title of {e}", e, "title", strip_title=True))
        if i % 2 == 0:
            out += [Pair(f"q{j} {e}", e, "gen") for j in range(3)]
    return out


def test_split_by_episode_fractions_and_no_overlap() -> None:
    eps = catalog(200)
    s = split_pairs(pairs_for(eps), eps, fractions=(0.8, 0.05, 0.15), seed=1)
    sets = [{p.episode_id for p in part} for part in (s.train, s.eval, s.test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert s.report["episodes"]["train"] == 160
    assert 12 <= s.report["episodes"]["test"] <= 30
    # Generated and title-only episodes are split separately: both reach the test split.
    assert {p.generator for p in s.test} == {"gen", "title"}
    # Every pair of a kept episode travels with it.
    assert sum(len(x) for x in (s.train, s.eval, s.test)) + sum(
        1 + 3 * (int(e[1:]) % 2 == 0) for e in ("e0", "e1") if e not in sets[0]
    ) == len(pairs_for(eps))


def test_duplicate_texts_never_in_eval_or_test() -> None:
    eps = catalog(50)
    for seed in range(5):
        s = split_pairs(pairs_for(eps), eps, fractions=(0.0, 0.5, 0.5), seed=seed)
        held = {p.episode_id for p in s.eval + s.test}
        assert not held & {"e0", "e1"}
        assert s.report["eval_test_duplicates_dropped"] == 2


def test_same_seed_same_split_and_bad_input() -> None:
    eps = catalog(40)
    a = split_pairs(pairs_for(eps), eps, seed=3)
    b = split_pairs(list(reversed(pairs_for(eps))), eps, seed=3)
    assert {p.episode_id for p in a.test} == {p.episode_id for p in b.test}
    with pytest.raises(QueryError, match="fractions"):
        split_pairs(pairs_for(eps), eps, fractions=(0.5, 0.5, 0.5))
    with pytest.raises(QueryError, match="not in the catalog"):
        split_pairs([Pair("q", "nope", "gen")], eps)
    with pytest.raises(QueryError, match="No pairs"):
        split_pairs([], eps)


def test_wise_interpolation_mixes_shared_float_tensors_only() -> None:
    import torch

    from podsearch.train.finetune import interpolate_weights

    base = {"w": torch.zeros(2), "n": torch.tensor([1])}
    tuned = {"w": torch.ones(2), "n": torch.tensor([5]), "pooler": torch.full((1,), 3.0)}
    out = interpolate_weights(base, tuned, 0.25)
    assert torch.allclose(out["w"], torch.full((2,), 0.25))
    assert out["n"].item() == 5 and out["pooler"].item() == 3.0  # kept as tuned
    assert torch.equal(interpolate_weights(base, tuned, 0.0)["w"], base["w"])
