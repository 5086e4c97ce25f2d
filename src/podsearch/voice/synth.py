"""Test audio: speech from espeak-ng (a Debian package) and plain WAV files from samples.

Used by the voice tests and the benchmark to make spoken queries with known words.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

import numpy as np

from podsearch.errors import PodsearchError


def espeak_path() -> str | None:
    """The espeak-ng executable, or None when it is not installed."""
    return shutil.which("espeak-ng")


def speak(text: str, voice: str = "en", *, words_per_minute: int = 150) -> bytes:
    """WAV bytes of ``text`` read by espeak-ng in ``voice`` (en, es, de, fr, sv, ...)."""
    exe = espeak_path()
    if exe is None:
        raise PodsearchError("generating test speech needs espeak-ng: apt-get install espeak-ng")
    out = subprocess.run(
        [exe, "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out.stdout


def wav_bytes(samples: np.ndarray, rate: int = 16_000) -> bytes:
    """16-bit mono WAV bytes of float samples in [-1, 1]."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def silence(seconds: float, rate: int = 16_000) -> bytes:
    """WAV bytes of digital silence."""
    return wav_bytes(np.zeros(int(seconds * rate), dtype=np.float32), rate)


def tone(seconds: float, rate: int = 16_000, freq: float = 440.0) -> bytes:
    """WAV bytes of a sine tone at half scale."""
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return wav_bytes(0.5 * np.sin(2 * np.pi * freq * t), rate)
