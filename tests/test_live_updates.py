"""A running reader (one Podsearch, as a server holds it) sees other processes' writes.

The writers are real CLI processes on the same index directory; the reader must see each
committed change within the documented bound (``REFRESH_INTERVAL`` plus one reload; target
2 s) and answer exactly k hits when k live matches exist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from podsearch.engine import Podsearch
from podsearch.models import SearchResult
from podsearch.store import CatalogStore

BOUND_S = 2.0


def _cli(*args: str) -> None:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "podsearch.cli", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _until(check: Callable[[], bool], bound: float = BOUND_S) -> float:
    """Seconds until ``check()`` holds (polling like a stream of requests); fails past bound."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > bound:
            pytest.fail(f"the reader did not see the change within {bound} s")
        time.sleep(0.02)
    return time.monotonic() - t0


@pytest.fixture
def reader(tmp_path: Path, tiny_catalog: Path):  # type: ignore[no-untyped-def]
    index = tmp_path / "index"
    _cli("ingest", "--index", str(index), "--catalog", str(tiny_catalog))
    _cli("index", "--index", str(index), "--model", "fake", "--quiet")
    ps = Podsearch(index, model="fake")
    ps.warm_up()
    yield ps
    ps.close()


def _ids(res: SearchResult) -> list[str]:
    return [h.episode_id for h in res.hits]


@pytest.mark.parametrize("mode", ["dense", "keyword", "hybrid"])
def test_delete_in_another_process_is_seen_with_exactly_k_hits(reader: Podsearch, mode: str):
    query = "sourdough bread baking"
    before = reader.search(query, k=3, mode=mode)
    assert _ids(before)[0] == "e4"
    gen = reader.generation
    _cli("delete", "e4", "--index", str(reader.index_dir))
    # The deleted hit goes at once (the store says so); the indexes reload within the bound.
    delay = _until(
        lambda: "e4" not in _ids(reader.search(query, k=3, mode=mode)) and reader.generation > gen
    )
    after = reader.search(query, k=3, mode=mode)
    with Podsearch(reader.index_dir, model="fake", create=False) as fresh:
        assert _ids(after) == _ids(fresh.search(query, k=3, mode=mode))
    if mode != "keyword":  # only e4 holds these words
        assert len(after.hits) == 3, _ids(after)
    assert reader.stats()["episodes"] == 7
    print(f"delete seen after {delay:.3f} s")


def test_ingest_and_index_in_another_process_are_seen(reader: Podsearch, tmp_path: Path):
    new = tmp_path / "new.jsonl"
    row = {
        "episode_id": "n1", "show_id": "9", "show_title": "Sea Life",
        "title": "Octopus intelligence", "description": "How octopuses solve puzzles.",
        "language": "en", "pub_date": "2021-01-01",
    }  # fmt: skip
    new.write_text(json.dumps(row) + "\n")
    _cli("ingest", "--index", str(reader.index_dir), "--catalog", str(new))
    _until(lambda: reader.stats()["episodes"] == 9)
    _cli("index", "--index", str(reader.index_dir), "--model", "fake", "--quiet")
    delay = _until(lambda: _ids(reader.search("octopus puzzles", k=1, mode="dense")) == ["n1"])
    assert _ids(reader.search("octopus puzzles", k=1, mode="keyword")) == ["n1"]
    assert len(reader.similar("n1", k=3).hits) == 3
    stats = reader.stats()
    assert stats["indexed"] == 9 and stats["generation"] == reader.store.generation()
    print(f"index seen after {delay:.3f} s")


def test_hits_deleted_after_the_index_was_read_do_not_take_slots(engine: Podsearch):
    """The store lost episodes the (not yet reloaded) indexes still hold: search deeper."""
    from podsearch.search.searcher import FusionSettings

    engine.searcher.fusion = FusionSettings(depth=1, hubness_beta=0.0)
    query = "sleep health food"
    full = {m: _ids(engine.search(query, k=8, mode=m)) for m in ("dense", "keyword", "hybrid")}
    gone = full["hybrid"][:2]
    CatalogStore.delete(engine.store, gone)  # the store only: the indexes still hold them
    for mode, ranking in full.items():
        live = [i for i in ranking if i not in gone]
        res = engine.search(query, k=3, mode=mode)
        assert len(res.hits) == min(3, len(live)) and not set(_ids(res)) & set(gone)
        page2 = engine.search(query, k=2, offset=2, mode=mode)
        assert not set(_ids(page2)) & set(gone)
        if mode != "hybrid":  # fused scores depend on the candidate depth
            assert _ids(res) == live[:3] and _ids(page2) == live[2:4], mode


def test_health_reports_live_counts_and_generation(reader: Podsearch):
    from fastapi.testclient import TestClient

    from podsearch.api.app import create_app

    client = TestClient(create_app(reader))
    before = client.get("/api/health").json()
    assert before["episodes"] == 8 and before["generation"] >= 1
    _cli("delete", "e1", "e2", "--index", str(reader.index_dir))
    _until(lambda: client.get("/api/health").json()["generation"] > before["generation"])
    after = client.get("/api/health").json()
    assert after["episodes"] == 6 and after["indexed"] == 6


def test_a_server_write_after_a_cli_write_keeps_both(reader: Podsearch, tmp_path: Path):
    """The server's own write starts from what the CLI committed (no lost vectors)."""
    new = tmp_path / "cli.jsonl"
    row = {"episode_id": "c1", "title": "Volcano science", "show_id": "7",
           "description": "Lava and magma.", "language": "en"}  # fmt: skip
    new.write_text(json.dumps(row) + "\n")
    _cli("ingest", "--index", str(reader.index_dir), "--catalog", str(new))
    _cli("index", "--index", str(reader.index_dir), "--model", "fake", "--quiet")
    reader.refresh_interval = 3600.0  # no read has refreshed: the write itself must
    rec = {"episode_id": "s1", "title": "Glacier melt", "show_id": "7", "language": "en"}
    assert reader.ingest_records([rec]).imported == 1
    assert reader.build_index().encoded == 1
    with Podsearch(reader.index_dir, model="fake", create=False) as fresh:
        assert len(fresh.vector_index()) == 10 and len(fresh.keyword_index()) == 10
        assert _ids(fresh.search("volcano lava", k=1, mode="dense")) == ["c1"]


def test_an_http_write_on_one_server_is_seen_by_another(reader: Podsearch):
    """Two servers on one index: writes through A's API show up in B's answers."""
    from fastapi.testclient import TestClient

    from podsearch.api.app import create_app

    with Podsearch(reader.index_dir, model="fake", create=False) as other:
        a = TestClient(create_app(other, api_keys=["k"]))
        b = TestClient(create_app(reader))
        auth = {"Authorization": "Bearer k"}
        row = {"title": "Octopus intelligence", "description": "How octopuses solve puzzles.",
               "show_id": "9", "language": "en"}  # fmt: skip
        assert a.put("/api/episodes/n1", json=row, headers=auth).status_code == 200
        job = a.post("/api/index", headers=auth).json()["job_id"]
        _until(lambda: a.get(f"/api/jobs/{job}", headers=auth).json()["status"] == "done", 30)

        def seen() -> bool:
            r = b.get("/api/search", params={"q": "octopus puzzles", "mode": "dense", "k": 1})
            return [h["episode_id"] for h in r.json()["hits"]] == ["n1"]

        print(f"HTTP write seen by the other server after {_until(seen):.3f} s")
        assert a.delete("/api/episodes/e4", headers=auth).status_code == 200
        _until(lambda: b.get("/api/health").json()["episodes"] == 8)
        r = b.get("/api/search", params={"q": "sourdough bread baking", "mode": "dense", "k": 3})
        assert len(r.json()["hits"]) == 3 and "e4" not in r.text
