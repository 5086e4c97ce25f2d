from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from podsearch.errors import IndexStateError
from podsearch.index.base import VectorIndex
from podsearch.index.faiss_index import FaissVectorIndex
from podsearch.models import DocPayload, Filters


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def clustered() -> tuple[list[str], np.ndarray, list[DocPayload]]:
    rng = np.random.default_rng(7)
    n, dim = 5000, 32
    centers = rng.normal(size=(40, dim))
    x = unit(centers[rng.integers(0, 40, n)] + 0.6 * rng.normal(size=(n, dim)))
    ids = [f"d{i}" for i in range(n)]
    payloads = [
        DocPayload(
            language="sv" if i % 100 == 0 else "en",  # 1% Swedish
            show_id=f"s{i % 50}",
            categories=("Health",) if i % 10 == 0 else ("Music", "Arts"),
            pub_date=datetime(2017, 1 + i % 12, 1, tzinfo=UTC) if i % 3 else None,
        )
        for i in range(n)
    ]
    return ids, x, payloads


def exact(x: np.ndarray, q: np.ndarray, allowed: np.ndarray, k: int) -> list[set[int]]:
    sims = q @ x.T
    sims[:, ~allowed] = -np.inf
    return [set(np.argsort(-row)[:k]) for row in sims]


def recall(index: FaissVectorIndex, x, q, allowed, filters, k=10) -> float:  # type: ignore[no-untyped-def]
    truth = exact(x, q, allowed, k)
    got = index.search(q, k, filters)
    return float(
        np.mean(
            [len({int(i[1:]) for i, _ in g} & t) / len(t) for g, t in zip(got, truth, strict=True)]
        )
    )


def test_keeps_the_vector_index_contract(tmp_path: Path) -> None:
    """What VectorIndex promises, checked by behaviour (isinstance only compares names)."""
    x = unit(np.random.default_rng(3).normal(size=(6, 8)))
    ids = [f"d{i}" for i in range(6)]
    idx: VectorIndex = FaissVectorIndex(tmp_path / "v", 8)
    assert idx.dim == 8 and len(idx) == 0 and idx.ids() == []
    idx.upsert(ids, x, [DocPayload("en", "s")] * 6)
    assert len(idx) == 6 and sorted(idx.ids()) == ids
    for q, hits in zip([2, 4], idx.search(x[[2, 4]], 3), strict=True):
        truth = np.argsort(-(x @ x[q]))[:3]
        assert [h[0] for h in hits] == [ids[i] for i in truth]  # best first, itself first
        np.testing.assert_allclose([h[1] for h in hits], (x @ x[q])[truth], atol=1e-5)
    assert idx.delete(["d2", "nope"]) == 1 and len(idx) == 5
    assert "d2" not in [h[0] for h in idx.search(x[[2]], 6)[0]]
    assert set(idx.get_vectors(["d1", "d2"])) == {"d1"}
    idx.upsert(["d1"], x[[5]], [DocPayload("en", "s")])  # replaces, does not add
    assert len(idx) == 5
    np.testing.assert_allclose(idx.get_vectors(["d1"])["d1"], x[5], atol=1e-6)
    before = idx.search(x[[0]], 5)
    idx.commit()
    idx.close()
    again = FaissVectorIndex(tmp_path / "v", 8)
    assert sorted(again.ids()) == ["d0", "d1", "d3", "d4", "d5"]
    assert again.search(x[[0]], 5) == before
    again.close()


def test_filters_keep_recall_even_at_one_percent(tmp_path: Path, clustered) -> None:  # type: ignore[no-untyped-def]
    ids, x, payloads = clustered
    idx = FaissVectorIndex(tmp_path / "v", x.shape[1])
    idx.upsert(ids, x, payloads)
    rng = np.random.default_rng(1)
    q = unit(x[rng.integers(0, len(x), 100)] + 0.2 * rng.normal(size=(100, x.shape[1])))
    lang = np.array([p.language for p in payloads])
    assert recall(idx, x, q, np.ones(len(x), bool), None) >= 0.95
    assert recall(idx, x, q, lang == "sv", Filters(languages=("sv",))) >= 0.95
    health = np.array(["Health" in p.categories for p in payloads])
    assert recall(idx, x, q, health, Filters(categories=("health",))) >= 0.95
    dated = np.array(
        [
            p.pub_date is not None and p.pub_date >= datetime(2017, 6, 1, tzinfo=UTC)
            for p in payloads
        ]
    )
    assert recall(idx, x, q, dated, Filters(date_from=datetime(2017, 6, 1, tzinfo=UTC))) >= 0.95
    hits = idx.search(q[:1], 50, Filters(languages=("sv",), show_ids=("s0",)))[0]
    assert hits and all(int(i[1:]) % 100 == 0 and int(i[1:]) % 50 == 0 for i, _ in hits)
    assert idx.search(q[:1], 5, Filters(languages=("xx",))) == [[]]


def test_update_delete_persist_and_reload(tmp_path: Path, clustered) -> None:  # type: ignore[no-untyped-def]
    ids, x, payloads = clustered
    idx = FaissVectorIndex(tmp_path / "v", x.shape[1])
    idx.upsert(ids[:100], x[:100], payloads[:100])
    idx.commit()
    assert idx.search(x[5:6], 1)[0][0][0] == "d5"
    # update: d5 takes d6's vector; delete d6
    idx.upsert(["d5"], x[6:7], payloads[6:7])
    assert idx.delete(["d6", "nope"]) == 1
    top = idx.search(x[6:7], 2)[0]
    assert top[0][0] == "d5" and all(i != "d6" for i, _ in top)
    assert len(idx) == 99
    idx.commit()
    again = FaissVectorIndex(tmp_path / "v", x.shape[1])
    assert len(again) == 99 and again.search(x[6:7], 1)[0][0][0] == "d5"
    np.testing.assert_allclose(again.get_vectors(["d5"])["d5"], x[6])


def test_crash_during_commit_leaves_previous_generation(
    tmp_path: Path, clustered, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    ids, x, payloads = clustered
    idx = FaissVectorIndex(tmp_path / "v", x.shape[1])
    idx.upsert(ids[:50], x[:50], payloads[:50])
    idx.commit()
    idx.upsert(ids[50:80], x[50:80], payloads[50:80])

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        idx.commit()
    monkeypatch.undo()
    reopened = FaissVectorIndex(tmp_path / "v", x.shape[1])
    assert len(reopened) == 50


def test_compaction_after_many_deletes(tmp_path: Path, clustered) -> None:  # type: ignore[no-untyped-def]
    ids, x, payloads = clustered
    idx = FaissVectorIndex(tmp_path / "v", x.shape[1])
    idx.upsert(ids[:200], x[:200], payloads[:200])
    idx.delete(ids[:150])
    idx.commit()
    assert idx._n == 50 and len(idx) == 50
    assert idx.search(x[160:161], 1)[0][0][0] == "d160"


def test_dimension_mismatch_is_a_clear_error(tmp_path: Path, clustered) -> None:  # type: ignore[no-untyped-def]
    ids, x, payloads = clustered
    idx = FaissVectorIndex(tmp_path / "v", x.shape[1])
    with pytest.raises(IndexStateError, match="rebuild"):
        idx.upsert(ids[:2], np.zeros((2, 5), np.float32), payloads[:2])
    idx.upsert(ids[:2], x[:2], payloads[:2])
    idx.commit()
    with pytest.raises(IndexStateError, match="--rebuild"):
        FaissVectorIndex(tmp_path / "v", 16)


def test_selector_walk_keeps_recall_for_scattered_filters(tmp_path: Path, clustered) -> None:  # type: ignore[no-untyped-def]
    """Force the HNSW + IDSelectorBitmap path (no exact fallback) on a filter that keeps 14%
    of vectors scattered over all clusters."""
    ids, x, payloads = clustered
    idx = FaissVectorIndex(tmp_path / "v", x.shape[1], exact_max=0, exact_fraction=0.0)
    idx.upsert(ids, x, payloads)
    rng = np.random.default_rng(2)
    q = unit(x[rng.integers(0, len(x), 100)] + 0.2 * rng.normal(size=(100, x.shape[1])))
    health = np.array(["Health" in p.categories for p in payloads])
    assert recall(idx, x, q, health, Filters(categories=("health",))) >= 0.95


def test_filters_use_exact_search_up_to_exact_max(tmp_path: Path, clustered) -> None:  # type: ignore[no-untyped-def]
    ids, x, payloads = clustered
    idx = FaissVectorIndex(tmp_path / "v", x.shape[1], exact_max=1000, exact_fraction=0.0)
    idx.upsert(ids, x, payloads)
    calls: list[int] = []
    real = idx._exact

    def spy(q, mask, k):  # type: ignore[no-untyped-def]
        calls.append(int(mask.sum()))
        return real(q, mask, k)

    idx._exact = spy  # type: ignore[method-assign]
    idx.search(x[:1], 5, Filters(categories=("health",)))  # 500 allowed -> exact
    idx.search(x[:1], 5, Filters(categories=("music",)))  # 4500 allowed -> HNSW walk
    idx.search(x[:1], 5)  # unfiltered -> HNSW
    assert calls == [500]


def test_hnsw_holds_its_vectors_once_and_reads_format_1(tmp_path: Path, clustered) -> None:  # type: ignore[no-untyped-def]
    """The float32 rows of an "hnsw" index are the HNSW storage itself (no second copy in
    memory or on disk); a generation written by format 1 (with vectors.npy) still opens."""
    import json

    ids, x, payloads = clustered
    idx = FaissVectorIndex(tmp_path / "v", x.shape[1])
    idx.upsert(ids[:300], x[:300], payloads[:300])
    idx.upsert(ids[300:600], x[300:600], payloads[300:600])  # the storage grows in between
    assert idx._vecs.nbytes == 0
    np.testing.assert_array_equal(idx._memory(), x[:600])
    idx.commit()
    gen = tmp_path / "v" / (tmp_path / "v" / "CURRENT").read_text().strip()
    assert not (gen / "vectors.npy").exists()
    again = FaissVectorIndex(tmp_path / "v", x.shape[1])
    assert again._vecs.nbytes == 0
    np.testing.assert_array_equal(again.get_vectors(["d599"])["d599"], x[599])
    # format 1: the same generation with vectors.npy beside it
    np.save(gen / "vectors.npy", x[:600])
    state = json.loads((gen / "state.json").read_text())
    (gen / "state.json").write_text(json.dumps({**state, "format": 1}))
    old = FaissVectorIndex(tmp_path / "v", x.shape[1])
    assert old.search(x[7:8], 1)[0][0][0] == "d7" and old._vecs.nbytes == 0
    (gen / "state.json").write_text(json.dumps({**state, "count": 599}))
    with pytest.raises(IndexStateError, match="rebuild"):
        FaissVectorIndex(tmp_path / "v", x.shape[1])


@pytest.mark.parametrize("kind", ["hnsw", "hnsw-sq8"])
def test_filtered_exact_scores_kept_rows_in_place(tmp_path: Path, clustered, kind: str) -> None:  # type: ignore[no-untyped-def]
    """The filtered exact path (rows scored where they lie, one query at a time; a gathered
    copy for batches) returns the exact top k with exact cosines, alone and in a batch."""
    ids, x, payloads = clustered
    idx = FaissVectorIndex(tmp_path / "v", x.shape[1], kind=kind, exact_max=10_000)
    idx.upsert(ids, x, payloads)  # not committed: compressed kinds hold the rows in memory too
    rng = np.random.default_rng(5)
    q = unit(x[rng.integers(0, len(x), 12)] + 0.3 * rng.normal(size=(12, x.shape[1])))
    health = np.array(["Health" in p.categories for p in payloads])
    sims = q @ x.T
    sims[:, ~health] = -np.inf
    for got in (idx.search(q[:3], 10, Filters(categories=("health",))),
                idx.search(q, 10, Filters(categories=("health",)))):  # fmt: skip
        for g, row in zip(got, sims[: len(got)], strict=True):
            top = np.argsort(-row)[:10]
            assert [i for i, _ in g] == [f"d{t}" for t in top]
            np.testing.assert_allclose([s for _, s in g], row[top], rtol=1e-5, atol=1e-6)


def test_language_and_show_postings_follow_writes(tmp_path: Path, clustered) -> None:  # type: ignore[no-untyped-def]
    """Language and show filters read posting lists: a write after a filtered search (a new
    language, a moved episode, a delete) is seen by the next one."""
    ids, x, payloads = clustered
    idx = FaissVectorIndex(tmp_path / "v", x.shape[1])
    idx.upsert(ids[:1000], x[:1000], payloads[:1000])
    sv = Filters(languages=("sv",))
    assert {i for i, _ in idx.search(x[:1], 50, sv)[0]} == {f"d{i}" for i in range(0, 1000, 100)}
    idx.upsert(["new"], x[5:6], [DocPayload("fi", "s1")])
    idx.upsert(["d100"], x[100:101], [DocPayload("fi", "s9")])  # leaves Swedish
    idx.delete(["d200"])
    got = {i for i, _ in idx.search(x[:1], 50, sv)[0]}
    assert got == {f"d{i}" for i in range(0, 1000, 100)} - {"d100", "d200"}
    fi = idx.search(x[5:6], 5, Filters(languages=("fi",)))[0]
    assert [i for i, _ in fi][:1] == ["new"] and {i for i, _ in fi} == {"new", "d100"}
    shows = idx.search(x[:1], 100, Filters(show_ids=("s9",), languages=("fi",)))[0]
    assert [i for i, _ in shows] == ["d100"]
