"""``POST /api/search/audio``: a spoken query uploaded as multipart, transcribed, searched.

The body is read with a byte cap (413 as soon as it is passed, without reading the rest), the
audio is decoded with duration limits, and transcription runs in worker threads behind a
concurrency limit, so neither a large upload nor a slow transcription blocks the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.types import Message

from podsearch.api.schemas import SearchRequest, SearchResponse
from podsearch.errors import InputTooLargeError, QueryError
from podsearch.voice.audio import check_size
from podsearch.voice.search import query_text
from podsearch.voice.transcribe import SpeechToText, Transcript, check_language

if TYPE_CHECKING:
    from podsearch.engine import Podsearch

# Multipart framing and the text fields around the audio file.
FORM_OVERHEAD = 64 * 1024
LIST_FIELDS = ("lang", "show", "category")


class AudioSearchParams(SearchRequest):
    """The form fields beside ``audio``: the usual search parameters and ``audio_lang``."""

    model_config = ConfigDict(extra="ignore")

    q: str = "audio"  # replaced by the transcript
    audio_lang: str | None = Field(
        None, description="Language spoken (Whisper code such as `es`); empty: detect it."
    )


class TranscriptOut(BaseModel):
    text: str = Field(description="What was heard; it is the query that was searched.")
    language: str = Field(description="Language given, or detected by whisper.")
    language_probability: float
    duration_s: float = Field(description="Length of the audio, seconds.")
    seconds: float = Field(description="Time spent decoding and transcribing, seconds.")


class AudioSearchResponse(SearchResponse):
    transcript: TranscriptOut


class _BodyTooLarge(Exception):
    pass


def _capped(receive: Callable[[], Awaitable[Message]], limit: int) -> Callable[[], Any]:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge
        return message

    return wrapped


def _request_body_schema() -> dict[str, Any]:
    props: dict[str, Any] = {
        "audio": {"type": "string", "format": "binary", "description": "WAV, MP3, OGG, WebM"},
        "audio_lang": {"type": "string", "description": "e.g. es; empty: detect"},
        "k": {"type": "integer", "default": 10},
        "offset": {"type": "integer", "default": 0},
        "mode": {"type": "string", "enum": ["hybrid", "dense", "keyword"]},
        "date_from": {"type": "string", "format": "date"},
        "date_to": {"type": "string", "format": "date"},
    }
    for name in LIST_FIELDS:
        props[name] = {"type": "array", "items": {"type": "string"}}
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["audio"], "properties": props}
            }
        },
    }


def add_voice_routes(
    app: FastAPI,
    engine: Podsearch,
    transcriber: SpeechToText | None = None,
    *,
    max_concurrent: int = 1,
    max_pending: int = 8,
) -> None:
    """Register ``POST /api/search/audio`` on ``app``.

    ``transcriber``: None uses the process-wide whisper model (loaded on first use).
    ``max_concurrent`` transcriptions run at once (each already uses several cores); with
    ``max_pending`` requests in flight or waiting, more are answered 503 at once.
    """
    limiter = anyio.CapacityLimiter(max_concurrent)
    state = {"pending": 0}

    def get_stt() -> SpeechToText:
        if transcriber is not None:
            return transcriber
        from podsearch.voice.transcribe import default_transcriber

        return default_transcriber()

    def transcribe_and_search(
        stt: SpeechToText, data: bytes, params: AudioSearchParams
    ) -> tuple[Transcript, dict[str, Any]]:
        transcript = stt.transcribe(data, params.audio_lang)
        result = engine.search(
            query_text(transcript),
            k=params.k, offset=params.offset, mode=params.mode, filters=params.filters(),
        )  # fmt: skip
        return transcript, result.to_dict()

    @app.post(
        "/api/search/audio",
        response_model=AudioSearchResponse,
        responses={
            413: {"description": "The upload or the audio is too long"},
            422: {"description": "Not audio, silent, or invalid parameters"},
            503: {"description": "Too many spoken queries at once; retry shortly"},
        },
        tags=["search"],
        summary="Search with a spoken query",
        openapi_extra={"requestBody": _request_body_schema()},
    )
    async def search_audio(request: Request) -> Any:
        """Upload a recording as multipart field `audio`; the answer holds the `transcript`
        (searched as the query) and the hits. Limits: bytes and seconds of audio (413)."""
        t0 = time.perf_counter()
        stt = get_stt()
        limit = stt.limits.max_bytes + FORM_OVERHEAD
        declared = request.headers.get("content-length", "")
        if declared.isdigit():
            check_size(int(declared) - FORM_OVERHEAD, stt.limits)
        capped = Request(request.scope, _capped(request.receive, limit))
        try:
            form = await capped.form(max_files=1, max_fields=64)
        except _BodyTooLarge as exc:
            raise InputTooLargeError(
                f"the upload exceeds {stt.limits.max_bytes / 2**20:.1f} MiB: record a shorter "
                f"query (at most {stt.limits.max_seconds:g} s)"
            ) from exc
        try:
            upload = form.get("audio")
            if not isinstance(upload, UploadFile):
                raise QueryError(
                    "send the recording as a multipart file field named 'audio' "
                    "(curl -F audio=@query.wav)"
                )
            fields: dict[str, Any] = {}
            for key, value in form.multi_items():
                if key == "audio" or isinstance(value, UploadFile):
                    continue
                if key in LIST_FIELDS:
                    fields.setdefault(key, []).append(value)
                elif value != "":
                    fields[key] = value
            try:
                params = AudioSearchParams.model_validate(fields)
            except ValidationError as exc:
                raise RequestValidationError(
                    [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors()]
                ) from exc
            check_language(params.audio_lang)
            data = await upload.read()
        finally:
            await form.close()
        check_size(len(data), stt.limits)

        if state["pending"] >= max_pending:
            return JSONResponse(
                {"error": "Busy", "detail": "too many spoken queries at once: retry shortly"},
                status_code=503,
                headers={"Retry-After": "2"},
            )
        state["pending"] += 1
        try:
            transcript, body = await anyio.to_thread.run_sync(
                transcribe_and_search, stt, data, params, limiter=limiter
            )
        finally:
            state["pending"] -= 1
        body["transcript"] = transcript.to_dict()
        body["took_ms"] = round((time.perf_counter() - t0) * 1000.0, 3)
        return body
