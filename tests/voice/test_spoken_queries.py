"""Spoken queries end to end: espeak-ng speech -> whisper-base -> me5-small search.

Loads the real packaged models (whisper-base 145 MB, me5-small); one small index of demo
episodes is built per module. Skipped with a reason when espeak-ng is not installed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from podsearch import Podsearch
from podsearch.api import create_app
from podsearch.catalog.demo import DEMO_CATALOG, DEMO_QUERY_FILE
from podsearch.errors import QueryError
from podsearch.voice import Transcriber, search_audio
from podsearch.voice.synth import espeak_path, silence, speak

pytestmark = [
    pytest.mark.voice,
    pytest.mark.integration,
    pytest.mark.skipif(espeak_path() is None, reason="espeak-ng is not installed (apt-get "
                       "install espeak-ng; scripts/test.sh does it)"),
]  # fmt: skip

# (demo query id, espeak voice): English, Spanish and German queries whose target episode
# the transcript must find.
SPOKEN = [("q1", "en"), ("q41", "es"), ("q43", "de")]
WPM = 130  # espeak's default 175 words/minute is hard to follow even for people
DISTRACTORS = 60


def demo_queries() -> dict[str, dict[str, str]]:
    lines = Path(DEMO_QUERY_FILE).read_text(encoding="utf-8").splitlines()
    return {q["id"]: q for q in (json.loads(x) for x in lines if x.strip())}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podsearch]:
    """The demo catalog cut to the targets plus the first 60 episodes, indexed with me5-small."""
    folder = tmp_path_factory.mktemp("voice-demo")
    (folder / "podcasts.csv").write_bytes((DEMO_CATALOG / "podcasts.csv").read_bytes())
    targets = {demo_queries()[qid]["episode_id"] for qid, _ in SPOKEN}
    with open(DEMO_CATALOG / "episodes.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for i, r in enumerate(rows) if i < DISTRACTORS or r["id"] in targets]
    with open(folder / "episodes.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(keep)
    ps = Podsearch(folder / "ix", model="me5-small")
    ps.ingest(folder)
    ps.build_index()
    yield ps
    ps.close()


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return Transcriber()


@pytest.mark.parametrize(("qid", "voice"), SPOKEN)
def test_spoken_query_finds_its_episode(
    demo: Podsearch, transcriber: Transcriber, qid: str, voice: str
) -> None:
    q = demo_queries()[qid]
    found = search_audio(
        demo, speak(q["query"], voice, words_per_minute=WPM), language=voice,
        transcriber=transcriber, k=3,
    )  # fmt: skip
    t = found.transcript
    assert t.language == voice and t.duration_s > 1.0 and t.text
    ranks = [h.episode_id for h in found.result.hits]
    assert q["episode_id"] in ranks, (q["query"], t.text, ranks)


def test_language_is_detected_when_not_given(transcriber: Transcriber) -> None:
    q = demo_queries()["q41"]
    t = transcriber.transcribe(speak(q["query"], "es", words_per_minute=WPM))
    assert t.language == "es" and 0.5 < t.language_probability <= 1.0
    assert "tortilla" in t.text.lower()


def test_silence_is_no_speech(transcriber: Transcriber) -> None:
    with pytest.raises(QueryError, match="no speech recognised"):
        transcriber.transcribe(silence(2.0))


def test_http_upload_of_spoken_query(demo: Podsearch, transcriber: Transcriber) -> None:
    q = demo_queries()["q1"]
    wav = speak(q["query"], "en", words_per_minute=WPM)
    with TestClient(create_app(demo, transcriber=transcriber)) as client:
        r = client.post(
            "/api/search/audio",
            files={"audio": ("q.wav", wav, "audio/wav")},
            data={"k": "3", "audio_lang": "en"},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "xmas" in body["transcript"]["text"].lower()
    assert q["episode_id"] in [h["episode_id"] for h in body["hits"]]
