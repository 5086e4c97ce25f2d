"""Spoken queries end to end: espeak-ng speech -> whisper-base -> me5-small search.

Loads the real packaged models (whisper-base 145 MB, me5-small); one small index of demo
episodes is built per module. Skipped with a reason when espeak-ng is not installed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podsearch import Podsearch
from podsearch.api import create_app
from podsearch.catalog.demo import DEMO_CATALOG, DEMO_QUERY_FILE
from podsearch.errors import QueryError
from podsearch.voice import Transcriber, search_audio
from podsearch.voice.synth import espeak_path, silence, speak
from podsearch.voice.transcribe import NEVER_DETECTED

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


class SpyModel:
    """The real whisper model, recording what detection returned and what decoding used."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.probs: list[tuple[str, float]] = []
        self.decoded_in: list[str | None] = []

    def detect_language(self, *args: Any, **kw: Any) -> Any:
        out = self.model.detect_language(*args, **kw)
        self.probs = [(str(c), float(p)) for c, p in out[2]]
        return out

    def transcribe(self, *args: Any, **kw: Any) -> Any:
        self.decoded_in.append(kw.get("language"))
        return self.model.transcribe(*args, **kw)


def test_language_is_detected_when_not_given(
    transcriber: Transcriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asserts what the code guarantees, not whisper's borderline call: espeak's robotic
    Spanish comes out as Spanish on some CPUs and Italian on others (CTranslate2 picks
    different int8 kernels per CPU)."""
    wav = speak(demo_queries()["q41"]["query"], "es", words_per_minute=WPM)
    spy = SpyModel(transcriber.load())
    monkeypatch.setattr(transcriber, "_model", spy)
    t = transcriber.transcribe(wav)
    ranked = [c for c, _ in sorted(spy.probs, key=lambda cp: -cp[1]) if c not in NEVER_DETECTED]
    # The most probable allowed language is reported with its probability and decoded in.
    assert t.language == ranked[0] and spy.decoded_in == [t.language]
    assert t.language_probability == pytest.approx(dict(spy.probs)[t.language])
    assert "es" in ranked[:2], spy.probs[:5]
    # Restricted to the languages the listeners speak, the call is clear-cut (Spanish has
    # many times the probability of English or German here) and the text is right.
    only = Transcriber(detectable=("es", "en", "de"))
    monkeypatch.setattr(only, "_model", spy)
    t = only.transcribe(wav)
    assert t.language == "es" and spy.decoded_in[-1] == "es"
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
