"""Decoding audio queries and enforcing their limits, with no speech model."""

from __future__ import annotations

import io
import time
from pathlib import Path

import av
import numpy as np
import pytest

from podsearch.errors import InputTooLargeError, QueryError
from podsearch.voice import audio as audio_mod
from podsearch.voice.audio import SAMPLE_RATE, AudioLimits, is_silent, load_audio
from podsearch.voice.synth import silence, tone, wav_bytes


def encode(fmt: str, codec: str, seconds: float, rate: int = 48_000) -> bytes:
    """A tone encoded with PyAV into ``fmt`` (webm/ogg/mp3)."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"  # type: ignore[attr-defined]
        t = np.arange(int(seconds * rate), dtype=np.float32) / rate
        pcm = (0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype(np.int16)
        for start in range(0, pcm.size, 960):
            frame = av.AudioFrame.from_ndarray(
                pcm[start : start + 960].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):  # type: ignore[attr-defined]
                out.mux(packet)
        for packet in stream.encode(None):  # type: ignore[attr-defined]
            out.mux(packet)
    return buf.getvalue()


def test_wav_bytes_and_path_decode_to_16k_mono(tmp_path: Path) -> None:
    data = tone(1.5, rate=22_050)
    samples = load_audio(data)
    assert samples.dtype == np.float32
    assert abs(samples.size / SAMPLE_RATE - 1.5) < 0.01
    assert 0.4 < float(np.max(np.abs(samples))) < 0.6
    path = tmp_path / "q.wav"
    path.write_bytes(data)
    assert load_audio(path).size == samples.size


@pytest.mark.parametrize(
    ("fmt", "codec"), [("webm", "libopus"), ("ogg", "libopus"), ("mp3", "mp3")]
)
def test_browser_and_common_formats_decode(fmt: str, codec: str) -> None:
    samples = load_audio(encode(fmt, codec, 1.0))
    assert abs(samples.size / SAMPLE_RATE - 1.0) < 0.1
    assert not is_silent(samples)


@pytest.mark.parametrize(
    "data",
    [b"this is not audio at all " * 40, b"\x00" * 1000, b"RIFF\x00\x00\x00\x00WAVEfmt ", b""],
)
def test_non_audio_is_a_query_error(data: bytes) -> None:
    with pytest.raises(QueryError, match="audio") as err:
        load_audio(data)
    assert not isinstance(err.value, InputTooLargeError)


def test_truncated_audio_is_a_clear_error() -> None:
    with pytest.raises(QueryError, match="empty or shorter"):
        load_audio(tone(1.0)[:200])


def test_missing_file() -> None:
    with pytest.raises(QueryError, match="not found"):
        load_audio("/nonexistent/query.wav")


def test_too_many_bytes_rejected_before_decoding() -> None:
    with pytest.raises(InputTooLargeError, match="MiB"):
        load_audio(b"x" * 2_000, AudioLimits(max_seconds=60, max_bytes=1_000))


def test_two_hour_wav_rejected_from_its_header_quickly() -> None:
    # 2 h at 1 kHz, 8-bit: a real 7 MB file that declares its length in the header.
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(1000)
        w.writeframes(b"\x80" * (2 * 3600 * 1000))
    t0 = time.perf_counter()
    with pytest.raises(InputTooLargeError, match="7200.0 seconds"):
        load_audio(buf.getvalue())
    assert time.perf_counter() - t0 < 1.0


def test_audio_without_declared_duration_stops_decoding_at_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Browser WebM declares no duration: the decoder itself must stop at the limit.
    monkeypatch.setattr(audio_mod, "_declared_seconds", lambda *_: None)
    with pytest.raises(InputTooLargeError, match="more than 1 seconds"):
        load_audio(encode("webm", "libopus", 3.0), AudioLimits(max_seconds=1, max_bytes=10**7))
    assert load_audio(tone(1.2), AudioLimits(max_seconds=1, max_bytes=10**7)).size > 0


def test_declared_duration_over_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputTooLargeError, match="3.0 seconds"):
        load_audio(tone(3.0), AudioLimits(max_seconds=1, max_bytes=10**7))


def test_env_configures_default_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODSEARCH_AUDIO_MAX_SECONDS", "5")
    monkeypatch.setenv("PODSEARCH_AUDIO_MAX_MB", "1")
    limits = AudioLimits()
    assert limits.max_seconds == 5 and limits.max_bytes == 1024 * 1024


def test_silence_detection() -> None:
    assert is_silent(load_audio(silence(1.0)))
    assert not is_silent(load_audio(tone(1.0)))
    assert is_silent(load_audio(wav_bytes(np.full(16_000, 1e-4, dtype=np.float32))))
