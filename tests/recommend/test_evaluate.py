"""Recommendation evaluation on a small generated catalog (fake encoder): shape, determinism,
and the content-based systems beating random on show-based listeners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podsearch.errors import IndexStateError
from podsearch.recommend.evaluate import KINDS, SYSTEMS, evaluate_recommendations
from tests.conftest import write_catalog

TOPICS = [
    ("Cricket Talk", "cricket batting bowling wickets test match", "Sports & Recreation"),
    ("Mindful Minutes", "meditation breathing calm mindfulness sleep", "Health"),
    ("Bake Club", "baking bread sourdough oven flour", "Arts | Food"),
    ("Star Gazers", "astronomy planets telescopes galaxies stars", "Science & Medicine"),
    ("Code Hour", "programming python software bugs compilers", "Technology"),
    ("Money Matters", "investing stocks savings budget retirement", "Business"),
    ("Film Nerds", "movies directors cinema actors reviews", "TV & Film"),
    ("Garden Path", "gardening plants soil compost roses", "Home & Garden | Arts"),
]


@pytest.fixture
def big_engine(tmp_path: Path) -> Any:
    from podsearch.encode.fake import FakeEncoder
    from podsearch.engine import Podsearch

    shows = [(str(i), t, f"A show about {w}.", "English", c) for i, (t, w, c) in enumerate(TOPICS)]
    episodes = []
    for i, (_, words, _) in enumerate(TOPICS):
        ws = words.split()
        for j in range(8):
            title = f"{ws[j % 5]} and {ws[(j + 2) % 5]} part {j}"
            episodes.append((f"{i}-{j}", str(i), title, f"We talk {words}.", "2017-12-01"))
    cat = write_catalog(tmp_path / "cat", shows, episodes)
    ps = Podsearch(tmp_path / "ix", encoder=FakeEncoder(dim=64))
    ps.ingest(cat)
    ps.build_index()
    yield ps
    ps.close()


def test_report_shape_determinism_and_baselines(big_engine: Any) -> None:
    r1 = evaluate_recommendations(big_engine, n_histories=40, n_neighbours=20, seed=3)
    r2 = evaluate_recommendations(big_engine, n_histories=40, n_neighbours=20, seed=3)
    d1, d2 = r1.to_dict(), r2.to_dict()
    d1.pop("timings_ms"), d2.pop("timings_ms")
    assert d1 == d2
    assert r1.catalog_size == 64
    assert set(r1.histories) <= set(KINDS) and "one-show" in r1.histories
    for systems in r1.histories.values():
        assert list(systems) == list(SYSTEMS)
    one = r1.histories["one-show"]
    assert one["mean"]["hit@10"] > one["random"]["hit@10"]
    assert one["multi-interest"]["show hit@10"] == 1.0
    nb = r1.neighbours
    assert nb["nearest"]["same show"] > nb["random"]["same show"]
    md = r1.to_markdown()
    assert "| multi-interest |" in md and "Neighbour agreement" in md


def test_too_small_catalog(engine: Any) -> None:
    with pytest.raises(IndexStateError, match="at least 20"):
        evaluate_recommendations(engine)
