"""The write API: upsert, delete, background index builds, API keys."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podsearch.api.app import create_app
from podsearch.engine import Podsearch

KEY = "s3cret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
NEW = {
    "title": "Octopus intelligence",
    "description": "How octopuses solve puzzles and open jars.",
    "show_id": "9",
    "show_title": "Sea Life",
    "language": "en",
    "categories": ["Science", "Nature"],
    "pub_date": "2021-01-01",
    "audio_url": "https://example.org/n1.mp3",
}


@pytest.fixture
def client(engine: Podsearch) -> TestClient:
    return TestClient(create_app(engine, api_keys=[KEY, "other-key"]))


def _wait(client: TestClient, job_id: str) -> dict[str, Any]:
    for _ in range(300):
        job = client.get(f"/api/jobs/{job_id}", headers=AUTH).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_put_index_search_delete(client: TestClient):
    r = client.put("/api/episodes/n1", json=NEW, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["read"], body["imported"], body["skipped"]) == (1, 1, 0)
    assert client.get("/api/episodes/n1").json()["categories"] == ["Science", "Nature"]
    # Searchable by words at once? Only after indexing: both indexes are built by the job.
    r = client.post("/api/index", headers=AUTH)
    assert r.status_code == 202
    job = _wait(client, r.json()["job_id"])
    assert job["status"] == "done" and job["result"]["encoded"] == 1
    hits = client.get("/api/search", params={"q": "octopus puzzles", "mode": "dense", "k": 1})
    assert [h["episode_id"] for h in hits.json()["hits"]] == ["n1"]
    # The same record again is unchanged; a changed one updated.
    assert client.put("/api/episodes/n1", json=NEW, headers=AUTH).json()["unchanged"] == 1
    changed = {**NEW, "title": "Octopus minds"}
    assert client.put("/api/episodes/n1", json=changed, headers=AUTH).json()["updated"] == 1
    r = client.delete("/api/episodes/n1", headers=AUTH)
    assert r.status_code == 200
    assert client.get("/api/episodes/n1").status_code == 404
    assert client.delete("/api/episodes/n1", headers=AUTH).status_code == 404
    hits = client.get("/api/search", params={"q": "octopus puzzles", "mode": "dense", "k": 3})
    assert len(hits.json()["hits"]) == 3 and "n1" not in hits.text


def test_batch_accounting_with_reasons(client: TestClient):
    rows = [
        {**NEW, "episode_id": "b1"},
        {**NEW, "episode_id": "b2", "title": "Another one"},
        {**NEW, "episode_id": "b3", "title": ""},  # no title: skipped with a reason
        {"episode_id": "e1", "title": "Staying healthy over Christmas", "show_id": "1"},
    ]
    r = client.put("/api/episodes", json=rows, headers=AUTH)
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["read"] == 4
    assert b["imported"] + b["updated"] + b["unchanged"] + b["skipped"] == b["read"]
    assert b["imported"] == 2 and b["skipped"] == 1
    assert b["skipped_rows"][0]["reason"]
    assert client.put("/api/episodes", json=[], headers=AUTH).status_code == 422


def test_put_one_skipped_or_mismatched_is_422(client: TestClient):
    r = client.put("/api/episodes/x1", json={**NEW, "title": ""}, headers=AUTH)
    assert r.status_code == 422 and r.json()["report"]["skipped"] == 1
    r = client.put("/api/episodes/x1", json={**NEW, "episode_id": "x2"}, headers=AUTH)
    assert r.status_code == 422
    r = client.put("/api/episodes/x1", json={**NEW, "titel": "typo"}, headers=AUTH)
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("put", "/api/episodes/n1", NEW),
        ("put", "/api/episodes", [NEW]),
        ("delete", "/api/episodes/e1", None),
        ("post", "/api/index", None),
        ("get", "/api/jobs/nope", None),
    ],
)
def test_writes_need_a_key(client: TestClient, method: str, path: str, body: Any):
    kw: dict[str, Any] = {"json": body} if body is not None else {}
    r = client.request(method, path, **kw)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "Unauthorized"
    r = client.request(method, path, headers={"Authorization": "Bearer wrong"}, **kw)
    assert r.status_code == 403 and "wrong" not in r.text
    r = client.request(method, path, headers={"Authorization": f"Basic {KEY}"}, **kw)
    assert r.status_code == 401
    assert client.get("/api/episodes/e1").status_code == 200  # reads stay public


def test_no_key_configured_disables_writes(engine: Podsearch, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PODSEARCH_API_KEYS", raising=False)
    client = TestClient(create_app(engine))
    r = client.delete("/api/episodes/e1", headers=AUTH)
    assert r.status_code == 403 and "PODSEARCH_API_KEYS" in r.json()["detail"]
    monkeypatch.setenv("PODSEARCH_API_KEYS", f"a, {KEY}")
    assert client.delete("/api/episodes/e1", headers=AUTH).status_code == 200


def test_openapi_documents_the_security_scheme(client: TestClient):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert spec["paths"]["/api/index"]["post"]["security"] == [{"apiKey": []}]
    assert "security" not in spec["paths"]["/api/search"]["get"]


def test_searches_answer_while_an_index_build_runs(engine: Podsearch, client: TestClient):
    import threading

    started, release = threading.Event(), threading.Event()
    real = engine.build_index

    def slow_build(**kw: Any) -> Any:
        with engine._write_lock:  # what a long build holds
            started.set()
            release.wait(10)
            return real(**kw)

    engine.build_index = slow_build  # type: ignore[method-assign]
    client.put("/api/episodes/n1", json=NEW, headers=AUTH)
    job = client.post("/api/index", headers=AUTH).json()
    assert started.wait(5)
    again = client.post("/api/index", headers=AUTH).json()
    assert again["job_id"] == job["job_id"]  # one build at a time
    t0 = time.monotonic()
    r = client.get("/api/search", params={"q": "sleep", "k": 3})
    assert r.status_code == 200 and len(r.json()["hits"]) == 3
    assert time.monotonic() - t0 < 2
    release.set()
    assert _wait(client, job["job_id"])["status"] == "done"


def test_access_log_is_one_json_line_without_query_text_or_key(
    client: TestClient, caplog: pytest.LogCaptureFixture
):
    import json
    import logging

    with caplog.at_level(logging.INFO, logger="podsearch.access"):
        client.get("/api/search", params={"q": "private words", "k": 2})
        client.delete("/api/episodes/e1", headers=AUTH)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "podsearch.access"]
    assert [(x["method"], x["path"], x["status"]) for x in lines] == [
        ("GET", "/api/search", 200),
        ("DELETE", "/api/episodes/e1", 200),
    ]
    assert all(isinstance(x["ms"], float) for x in lines)
    assert "private" not in caplog.text and KEY not in caplog.text


def test_public_errors_hold_no_server_paths(tmp_path, tiny_catalog):  # type: ignore[no-untyped-def]
    from podsearch.encode.fake import FakeEncoder

    with Podsearch(tmp_path / "idx", encoder=FakeEncoder(dim=64)) as ps:
        ps.ingest(tiny_catalog)  # no vectors yet
        client = TestClient(create_app(ps))
        r = client.get("/api/search", params={"q": "sleep", "mode": "dense"})
        assert (
            r.status_code == 409 and str(tmp_path) not in r.text and "podsearch index" not in r.text
        )
        r = client.get("/api/episodes/nope")
        assert r.status_code == 404 and str(tmp_path) not in r.text


def test_a_server_bound_to_loopback_refuses_foreign_host_headers(tmp_path):  # type: ignore[no-untyped-def]
    """DNS rebinding: a page on evil.example that resolves its name to 127.0.0.1 sends
    Host: evil.example; the loopback server answers only its own names."""
    from fastapi.testclient import TestClient

    from podsearch.api import create_app
    from podsearch.config import Settings
    from podsearch.encode import FakeEncoder
    from podsearch.engine import Podsearch

    ps = Podsearch(tmp_path / "idx", encoder=FakeEncoder())
    hosts = Settings(host="127.0.0.1").server_hosts()
    assert hosts is not None and "localhost" in hosts
    assert Settings(host="0.0.0.0").server_hosts() is None  # public: the operator sets them
    assert Settings(host="0.0.0.0", allowed_hosts=("search.example",)).server_hosts() == (
        "search.example",
    )
    app = create_app(ps, allowed_hosts=hosts)
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        assert c.get("/api/health").status_code in (200, 503)
        assert c.get("/api/health", headers={"Host": "localhost:8000"}).status_code in (200, 503)
        assert c.get("/api/health", headers={"Host": "evil.example"}).status_code == 400
    ps.close()
