"""`podsearch migrate --from DIR --to URL`: an embedded index moved to a server backend without
re-encoding gives the same answers, with row accounting, and a re-run copies nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from podsearch.engine import Podsearch
from podsearch.migrate import migrate_index
from tests.cli.test_cli import run
from tests.index.test_congruence import HAVE_LITE, _drop_pg, _pg_url, needs_pg

QUERIES = ["sourdough bread", "sleep", "schlaf", "volcano lava", "comedy podcast"]


@pytest.fixture
def source(tmp_path: Path, tiny_catalog: Path) -> Path:
    """An embedded index of the tiny catalog, plus one episode changed after indexing
    (its vector is stale: it must not be copied as current)."""
    ix = tmp_path / "embedded"
    with Podsearch(ix, model="fake") as ps:
        ps.ingest(tiny_catalog)
        ps.build_index()
        ep = ps.store.get("e2")
        assert ep is not None
        rec = {"episode_id": "e2", "title": ep.title + " (re-cut)", "show_id": ep.show_id,
               "description": ep.description, "language": ep.language}  # fmt: skip
        assert ps.ingest_records([rec], source=ep.source).updated == 1
    return ix


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=[pytest.mark.server, needs_pg]),
        pytest.param(
            "milvus-lite", marks=pytest.mark.skipif(not HAVE_LITE, reason="no milvus-lite")
        ),
    ]
)
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    name = f"m{uuid.uuid4().hex[:12]}"
    if request.param == "postgres":
        yield _pg_url(name)
        _drop_pg(name)
    else:
        yield f"milvus-lite://{tmp_path / 'lite.db'}?index={name}"


def test_migrate_moves_everything_without_reencoding(source: Path, destination: str) -> None:
    first = migrate_index(source, destination, batch=3)
    d = first.to_dict()
    assert d["balanced"] and d["episodes_read"] == 8 and d["imported"] == 8
    assert (d["vectors_read"], d["vectors_copied"], d["vectors_stale"]) == (8, 7, 1)
    assert first.model == "fake"
    again = migrate_index(source, destination, batch=3)
    assert (again.imported, again.unchanged, again.vectors_copied) == (0, 8, 0)
    assert (again.vectors_present, again.vectors_stale) == (7, 1)

    with (
        Podsearch(source, model="fake", create=False) as a,
        Podsearch(destination, model="fake", create=False) as b,
    ):
        assert b.store.count() == 8 and b.store.count_indexed() == 7
        assert [ep.episode_id for ep, _ in b.store.dirty()] == ["e2"]
        assert b.indexed_model == "fake" and b.store.get_meta("dim") == a.store.get_meta("dim")
        ids = [ep.episode_id for ep in a.store.iter_episodes() if ep.episode_id != "e2"]
        va, vb = a.vector_index().get_vectors(ids), b.vector_index().get_vectors(ids)
        for i in ids:
            np.testing.assert_allclose(va[i], vb[i], atol=1e-6)
        assert b.store.hub_scores(ids).keys() == a.store.hub_scores(ids).keys()
        for q in QUERIES:  # exact dense search over the same vectors: the same ranking
            da = [h.episode_id for h in a.search(q, k=8, mode="dense").hits]
            db = [h.episode_id for h in b.search(q, k=8, mode="dense").hits]
            assert [x for x in da if x != "e2"] == db, q  # e2's stale vector is not copied
            ka = {h.episode_id for h in a.search(q, k=8, mode="keyword").hits}
            kb = {h.episode_id for h in b.search(q, k=8, mode="keyword").hits}
            assert ka - {"e2"} == kb, q  # e2 waits for podsearch index on the destination
        assert b.build_index().encoded == 1  # only the stale episode is encoded
        assert b.store.count_indexed() == 8


@pytest.mark.server
@needs_pg
def test_migrate_cli(source: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    name = f"m{uuid.uuid4().hex[:12]}"
    url = _pg_url(name)
    try:
        code, out, err = run(capsys, "migrate", "--from", str(source), "--to", url, "--json")
        assert code == 0, err
        report = json.loads(out)
        assert report["balanced"] and report["vectors_copied"] == 7
        password = urlsplit(url).password
        assert not password or password not in out + err  # redacted in the report
        code, out, err = run(capsys, "migrate", "--from", str(source / "nope"), "--to", url)
        assert code != 0 and "no index at" in err and "Traceback" not in err
    finally:
        _drop_pg(name)
