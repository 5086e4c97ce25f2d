"""A real (small) fine-tuning run: the loss falls and training positives move up.

Loads the packaged all-MiniLM-L6-v2 and trains ~50 pairs on the CPU (tens of seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from podsearch.encode import load_encoder
from podsearch.errors import ModelError, QueryError
from podsearch.models import Episode
from podsearch.querygen.base import Pair
from podsearch.train.finetune import TrainSettings, check_model_dir, finetune

pytestmark = [pytest.mark.train, pytest.mark.integration]

TOPICS = [
    ("sourdough", "baking bread with a wild yeast starter"),
    ("marathon", "training plans for long distance running"),
    ("coral", "reef ecosystems bleaching in warm oceans"),
    ("bitcoin", "cryptocurrency prices and blockchain mining"),
    ("insomnia", "why people cannot fall asleep at night"),
    ("jazz", "improvisation and the history of bebop"),
    ("gardening", "growing tomatoes and herbs on a balcony"),
    ("chess", "opening theory and endgame tactics"),
    ("volcano", "eruptions magma and lava flows in iceland"),
    ("parenting", "raising toddlers and handling tantrums"),
]


def data() -> tuple[dict[str, Episode], list[Pair]]:
    eps: dict[str, Episode] = {}
    pairs: list[Pair] = []
    for i, (code, topic) in enumerate(TOPICS):
        for j in range(5):
            eid = f"{code}-{j}"
            # Each episode is named by an invented code word; its query only knows the code.
            eps[eid] = Episode(eid, f"s{i}", f"Episode {j}", f"{topic}, part {j}. zq{code}{j}")
            pairs.append(Pair(f"zq{code}{j} {code}", eid, "test"))
    return eps, pairs


def mean_rank_and_margin(
    model: str, eps: dict[str, Episode], pairs: list[Pair]
) -> tuple[float, float]:
    """Mean rank of each query's episode, and the mean cosine margin of that episode over
    the best other one (continuous, so a CPU's rounding cannot flip it as it can a tie)."""
    enc = load_encoder(model, backend="torch")
    ids = list(eps)
    d = enc.encode_documents([eps[i].text for i in ids])
    q = enc.encode_queries([p.query for p in pairs])
    sims = q @ d.T
    pos = np.array([sims[k, ids.index(p.episode_id)] for k, p in enumerate(pairs)])
    others = sims.copy()
    for k, p in enumerate(pairs):
        others[k, ids.index(p.episode_id)] = -np.inf
    ranks = 1 + np.sum(sims > pos[:, None], axis=1)
    return float(np.mean(ranks)), float(np.mean(pos - others.max(axis=1)))


def test_small_finetune_lowers_loss_and_ranks_positives_higher(tmp_path: Path) -> None:
    eps, pairs = data()
    settings = TrainSettings(
        base="minilm", batch_size=10, epochs=4, learning_rate=1e-4, max_seq_length=48
    )
    out = tmp_path / "model"
    rep = finetune(pairs, eps, out, settings)
    assert rep.pairs == 50 and rep.steps == 20
    first, last = np.mean(rep.losses[:4]), np.mean(rep.losses[-4:])
    assert last < 0.8 * first, rep.losses
    assert check_model_dir(out) == out
    before = mean_rank_and_margin("minilm", eps, pairs)
    after = mean_rank_and_margin(str(out), eps, pairs)
    # Ranks can only get better (here 1.2 -> 1.0); the margin must grow.
    assert after[0] <= before[0] and after[1] > before[1], (before, after)
    # Nothing but the finished model is left beside it.
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_bad_training_input(tmp_path: Path) -> None:
    eps, pairs = data()
    with pytest.raises(QueryError, match="fewer than one batch"):
        finetune(pairs[:5], eps, tmp_path / "m", TrainSettings(base="minilm", batch_size=10))
    with pytest.raises(QueryError, match="missing from the catalog"):
        finetune([Pair("q", "nope", "g")], eps, tmp_path / "m", TrainSettings(base="minilm"))
    with pytest.raises(ModelError, match="no such directory"):
        finetune(pairs, eps, tmp_path / "m", TrainSettings(base="./does/not/exist", batch_size=8))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(QueryError, match="not empty"):
        finetune(pairs, eps, tmp_path / "full", TrainSettings(base="minilm", batch_size=8))
    with pytest.raises(ModelError, match="No model directory"):
        check_model_dir(tmp_path / "nope")
    assert not (tmp_path / "m").exists()


def test_wise_alpha_zero_gives_back_the_base_model(tmp_path: Path) -> None:
    eps, pairs = data()
    settings = TrainSettings(
        base="minilm", batch_size=10, learning_rate=1e-3, max_seq_length=32, wise_alpha=0.0
    )
    finetune(pairs[:20], eps, tmp_path / "m", settings)
    text = ["baking bread with a wild yeast starter"]
    base = load_encoder("minilm", backend="torch").encode_documents(text)
    back = load_encoder(str(tmp_path / "m"), backend="torch").encode_documents(text)
    assert np.allclose(base, back, atol=1e-5)
    with pytest.raises(QueryError, match="wise_alpha"):
        finetune(pairs, eps, tmp_path / "x", TrainSettings(base="minilm", wise_alpha=2.0))
