"""The web page's microphone button in headless Chromium with a fake microphone.

Chromium plays a WAV file as the microphone; the server's transcriber is a fake that decodes
the upload for real (so the recording must be valid audio) and returns fixed text.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from test_page import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, _free_port

from podsearch.voice import FakeTranscriber, SpeechToText, Transcriber
from podsearch.voice.audio import load_audio
from podsearch.voice.synth import espeak_path, speak, tone, wav_bytes

SPOKEN = "baking sourdough bread"

pytestmark = [pytest.mark.browser, pytest.mark.voice]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium to run browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    # The fake microphone loops this file: speech (then a pause) when espeak-ng is there.
    wav = tmp_path_factory.mktemp("mic") / "mic.wav"
    if espeak_path():
        voice = load_audio(speak(SPOKEN, "en", words_per_minute=130))
        wav.write_bytes(wav_bytes(np.concatenate([voice, np.zeros(16_000, np.float32)])))
    else:
        wav.write_bytes(tone(3.0, rate=48_000))
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    ]
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that may reach only the test server and must raise no JavaScript error."""
    context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith("http://127.0.0.1:")
            else route.abort()
        ),
    )
    yield pg
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture
def fake() -> FakeTranscriber:
    return FakeTranscriber("baking sourdough bread", language="en")


@pytest.fixture
def base_url(engine: Any, fake: FakeTranscriber) -> Iterator[str]:
    with serve(engine, fake) as url:
        yield url


@contextmanager
def serve(engine: Any, transcriber: SpeechToText) -> Iterator[str]:
    """Run the app in uvicorn on a free port; yields its base URL."""
    import uvicorn

    from podsearch.api import create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(engine, transcriber=transcriber), host="127.0.0.1", port=port,
        log_level="warning", access_log=False,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-voice-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_record_upload_transcript_and_results(
    page: Any, base_url: str, fake: FakeTranscriber
) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/")
    expect(page.get_by_role("button", name="Search by voice")).to_be_visible()
    mic = page.locator("#mic")
    # The spoken-language choice shows once the microphone is used (it is read on upload).
    expect(page.locator("#audio-lang")).to_be_hidden()
    mic.click()
    expect(mic).to_have_attribute("aria-pressed", "true")
    page.select_option("#audio-lang", "de")
    expect(page.locator("#voice-status")).to_contain_text("Listening")
    page.wait_for_timeout(1500)
    expect(page.get_by_role("button", name="Stop recording and search")).to_be_visible()
    mic.click()

    first = page.locator("#hits > li.hit").first
    expect(first).to_have_attribute("data-episode-id", "e4")
    expect(page.locator("#q")).to_have_value("baking sourdough bread")
    expect(page.locator("#voice-status")).to_have_text("Heard (de): “baking sourdough bread”")
    expect(mic).to_have_attribute("aria-pressed", "false")
    assert "q=baking+sourdough+bread" in page.url
    # The server decoded a real recording of about the time we spoke.
    [(samples, language)] = fake.calls
    assert language == "de" and 0.5 * 16_000 < samples < 10 * 16_000
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-voice.png"), full_page=True)


def test_server_error_is_shown(page: Any, base_url: str, fake: FakeTranscriber) -> None:
    from playwright.sync_api import expect

    fake.text = ""  # nothing heard
    page.goto(base_url + "/")
    mic = page.locator("#mic")
    mic.click()
    expect(mic).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(800)
    mic.click()
    expect(page.locator("#voice-status")).to_contain_text(
        "Voice search failed: no speech recognised"
    )
    expect(page.locator("#voice-status")).to_have_attribute("data-kind", "error")


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (
            "navigator.mediaDevices.getUserMedia = () => Promise.reject("
            "new DOMException('denied', 'NotAllowedError'));",
            "Microphone access was refused",
        ),
        (
            "navigator.mediaDevices.getUserMedia = () => Promise.reject("
            "new DOMException('none', 'NotFoundError'));",
            "No microphone was found",
        ),
        ("delete window.MediaRecorder;", "Voice search needs a browser with microphone"),
    ],
)
def test_no_microphone_or_permission_is_a_message(
    page: Any, base_url: str, script: str, message: str
) -> None:
    from playwright.sync_api import expect

    page.add_init_script(script)
    page.goto(base_url + "/")
    page.get_by_role("button", name="Search by voice").click()
    expect(page.locator("#voice-status")).to_contain_text(message)
    # Typing still works.
    page.fill("#q", "baking sourdough bread")
    page.press("#q", "Enter")
    expect(page.locator("#hits > li.hit").first).to_have_attribute("data-episode-id", "e4")


@pytest.mark.integration
def test_real_whisper_transcribes_the_browser_recording(page: Any, engine: Any) -> None:
    """Chromium's own WebM/Opus recording of espeak speech, through the packaged whisper-base."""
    from playwright.sync_api import expect

    if not espeak_path():
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    with serve(engine, Transcriber()) as url:
        page.goto(url + "/")
        mic = page.locator("#mic")
        mic.click()
        expect(mic).to_have_attribute("aria-pressed", "true")
        page.select_option("#audio-lang", "en")  # shown once the microphone is in use
        page.wait_for_timeout(2500)
        mic.click()
        expect(page.locator("#voice-status")).to_contain_text("Heard (en)", timeout=60_000)
        assert "sourdough" in page.locator("#q").input_value().lower()
        expect(page.locator("#hits > li.hit").first).to_have_attribute("data-episode-id", "e4")
