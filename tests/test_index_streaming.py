"""build_index streams: the catalog is read, encoded and written one commit chunk at a time,
in length-sorted steps, and the vectors are the ones the encoder gives each text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from podsearch import Podsearch
from podsearch.encode.batching import length_sorted_steps
from podsearch.encode.fake import FakeEncoder
from tests.conftest import SHOWS, write_catalog

WORDS = ["health", "sleep", "bread", "pasta", "marathon", "coral", "climate", "jazz", "history"]


def many_episodes(n: int) -> list[tuple[str, str, str, str, str]]:
    rng = np.random.default_rng(7)
    eps = []
    for i in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(1, 60)))  # lengths vary a lot
        eps.append((f"g{i:04d}", str(i % 3 + 1), f"Episode {i}", " ".join(words),
                    "2018-01-01 08:00:00+00"))  # fmt: skip
    return eps


def vectors(ps: Podsearch) -> dict[str, np.ndarray]:
    return {
        i: v
        for ids, vecs in ps.vector_index().iter_vectors()
        for i, v in zip(ids, vecs, strict=True)
    }


def test_length_sorted_steps_cover_every_text_longest_first() -> None:
    texts = ["a" * n for n in (3, 10, 1, 10, 7)]
    steps = length_sorted_steps(texts, 2)
    assert [s.tolist() for s in steps] == [[1, 3], [4, 0], [2]]
    assert length_sorted_steps([], 4) == []


def test_streamed_build_gives_each_text_its_own_vector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = write_catalog(tmp_path / "cat", SHOWS, many_episodes(300))
    enc = FakeEncoder()
    ps = Podsearch(tmp_path / "ix", encoder=enc, commit_every=64)
    ps.ingest(catalog)
    reads: list[int] = []
    iter_dirty = ps.store.iter_dirty

    def spy(batch: int = 2048):  # type: ignore[no-untyped-def]
        for chunk in iter_dirty(batch):
            reads.append(len(chunk))
            yield chunk

    monkeypatch.setattr(ps.store, "iter_dirty", spy)
    monkeypatch.setattr(ps.store, "dirty", lambda: pytest.fail("the whole catalog was loaded"))
    seen: list[tuple[int, int]] = []
    report = ps.build_index(batch_size=4, progress=lambda d, t: seen.append((d, t)))
    assert report.encoded == 300 and len(ps.vector_index()) == 300
    assert reads == [64, 64, 64, 64, 44]  # one commit chunk in memory at a time
    assert seen[0] == (0, 300) and seen[-1] == (300, 300)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    got = vectors(ps)
    for ep in ps.store.iter_episodes():  # the encoder's own vector for that text, exactly
        want = enc.encode_documents([ep.text])[0]
        np.testing.assert_array_equal(got[ep.episode_id], want)
    assert ps.store.count_dirty() == 0 and ps.build_index().encoded == 0
    ps.close()


def test_iter_dirty_resumes_after_marked_chunks(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "cat", SHOWS, many_episodes(25))
    ps = Podsearch(tmp_path / "ix", encoder=FakeEncoder())
    ps.ingest(catalog)
    assert ps.store.count_dirty() == 25
    ids = []
    for chunk in ps.store.iter_dirty(10):
        ids += [ep.episode_id for ep, _ in chunk]
        ps.store.mark_indexed([(ep.episode_id, h) for ep, h in chunk])
    assert ids == sorted(f"g{i:04d}" for i in range(25))
    assert ps.store.count_dirty() == 0 and list(ps.store.iter_dirty(10)) == []
    ps.close()
