"""Spoken queries: audio -> transcript (faster-whisper, packaged whisper-base) -> search."""

from podsearch.voice.audio import AudioLimits, load_audio
from podsearch.voice.search import AudioSearch, search_audio
from podsearch.voice.transcribe import (
    FakeTranscriber,
    SpeechToText,
    Transcriber,
    Transcript,
    check_language,
    default_transcriber,
)

__all__ = [
    "AudioLimits",
    "AudioSearch",
    "FakeTranscriber",
    "SpeechToText",
    "Transcriber",
    "Transcript",
    "check_language",
    "default_transcriber",
    "load_audio",
    "search_audio",
]
