"""``podsearch index --distributed`` (local Ray, 2 workers) gives the single-process build's
vectors, keyword index and catalog state, written through the same path."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from podsearch import Podsearch
from podsearch.cli import app
from podsearch.distributed import RayEncoding
from tests.conftest import SHOWS, write_catalog
from tests.test_index_streaming import many_episodes, vectors

pytest.importorskip("ray")


def catalog_state(index: Path) -> dict[str, object]:
    db = sqlite3.connect(index / "catalog.sqlite")
    try:
        return {
            "indexed": db.execute(
                "SELECT episode_id, indexed_hash = content_hash FROM episodes ORDER BY 1"
            ).fetchall(),
            "hub": db.execute(
                "SELECT episode_id, round(score, 5) FROM hubness ORDER BY 1"
            ).fetchall(),
            "meta": db.execute(
                "SELECT key, value FROM meta WHERE key IN ('model', 'dim', 'backend') ORDER BY 1"
            ).fetchall(),
        }
    finally:
        db.close()


def test_distributed_local_build_equals_single_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = write_catalog(tmp_path / "cat", SHOWS, many_episodes(700))
    single, dist = tmp_path / "single", tmp_path / "dist"
    for index in (single, dist):
        res = CliRunner().invoke(app, ["ingest", "-c", str(catalog), "-i", str(index), "--json"])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["index", "-i", str(single), "--model", "fake", "--json"])
    assert res.exit_code == 0, res.output
    used: list[int] = []
    real = RayEncoding.encode_chunks

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        used.append(self.workers)
        yield from real(self, *args, **kwargs)

    monkeypatch.setattr(RayEncoding, "encode_chunks", spy)
    t0 = time.perf_counter()
    res = CliRunner().invoke(
        app,
        [
            "index",
            "-i",
            str(dist),
            "--model",
            "fake",
            "--json",
            "--distributed",
            "--workers",
            "2",
            "--batch-size",
            "4",
        ],  # fmt: skip
    )  # batch 4: steps of 256 texts, so both workers get tasks
    assert res.exit_code == 0, res.output
    assert used == [2] and time.perf_counter() - t0 < 120  # the Ray path ran
    a, b = Podsearch(single, create=False), Podsearch(dist, create=False)
    try:
        va, vb = vectors(a), vectors(b)
        assert set(va) == set(vb) and len(va) == 700
        np.testing.assert_allclose(np.stack([vb[i] for i in va]), np.stack(list(va.values())),
                                   atol=1e-6)  # fmt: skip
        for q in ("sleep health", "bread pasta", "jazz"):
            ka = [(h.episode_id, round(h.score, 5)) for h in a.search(q, k=20, mode="keyword").hits]
            kb = [(h.episode_id, round(h.score, 5)) for h in b.search(q, k=20, mode="keyword").hits]
            assert ka == kb and ka
        assert a.store.generation() == b.store.generation()  # one bump per chunk, both ways
    finally:
        a.close()
        b.close()
    assert catalog_state(single) == catalog_state(dist)
