"""The web page in headless Chromium, against uvicorn serving a tiny fake-encoder index."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium to run browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def base_url(engine: Any) -> Iterator[str]:
    with _serve(engine) as url:
        yield url


@contextmanager
def _serve(engine: Any) -> Iterator[str]:
    import uvicorn

    from podsearch.api import create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(engine), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        locale="en-US", viewport={"width": 1100, "height": 900}, color_scheme="light"
    )
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # Nothing may leave the machine: fail any request that is not to the test server.
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


def _submit(page: Any, query: str) -> None:
    page.fill("#q", query)
    page.press("#q", "Enter")


def _wait_first_hit(page: Any, episode_id: str) -> Any:
    from playwright.sync_api import expect

    first = page.locator("#hits > li.hit").first
    expect(first).to_have_attribute("data-episode-id", episode_id)
    return first


def test_search_filters_errors_and_screenshot(page: Any, base_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/")
    expect(page.get_by_label("Search episodes")).to_be_focused()
    # Facets fill the language select.
    expect(page.locator("#lang option[value='de']")).to_have_text("German (3)")
    expect(page.locator("#lang option[value='en']")).to_have_text("English (5)")
    expect(page.locator("#index-info")).to_contain_text("8 episodes")

    # A query that shares words with e4 finds it first, with its metadata.
    _submit(page, "baking sourdough bread")
    first = _wait_first_hit(page, "e4")
    expect(first.locator(".hit-title")).to_have_text("Baking sourdough bread")
    expect(first.locator(".hit-show")).to_have_text("Kitchen Stories")
    expect(first.locator(".hit-date")).to_have_text("Dec 1, 2017")
    expect(first.locator(".hit-lang")).to_have_text("English")
    expect(first.locator(".hit-snippet mark").first).to_be_visible()
    expect(first.locator(".hit-score")).to_contain_text("score")
    expect(first.locator(".hit-actions")).to_have_count(1)
    expect(page.locator("#status")).to_contain_text("Results 1–8")
    # The time taken ("ms", or "s" when the first query loads the language identifier).
    expect(page.locator("#status")).to_have_text(re.compile(r" · [0-9.]+ m?s$"))
    assert "q=baking+sourdough+bread" in page.url

    # Opening a result loads the full episode.
    first.locator(".hit-toggle").click()
    expect(first.locator(".hit-details")).to_contain_text("sourdough starter secrets")

    # The language filter re-runs the search and restricts the results.
    page.select_option("#lang", "de")
    expect(page.locator("#hits .hit-lang").first).to_have_text("German")
    langs = page.locator("#hits .hit-lang").all_inner_texts()
    assert langs and set(langs) == {"German"}, langs
    assert "lang=de" in page.url
    expect(page.locator("#reset-filters")).to_be_visible()

    # Keyword mode with German-only results: no German episode has these words.
    page.locator("label[for='mode-keyword']").click()
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#empty")).to_contain_text("No episodes found")
    expect(page.locator("#hits > li")).to_have_count(0)
    assert "mode=keyword" in page.url

    # Clearing the filters brings the English episode back.
    page.click("#reset-filters")
    _wait_first_hit(page, "e4")
    expect(page.locator("#empty")).to_be_hidden()

    # A blank query is no failure: a quiet hint, no red box, no request.
    _submit(page, "   ")
    expect(page.locator("#status")).to_have_text(
        "Type a few words to search, e.g. a topic, a guest or a mood."
    )
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#hits > li")).to_have_count(0)
    # An over-long one is the person's to fix: the API's sentence, as a note, not an alarm.
    _submit(page, "x" * 1500)
    expect(page.locator("#error-detail")).to_contain_text("too long (1500 characters)")
    expect(page.locator("#error-title")).to_have_text("Check your search")
    assert "message-error" not in (page.locator("#error").get_attribute("class") or "")

    # Non-Latin input is fine; then a normal search for the screenshot.
    _submit(page, "睡眠と健康 сон")
    expect(page.locator("#error")).to_be_hidden()
    page.locator("label[for='mode-hybrid']").click()
    _submit(page, "sleep and health")
    _wait_first_hit(page, "e2")
    expect(page.locator("#hits > li")).to_have_count(8)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = tmp_path / "web-search.png"
    page.screenshot(path=str(shot), full_page=True)
    shutil.copyfile(shot, ARTIFACTS / "web-search.png")
    assert shot.stat().st_size > 10_000


def test_linkable_url_searches_on_load_and_pages(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/?q=health+food+sleep&mode=dense&k=3")
    expect(page.locator("#q")).to_have_value("health food sleep")
    expect(page.locator("#mode-dense")).to_be_checked()
    expect(page.locator("#hits > li")).to_have_count(3)
    expect(page.locator("#status")).to_contain_text("Results 1–3")
    page1 = page.locator("#hits > li").evaluate_all("els => els.map(e => e.dataset.episodeId)")
    expect(page.locator("#prev")).to_be_disabled()

    page.click("#next")
    expect(page.locator("#status")).to_contain_text("Results 4–6")
    page2 = page.locator("#hits > li").evaluate_all("els => els.map(e => e.dataset.episodeId)")
    assert not set(page1) & set(page2)
    assert "offset=3" in page.url
    expect(page.locator("#page-label")).to_have_text("Page 2 of 3")  # 8 episodes, 3 a page

    page.click("#prev")
    expect(page.locator("#status")).to_contain_text("Results 1–3")

    # Browser history replays searches.
    page.go_back()
    expect(page.locator("#status")).to_contain_text("Results 4–6")
    page.go_back()
    expect(page.locator("#status")).to_contain_text("Results 1–3")


def test_url_filters_fill_the_controls(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/?q=Schlaf&lang=de&date_from=2017-01-01&date_to=2017-12-31")
    expect(page.locator("#hits > li")).to_have_count(1)
    _wait_first_hit(page, "e6")
    expect(page.locator("#lang")).to_have_value("de")
    expect(page.locator("#date_from")).to_have_value("2017-01-01")
    expect(page.locator("#date_to")).to_have_value("2017-12-31")


def test_narrow_screen_has_no_horizontal_scroll(browser: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(locale="en-US", viewport={"width": 375, "height": 800})
    pg = context.new_page()
    try:
        pg.goto(base_url + "/?q=sleep")
        expect(pg.locator("#hits > li").first).to_be_visible()
        overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
    finally:
        context.close()


def test_more_like_this_link(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/?q=korallenriffe&mode=keyword")
    first = _wait_first_hit(page, "e7")
    link = first.locator(".hit-actions a.hit-similar")
    expect(link).to_have_text("More like this")
    link.click()
    # The episode it started from heads the list; the mode switch does not apply there.
    expect(page.locator("#similar-source .source-title")).to_have_text("Korallenriffe in Gefahr")
    expect(page.locator("#similar-source .source-show")).to_have_text("Wissen Heute")
    expect(page.locator("#mode")).to_be_hidden()
    expect(page.locator("#status")).to_contain_text("7 similar episodes")
    hits = page.locator("#hits > li.hit")
    expect(hits).to_have_count(7)
    got = hits.evaluate_all("els => els.map(e => e.dataset.episodeId)")
    assert "e7" not in got and set(got[:2]) == {"e6", "e8"}, got
    assert "similar=e7" in page.url
    # Back returns to the search; the URL is linkable.
    page.go_back()
    _wait_first_hit(page, "e7")
    expect(page.locator("#similar-source")).to_be_hidden()
    expect(page.locator("#mode")).to_be_visible()
    page.goto(base_url + "/?similar=e1")
    expect(page.locator("#similar-source .source-title")).to_have_text(
        "Staying healthy over Christmas"
    )
    page.goto(base_url + "/?similar=nope")
    expect(page.locator("#error-detail")).to_have_text(
        "That episode is not in this catalog (it may have been removed)."
    )


def test_query_facets_show_filter_pager_and_highlights(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    # Keyword "sleep" matches e2 only: the menus count the query's matches, not the catalog.
    page.goto(base_url + "/?q=sleep&mode=keyword")
    _wait_first_hit(page, "e2")
    expect(page.locator("#lang option[value='en']")).to_have_text("English (1)")
    expect(page.locator("#lang optgroup option[value='de']")).to_have_text("German")
    expect(page.locator("#show option[value='1']")).to_have_text("Healthy Living (1)")
    expect(page.locator("#status")).to_contain_text("1 result for “sleep”")
    # The show filter (by id, from the counts) narrows the search and is in the URL.
    page.select_option("#show", "1")
    _wait_first_hit(page, "e2")
    assert "show=1" in page.url
    expect(page.locator("#reset-filters")).to_be_visible()

    # Whole words whose stem matches, as the server marks them: "holidays" lights up
    # "holiday", "dinner" lights up "dinners" (not a piece of it).
    page.goto(base_url + "/?q=holidays+dinner&mode=keyword")
    first = _wait_first_hit(page, "e1")
    assert first.locator(".hit-snippet mark").all_inner_texts() == ["holiday", "dinners"]

    # Dense: every episode matches somewhat; 8 of them, 3 a page.
    page.goto(base_url + "/?q=health&mode=dense&k=3")
    expect(page.locator("#page-label")).to_have_text("Page 1 of 3")
    expect(page.locator("#status")).to_contain_text("Results 1–3 of 8")


def test_did_you_mean_and_no_close_match(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/?q=sourdogh+bred&mode=keyword")
    _wait_first_hit(page, "e4")
    expect(page.locator("#weak")).to_be_visible()
    expect(page.locator("#weak")).to_contain_text("No close match")
    link = page.locator("#suggest-link")
    expect(link).to_have_text("sourdough bread")
    link.click()
    expect(page.locator("#q")).to_have_value("sourdough bread")
    _wait_first_hit(page, "e4")
    expect(page.locator("#weak")).to_be_hidden()
    expect(page.locator("#suggest")).to_be_hidden()
    assert "q=sourdough+bread" in page.url


@pytest.fixture
def art_url(tmp_path: Path) -> Iterator[str]:
    """The tiny catalog with artwork: show 2 has a working image, show 3 a broken one."""
    import csv

    from podsearch.encode.fake import FakeEncoder
    from podsearch.engine import Podsearch
    from tests.conftest import write_catalog

    folder = write_catalog(tmp_path / "catalog")
    with open(folder / "podcasts.csv", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    images = {"2": "https://img.example.org/kitchen.png", "3": "https://img.example.org/gone.png"}
    for row in rows[1:]:
        row[2] = images.get(row[0], "")
    with open(folder / "podcasts.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    ps = Podsearch(tmp_path / "index", encoder=FakeEncoder(dim=64))
    ps.ingest(folder)
    ps.build_index()
    with _serve(ps) as url:
        yield url
    ps.close()


# A 2x2 PNG (red), served for the working artwork URL.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a73000000"
    "1649444154789c63f8cfc0f09f818181e13f030303c3ff00230c05fb3f1e0e6b0000000049454e44ae426082"
)


def test_artwork_audio_and_duration_without_expanding(page: Any, art_url: str) -> None:
    from playwright.sync_api import expect

    page.route("https://img.example.org/kitchen.png", lambda r: r.fulfill(body=PNG,
               content_type="image/png"))  # fmt: skip
    page.route("https://img.example.org/gone.png", lambda r: r.fulfill(status=404))
    page.goto(art_url + "/?q=bread+cookbook+korallenriffe+sleep&mode=keyword&k=8")
    expect(page.locator("#hits > li")).to_have_count(4)
    kitchen = page.locator("#hits > li[data-episode-id='e4']")
    expect(kitchen.locator(".hit-art img")).to_have_attribute("loading", "lazy")
    expect(kitchen.locator(".hit-art")).to_have_class("hit-art has-image")
    width = kitchen.locator(".hit-art img").evaluate("img => img.naturalWidth")
    assert width == 2
    # Broken artwork falls back to the show's first letter; no artwork: the letter too.
    wissen = page.locator("#hits > li[data-episode-id='e7']")
    expect(wissen.locator(".hit-art img")).to_have_count(0)
    expect(wissen.locator(".hit-art-letter")).to_have_text("W")
    expect(wissen.locator(".hit-art-letter")).to_be_visible()
    healthy = page.locator("#hits > li[data-episode-id='e2']")
    expect(healthy.locator(".hit-art-letter")).to_have_text("H")
    # The player and the length are there before opening the result.
    expect(kitchen.locator("audio.hit-audio")).to_be_visible()
    expect(kitchen.locator("audio.hit-audio")).to_have_attribute(
        "src", "https://example.org/e4.mp3"
    )
    expect(kitchen.locator(".hit-duration")).to_have_text("10 min")
    expect(kitchen.locator(".hit-details")).to_be_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-artwork.png"), full_page=True)


def test_phone_first_result_on_the_first_screen(browser: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(
        locale="en-US", viewport={"width": 390, "height": 844}, color_scheme="light"
    )
    pg = context.new_page()
    try:
        pg.goto(base_url + "/?q=sleep+and+health")
        first = pg.locator("#hits > li").first
        expect(first).to_be_visible()
        box = first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 844, box  # the whole first card
        # The microphone shares the search box's row; no spoken-language choice until used.
        q, mic = pg.locator("#q").bounding_box(), pg.locator("#mic").bounding_box()
        assert q is not None and mic is not None
        assert abs((q["y"] + q["height"] / 2) - (mic["y"] + mic["height"] / 2)) < 4, (q, mic)
        expect(pg.locator("#voice-bar")).to_be_hidden()
        # Mode and filters fold behind one button.
        expect(pg.locator("#controls")).to_be_hidden()
        expect(pg.locator("#filters-toggle")).to_be_visible()
        expect(first.locator("audio.hit-audio")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "web-phone.png"))
        pg.click("#filters-toggle")
        expect(pg.locator("#controls")).to_be_visible()
        expect(pg.locator("#show")).to_be_visible()
        pg.screenshot(path=str(ARTIFACTS / "web-phone-filters.png"))
        overflow = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
    finally:
        context.close()
