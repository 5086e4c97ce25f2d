"""Spoken-query plumbing with a fake transcriber: errors, search_audio, model assembly, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from podsearch.errors import InputTooLargeError, ModelError, QueryError
from podsearch.voice import FakeTranscriber, check_language, search_audio
from podsearch.voice import model as model_mod
from podsearch.voice import search as search_mod
from podsearch.voice.audio import AudioLimits
from podsearch.voice.synth import silence, tone
from tests.cli.test_cli import run


def test_language_codes() -> None:
    assert check_language(None) is None
    assert check_language("auto") is None
    assert check_language(" ES ") == "es"
    with pytest.raises(QueryError, match="unknown audio language 'xx'.*en, es, de"):
        check_language("xx")
    with pytest.raises(QueryError, match="unknown audio language"):
        check_language("spanish")


def test_fake_transcript_fields() -> None:
    fake = FakeTranscriber("  eat better\n during xmas ", language="en")
    t = fake.transcribe(tone(1.0), "de")
    assert t.text == "eat better during xmas"
    assert t.language == "de" and t.language_probability == 1.0
    assert abs(t.duration_s - 1.0) < 0.01 and t.seconds >= 0
    assert fake.calls == [(16_000, "de")]
    assert set(t.to_dict()) == {"text", "language", "language_probability", "duration_s", "seconds"}


def test_silence_and_empty_transcripts_are_clear_errors() -> None:
    fake = FakeTranscriber()
    with pytest.raises(QueryError, match="no speech recognised: the 2.0 s recording is silent"):
        fake.transcribe(silence(2.0))
    assert fake.calls == []  # rejected before the recogniser ran
    with pytest.raises(QueryError, match="no speech recognised in the 1.0 s recording"):
        FakeTranscriber(" ").transcribe(tone(1.0))


def test_errors_before_recognising() -> None:
    fake = FakeTranscriber(limits=AudioLimits(max_seconds=2, max_bytes=10**6))
    with pytest.raises(InputTooLargeError):
        fake.transcribe(tone(5.0))
    with pytest.raises(QueryError, match="cannot read the file as audio"):
        fake.transcribe(b"%PDF-1.4 not audio" * 20)
    with pytest.raises(QueryError, match="unknown audio language"):
        fake.transcribe(tone(1.0), "klingon")
    assert fake.calls == []


def test_search_audio_searches_the_transcript(engine: Any) -> None:
    fake = FakeTranscriber("baking sourdough bread")
    found = search_audio(engine, tone(1.0), transcriber=fake, k=3, mode="keyword")
    transcript, result = found  # a named pair
    assert transcript.text == result.query == "baking sourdough bread"
    assert result.hits[0].episode_id == "e4" and result.k == 3
    body = found.to_dict()
    assert body["transcript"]["text"] == "baking sourdough bread"
    assert body["hits"][0]["episode_id"] == "e4"


def test_long_transcripts_are_cut_to_the_query_limit(engine: Any) -> None:
    fake = FakeTranscriber("sourdough " * 200)
    found = search_audio(engine, tone(1.0), transcriber=fake, mode="keyword")
    assert len(found.result.query) <= 1000 and found.result.query.endswith("sourdough")


# ---- model assembly ------------------------------------------------------------------------


def fake_sources(tmp_path: Path) -> list[Path]:
    files = []
    for name, body in [("model.bin.part1", b"abc"), ("model.bin.part2", b"def"),
                       ("config.json", b"{}"), ("tokenizer.json", b"{}"),
                       ("vocabulary.json", b"[]")]:  # fmt: skip
        (tmp_path / name).write_bytes(body)
        files.append(tmp_path / name)
    return files


def test_assembly_joins_parts_and_checks_the_sha(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    sources = fake_sources(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ModelError, match="damaged or of another version"):
        model_mod.assemble(out, sources)
    monkeypatch.setattr(model_mod, "MODEL_SHA256", hashlib.sha256(b"abcdef").hexdigest())
    model_mod.assemble(out, sources)
    assert (out / "model.bin").read_bytes() == b"abcdef"
    assert {p.name for p in out.iterdir()} == {
        "model.bin", "config.json", "tokenizer.json", "vocabulary.json"
    }  # fmt: skip


def test_model_dir_is_built_once_then_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    monkeypatch.setenv("PODSEARCH_CACHE", str(tmp_path / "cache"))
    sources = fake_sources(tmp_path)
    monkeypatch.setattr(model_mod, "source_files", lambda: sources)
    monkeypatch.setattr(model_mod, "MODEL_SHA256", hashlib.sha256(b"abcdef").hexdigest())
    monkeypatch.setattr(model_mod, "MODEL_BYTES", 6)
    calls: list[Path] = []
    real = model_mod.assemble
    monkeypatch.setattr(model_mod, "assemble", lambda out: calls.append(out) or real(out))
    first = model_mod.whisper_model_dir()
    assert first == tmp_path / "cache" / "models" / "whisper-base"
    assert model_mod.whisper_model_dir() == first and len(calls) == 1
    # A damaged cached copy (wrong size) is rebuilt.
    (first / "model.bin").write_bytes(b"abc")
    model_mod.whisper_model_dir()
    assert len(calls) == 2 and (first / "model.bin").read_bytes() == b"abcdef"
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_installed_parts_are_found() -> None:
    files = model_mod.source_files()
    assert [f.name for f in files[:2]] == ["model.bin.part1", "model.bin.part2"]
    assert sum(f.stat().st_size for f in files[:2]) == model_mod.MODEL_BYTES


def test_missing_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_mod, "PART_PACKAGES", ("no_such_pkg_zz", "no_such_pkg_zz"))
    with pytest.raises(ModelError, match="pip install no-such-pkg-zz==1.0.0"):
        model_mod.source_files()


# ---- CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli_index(tmp_path: Path, tiny_catalog: Path, capsys: Any) -> Path:
    ix = tmp_path / "ix"
    assert run(capsys, "ingest", "--catalog", str(tiny_catalog), "--index", str(ix))[0] == 0
    assert run(capsys, "index", "--index", str(ix), "--model", "fake", "-q")[0] == 0
    return ix


def test_cli_audio_search(
    cli_index: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTranscriber("baking sourdough bread")
    monkeypatch.setattr(search_mod, "default_transcriber", lambda: fake)
    wav = tmp_path / "q.wav"
    wav.write_bytes(tone(1.0))
    code, out, _ = run(capsys, "search", "--audio", str(wav), "--audio-lang", "es",
                       "--index", str(cli_index), "--json", "--k", "3")  # fmt: skip
    assert code == 0
    body = json.loads(out)
    assert body["transcript"]["text"] == "baking sourdough bread"
    assert body["transcript"]["language"] == "es"
    assert body["hits"][0]["episode_id"] == "e4"
    code, out, _ = run(capsys, "search", "--audio", str(wav), "--index", str(cli_index))
    assert code == 0 and "heard:" in out and "baking sourdough bread" in out
    assert out.index("heard:") < out.index("Baking sourdough bread")


def test_cli_audio_errors(
    cli_index: Path, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_mod, "default_transcriber", lambda: FakeTranscriber())
    quiet = tmp_path / "quiet.wav"
    quiet.write_bytes(silence(1.0))
    code, _, err = run(capsys, "search", "--audio", str(quiet), "--index", str(cli_index))
    assert code == 2 and "no speech recognised" in err and "Traceback" not in err
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"<html>not audio</html>" * 10)
    code, _, err = run(capsys, "search", "--audio", str(junk), "--index", str(cli_index))
    assert code == 2 and "cannot read the file as audio" in err
    code, _, err = run(capsys, "search", "words", "--audio", str(junk), "--index", str(cli_index))
    assert code == 2 and "not both" in err


# ---- language detection choice (stub model, no weights) ------------------------------------


class StubModel:
    def __init__(self, probs: list[tuple[str, float]]) -> None:
        self.probs = probs

    def detect_language(self, samples: Any, **kw: Any) -> tuple[str, float, list[Any]]:
        return self.probs[0][0], self.probs[0][1], self.probs


PROBS = [("la", 0.38), ("nn", 0.2), ("en", 0.15), ("es", 0.1)]


def test_detection_never_picks_latin_and_respects_detectable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from podsearch.voice import Transcriber

    monkeypatch.delenv("PODSEARCH_AUDIO_LANGUAGES", raising=False)
    assert Transcriber()._detect(StubModel(PROBS), None) == ("nn", 0.2)  # type: ignore[arg-type]
    only = Transcriber(detectable=["EN", "es"])
    assert only._detect(StubModel(PROBS), None) == ("en", 0.15)  # type: ignore[arg-type]
    monkeypatch.setenv("PODSEARCH_AUDIO_LANGUAGES", "es, de")
    assert Transcriber()._detect(StubModel(PROBS), None) == ("es", 0.1)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="unknown audio language 'xx'"):
        Transcriber(detectable=["xx"])
