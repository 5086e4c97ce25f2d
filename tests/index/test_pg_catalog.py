"""The catalog store in PostgreSQL: migrations (from an empty database and from the previous
version), the same answers as the SQLite store, one transaction per index chunk, and no state
on local disk.

Marked ``server``; skipped without PODSEARCH_TEST_PG_URL (see tests/index/test_congruence.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from podsearch.catalog import read_catalog
from podsearch.errors import IndexStateError
from podsearch.index.base import CatalogStore
from podsearch.store import SqliteCatalogStore
from tests.index.test_congruence import HAVE_LITE, _drop_pg, _pg_url, needs_pg

pytestmark = [pytest.mark.server, needs_pg]


@pytest.fixture
def pg_name() -> Iterator[str]:
    name = f"c{uuid.uuid4().hex[:12]}"
    yield name
    _drop_pg(name)


def _db(name: str):  # type: ignore[no-untyped-def]
    from podsearch.index.postgres import PgDatabase

    return PgDatabase(_pg_url(name))


def _tables(db, name: str) -> set[str]:  # type: ignore[no-untyped-def]
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE %s", [f"{name}\\_%"]
        ).fetchall()
    return {r[0][len(name) + 1 :] for r in rows}


def test_migrations_from_an_empty_database(pg_name: str) -> None:
    from podsearch.index.pg_catalog import SCHEMA_VERSION, PgCatalogStore, schema_version

    db = _db(pg_name)
    try:
        assert schema_version(db) == 0 and _tables(db, pg_name) == set()
        store = PgCatalogStore(db)
        assert isinstance(store, CatalogStore)
        assert schema_version(db) == SCHEMA_VERSION == 3
        assert {"meta", "shows", "episodes", "tombstones", "hubness", "blobs", "jobs"} <= _tables(
            db, pg_name
        )
        PgCatalogStore(db)  # opening again changes nothing
        with db.connection() as conn:
            versions = conn.execute(f'SELECT version FROM "{pg_name}_schema_version"').fetchall()
        assert [v[0] for v in versions] == [1, 2, 3]
    finally:
        db.close()


def test_migration_from_the_previous_version_keeps_the_rows(
    pg_name: str, tiny_catalog: Path
) -> None:
    from podsearch.index.pg_catalog import SCHEMA_VERSION, PgCatalogStore, migrate, schema_version

    db = _db(pg_name)
    try:
        assert migrate(db, target=1) == 0  # a database as version 1 of podsearch left it
        assert "blobs" not in _tables(db, pg_name)
        data = read_catalog(tiny_catalog)
        # Version 1's tables are enough for ingest and the generation (no probes table yet).
        old = PgCatalogStore.__new__(PgCatalogStore)
        old.db, old.name = db, db.name
        assert old.ingest(data).imported == len(data.episodes)
        old.bump_generation()
        store = PgCatalogStore(db)  # open: upgrades to the current version
        assert schema_version(db) == SCHEMA_VERSION
        assert store.count() == len(data.episodes) and store.generation() == 1
        assert len(store.dirty()) == len(data.episodes)
        probes = np.arange(12, dtype=np.float32).reshape(3, 4)
        store.save_hub_probes(probes)
        np.testing.assert_array_equal(store.load_hub_probes(), probes)
        store.save_job({"job_id": "j1", "kind": "index", "created": 1.0, "status": "running"})
        assert store.load_job("j1") == {
            "job_id": "j1",
            "kind": "index",
            "created": 1.0,
            "status": "running",
        }
    finally:
        db.close()


def test_job_records_in_both_stores(pg_name: str, tmp_path: Path) -> None:
    from podsearch.index.pg_catalog import PgCatalogStore

    db = _db(pg_name)
    lite = SqliteCatalogStore(tmp_path / "catalog.sqlite")
    try:
        for store in (lite, PgCatalogStore(db)):
            assert store.load_job("none") is None
            for i in range(5):
                store.save_job({"job_id": f"j{i}", "created": float(i), "status": "queued"})
            store.save_job({"job_id": "j4", "created": 4.0, "status": "done", "result": {"n": 1}})
            assert store.load_job("j4") == {
                "job_id": "j4",
                "created": 4.0,
                "status": "done",
                "result": {"n": 1},
            }
            store.save_job({"job_id": "j5", "created": 5.0, "status": "queued"}, keep=3)
            kept = [i for i in range(6) if store.load_job(f"j{i}") is not None]
            assert kept == [3, 4, 5]  # the most recently created
    finally:
        lite.close()
        db.close()


def test_a_newer_schema_is_refused_with_the_fix(pg_name: str) -> None:
    from podsearch.index.pg_catalog import PgCatalogStore, migrate

    db = _db(pg_name)
    try:
        migrate(db)
        with db.connection() as conn:
            conn.execute(f'INSERT INTO "{pg_name}_schema_version" (version) VALUES (99)')
        with pytest.raises(IndexStateError, match="schema version 99.*upgrade podsearch"):
            PgCatalogStore(db)
    finally:
        db.close()


def test_same_answers_as_the_sqlite_store(pg_name: str, tmp_path: Path, tiny_catalog: Path) -> None:
    from podsearch.index.pg_catalog import PgCatalogStore

    db = _db(pg_name)
    lite = SqliteCatalogStore(tmp_path / "catalog.sqlite")
    pg = PgCatalogStore(db)
    try:
        data = read_catalog(tiny_catalog)
        art = "https://img.example/a.jpg"  # one show with artwork, one with an unsafe URL
        data.shows[0] = replace(data.shows[0], image=art)
        data.shows[1] = replace(data.shows[1], image="javascript:alert(1)")
        stores: list[CatalogStore] = [lite, pg]
        reports = [s.ingest(data).to_dict() for s in stores]
        assert reports[0] == reports[1] and reports[0]["imported"] == 8
        again = [s.ingest(data) for s in stores]
        assert [r.unchanged for r in again] == [8, 8]

        def same(f):  # type: ignore[no-untyped-def]
            a, b = f(lite), f(pg)
            assert a == b
            return a

        ids = [ep.episode_id for ep in lite.iter_episodes()]
        same(lambda s: [ep.episode_id for ep in s.iter_episodes(batch=3)])
        same(lambda s: s.get_many([*ids[:3], "missing"]))
        same(lambda s: s.get(ids[0]))
        same(lambda s: s.get("missing"))
        same(lambda s: s.shows())
        same(lambda s: (s.count(), s.count_shows(), s.count_indexed()))
        same(lambda s: sorted(s.facet_counts("language").items()))
        same(lambda s: s.facet_counts("categories"))
        same(lambda s: s.top_shows(5))
        images = same(lambda s: s.show_images([sh.show_id for sh in s.shows()] + ["missing"]))
        assert images == {data.shows[0].show_id: art}
        same(lambda s: s.find_shows(s.top_shows(1)[0][1].upper()))
        same(lambda s: s.sample_titles(4, seed=1))
        dirty = same(lambda s: s.dirty())
        for s in stores:
            s.mark_indexed([(ep.episode_id, h) for ep, h in dirty[:5]])
            s.set_hub_scores([(ids[0], 0.5), (ids[1], 0.25)])
            s.set_meta("model", "fake")
        same(lambda s: (len(s.dirty()), s.count_indexed(), s.get_meta("model")))
        same(lambda s: (s.count_dirty(), [[e.episode_id for e, _ in c] for c in s.iter_dirty(3)]))
        same(lambda s: s.hub_scores([ids[0], ids[1], "missing"]))
        same(lambda s: s.delete([ids[1], "missing", ids[1]]))
        same(lambda s: (s.tombstones(), s.hub_scores([ids[1]]), s.count()))
        for s in stores:
            s.clear_tombstones([ids[1]])
        same(lambda s: s.tombstones())
        same(lambda s: [s.bump_generation(), s.bump_generation(), s.generation()])
        changed = read_catalog(tiny_catalog)
        ep0 = changed.episodes[0]
        changed.episodes[0] = type(ep0)(**{**_fields(ep0), "title": ep0.title + " (new cut)"})
        same(lambda s: s.ingest(changed).to_dict())  # 1 updated, 1 imported again (deleted)
    finally:
        lite.close()
        db.close()


def _fields(ep):  # type: ignore[no-untyped-def]
    return {f: getattr(ep, f) for f in ep.__slots__}


# -- through the engine ---------------------------------------------------------------------
def _engine(name: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    from podsearch.encode.fake import FakeEncoder
    from podsearch.engine import Podsearch

    return Podsearch(_pg_url(name), encoder=FakeEncoder(dim=32), catalog_dir=tmp_path / "local")


def test_no_state_on_local_disk(pg_name: str, tmp_path: Path, tiny_catalog: Path) -> None:
    with _engine(pg_name, tmp_path) as ps:
        ps.ingest(tiny_catalog)
        ps.build_index()
        assert ps.search("sourdough bread", k=3, mode="dense").hits
        assert ps.store.load_hub_probes() is not None
        assert ps.delete(["e4"]) == 1
    assert not (tmp_path / "local").exists()  # catalog, probes and write lock: all in PG
    with _engine(pg_name, tmp_path / "other") as ps:  # another node, nothing local
        assert ps.store.count() == 7 and ps.store.count_indexed() == 7
        assert len(ps.vector_index()) == 7 and len(ps.keyword_index()) == 7


def test_an_index_chunk_is_one_transaction(
    pg_name: str, tmp_path: Path, tiny_catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the vectors of a chunk were written leaves nothing of that chunk: no
    vectors, no keyword rows, no episode marked indexed, no generation bump."""
    with _engine(pg_name, tmp_path) as ps:
        ps.ingest(tiny_catalog)
        gen = ps.store.generation()
        kw = ps.keyword_index()

        def fail(docs):  # type: ignore[no-untyped-def]
            raise RuntimeError("killed between the vector and the keyword write")

        monkeypatch.setattr(kw, "upsert", fail)
        with pytest.raises(RuntimeError, match="killed"):
            ps.build_index()
        assert ps.store.count_indexed() == 0 and ps.store.generation() == gen
        assert len(ps.vector_index()) == 0 and len(kw) == 0
        assert ps.store.hub_scores(["e1"]) == {}
        monkeypatch.undo()
        assert ps.build_index().encoded == 8
        assert ps.store.count_indexed() == 8 and len(ps.vector_index()) == 8 and len(kw) == 8


# -- Milvus + a PostgreSQL catalog (the pairing for several API replicas) ------------------
@pytest.mark.skipif(not HAVE_LITE, reason="no milvus-lite")
def test_milvus_with_the_catalog_in_postgresql(
    pg_name: str, tmp_path: Path, tiny_catalog: Path, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from tests.cli.test_cli import run

    db_file = tmp_path / "lite.db"
    milvus = f"milvus-lite://{db_file}?index={pg_name}"
    monkeypatch.setenv("PODSEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PODSEARCH_CATALOG", _pg_url(pg_name))  # the one config line
    assert run(capsys, "ingest", "--catalog", str(tiny_catalog), "--index", milvus)[0] == 0
    code, out, err = run(capsys, "index", "--index", milvus, "--model", "fake", "-q")
    assert code == 0 and "8 in the index" in out, err
    code, out, _ = run(capsys, "search", "sourdough bread", "--index", milvus, "--json")
    assert code == 0 and json.loads(out)["hits"][0]["episode_id"] == "e4"
    # The catalog is in PostgreSQL, nothing beside the Lite file or in PODSEARCH_HOME.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog", "lite.db"]
    db = _db(pg_name)
    try:
        with db.connection() as conn:
            n = conn.execute(f'SELECT count(*) FROM "{pg_name}_episodes"').fetchone()
            indexed = conn.execute(
                f'SELECT count(*) FROM "{pg_name}_episodes" WHERE indexed_hash = content_hash'
            ).fetchone()
        assert (n[0], indexed[0]) == (8, 8)
        assert "vectors" not in _tables(db, pg_name)  # the vectors stay in Milvus
    finally:
        db.close()
