"""Operating the server: a health check a load balancer can act on, strict JSON bodies, and
background jobs that every server on the index sees and that survive a restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from podsearch.api import create_app
from podsearch.api.writes import Jobs
from podsearch.config import Settings
from podsearch.encode.fake import FakeEncoder
from podsearch.engine import Podsearch
from podsearch.store import SqliteCatalogStore
from tests.api.test_service import feed_server as feed_server  # a fixture

KEY = "k-ops"
AUTH = {"Authorization": f"Bearer {KEY}"}
SETTINGS = Settings(api_keys=(KEY,))
REPO = Path(__file__).resolve().parents[2]


def _client(engine: Podsearch, **server: Any) -> TestClient:
    return TestClient(create_app(engine, settings=replace(SETTINGS, **server)))


# -- /api/health ---------------------------------------------------------------------------


def test_health_is_503_degraded_when_the_keyword_index_is_damaged(engine: Podsearch) -> None:
    with _client(engine) as c:
        assert c.get("/api/health").status_code == 200
    engine.close()
    (engine.index_dir / "keyword" / "meta.json").unlink()
    with (
        Podsearch(engine.index_dir, encoder=FakeEncoder(dim=64), create=False) as ps,
        _client(ps) as c,
    ):
        r = c.get("/api/health")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "degraded"
    assert body["episodes"] == 8 and body["indexed"] == 8 and body["generation"] >= 1
    assert body["problems"] and "keyword index" in body["problems"][0]
    # Public words: no server path, no operator command.
    assert str(engine.index_dir) not in r.text and "podsearch index" not in r.text
    # Once rebuilt, healthy again.
    with Podsearch(engine.index_dir, encoder=FakeEncoder(dim=64), create=False) as ps:
        ps.build_index()
        with _client(ps) as c:
            r = c.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and "problems" not in r.json()


def test_health_503_is_in_the_schema(engine: Podsearch) -> None:
    with _client(engine) as c:
        op = c.get("/openapi.json").json()["paths"]["/api/health"]["get"]
    assert "503" in op["responses"]


# -- strict JSON bodies, lax query strings ---------------------------------------------------


@pytest.mark.parametrize("k", [True, "3", 3.0, "x"])
def test_search_json_body_is_strict(engine: Podsearch, k: Any) -> None:
    with _client(engine) as c:
        r = c.post("/api/search", json={"q": "bread", "k": k})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "k"


def test_search_json_body_still_takes_valid_values(engine: Podsearch) -> None:
    with _client(engine) as c:
        r = c.post(
            "/api/search",
            json={"q": "bread", "k": 3, "mode": "keyword", "lang": "en",
                  "date_from": "2000-01-01", "date_to": "2030-12-31"},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["k"] == 3
        r = c.post("/api/search", json={"q": "bread", "date_from": "2020-02-30"})
        assert r.status_code == 422
        assert "date_from: '2020-02-30' is not a day" in r.json()["detail"]
        # Query strings are text: GET keeps converting them.
        r = c.get("/api/search", params={"q": "bread", "k": "3", "date_from": "2000-01-01"})
        assert r.status_code == 200 and r.json()["k"] == 3


@pytest.mark.parametrize(
    "change",
    [{"k": True}, {"k": "3"}, {"offset": "0"}, {"max_interests": True},
     {"history": [{"episode_id": "e1", "weight": True}]},
     {"history": [{"episode_id": "e1", "skipped": "yes"}]}],
)  # fmt: skip
def test_recommend_json_body_is_strict(engine: Podsearch, change: dict[str, Any]) -> None:
    with _client(engine) as c:
        ok = c.post("/api/recommend", json={"history": ["e1"], "k": 3, "date_from": "2000-01-01"})
        assert ok.status_code == 200, ok.text
        r = c.post("/api/recommend", json={"history": ["e1"], **change})
        assert r.status_code == 422, r.text


# -- background jobs: shared and persistent --------------------------------------------------


def _slow_work(progress: Any) -> dict[str, int]:
    for i in range(600):
        progress(i, 600)
        time.sleep(0.05)
    return {"steps": 600}


def test_a_job_is_visible_from_another_server(engine: Podsearch, monkeypatch: Any) -> None:
    import podsearch.api.writes as writes

    monkeypatch.setattr(writes, "HEARTBEAT_S", 0.1)
    path = engine.index_dir / "catalog.sqlite"
    a, b = SqliteCatalogStore(path), SqliteCatalogStore(path)
    one, other = Jobs(a), Jobs(b)
    try:
        job = one.start("index", _slow_work)
        time.sleep(0.5)
        seen = other.get(job["job_id"])
        assert seen["status"] == "running" and seen["kind"] == "index"
        assert seen["progress"]["done"] > 0 and "owner" not in seen
        one.shutdown(timeout=5)
        seen = other.get(job["job_id"])
        assert seen["status"] == "interrupted" and seen["finished"] >= seen["started"]
        done = other.start("ingest", lambda _p: {"read": 1}, single=False)
        third = Jobs(c := SqliteCatalogStore(path))
        for _ in range(100):
            done = third.get(done["job_id"])
            if done["status"] == "done":
                break
            time.sleep(0.05)
        assert done["result"] == {"read": 1}
        with pytest.raises(Exception, match="no job"):
            other.get("nope")
        c.close()
    finally:
        other.shutdown(timeout=1)
        a.close()
        b.close()


def test_a_silent_job_on_another_host_reads_interrupted(tmp_path: Path, monkeypatch: Any) -> None:
    import podsearch.api.writes as writes

    store = SqliteCatalogStore(tmp_path / "catalog.sqlite")
    now = time.time()
    owner = {"host": "elsewhere", "pid": 1, "instance": "x"}
    store.save_job({"job_id": "fresh", "kind": "index", "status": "running", "created": now,
                    "owner": owner, "heartbeat": now})  # fmt: skip
    store.save_job({"job_id": "stale", "kind": "index", "status": "running", "created": now,
                    "owner": owner, "heartbeat": now - writes.STALE_S - 1})  # fmt: skip
    reused = {"host": socket.gethostname(), "pid": os.getppid(), "instance": "y"}  # alive
    store.save_job({"job_id": "reused", "kind": "index", "status": "running", "created": now,
                    "owner": reused, "heartbeat": now - writes.STALE_S - 1})  # fmt: skip
    jobs = Jobs(store)
    try:
        assert jobs.get("reused")["status"] == "interrupted"
        assert jobs.get("fresh")["status"] == "running"
        assert jobs.get("stale")["status"] == "interrupted"
        assert store.load_job("stale")["status"] == "interrupted"  # recorded for all
    finally:
        jobs.shutdown(timeout=1)
        store.close()


SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    from podsearch.api import create_app
    from podsearch.config import Settings
    from podsearch.encode.fake import FakeEncoder
    from podsearch.engine import Podsearch

    engine = Podsearch(sys.argv[1], encoder=FakeEncoder(dim=64), create=False)
    settings = Settings(api_keys=("k-ops",), feed_private_networks=("127.0.0.0/8",))
    uvicorn.run(create_app(engine, settings=settings), host="127.0.0.1",
                port=int(sys.argv[2]), log_level="warning")
    """
)


def test_a_job_running_when_the_server_is_killed_reads_interrupted_after_restart(
    engine: Podsearch,
    feed_server: str,  # noqa: F811  (the fixture)
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(engine.index_dir), str(port)], env=env
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            try:
                if httpx.get(f"{url}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        # A feed that takes 4 s to arrive: the ingest job is running when the server dies.
        r = httpx.post(f"{url}/api/ingest", json={"url": f"{feed_server}/slow.xml"}, headers=AUTH)
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        for _ in range(100):
            if httpx.get(f"{url}/api/jobs/{job_id}", headers=AUTH).json()["status"] == "running":
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The restarted server (here: a new app on the same index) knows the job and its fate.
    with _client(engine) as c:
        r = c.get(f"/api/jobs/{job_id}", headers=AUTH)
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "interrupted" and job["kind"] == "ingest"
    assert job["error"] == "the server stopped before the job ended"
    assert json.dumps(job).find(str(engine.index_dir)) < 0


# -- keep-alive ------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_sets_the_keep_alive(
    engine: Podsearch, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """uvicorn's default (5 s) closed idle connections as busy clients sent on them (bench/
    keepalive_race.py): ``serve`` passes ``server.keep_alive`` (default 75 s)."""
    import uvicorn

    from podsearch.cli import serve
    from podsearch.config import load_settings

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    monkeypatch.setattr(serve, "_app", lambda s: None)
    monkeypatch.setattr(serve, "open_with", lambda s: engine.__class__.__new__(engine.__class__))
    monkeypatch.setattr(Podsearch, "close", lambda self: None)
    default = load_settings(None, env={}, cwd=engine.index_dir)
    assert default.keep_alive == 75
    serve._serve(replace(default, workers=workers))
    tuned = load_settings(None, env={"PODSEARCH_KEEP_ALIVE": "120"}, cwd=engine.index_dir)
    serve._serve(replace(tuned, workers=workers))
    assert [c["timeout_keep_alive"] for c in calls] == [75, 120]
