"""Training settings of issue 13 on a tiny random BERT (no downloads): frozen word embeddings
stay exactly as the base had them, hard negatives are mined within the margin, and the
held-out check keeps the base unless the tuned model wins."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "encode"))
from encode_helpers import make_tiny_model  # noqa: E402

from podsearch.evaluate.heldout import decide, heldout_pool, reciprocal_ranks  # noqa: E402
from podsearch.models import Episode  # noqa: E402
from podsearch.querygen.base import Pair  # noqa: E402
from podsearch.train.finetune import TrainSettings, finetune, input_embeddings  # noqa: E402

WORDS = ["christmas", "doctor", "holiday", "sourdough", "bread", "baker", "black", "astronomy",
         "roman", "history"]  # fmt: skip


def data() -> tuple[dict[str, Episode], list[Pair]]:
    eps, pairs = {}, []
    for i, w in enumerate(WORDS):
        other = WORDS[(i + 3) % len(WORDS)]
        eid = f"e{i}"
        eps[eid] = Episode(eid, "s", f"{w} {other}", f"{w} {w} {other} history")
        pairs.append(Pair(f"{w} {other}", eid, "test"))
    return eps, pairs


def embedding_matrix(model_dir: Path) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    return input_embeddings(model).weight.detach().numpy().copy()


@pytest.mark.parametrize("frozen", [True, False])
def test_frozen_word_embeddings_are_unchanged(tmp_path: Path, frozen: bool) -> None:
    base = make_tiny_model(tmp_path / "tiny")
    eps, pairs = data()
    settings = TrainSettings(
        base=str(base), batch_size=5, epochs=2, learning_rate=1e-2, max_seq_length=16,
        freeze_embeddings=frozen,
    )  # fmt: skip
    rep = finetune(pairs, eps, tmp_path / "m", settings)
    before, after = embedding_matrix(base), embedding_matrix(tmp_path / "m")
    if frozen:
        np.testing.assert_array_equal(before, after)
        assert rep.frozen_parameters == before.size
    else:
        # The same run without freezing moves the rows of the words it saw.
        assert not np.array_equal(before, after)
        assert rep.frozen_parameters == 0
    # The rest of the model trains either way.
    from sentence_transformers import SentenceTransformer

    a = SentenceTransformer(str(base), device="cpu").encode(["sourdough bread"])
    b = SentenceTransformer(str(tmp_path / "m"), device="cpu").encode(["sourdough bread"])
    assert not np.allclose(a, b)


def test_hard_negatives_are_mined_within_the_margin(tmp_path: Path) -> None:
    base = make_tiny_model(tmp_path / "tiny")
    eps, pairs = data()
    settings = TrainSettings(
        base=str(base), batch_size=4, epochs=1, learning_rate=1e-3, max_seq_length=16,
        hard_negatives=1, negative_margin=0.05, negative_range=5,
    )  # fmt: skip
    rep = finetune(pairs, eps, tmp_path / "m", settings)
    hn = rep.hard_negatives
    assert hn["negatives_per_pair"] == 1 and hn["pairs_in"] == len(pairs)
    assert (
        4
        <= hn["pairs_with_negatives"]
        <= len(pairs)
        == rep.pairs + (len(pairs) - hn["pairs_with_negatives"])
    )


def test_without_enough_hard_negatives_training_goes_on_in_batch_and_says_so(
    tmp_path: Path,
) -> None:
    """A margin no negative can meet (a small catalog): no error, in-batch negatives only, every
    pair kept, and the report says why."""
    base = make_tiny_model(tmp_path / "tiny")
    eps, pairs = data()
    settings = TrainSettings(
        base=str(base), batch_size=4, epochs=1, learning_rate=1e-3, max_seq_length=16,
        hard_negatives=1, negative_margin=1.0, negative_range=5,
    )  # fmt: skip
    rep = finetune(pairs, eps, tmp_path / "m", settings)
    assert rep.pairs == len(pairs)
    assert "in-batch negatives only" in rep.hard_negatives["fallback"]


def test_mined_negatives_respect_the_margin_and_never_the_positive() -> None:
    from podsearch.encode.fake import FakeEncoder
    from podsearch.train.negatives import PrecomputedMiner, mine

    enc = FakeEncoder(dim=32)
    docs = [f"{w} {w} history of {w}" for w in WORDS]
    miner = PrecomputedMiner(enc, docs, enc.encode_documents(docs))
    cols = {"anchor": [f"{w} history" for w in WORDS[:6]], "positive": docs[:6]}
    margin = 0.05
    settings = TrainSettings(hard_negatives=1, negative_margin=margin, negative_range=9)
    out, summary = mine(cols, miner, settings)
    assert summary["corpus"] == len(docs) and miner.encoded_documents == 0
    for q, pos, neg in zip(out["anchor"], out["positive"], out["negative"], strict=True):
        assert neg != pos and neg in docs
        qv = enc.encode_queries([q])[0]
        ps, ns = (
            float(qv @ enc.encode_documents([pos])[0]),
            float(qv @ enc.encode_documents([neg])[0]),
        )
        assert ns <= ps - abs(ps) * margin + 1e-6


def test_heldout_check_keeps_the_base_unless_the_tuned_model_wins() -> None:
    base = {"a": 1.0, "b": 0.5, "c": 0.0}
    worse = {"a": 0.5, "b": 0.5, "c": 0.0}
    better = {"a": 1.0, "b": 1.0, "c": 0.0}
    assert decide(base, worse)["kept"] == "base"
    assert decide(base, dict(base))["kept"] == "base"  # a tie is no win
    assert decide(base, better)["kept"] == "tuned"
    forced = decide(base, worse, keep_tuned=True)
    assert forced["kept"] == "tuned" and forced["forced"]
    assert decide({}, {})["kept"] == "base"


def test_heldout_check_guards_recall_and_cross_lingual_queries() -> None:
    """A higher mean is not enough: fewer targets in the top 30, or a lower MRR@30 on the
    cross-lingual queries (a group of at least min_group), keeps the base."""
    cross = [f"x{i}" for i in range(10)]
    base = {**{f"m{i}": 0.5 for i in range(20)}, **{q: 0.5 for q in cross}}
    mono_up = {**{f"m{i}": 1.0 for i in range(20)}, **{q: 0.25 for q in cross}}
    verdict = decide(base, mono_up, groups={"cross-lingual": cross})
    assert verdict["tuned_mrr@30"] > verdict["base_mrr@30"] and verdict["kept"] == "base"
    assert verdict["blocked_by"] == ["cross-lingual"]
    assert verdict["groups"]["cross-lingual"]["queries"] == 10
    assert decide(base, mono_up, groups={"cross-lingual": cross[:9]})["kept"] == "tuned"
    assert decide(base, mono_up)["kept"] == "tuned"  # no group: the mean decides
    lost = {**{f"m{i}": 1.0 for i in range(20)}, **{q: 0.5 for q in cross}}
    lost["x0"] = 0.0  # the mean rises but one target leaves the top 30
    assert decide(base, lost)["blocked_by"] == ["R@30"] and decide(base, lost)["kept"] == "base"
    both_up = {q: v + 0.25 for q, v in base.items()}
    assert decide(base, both_up, groups={"cross-lingual": cross})["kept"] == "tuned"


def test_cross_lingual_qids_name_queries_as_the_check_does(tmp_path: Path) -> None:
    from podsearch.train.pipeline import check_queries, cross_lingual_qids

    path = tmp_path / "q.jsonl"
    rows = [
        {"qid": "a", "query": "jul mat", "episode_id": "e1", "query_language": "sv",
         "episode_language": "en"},
        {"qid": "b", "query": "christmas food", "episode_id": "e1", "query_language": "en",
         "episode_language": "en"},
        {"qid": "c", "query": "no languages", "episode_id": "e2"},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows), "utf-8")
    curated = [("cur", path, None, "")]
    names = {q for q, _, _ in check_queries(curated)}
    assert cross_lingual_qids(curated) == {"cur:a"} and "cur:a" in names


def test_heldout_ranks_within_a_pool() -> None:
    from podsearch.encode.fake import FakeEncoder

    eps, _ = data()
    pool = heldout_pool(["e0"], list(eps), size=4, seed=0)
    assert pool[0] == "e0" and len(pool) == 5 and len(set(pool)) == 5
    enc = FakeEncoder(dim=64)
    rr = reciprocal_ranks(enc, [("q", eps["e0"].text, "e0")], eps, pool)
    assert rr == {"q": 1.0}  # the episode's own text finds it first


def test_heldout_pool_holds_the_targets_show_siblings() -> None:
    """Up to ``siblings`` episodes of each target's show join the pool (the distractors a real
    index has), then random others; the same seed gives the same pool."""
    catalog = [f"e{i}" for i in range(200)]
    shows = {e: f"s{i % 20}" for i, e in enumerate(catalog)}  # 10 episodes per show
    pool = heldout_pool(["e0", "e1"], catalog, size=5, seed=3, shows=shows, siblings=4)
    same_show = [e for e in pool if shows[e] in ("s0", "s1") and e not in ("e0", "e1")]
    assert len(same_show) >= 8 and len(pool) == 2 + 8 + 5 and len(set(pool)) == len(pool)
    assert pool == heldout_pool(["e0", "e1"], catalog, size=5, seed=3, shows=shows, siblings=4)
    assert len(heldout_pool(["e0"], catalog, size=5, seed=3)) == 6  # no shows: random only
