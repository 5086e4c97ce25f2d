"""Search with a spoken query: transcribe, then run the ordinary search on the transcript."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from podsearch.search.searcher import MAX_QUERY_CHARS
from podsearch.voice.audio import AudioInput
from podsearch.voice.transcribe import SpeechToText, Transcript, default_transcriber

if TYPE_CHECKING:
    from podsearch.engine import Podsearch
    from podsearch.models import SearchResult


class AudioSearch(NamedTuple):
    """The transcript shown to the user and the results of searching it."""

    transcript: Transcript
    result: SearchResult

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "transcript": self.transcript.to_dict()}


def query_text(transcript: Transcript) -> str:
    """The transcript cut at a word boundary to the longest query the engine accepts."""
    text = transcript.text
    if len(text) <= MAX_QUERY_CHARS:
        return text
    return text[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]


def search_audio(
    engine: Podsearch,
    audio: AudioInput,
    *,
    language: str | None = None,
    transcriber: SpeechToText | None = None,
    **search_kwargs: Any,
) -> AudioSearch:
    """Transcribe ``audio`` (path or bytes) and search ``engine`` with the transcript.

    ``language``: the spoken language (a Whisper code such as ``es``), None to detect it.
    ``search_kwargs`` go to :meth:`Podsearch.search` (k, offset, mode, filters).
    """
    stt = transcriber or default_transcriber()
    transcript = stt.transcribe(audio, language)
    return AudioSearch(transcript, engine.search(query_text(transcript), **search_kwargs))
