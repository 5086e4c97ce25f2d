"""POST /api/search/audio with a fake transcriber: answers, limits, errors, no blocked loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from podsearch.api import create_app
from podsearch.voice import FakeTranscriber
from podsearch.voice.audio import AudioLimits
from podsearch.voice.synth import silence, tone

URL = "/api/search/audio"


@pytest.fixture
def fake() -> FakeTranscriber:
    return FakeTranscriber("baking sourdough bread", limits=AudioLimits(5.0, 400_000))


@pytest.fixture
def client(engine: Any, fake: FakeTranscriber) -> Iterator[TestClient]:
    app = create_app(engine, transcriber=fake)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, audio: bytes, name: str = "q.wav", **data: Any) -> Any:
    return client.post(URL, files={"audio": (name, audio, "audio/wav")}, data=data)


def assert_error(r: Any, status: int, match: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"error", "detail"} and match in body["detail"], body
    assert "Traceback" not in r.text
    return body


def test_transcript_and_hits(client: TestClient, fake: FakeTranscriber) -> None:
    r = post(client, tone(1.0), k=2, mode="hybrid", audio_lang="de")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["transcript"]["text"] == "baking sourdough bread"
    assert body["transcript"]["language"] == "de"
    assert abs(body["transcript"]["duration_s"] - 1.0) < 0.01
    assert body["query"] == "baking sourdough bread"
    assert body["hits"][0]["episode_id"] == "e4" and len(body["hits"]) == 2
    assert body["mode"] == "hybrid" and body["took_ms"] > 0
    assert fake.calls == [(16_000, "de")]


def test_filters_apply(client: TestClient) -> None:
    r = client.post(
        URL,
        files={"audio": ("q.webm", tone(1.0), "audio/webm")},
        data={"lang": ["de"], "mode": "dense", "audio_lang": ""},
    )
    assert r.status_code == 200, r.text
    assert {h["language"] for h in r.json()["hits"]} == {"de"}


def test_silent_audio(client: TestClient) -> None:
    assert_error(post(client, silence(1.0)), 422, "no speech recognised")


@pytest.mark.parametrize("data", [b"GIF89a" + b"\x00" * 500, b"hello " * 100])
def test_non_audio(client: TestClient, data: bytes) -> None:
    body = assert_error(post(client, data, name="x.gif"), 422, "cannot read the file as audio")
    assert body["error"] == "QueryError"


def test_too_long_audio_is_413(client: TestClient) -> None:
    body = assert_error(post(client, tone(6.0)), 413, "at most 5 s")
    assert body["error"] == "InputTooLargeError"


def test_too_large_upload_is_413_without_reading_it_all(client: TestClient) -> None:
    big = np.random.default_rng(0).standard_normal(600_000).astype(np.float32).tobytes()
    t0 = time.perf_counter()
    assert_error(post(client, big), 413, "MiB")

    # Chunked, with no Content-Length: the capped reader stops it too.
    def chunks() -> Iterator[bytes]:
        boundary = b"--xyz\r\n"
        yield boundary + b'Content-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
        yield b"Content-Type: audio/wav\r\n\r\n"
        for _ in range(100):
            yield b"\x01" * 65_536
        yield b"\r\n--xyz--\r\n"

    r = client.post(
        URL, content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=xyz"}
    )
    assert_error(r, 413, "MiB")
    assert time.perf_counter() - t0 < 5


def test_bad_params(client: TestClient) -> None:
    assert_error(post(client, tone(1.0), audio_lang="xx"), 422, "unknown audio language")
    body = assert_error(post(client, tone(1.0), k=0), 422, "k")
    assert body["error"] == "ValidationError"
    assert_error(post(client, tone(1.0), mode="fuzzy"), 422, "mode")
    r = client.post(URL, data={"k": "3"})
    assert_error(r, 422, "multipart file field named 'audio'")
    r = client.post(URL, json={"q": "x"})
    assert_error(r, 422, "field named 'audio'")


def test_documented_in_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"][URL]["post"]
    assert "multipart/form-data" in op["requestBody"]["content"]
    assert {"413", "422"} <= set(op["responses"])


class SlowTranscriber(FakeTranscriber):
    def _recognise(self, samples: Any, language: str | None) -> tuple[str, str, float]:
        time.sleep(1.0)
        return super()._recognise(samples, language)


def test_transcription_does_not_block_the_event_loop(engine: Any) -> None:
    app = create_app(engine, transcriber=SlowTranscriber())
    with TestClient(app) as c:
        results: list[int] = []
        worker = threading.Thread(target=lambda: results.append(post(c, tone(1.0)).status_code))
        worker.start()
        time.sleep(0.2)
        t0 = time.perf_counter()
        assert c.get("/api/health").status_code == 200
        assert time.perf_counter() - t0 < 0.5  # answered while the transcription sleeps
        worker.join()
        assert results == [200]


def test_too_many_pending_transcriptions_get_503(engine: Any) -> None:
    from fastapi import FastAPI

    from podsearch.api.voice import add_voice_routes

    app = FastAPI()
    add_voice_routes(app, engine, SlowTranscriber(), max_concurrent=1, max_pending=1)
    with TestClient(app) as c:
        codes: list[int] = []
        worker = threading.Thread(target=lambda: codes.append(post(c, tone(1.0)).status_code))
        worker.start()
        time.sleep(0.3)
        r = post(c, tone(1.0))
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert "retry shortly" in r.json()["detail"]
        worker.join()
        assert codes == [200]
