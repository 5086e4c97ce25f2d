"""XML attacks on the feed reader: entity expansion, external entities, external DTDs.

The reader is feedparser (expat through xml.sax, with its own loose parser as a fallback).
Each test plants something the attack would reveal (a marker in a local file, a request
counter on a local HTTP server, a text length) and checks that it stays hidden.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from podsearch.catalog import read_catalog
from podsearch.catalog.base import CatalogData
from podsearch.errors import CatalogError

SECRET = "SECRET-MARKER-7f3a9c"


def _rss(doctype: str, title: str = "Episode &lol9;") -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
{doctype}
<rss version="2.0"><channel><title>Attack feed</title><link>https://a.example/</link>
<item><guid>ep1</guid><title>{title}</title><description>plain words</description>
<enclosure url="https://a.example/1.mp3" type="audio/mpeg"/></item>
<item><guid>ep2</guid><title>Second episode</title><description>more words</description>
<enclosure url="https://a.example/2.mp3" type="audio/mpeg"/></item>
</channel></rss>
"""


def _all_text(data: CatalogData) -> str:
    parts = [w for w in data.warnings] + [s.reason for s in data.skipped]
    for ep in data.episodes:
        parts += [ep.title, ep.description, ep.show_title, ep.show_description, ep.audio_url]
    for show in data.shows:
        parts += [show.title, show.description]
    return "\n".join(parts)


def _read(path: Path) -> CatalogData | None:
    """The catalog, or None when the reader refused the document (also a pass)."""
    try:
        return read_catalog(path)
    except CatalogError:
        return None


def test_billion_laughs_is_not_expanded(tmp_path: Path) -> None:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    ]
    doctype = "<!DOCTYPE rss [\n" + "\n".join(entities) + "\n]>"
    path = tmp_path / "laughs.rss"
    path.write_text(_rss(doctype), "utf-8")
    t = time.perf_counter()
    data = _read(path)
    seconds = time.perf_counter() - t
    assert seconds < 10  # 10^9 "lol"s would take minutes and gigabytes
    if data is not None:
        text = _all_text(data)
        assert "lollollol" not in text
        assert len(text) < 10_000
        assert "Second episode" in text  # the rest of the feed is still read


def test_external_entity_does_not_read_a_local_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, "utf-8")
    doctype = f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
    path = tmp_path / "xxe.rss"
    path.write_text(_rss(doctype, title="Leak &xxe; here"), "utf-8")
    data = _read(path)
    if data is not None:
        assert SECRET not in _all_text(data)
        assert "Second episode" in _all_text(data)


@pytest.fixture
def dtd_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that serves a DTD and records every request made to it."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            hits.append(self.path)
            body = f'<!ENTITY remote "{SECRET}">'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/xml-dtd")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_the_server_fixture_sees_requests(dtd_server: tuple[str, list[str]]) -> None:
    """The counter below is live: a real fetch is recorded (so zero means none was made)."""
    import urllib.request

    url, hits = dtd_server
    with urllib.request.urlopen(f"{url}/probe.dtd", timeout=5) as r:
        assert SECRET in r.read().decode()
    assert hits == ["/probe.dtd"]


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE rss SYSTEM "{url}/external.dtd">',
        '<!DOCTYPE rss PUBLIC "-//A//DTD A//EN" "{url}/public.dtd">',
        '<!DOCTYPE rss [<!ENTITY % p SYSTEM "{url}/param.dtd"> %p;]>',
        '<!DOCTYPE rss [<!ENTITY remote SYSTEM "{url}/entity.xml">]>',
    ],
    ids=["system-dtd", "public-dtd", "parameter-entity", "external-entity"],
)
def test_no_external_dtd_or_entity_is_fetched(
    tmp_path: Path, dtd_server: tuple[str, list[str]], doctype: str
) -> None:
    url, hits = dtd_server
    path = tmp_path / "dtd.rss"
    path.write_text(_rss(doctype.format(url=url), title="Fetched &remote; here"), "utf-8")
    data = _read(path)
    time.sleep(0.2)  # a fetch in flight would have been recorded by now
    assert hits == []
    if data is not None:
        assert SECRET not in _all_text(data)
