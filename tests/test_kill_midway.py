"""kill -9 a `podsearch ingest` / `podsearch index` process against PostgreSQL mid-way: no
half-written episode is visible, and a re-run completes with correct row accounting.

The documented contract (docs/BACKENDS.md): on PostgreSQL an ingest is one transaction, and an
index chunk (vectors + keyword rows + hub scores + ``mark_indexed`` + the generation bump) is
one transaction. So after a kill, the ids in the vector table, in the keyword table and the
episodes marked indexed are the same set, made of whole chunks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.index.test_congruence import PG_URL, _drop_pg, _pg_url, needs_pg

pytestmark = [pytest.mark.server, needs_pg]
CHUNK = 2048  # Podsearch's default commit_every


def _catalog(path: Path, n: int) -> Path:
    words = [
        "bread",
        "ocean",
        "music",
        "history",
        "science",
        "football",
        "cooking",
        "garden",
        "travel",
        "sleep",
    ]
    with open(path, "w") as f:
        for i in range(n):
            w = [words[(i * 7 + j * 3) % len(words)] for j in range(12)]
            f.write(json.dumps({"episode_id": f"b{i:05d}", "title": f"{' '.join(w[:4])} {i}",
                                "description": " ".join(w), "show_id": f"show{i % 40}",
                                "language": ["en", "de", "fr"][i % 3]}) + "\n")  # fmt: skip
    return path


def _cli(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "podsearch.cli", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _finish(p: subprocess.Popen[str]) -> dict:  # type: ignore[type-arg]
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    return dict(json.loads(out))


def _conn():  # type: ignore[no-untyped-def]
    import psycopg

    from podsearch.index.postgres import split_url

    return psycopg.connect(split_url(PG_URL)[0], autocommit=True)


def _ids(conn, name: str, table: str, where: str = "TRUE") -> set[str]:  # type: ignore[no-untyped-def]
    col = "id" if table in ("vectors", "keywords") else "episode_id"
    return {r[0] for r in conn.execute(f'SELECT {col} FROM "{name}_{table}" WHERE {where}')}


@pytest.fixture
def name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PODSEARCH_HOME", str(tmp_path / "home"))  # ingest's report files
    n = f"k{uuid.uuid4().hex[:12]}"
    yield n
    _drop_pg(n)


def _kill_when(p: subprocess.Popen[str], seen, bound: float = 300) -> None:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while not seen():
        if p.poll() is not None:
            pytest.fail(f"the process ended before it was killed: {p.stderr.read()[-500:]}")  # type: ignore[union-attr]
        if time.monotonic() - t0 > bound:
            pytest.fail("never reached the point to kill it at")
        time.sleep(0.01)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()


def test_kill_ingest_mid_transaction(name: str, tmp_path: Path) -> None:
    n = 20_000
    cat = _catalog(tmp_path / "big.jsonl", n)
    url = _pg_url(name)
    with _conn() as conn:
        p = _cli("ingest", "--catalog", str(cat), "--index", url, "--json")

        def writing() -> bool:  # the ingest's transaction has written rows: kill it now
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND query ILIKE %s AND state <> 'idle'",
                [f'%INSERT INTO "{name}_episodes"%'],
            ).fetchone()
            return bool(row[0])

        _kill_when(p, writing)
        assert conn.execute(f'SELECT count(*) FROM "{name}_episodes"').fetchone()[0] == 0
    report = _finish(_cli("ingest", "--catalog", str(cat), "--index", url, "--json"))
    assert report["read"] == n and report["imported"] == n
    parts = report["imported"] + report["updated"] + report["unchanged"] + report["skipped"]
    assert parts == report["read"]


def test_kill_index_inside_a_chunk(name: str, tmp_path: Path) -> None:
    n = 5_000
    cat = _catalog(tmp_path / "cat.jsonl", n)
    url = _pg_url(name)
    assert _finish(_cli("ingest", "--catalog", str(cat), "--index", url, "--json"))["read"] == n
    with _conn() as conn:
        p = _cli("index", "--index", url, "--model", "fake", "--json")
        indexed = f'SELECT count(*) FROM "{name}_episodes" WHERE indexed_hash = content_hash'
        writing = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state <> 'idle' AND query ILIKE %s"
        )

        def inside_a_chunk() -> bool:  # a chunk committed, the next one's keyword rows going in
            if conn.execute(indexed).fetchone()[0] < CHUNK:
                return False
            return bool(conn.execute(writing, [f'%INSERT INTO "{name}_keywords"%']).fetchone()[0])

        _kill_when(p, inside_a_chunk)
        time.sleep(0.2)  # let any in-flight statement of the killed backend be aborted
        done = _ids(conn, name, "episodes", "indexed_hash = content_hash")
        vectors, keywords = _ids(conn, name, "vectors"), _ids(conn, name, "keywords")
        hubs = _ids(conn, name, "hubness")
        print(f"killed with {len(done)} of {n} indexed")
        assert CHUNK <= len(done) < n and len(done) % CHUNK == 0  # whole chunks only
        assert vectors == keywords == done == hubs  # no half-written episode anywhere
    report = _finish(_cli("index", "--index", url, "--model", "fake", "--json"))
    assert report["encoded"] == n - len(done) and report["total_indexed"] == n
    with _conn() as conn:
        everyone = _ids(conn, name, "episodes")
        assert len(everyone) == n
        assert _ids(conn, name, "vectors") == _ids(conn, name, "keywords") == everyone
        assert _ids(conn, name, "episodes", "indexed_hash = content_hash") == everyone
    again = _finish(_cli("ingest", "--catalog", str(cat), "--index", url, "--json"))
    assert (again["read"], again["unchanged"], again["imported"]) == (n, n, 0)
