"""Read an audio query into 16 kHz mono samples, enforcing the size and duration limits first.

Limits are checked from the cheapest evidence up: the byte count, then the duration the
container header declares, then the samples actually decoded (WebM from a browser's
MediaRecorder declares no duration, and a header may lie). Decoding stops as soon as the
limit is passed, so a two-hour upload costs at most ``max_seconds`` of decoding.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from podsearch.errors import InputTooLargeError, QueryError

SAMPLE_RATE = 16_000
FORMATS_HINT = "send WAV, MP3, OGG/Opus, FLAC or WebM audio"
# Peak level under which a recording is treated as silence (about -60 dBFS).
SILENCE_PEAK = 1e-3
MIN_SECONDS = 0.1

AudioInput = str | os.PathLike[str] | bytes


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class AudioLimits:
    """How much audio a query may carry. Defaults: $PODSEARCH_AUDIO_MAX_SECONDS (60) and
    $PODSEARCH_AUDIO_MAX_MB (20)."""

    max_seconds: float = field(
        default_factory=lambda: _env_float("PODSEARCH_AUDIO_MAX_SECONDS", 60.0)
    )
    max_bytes: int = field(
        default_factory=lambda: int(_env_float("PODSEARCH_AUDIO_MAX_MB", 20.0) * 1024 * 1024)
    )


def check_size(n_bytes: int, limits: AudioLimits) -> None:
    """InputTooLargeError when an upload of ``n_bytes`` exceeds ``limits.max_bytes``."""
    if n_bytes > limits.max_bytes:
        raise InputTooLargeError(
            f"the audio file is {n_bytes / 2**20:.1f} MiB; the limit is "
            f"{limits.max_bytes / 2**20:.1f} MiB: record a shorter query "
            f"(at most {limits.max_seconds:g} s)"
        )


def _too_long(seconds: float, limits: AudioLimits, *, at_least: bool = False) -> QueryError:
    amount = f"more than {limits.max_seconds:g}" if at_least else f"{seconds:.1f}"
    return InputTooLargeError(
        f"the audio is {amount} seconds long; a spoken query may last at most "
        f"{limits.max_seconds:g} s: record a shorter one"
    )


def load_audio(audio: AudioInput, limits: AudioLimits | None = None) -> np.ndarray:
    """Decode ``audio`` (a path or the file's bytes) to float32 mono samples at 16 kHz.

    Raises InputTooLargeError (too many bytes or seconds) or QueryError (not audio, corrupt,
    empty) before any transcription work is done.
    """
    import av

    limits = limits or AudioLimits()
    if isinstance(audio, bytes | bytearray | memoryview):
        check_size(len(audio), limits)
        source: io.BytesIO | str = io.BytesIO(bytes(audio))
    else:
        path = Path(audio)
        if not path.is_file():
            raise QueryError(f"audio file not found: {path}")
        check_size(path.stat().st_size, limits)
        source = str(path)
    try:
        container = av.open(source, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise QueryError(f"cannot read the file as audio ({_reason(exc)}): {FORMATS_HINT}") from exc
    with container:
        if not container.streams.audio:
            raise QueryError(f"the file holds no audio stream: {FORMATS_HINT}")
        stream = container.streams.audio[0]
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > limits.max_seconds + 0.5:
            raise _too_long(declared, limits)
        samples = _decode(container, stream, limits)
    if samples.size < MIN_SECONDS * SAMPLE_RATE:
        raise QueryError(
            f"the audio is empty or shorter than {MIN_SECONDS:g} s: record the query again"
        )
    return samples


def is_silent(samples: np.ndarray) -> bool:
    """True when no sample rises above the silence threshold."""
    return samples.size == 0 or float(np.max(np.abs(samples))) < SILENCE_PEAK


def _declared_seconds(container: object, stream: object) -> float | None:
    dur = getattr(container, "duration", None)  # microseconds
    if dur:
        return float(dur) / 1_000_000
    s_dur, base = getattr(stream, "duration", None), getattr(stream, "time_base", None)
    if s_dur and base:
        return float(s_dur * base)
    return None


def _decode(container: object, stream: object, limits: AudioLimits) -> np.ndarray:
    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    cap = int((limits.max_seconds + 0.5) * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0

    def take(frames: list[av.AudioFrame]) -> None:
        nonlocal total
        for fr in frames:
            arr = fr.to_ndarray().reshape(-1)
            chunks.append(arr)
            total += arr.size
        if total > cap:
            raise _too_long(total / SAMPLE_RATE, limits, at_least=True)

    try:
        for frame in container.decode(stream):  # type: ignore[attr-defined]
            take(resampler.resample(frame))
        take(resampler.resample(None))
    except av.error.FFmpegError as exc:
        if total == 0:
            raise QueryError(
                f"the audio is corrupt and cannot be decoded ({_reason(exc)}): {FORMATS_HINT}"
            ) from exc
        # A truncated tail (an interrupted upload) still leaves a usable query.
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32) / 32768.0


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text.split(":", 1)[0].split("] ", 1)[-1].strip() or type(exc).__name__
