"""Two `podsearch serve` replicas on one PostgreSQL database (issue 10, "operating it").

Each replica is a real server process on its own port with nothing on local disk: a write
through one (PUT /api/episodes/{id} + POST /api/index, DELETE) is seen by the other within
the documented bound (REFRESH_INTERVAL plus one reload; 2 s), with exactly k hits.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from podsearch.engine import Podsearch
from tests.index.test_congruence import _drop_pg, _pg_url, needs_pg

pytestmark = [pytest.mark.server, needs_pg]
BOUND_S = 2.0
AUTH = {"Authorization": "Bearer replica-key"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(check: Callable[[], bool], bound: float) -> float:
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > bound:
            pytest.fail(f"not seen within {bound} s")
        time.sleep(0.02)
    return time.monotonic() - t0


@pytest.fixture
def replicas(tmp_path: Path, tiny_catalog: Path) -> Iterator[tuple[Any, Any, Path]]:
    import httpx

    name = f"r{uuid.uuid4().hex[:12]}"
    url = _pg_url(name)
    with Podsearch(url, model="fake", catalog_dir=tmp_path / "unused") as ps:
        ps.ingest(tiny_catalog)
        ps.build_index()
    home = tmp_path / "home"  # HOME, PODSEARCH_HOME and cwd: must stay empty
    home.mkdir()
    env = dict(os.environ, HOME=str(home), PODSEARCH_HOME=str(home / "ps"),
               PODSEARCH_API_KEYS="replica-key", XDG_CONFIG_HOME=str(home / "config"))  # fmt: skip
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    procs, clients = [], []
    try:
        for _ in range(2):
            port = _free_port()
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "podsearch.cli",
                        "serve",
                        "--index",
                        url,
                        "--model",
                        "fake",
                        "--port",
                        str(port),
                    ],
                    cwd=home,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )  # fmt: skip
            )
            clients.append(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30))
        for proc, client in zip(procs, clients, strict=True):

            def up(c: Any = client, p: Any = proc) -> bool:
                if p.poll() is not None:
                    pytest.fail(f"serve exited: {p.stderr.read().decode()[-2000:]}")
                try:
                    return bool(c.get("/api/health").status_code == 200)
                except httpx.TransportError:
                    return False

            _until(up, 120)
        yield clients[0], clients[1], home
    finally:
        for c in clients:
            c.close()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        _drop_pg(name)


def _ids(client: Any, q: str, k: int) -> list[str]:
    r = client.get("/api/search", params={"q": q, "mode": "dense", "k": k})
    assert r.status_code == 200, r.text
    return [h["episode_id"] for h in r.json()["hits"]]


def test_a_write_through_one_replica_is_seen_by_the_other(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b, home = replicas
    row = {"title": "Octopus intelligence", "description": "How octopuses solve puzzles.",
           "show_id": "9", "language": "en"}  # fmt: skip
    assert a.put("/api/episodes/n1", json=row, headers=AUTH).status_code == 200
    job = a.post("/api/index", headers=AUTH).json()["job_id"]
    _until(lambda: a.get(f"/api/jobs/{job}", headers=AUTH).json()["status"] == "done", 60)
    seen = _until(lambda: _ids(b, "octopus puzzles", 1) == ["n1"], BOUND_S)
    print(f"upsert through A seen by B after {seen:.3f} s")
    assert len(_ids(b, "octopus puzzles", 5)) == 5  # 9 episodes: exactly k
    assert b.get("/api/health").json()["episodes"] == 9

    assert a.delete("/api/episodes/e4", headers=AUTH).status_code == 200
    gone = _until(lambda: "e4" not in _ids(b, "sourdough bread baking", 9), BOUND_S)
    print(f"delete through A seen by B after {gone:.3f} s")
    hits = _ids(b, "sourdough bread baking", 3)
    assert len(hits) == 3 and "e4" not in hits
    assert b.get("/api/health").json()["episodes"] == 8

    # and the other way round: B writes, A sees it
    row2 = {"title": "Glacier melt", "description": "Ice sheets and sea level.",
            "show_id": "9", "language": "en"}  # fmt: skip
    assert b.put("/api/episodes/n2", json=row2, headers=AUTH).status_code == 200
    job = b.post("/api/index", headers=AUTH).json()["job_id"]
    _until(lambda: b.get(f"/api/jobs/{job}", headers=AUTH).json()["status"] == "done", 60)
    _until(lambda: _ids(a, "glacier ice sheets", 1) == ["n2"], BOUND_S)

    left = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert left == [], f"a replica wrote local state: {left}"
