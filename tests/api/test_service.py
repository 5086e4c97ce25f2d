"""The service edges: body limits (413), rate limits (429), CORS, /metrics, POST /api/ingest
(uploads, feed URLs and their SSRF guard), and graceful shutdown of a real uvicorn server."""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podsearch.api import create_app
from podsearch.api.limits import KIB, TokenBuckets, body_limits
from podsearch.api.writes import Jobs
from podsearch.config import Settings
from podsearch.engine import Podsearch
from podsearch.voice import FakeTranscriber
from podsearch.voice.audio import AudioLimits
from podsearch.voice.synth import tone

KEY = "k-service"
AUTH = {"Authorization": f"Bearer {KEY}"}
SETTINGS = Settings(api_keys=(KEY,))
REPO = Path(__file__).resolve().parents[2]


def _client(engine: Podsearch, **server: Any) -> TestClient:
    return TestClient(create_app(engine, settings=replace(SETTINGS, **server)))


def _wait(client: TestClient, job_id: str) -> dict[str, Any]:
    for _ in range(400):
        job = client.get(f"/api/jobs/{job_id}", headers=AUTH).json()
        if job["status"] not in ("queued", "running"):
            return dict(job)
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


# -- request-size limits -------------------------------------------------------------------


def test_body_over_the_limit_is_413_from_content_length(engine: Podsearch) -> None:
    c = _client(engine)
    big = {"q": "bread", "lang": ["x" * 100] * 50, "pad": "y" * (70 * KIB)}
    r = c.post("/api/search", json=big)
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "PayloadTooLarge"
    assert "64 KiB" in r.json()["detail"] and "POST /api/search" in r.json()["detail"]
    # Under the limit the same endpoint answers (the limit is per endpoint, not global).
    assert c.post("/api/search", json={"q": "bread"}).status_code == 200
    # A batch PUT may be far larger than a search.
    rows = [{"episode_id": f"x{i}", "title": "t" * 200, "show_id": "1"} for i in range(400)]
    assert len(json.dumps(rows)) > 64 * KIB
    assert c.put("/api/episodes", json=rows, headers=AUTH).status_code == 200


def test_documented_limits_match_the_code() -> None:
    """docs/CONFIG.md's table of body limits lists each endpoint with the code's limit."""
    text = (REPO / "docs" / "CONFIG.md").read_text(encoding="utf-8")
    for lim in body_limits(50 * 1024 * 1024, 20 * 1024 * 1024):
        if lim.doc_path in ("POST /api/ingest", "POST /api/search/audio"):
            assert f"| `{lim.doc_path}` |" in text
            continue
        size = (
            f"{lim.max_bytes // (1024 * 1024)} MiB"
            if lim.max_bytes >= 1024 * 1024
            else f"{lim.max_bytes // KIB} KiB"
        )
        name = lim.doc_path if lim.doc_path.startswith("any") else f"`{lim.doc_path}`"
        assert f"| {name} | {size}" in text, (name, size)


@pytest.fixture
def server(engine: Podsearch) -> Iterator[dict[str, Any]]:
    """A real uvicorn server on a free port, with a slow fake transcriber."""
    import uvicorn

    class Slow(FakeTranscriber):
        def _recognise(self, samples: Any, language: str | None) -> tuple[str, str, float]:
            time.sleep(1.0)
            return super()._recognise(samples, language)

    app = create_app(
        engine,
        transcriber=Slow("sourdough bread", limits=AudioLimits(5.0, 400_000)),
        settings=replace(SETTINGS, shutdown_timeout=5),
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=10
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    info = {"port": port, "server": srv, "thread": thread, "app": app}
    yield info
    srv.should_exit = True
    thread.join(timeout=15)


def test_chunked_body_without_length_is_stopped_early(server: dict[str, Any]) -> None:
    """No Content-Length: the server answers 413 once 64 KiB have arrived, before the
    client has sent the rest (here it would send 2 MiB)."""
    sock = socket.create_connection(("127.0.0.1", server["port"]), timeout=10)
    sock.sendall(
        b"POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 8192
    sent = 0
    answer = b""
    sock.settimeout(0.05)
    try:
        while sent < 2 * 1024 * 1024:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            if answer:
                break
        sock.settimeout(5)
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 1024 * 1024, f"the server read {sent} bytes before answering"


# -- graceful shutdown ---------------------------------------------------------------------


def test_shutdown_finishes_requests_in_flight(server: dict[str, Any]) -> None:
    import httpx

    url = f"http://127.0.0.1:{server['port']}"
    out: list[Any] = []

    def spoken() -> None:
        files = {"audio": ("q.wav", tone(1.0), "audio/wav")}
        out.append(httpx.post(f"{url}/api/search/audio", files=files, timeout=20))

    t = threading.Thread(target=spoken)
    t.start()
    time.sleep(0.4)  # the transcription (1 s) is under way
    server["server"].should_exit = True
    t.join(timeout=20)
    server["thread"].join(timeout=20)
    assert not server["thread"].is_alive()
    assert out and out[0].status_code == 200, out
    assert out[0].json()["transcript"]["text"] == "sourdough bread"


def test_jobs_stop_cleanly_at_shutdown() -> None:
    jobs = Jobs()
    steps: list[int] = []

    def build(progress: Any) -> dict[str, int]:
        for i in range(1000):
            steps.append(i)
            progress(i, 1000)
            time.sleep(0.01)
        return {"encoded": 1000}

    job = jobs.start("index", build)
    time.sleep(0.1)
    stopped = jobs.shutdown(timeout=5)
    assert stopped == [job["job_id"]]
    done = jobs.get(job["job_id"])
    assert done["status"] == "interrupted" and done["finished"] >= done["started"]
    assert 0 < len(steps) < 1000
    from podsearch.api.writes import ServerStoppingError

    with pytest.raises(ServerStoppingError):
        jobs.start("index", build)


# -- rate limits ---------------------------------------------------------------------------


def test_token_bucket_rule() -> None:
    now = [0.0]
    b = TokenBuckets(rate_per_minute=60, burst=3, clock=lambda: now[0])
    key = ("1.2.3.4", "POST /api/recommend")
    assert [b.take(key) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take(key) == pytest.approx(1.0)  # one token a second
    assert b.take(("5.6.7.8", key[1])) == 0.0  # another client has its own bucket
    now[0] = 0.5
    assert b.take(key) == pytest.approx(0.5)
    now[0] = 1.0
    assert b.take(key) == 0.0
    now[0] = 100.0  # a long pause refills to the burst, not beyond
    assert [b.take(key) for _ in range(4)][-1] == pytest.approx(1.0)


def test_recommend_rate_limited_with_retry_after(engine: Podsearch) -> None:
    c = _client(engine, rate_limit=6, rate_burst=2)
    body = {"history": ["e1"], "k": 2}
    assert [c.post("/api/recommend", json=body).status_code for _ in range(2)] == [200, 200]
    r = c.post("/api/recommend", json=body)
    assert r.status_code == 429 and r.json()["error"] == "TooManyRequests"
    assert r.headers["retry-after"] == "10"  # 6 a minute: one token every 10 s
    # Cheap endpoints are not limited.
    assert all(c.get("/api/search", params={"q": "bread"}).status_code == 200 for _ in range(5))
    # rate_limit = 0 turns the limiter off.
    off = _client(engine, rate_limit=0, rate_burst=1)
    assert {off.post("/api/recommend", json=body).status_code for _ in range(5)} == {200}


def test_ingest_and_index_are_rate_limited(engine: Podsearch) -> None:
    c = _client(engine, rate_limit=1, rate_burst=1)
    r1 = c.post("/api/index", headers=AUTH)
    assert r1.status_code == 202
    r2 = c.post("/api/index", headers=AUTH)
    assert r2.status_code == 429 and int(r2.headers["retry-after"]) == 60
    files = {"file": ("c.csv", b"episode_id,title\n1,a\n", "text/csv")}
    assert c.post("/api/ingest", files=files, headers=AUTH).status_code == 202
    assert c.post("/api/ingest", files=files, headers=AUTH).status_code == 429
    _wait(c, r1.json()["job_id"])


# -- CORS ----------------------------------------------------------------------------------


def test_cors_is_off_by_default(engine: Podsearch) -> None:
    c = _client(engine)
    r = c.get("/api/search", params={"q": "bread"}, headers={"Origin": "https://a.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = c.options(
        "/api/search",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers


def test_cors_per_origin(engine: Podsearch) -> None:
    c = _client(engine, cors_origins=("https://a.example",))
    ok = c.get("/api/search", params={"q": "bread"}, headers={"Origin": "https://a.example"})
    assert ok.headers["access-control-allow-origin"] == "https://a.example"
    other = c.get("/api/search", params={"q": "bread"}, headers={"Origin": "https://b.example"})
    assert "access-control-allow-origin" not in other.headers
    pre = c.options(
        "/api/episodes/e1",
        headers={
            "Origin": "https://a.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert pre.status_code == 200
    assert "PUT" in pre.headers["access-control-allow-methods"]
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in pre.headers
    assert ok.headers["access-control-expose-headers"] == "Retry-After"
    bad = c.options(
        "/api/search",
        headers={"Origin": "https://b.example", "Access-Control-Request-Method": "POST"},
    )
    assert bad.status_code == 400


def test_cors_origins_from_env() -> None:
    from podsearch.config import load_settings

    s = load_settings(env={"PODSEARCH_CORS_ORIGINS": "https://a.example, https://b.example"})
    assert s.cors_origins == ("https://a.example", "https://b.example")


# -- metrics -------------------------------------------------------------------------------


def test_metrics_need_a_key(engine: Podsearch) -> None:
    c = _client(engine)
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 403


def test_metrics_content(engine: Podsearch) -> None:
    c = _client(engine)
    secret_query = "zanzibar quokka sourdough"
    assert c.get("/api/search", params={"q": secret_query, "mode": "keyword"}).status_code == 200
    assert c.post("/api/search", json={"q": secret_query, "mode": "dense"}).status_code == 200
    assert c.get("/api/episodes/e1").status_code == 200
    assert c.get("/api/episodes/nope").status_code == 404
    assert c.get("/no/such/path/zanzibar").status_code == 404
    r = c.get("/metrics", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "zanzibar" not in text and "quokka" not in text and "nope" not in text

    def value(name: str, **labels: str) -> float:
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            got = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
            if got == labels:
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"no {name} {labels} in /metrics")

    req = "podsearch_requests_total"
    assert value(req, endpoint="/api/search", method="GET", status="200", mode="keyword") == 1
    assert value(req, endpoint="/api/search", method="POST", status="200", mode="dense") == 1
    ep = "/api/episodes/{episode_id}"
    assert value(req, endpoint=ep, method="GET", status="200", mode="") == 1
    assert value(req, endpoint=ep, method="GET", status="404", mode="") == 1
    assert value(req, endpoint="unmatched", method="GET", status="404", mode="") == 1
    hist = "podsearch_request_duration_seconds_count"
    assert value(hist, endpoint="/api/search", method="GET", mode="keyword") == 1
    # One dense search encoded a query; the keyword one did not.
    assert value("podsearch_encoder_duration_seconds_count") == 1
    health = c.get("/api/health").json()
    assert value("podsearch_index_episodes") == health["episodes"]
    assert value("podsearch_index_vectors") == health["indexed"]
    assert value("podsearch_index_generation") == health["generation"]


# -- POST /api/ingest ----------------------------------------------------------------------

CSV = (
    "episode_id,title,description,show_id,show_title,language\n"
    "u1,Octopus minds,How octopuses open jars,s9,Sea Life,en\n"
    "u2,Coral reefs,Reefs under heat stress,s9,Sea Life,en\n"
    "u3,,no title here,s9,Sea Life,en\n"
    "e1,Staying healthy over Christmas,,1,,en\n"
)


def test_ingest_needs_a_key(engine: Podsearch) -> None:
    c = _client(engine)
    files = {"file": ("c.csv", CSV.encode(), "text/csv")}
    assert c.post("/api/ingest", files=files).status_code == 401
    assert (
        c.post("/api/ingest", files=files, headers={"Authorization": "Bearer x"}).status_code == 403
    )
    assert c.post("/api/ingest", json={"url": "https://example.org/f.xml"}).status_code == 401


def test_ingest_upload_accounting(engine: Podsearch) -> None:
    c = _client(engine)
    files = {"file": ("../../etc/My Catalog.csv", CSV.encode(), "text/csv")}
    r = c.post("/api/ingest", files=files, headers=AUTH)
    assert r.status_code == 202, r.text
    job = _wait(c, r.json()["job_id"])
    assert job["status"] == "done" and job["kind"] == "ingest", job
    res = job["result"]
    assert res["read"] == 4
    assert res["imported"] + res["updated"] + res["unchanged"] + res["skipped"] == res["read"]
    assert res["imported"] == 2 and res["skipped"] == 1
    assert res["skipped_rows"][0]["reason"]
    assert res["source"] == "upload:My_Catalog.csv"
    assert "/tmp" not in json.dumps(job) and "podsearch-ingest" not in json.dumps(job)
    assert c.get("/api/episodes/u1").json()["title"] == "Octopus minds"
    # The same file again: nothing new.
    again = _wait(c, c.post("/api/ingest", files=files, headers=AUTH).json()["job_id"])
    assert again["result"]["unchanged"] == 3 and again["result"]["imported"] == 0


def test_ingest_upload_jsonl_with_format_field(engine: Podsearch) -> None:
    c = _client(engine)
    lines = "\n".join(
        json.dumps({"episode_id": f"j{i}", "title": f"Tide pools {i}", "show_id": "s9"})
        for i in range(3)
    )
    files = {"file": ("noext", lines.encode(), "application/octet-stream")}
    r = c.post("/api/ingest", files=files, data={"format": "jsonl"}, headers=AUTH)
    job = _wait(c, r.json()["job_id"])
    assert job["status"] == "done" and job["result"]["imported"] == 3, job


def test_ingest_upload_errors(engine: Podsearch, tmp_path: Path) -> None:
    c = _client(engine, max_upload_mb=1)
    files = {"file": ("c.docx", b"x", "application/octet-stream")}
    r = c.post("/api/ingest", files=files, headers=AUTH)
    assert r.status_code == 422 and "unknown catalog format" in r.json()["detail"]
    r = c.post("/api/ingest", content=b"url=x", headers={**AUTH, "Content-Type": "text/plain"})
    assert r.status_code == 415
    big = {"file": ("c.csv", b"episode_id,title\n" + b"1,a\n" * 400_000, "text/csv")}
    r = c.post("/api/ingest", files=big, headers=AUTH)
    assert r.status_code == 413 and "POST /api/ingest" in r.json()["detail"]
    # A file the reader cannot use: the job fails with a reason that names no server path.
    files = {"file": ("c.parquet", b"not parquet", "application/octet-stream")}
    job = _wait(c, c.post("/api/ingest", files=files, headers=AUTH).json()["job_id"])
    assert job["status"] == "failed" and job["error"]
    assert "/tmp" not in job["error"] and "podsearch-ingest" not in job["error"], job


RSS = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Harbour Talk</title><link>https://h.example</link>
<item><guid>h1</guid><title>Lighthouses at night</title>
<description>Keepers and lamps.</description>
<enclosure url="https://h.example/1.mp3" type="audio/mpeg"/></item>
<item><guid>h2</guid><title>Fog horns</title>
<description>Why ships need sound.</description></item>
</channel></rss>"""


@pytest.fixture
def feed_server() -> Iterator[str]:
    """A local HTTP server: /feed.xml, /big.xml (2 MiB), /to-file (redirect to file://),
    /to-feed (redirect to /feed.xml)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/feed.xml":
                body = RSS.encode()
            elif self.path == "/big.xml":
                body = b"<rss>" + b" " * (2 * 1024 * 1024) + b"</rss>"
            elif self.path == "/slow.xml":  # 10 bytes every 0.2 s, 4 s in all
                self.send_response(200)
                self.send_header("Content-Length", "200")
                self.end_headers()
                for _ in range(20):
                    self.wfile.write(b" " * 10)
                    self.wfile.flush()
                    time.sleep(0.2)
                return
            elif self.path.startswith("/to-"):
                target = "file:///etc/passwd" if self.path == "/to-file" else "/feed.xml"
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True  # teardown does not wait for /slow.xml
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _ingest_url(c: TestClient, url: str) -> dict[str, Any]:
    r = c.post("/api/ingest", json={"url": url}, headers=AUTH)
    assert r.status_code == 202, r.text
    return _wait(c, r.json()["job_id"])


def test_ingest_feed_url_refuses_loopback_by_default(engine: Podsearch, feed_server: str) -> None:
    c = _client(engine)
    job = _ingest_url(c, f"{feed_server}/feed.xml")
    assert job["status"] == "failed" and "not a public address" in job["error"], job
    job = _ingest_url(c, feed_server.replace("127.0.0.1", "localhost") + "/feed.xml")
    assert job["status"] == "failed" and "not a public address" in job["error"], job
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[::1]:9/", "http://10.0.0.1/"):
        job = _ingest_url(c, url)
        assert job["status"] == "failed" and "not a public address" in job["error"], (url, job)


def test_ingest_feed_url_when_the_network_is_allowed(engine: Podsearch, feed_server: str) -> None:
    c = _client(engine, feed_private_networks=("127.0.0.1/32",), max_upload_mb=1)
    job = _ingest_url(c, f"{feed_server}/to-feed")  # a redirect to an allowed URL is followed
    assert job["status"] == "done", job
    res = job["result"]
    assert res["read"] == 2 and res["imported"] == 2
    assert res["imported"] + res["updated"] + res["unchanged"] + res["skipped"] == res["read"]
    hits = c.get("/api/search", params={"q": "lighthouses", "mode": "keyword"}).json()["hits"]
    assert hits == []  # not indexed yet: POST /api/index does that
    assert _wait(c, c.post("/api/index", headers=AUTH).json()["job_id"])["status"] == "done"
    hits = c.get("/api/search", params={"q": "lighthouses", "mode": "keyword"}).json()["hits"]
    assert hits and hits[0]["title"] == "Lighthouses at night"
    job = _ingest_url(c, f"{feed_server}/to-file")
    assert job["status"] == "failed" and "only http and https" in job["error"], job
    job = _ingest_url(c, f"{feed_server}/big.xml")
    assert job["status"] == "failed" and "larger than 1 MiB" in job["error"], job


def test_ingest_url_checked_at_once(engine: Podsearch) -> None:
    c = _client(engine)
    for url in ("file:///etc/passwd", "ftp://example.org/f.xml", "gopher://x", "http://"):
        r = c.post("/api/ingest", json={"url": url}, headers=AUTH)
        assert r.status_code == 422, (url, r.text)
    r = c.post("/api/ingest", json={"url": "https://u:p@example.org/f.xml"}, headers=AUTH)
    assert r.status_code == 422
    r = c.post(
        "/api/ingest", json={"url": "https://example.org/", "language": "xx-bad"}, headers=AUTH
    )
    assert r.status_code == 422 and "unknown language" in r.json()["detail"]
    r = c.post("/api/ingest", json={"nope": 1}, headers=AUTH)
    assert r.status_code == 422


def test_worker_processes_get_the_same_settings(tmp_path: Path) -> None:
    """``serve --workers N`` hands its settings to each worker as JSON: nothing is lost."""
    from podsearch.cli.serve import _settings_json
    from podsearch.config import load_settings

    s = replace(
        SETTINGS,
        index=tmp_path / "ix",
        threads=1,
        keyword_weight=0.3,
        cors_origins=("https://a.example",),
        feed_private_networks=("10.0.0.0/8",),
        rate_limit=0,
        workers=2,
        shutdown_timeout=7,
    )
    again = load_settings(None, env={}, cwd=tmp_path, **json.loads(_settings_json(s)))
    assert again == replace(s, source=None)


def test_a_slow_search_does_not_block_other_requests(
    engine: Podsearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches run in the server's thread pool: while one spends a second (as a slow query
    encoding would), other requests, searches included, are answered."""
    slow_query = "sleepy query"
    real = engine.search

    def search(q: str, **kw: Any) -> Any:
        if q == slow_query:
            time.sleep(1.0)
        return real(q, **kw)

    monkeypatch.setattr(engine, "search", search)
    with _client(engine) as c:
        c.get("/api/search", params={"q": "bread"})  # the first search opens the indexes
        out: list[int] = []
        t = threading.Thread(
            target=lambda: out.append(c.get("/api/search", params={"q": slow_query}).status_code)
        )
        t.start()
        time.sleep(0.2)
        t0 = time.perf_counter()
        assert c.get("/api/search", params={"q": "bread"}).status_code == 200
        assert c.get("/api/health").status_code == 200
        assert time.perf_counter() - t0 < 0.6
        t.join()
        assert out == [200]


def test_feed_fetch_is_time_limited(feed_server: str) -> None:
    import ipaddress

    from podsearch.api.fetch import FeedFetchError, FetchPolicy, fetch_feed

    policy = FetchPolicy(
        max_bytes=10**6, deadline_s=0.5, allowed_networks=(ipaddress.ip_network("127.0.0.1"),)
    )
    t0 = time.perf_counter()
    with pytest.raises(FeedFetchError, match="longer than 0.5 s"):
        fetch_feed(f"{feed_server}/slow.xml", policy)
    assert time.perf_counter() - t0 < 2.0
    data, final = fetch_feed(f"{feed_server}/to-feed", policy)
    assert data.startswith(b"<?xml") and final.endswith("/feed.xml")
