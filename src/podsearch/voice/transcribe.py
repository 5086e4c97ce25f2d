"""Speech to text for spoken queries: faster-whisper on the packaged whisper-base model."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from podsearch.errors import ModelError, QueryError
from podsearch.voice.audio import SAMPLE_RATE, AudioInput, AudioLimits, is_silent, load_audio

DEFAULT_BEAM = 5
# Whisper-base detects Latin for accented or synthetic Spanish, English and German; nobody
# searches a podcast catalog in Latin, so automatic detection never picks it. (The runner-up
# can be wrong too: restrict ``detectable`` to the languages your listeners speak.)
NEVER_DETECTED = frozenset({"la"})
AUTO = ("", "auto")
VAD_PARAMETERS = {"min_silence_duration_ms": 500}


@dataclass(frozen=True, slots=True)
class Transcript:
    """What was heard: text, the (given or detected) language, the audio's length and the
    seconds spent decoding and transcribing it (the first call also loads the model)."""

    text: str
    language: str
    language_probability: float
    duration_s: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["language_probability"] = round(self.language_probability, 4)
        d["duration_s"] = round(self.duration_s, 3)
        d["seconds"] = round(self.seconds, 3)
        return d


def whisper_languages() -> frozenset[str]:
    """The language codes whisper knows (en, es, de, ..., 100 of them)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def check_language(language: str | None) -> str | None:
    """A valid whisper language code, or None for automatic detection; QueryError otherwise."""
    if language is None or language.strip().lower() in AUTO:
        return None
    code = language.strip().lower()
    known = whisper_languages()
    if code not in known:
        raise QueryError(
            f"unknown audio language {language!r}: give a Whisper language code such as "
            f"en, es, de, fr, sv ({len(known)} known), or leave it out to detect it"
        )
    return code


class SpeechToText:
    """Limits, decoding and silence checks shared by every recogniser; subclasses recognise.

    ``transcribe`` is safe to call from several threads at once.
    """

    def __init__(self, limits: AudioLimits | None = None) -> None:
        self.limits = limits or AudioLimits()

    def transcribe(self, audio: AudioInput, language: str | None = None) -> Transcript:
        """Transcribe a path or the bytes of an audio file; QueryError when nothing is heard."""
        code = check_language(language)
        t0 = time.perf_counter()
        samples = load_audio(audio, self.limits)
        duration = samples.size / SAMPLE_RATE
        if is_silent(samples):
            raise QueryError(
                f"no speech recognised: the {duration:.1f} s recording is silent; check the "
                "microphone and speak the query, or type it"
            )
        text, lang, prob = self._recognise(samples, code)
        text = " ".join(text.split())
        if not text:
            raise QueryError(
                f"no speech recognised in the {duration:.1f} s recording: speak closer to "
                "the microphone, or type the query"
            )
        return Transcript(text, lang, prob, duration, time.perf_counter() - t0)

    def _recognise(self, samples: np.ndarray, language: str | None) -> tuple[str, str, float]:
        """(text, language, language probability) for 16 kHz mono float32 samples."""
        raise NotImplementedError


class Transcriber(SpeechToText):
    """faster-whisper with the packaged multilingual whisper-base; the model loads lazily once.

    ``compute_type`` int8 is ~2x faster than float32 on CPU with the same transcripts here.
    ``temperature`` 0 only: whisper's fallback to sampling at higher temperatures cost up to
    3x the time on hard-to-hear queries here without changing a single transcript.
    ``detectable``: the languages automatic detection may choose (e.g. the languages your
    listeners speak); default: $PODSEARCH_AUDIO_LANGUAGES (comma-separated), else every
    whisper language but Latin.
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        limits: AudioLimits | None = None,
        compute_type: str = "int8",
        cpu_threads: int | None = None,
        beam_size: int = DEFAULT_BEAM,
        vad: bool = True,
        temperature: float | tuple[float, ...] = 0.0,
        detectable: Collection[str] | None = None,
    ) -> None:
        super().__init__(limits)
        self.model_dir = Path(model_dir) if model_dir else None
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads or min(4, os.cpu_count() or 1)
        self.beam_size = beam_size
        self.vad = vad
        self.temperature = temperature
        if detectable is None:
            env = os.environ.get("PODSEARCH_AUDIO_LANGUAGES", "")
            detectable = [c for c in env.split(",") if c.strip()]
        codes = [check_language(c) for c in detectable]
        self.detectable = frozenset(c for c in codes if c) or None
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """The faster-whisper model, assembling and loading it on first call."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        from faster_whisper import WhisperModel

        from podsearch.voice.model import whisper_model_dir

        path = self.model_dir or whisper_model_dir()
        try:
            return WhisperModel(
                str(path), device="cpu", compute_type=self.compute_type,
                cpu_threads=self.cpu_threads,
            )  # fmt: skip
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"cannot load the whisper model from {path}: {exc}") from exc

    def _detect(self, model: Any, samples: np.ndarray) -> tuple[str, float]:
        """The most probable language among the detectable ones, and its probability."""
        from faster_whisper.vad import VadOptions

        try:
            _, _, probs = model.detect_language(
                samples, vad_filter=self.vad, vad_parameters=VadOptions(**VAD_PARAMETERS)
            )
        except ValueError as exc:  # VAD found no speech at all: nothing to concatenate
            raise QueryError(
                "no speech recognised in the recording: speak closer to the microphone, "
                "or type the query"
            ) from exc
        allowed = [
            (code, p)
            for code, p in probs
            if (code in self.detectable if self.detectable else code not in NEVER_DETECTED)
        ]
        if not allowed:
            raise QueryError(f"none of the languages {sorted(self.detectable or ())} is known")
        code, p = max(allowed, key=lambda cp: cp[1])
        return str(code), float(p)

    def _recognise(self, samples: np.ndarray, language: str | None) -> tuple[str, str, float]:
        model = self.load()
        probability = 1.0
        if language is None:
            language, probability = self._detect(model, samples)
        segments, _info = model.transcribe(
            samples,
            language=language,
            beam_size=self.beam_size,
            # VAD drops leading/trailing silence and keeps whisper from inventing text in it.
            vad_filter=self.vad,
            vad_parameters=VAD_PARAMETERS,
            temperature=self.temperature,
            # Queries are short: no prompt from earlier windows, no timestamps to predict.
            condition_on_previous_text=False,
            without_timestamps=True,
        )
        text = " ".join(s.text.strip() for s in segments)
        return text, language, probability


class FakeTranscriber(SpeechToText):
    """Deterministic stand-in for tests: real decoding and limits, fixed text."""

    def __init__(
        self, text: str = "baking sourdough bread", language: str = "en",
        limits: AudioLimits | None = None,
    ) -> None:  # fmt: skip
        super().__init__(limits)
        self.text = text
        self.language = language
        self.calls: list[tuple[int, str | None]] = []

    def _recognise(self, samples: np.ndarray, language: str | None) -> tuple[str, str, float]:
        self.calls.append((samples.size, language))
        return self.text, language or self.language, 1.0 if language else 0.9


_default: Transcriber | None = None
_default_lock = threading.Lock()


def default_transcriber() -> Transcriber:
    """One process-wide Transcriber (the model is loaded on its first transcription)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Transcriber()
        return _default
