"""The compressed vector index kinds (hnsw-sq8, ivf-pq, scann): exact top-k after re-scoring,
filters, updates, and reopening with the kind the index was built with."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from podsearch.config import load_settings
from podsearch.errors import ConfigError
from podsearch.index.backends import open_location
from podsearch.index.faiss_index import FaissVectorIndex
from podsearch.models import DocPayload, Filters


def _scann_available() -> bool:
    try:
        import scann  # noqa: F401
    except ImportError:
        return False
    return True


KINDS = [
    "hnsw-sq8",
    "ivf-pq",
    pytest.param("scann", marks=pytest.mark.skipif(not _scann_available(), reason="no scann")),
]


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[list[str], np.ndarray, list[DocPayload], np.ndarray]:
    """6,000 clustered 64-d vectors (clusters of varied spread) and 40 queries near them;
    languages follow the clusters (as real languages do), 10% and 1% of the rows."""
    rng = np.random.default_rng(11)
    n, dim = 6000, 64
    centers = rng.normal(size=(60, dim))
    which = rng.integers(0, 60, n)
    spread = rng.uniform(0.3, 0.9, 60)
    x = unit(centers[which] + spread[which, None] * rng.normal(size=(n, dim)))
    q = unit(centers[rng.integers(0, 60, 40)] + 0.6 * rng.normal(size=(40, dim)))
    langs = np.where(which < 6, "de", "en").astype(object)  # ~10%, by cluster
    langs[rng.random(n) < 0.01] = "sv"  # ~1%, scattered
    payloads = [
        DocPayload(str(lang), f"s{i % 300}", pub_date=datetime(2015 + i % 10, 1, 1, tzinfo=UTC))
        for i, lang in enumerate(langs)
    ]
    return [f"d{i}" for i in range(n)], x, payloads, q


def exact(x: np.ndarray, q: np.ndarray, allowed: np.ndarray, k: int) -> list[list[int]]:
    sims = q @ x.T
    sims[:, ~allowed] = -np.inf
    return [list(np.argsort(-row, kind="stable")[:k]) for row in sims]


def recall(got: list[list[tuple[str, float]]], truth: list[list[int]]) -> float:
    hits = [
        len({int(i[1:]) for i, _ in g} & set(t)) / len(t) for g, t in zip(got, truth, strict=True)
    ]
    return float(np.mean(hits))


def build(path: Path, kind: str, data, **kw) -> FaissVectorIndex:  # type: ignore[no-untyped-def]
    ids, x, payloads, _ = data
    idx = FaissVectorIndex(path, x.shape[1], kind=kind, exact_max=0, exact_fraction=0.0, **kw)
    idx.upsert(ids, x, payloads)
    return idx


@pytest.mark.parametrize("kind", KINDS)
def test_refined_search_returns_the_exact_top_k_with_exact_scores(
    tmp_path: Path, kind, data
) -> None:  # type: ignore[no-untyped-def]
    ids, x, payloads, q = data
    idx = build(tmp_path / "v", kind, data, refine=10, ef_search=64)
    got = idx.search(q, 10)
    assert recall(got, exact(x, q, np.ones(len(x), bool), 10)) >= 0.97
    for row, qv in zip(
        got, q, strict=True
    ):  # scores are the exact cosines of the float32 originals
        slots = [int(i[1:]) for i, _ in row]
        np.testing.assert_allclose([s for _, s in row], x[slots] @ qv, atol=1e-5)
        assert [s for _, s in row] == sorted((s for _, s in row), reverse=True)
    # No re-scoring (refine 1) is measurably worse for PQ: the refine step does the work.
    if kind == "ivf-pq":
        rough = FaissVectorIndex(tmp_path / "r", x.shape[1], kind=kind, refine=1,
                                 ef_search=64, exact_max=0, exact_fraction=0.0)  # fmt: skip
        rough.upsert(ids, x, payloads)
        assert recall(rough.search(q, 10), exact(x, q, np.ones(len(x), bool), 10)) < 0.9


@pytest.mark.parametrize("kind", KINDS)
def test_filters_keep_recall(tmp_path: Path, kind, data) -> None:  # type: ignore[no-untyped-def]
    ids, x, payloads, q = data
    langs = np.array([p.language for p in payloads])
    idx = build(tmp_path / "v", kind, data, refine=10, ef_search=64)
    for lang in ("de", "sv"):
        f = Filters(languages=(lang,))
        got = idx.search(q, 10, f)
        assert all(payloads[int(i[1:])].language == lang for row in got for i, _ in row)
        assert recall(got, exact(x, q, langs == lang, 10)) >= 0.9, lang
    # Past the exact threshold of a trained index, a small filtered set skips the walk: a
    # full scan of its codes, then exact re-scoring (ScaNN: exact search over the originals).
    scanned = FaissVectorIndex(tmp_path / "s", x.shape[1], kind=kind, exact_max=1000)
    scanned.upsert(ids, x, payloads)
    scanned.commit()  # trains the compressed index (past exact_max)
    assert scanned._ann.ntotal == len(ids)  # noqa: SLF001
    got = scanned.search(q, 10, Filters(languages=("sv",)))
    assert all(payloads[int(i[1:])].language == "sv" for row in got for i, _ in row)
    assert recall(got, exact(x, q, langs == "sv", 10)) >= 0.95
    # The default exact threshold searches a small untrained index exactly: recall 1.
    default = FaissVectorIndex(tmp_path / "d", x.shape[1], kind=kind)
    default.upsert(ids, x, payloads)
    got = default.search(q, 10, Filters(languages=("sv",)))
    assert recall(got, exact(x, q, langs == "sv", 10)) == 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_reopen_keeps_the_kind_updates_and_deletes(tmp_path: Path, kind, data) -> None:  # type: ignore[no-untyped-def]
    ids, x, payloads, q = data
    idx = build(tmp_path / "v", kind, data, refine=10, ef_search=64)
    assert idx.delete(["d0", "d1"]) == 2
    idx.upsert(["d2"], x[[5]], [payloads[5]])  # d2 now holds d5's vector
    idx.commit()
    before = idx.search(q[:5], 10)
    # Opened with the default kind: the stored kind wins, with the originals read from disk.
    again = FaissVectorIndex(tmp_path / "v", x.shape[1], exact_max=0, exact_fraction=0.0,
                             refine=10, ef_search=64)  # fmt: skip
    assert again.kind == kind and again.quantized and len(again) == len(ids) - 2
    after = again.search(q[:5], 10)
    # The same hits (ScaNN may order exact ties differently), with the same exact scores.
    assert [dict(r) for r in after] == [dict(r) for r in before]
    hits = again.search(x[[5]], 3)[0]
    assert {h[0] for h in hits[:2]} == {"d2", "d5"} and "d0" not in {h[0] for h in hits}
    np.testing.assert_allclose(again.get_vectors(["d2"])["d2"], x[5], atol=1e-6)
    # Writes after reopening: appended vectors are found and survive another commit.
    again.upsert(["new"], x[[7]] * -1, [payloads[7]])
    assert again.search(-x[[7]], 1)[0][0][0] == "new"
    again.commit()
    third = FaissVectorIndex(tmp_path / "v", x.shape[1], exact_max=0, exact_fraction=0.0)
    assert "new" in [h[0] for h in third.search(-x[[7]], 3)[0]]
    assert sum(len(i) for i, _ in third.iter_vectors(1000)) == len(ids) - 1


def test_the_setting_chooses_the_kind_of_a_new_index(tmp_path: Path) -> None:
    (tmp_path / "podsearch.toml").write_text('vector_index = "ivf-pq"\n')
    assert load_settings(cwd=tmp_path, env={}).vector_index == "ivf-pq"
    assert (
        load_settings(cwd=tmp_path, env={"PODSEARCH_VECTOR_INDEX": "hnsw-sq8"}).vector_index
        == "hnsw-sq8"
    )
    with pytest.raises(ConfigError, match="VECTOR_INDEX"):
        load_settings(cwd=tmp_path, env={"PODSEARCH_VECTOR_INDEX": "annoy"})
    loc = open_location(tmp_path / "ix", vector_index="hnsw-sq8")
    vec = loc.open_vectors(16)
    assert isinstance(vec, FaissVectorIndex) and vec.kind == "hnsw-sq8"
    rows = unit(np.random.default_rng(0).normal(size=(3, 16)))
    vec.upsert(["a", "b", "c"], rows, [DocPayload("en", "s")] * 3)
    vec.commit()
    # A later open with another setting keeps the stored kind; a fresh (rebuilt) one applies it.
    assert open_location(tmp_path / "ix", vector_index="ivf-pq").open_vectors(16).kind == "hnsw-sq8"  # type: ignore[attr-defined]
    fresh = open_location(tmp_path / "ix", vector_index="ivf-pq").open_vectors(16, fresh=True)
    assert fresh.kind == "ivf-pq" and len(fresh) == 0  # type: ignore[attr-defined]
