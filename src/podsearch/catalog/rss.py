"""RSS 2.0 and Atom feeds, read with feedparser: one Show per feed, one Episode per item.

Episode ids: the item's guid (Atom ``id``), else its audio URL, else its link, else a stable
hash of title + date. Guids only need to be unique within a feed, so when two *different*
feeds of one catalog use the same guid, the later one is namespaced as ``<show id>#<guid>``
(with a warning); the same guid twice in one feed is a duplicate and skipped.

Audio: the first ``audio/*`` (then ``video/*``) enclosure or Media RSS content, else the first
enclosure that is not an image. Titles missing from an item fall back to its audio file name
(as podcast apps do). Descriptions come from ``content:encoded``, else ``description`` /
``summary``, else ``itunes:subtitle``.
"""

from __future__ import annotations

import calendar
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from podsearch.catalog.base import CatalogData
from podsearch.catalog.builder import CatalogBuilder, RawEpisode
from podsearch.catalog.clean import DateError, clean_text, parse_date, stable_id
from podsearch.errors import CatalogError
from podsearch.models import Show

FEED_SUFFIXES = (".xml", ".rss", ".atom")
FETCH_TIMEOUT_S = 30.0
MAX_FEED_BYTES = 200 * 1024 * 1024
_USER_AGENT = "podsearch/0.1 (+https://github.com/podsearch) feedparser"
_AUDIO_SUFFIXES = (".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wav", ".flac", ".mp4")


class NotAFeedError(CatalogError):
    """The document is not an RSS or Atom feed (its items are not read)."""


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def read_feed(
    source: str | Path, *, id_prefix: str = "", language: str | None = None
) -> CatalogData:
    """Read one feed from a file or an http(s) URL. Not a feed at all -> CatalogError."""
    label = str(source) if is_url(source) else Path(source).name
    b = CatalogBuilder(str(source), label=label, id_prefix=id_prefix, language=language)
    data, base = _load(source)
    url = str(source) if is_url(source) else None
    read_feed_into(b, data, name=label, base_url=base, feed_url=url, fallback_id=label)
    return b.finish()


def read_feed_dir(
    directory: str | Path, *, id_prefix: str = "", language: str | None = None
) -> CatalogData:
    """Read every feed file (.xml/.rss/.atom) in a folder, in name order.

    A file that is not a feed is reported (a warning and one skipped entry), never raised.
    """
    directory = Path(directory)
    files = feed_files(directory)
    if not files:
        raise CatalogError(
            f"{directory}: no feed files; expected files ending in {', '.join(FEED_SUFFIXES)}"
        )
    b = CatalogBuilder(str(directory), label=directory.name, id_prefix=id_prefix, language=language)
    others = sorted(
        {p.suffix or p.name for p in directory.iterdir() if p.is_file()} - set(FEED_SUFFIXES)
    )
    if others:
        n = sum(1 for p in directory.iterdir() if p.is_file() and p not in files)
        b.warn(f"{directory.name}: ignored {n} file(s) that are not feeds ({', '.join(others)})")
    for path in files:
        try:
            data, base = _load(path)
            read_feed_into(b, data, name=path.name, base_url=base, fallback_id=path.name)
        except NotAFeedError as e:
            b.warn(f"{path.name}: not imported: {e}")
            b.skip(path.name, f"not a feed: {e}")
        except Exception as e:  # noqa: BLE001 - one broken feed must not stop the folder
            b.warn(f"{path.name}: not imported: {type(e).__name__}: {e}")
            b.skip(path.name, f"unreadable feed: {type(e).__name__}: {e}")
    return b.finish()


def feed_files(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in FEED_SUFFIXES
    )


def _load(source: str | Path) -> tuple[bytes, str | None]:
    """The feed's bytes and the URL relative links resolve against (None for local files)."""
    if is_url(source):
        return _fetch(str(source))
    path = Path(source)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FEED_BYTES + 1)
    except OSError as e:
        raise CatalogError(f"cannot read feed {path}: {e.strerror or e}") from e
    if len(data) > MAX_FEED_BYTES:
        raise CatalogError(f"{path}: larger than {MAX_FEED_BYTES // 2**20} MB; not read")
    return data, None


def _fetch(url: str) -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
            data = response.read(MAX_FEED_BYTES + 1)
            final_url = response.geturl() or url
    except urllib.error.HTTPError as e:
        raise CatalogError(f"cannot fetch feed {url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise CatalogError(f"cannot fetch feed {url}: {reason}") from e
    if len(data) > MAX_FEED_BYTES:
        raise CatalogError(f"{url}: larger than {MAX_FEED_BYTES // 2**20} MB; not read")
    return data, final_url


def read_feed_into(
    b: CatalogBuilder,
    data: bytes,
    *,
    name: str,
    base_url: str | None = None,
    feed_url: str | None = None,
    fallback_id: str,
) -> None:
    """Parse one feed document and add its show and items to ``b``.

    The show id is the feed's own id (Atom), else its self link, else ``feed_url`` (the URL
    it was read from), else its website link, else ``fallback_id`` (the file name).
    Relative audio URLs resolve against ``base_url`` (where it was fetched from, after
    redirects) or the self link. Raises :class:`NotAFeedError` (before adding anything)
    when the document is not a feed.
    """
    import feedparser

    headers = {"content-location": base_url} if base_url else None
    d = feedparser.parse(data, response_headers=headers, sanitize_html=False)
    if not d.get("version") and not d.get("entries"):
        why = d.get("bozo_exception")
        raise NotAFeedError(
            f"{name} is not an RSS or Atom feed"
            + (f" ({type(why).__name__}: {why})" if why else " (no <rss>, <feed> or <rdf> root)")
        )
    feed = d.get("feed", {})
    if d.get("bozo"):
        b.warn(f"{name}: malformed XML ({d.get('bozo_exception')}); read leniently")
    _feed_notes(b, feed, name)

    self_link = _link(feed, "self")
    base = base_url or self_link
    show_key = clean_text(feed.get("id")) or self_link or feed_url or feed.get("link") or ""
    show_key = show_key.strip() or fallback_id
    title = feed.get("title")
    if not clean_text(title):
        title = Path(name).stem if not is_url(name) else name
        b.warn(f"{name}: feed has no title; using {title!r}")
    show = b.add_show(
        show_key,
        title,
        where=name,
        description=feed.get("subtitle") or feed.get("summary"),
        language=feed.get("language"),
        categories=[t.get("term") for t in feed.get("tags") or [] if t.get("term")],
        author=feed.get("author") or feed.get("itunes_author"),
        website=feed.get("link"),
        image=(feed.get("image") or {}).get("href") or (feed.get("image") or {}).get("url"),
    )

    entries = d.get("entries") or []
    if not entries:
        b.warn(f"{name}: feed has no episodes")
    for i, entry in enumerate(entries, 1):
        where = f"{name} item {i}"
        try:
            _add_entry(b, entry, where=where, show=show, show_key=show_key, base=base)
        except (AttributeError, TypeError, ValueError, KeyError) as e:
            b.skip(where, f"malformed item: {type(e).__name__}: {e}")


def _feed_notes(b: CatalogBuilder, feed: Any, name: str) -> None:
    new_url = (feed.get("itunes_new-feed-url") or feed.get("newlocation") or "").strip()
    if new_url:
        b.warn(f"{name}: the feed says it moved to {new_url}")
    next_page = _link(feed, "next")
    if next_page:
        b.warn(f"{name}: paged feed; only this page was read (next page: {next_page})")


def _link(obj: Any, rel: str) -> str:
    for link in obj.get("links") or []:
        if link.get("rel") == rel and link.get("href"):
            return str(link["href"]).strip()
    return ""


def _add_entry(
    b: CatalogBuilder, entry: Any, *, where: str, show: Show, show_key: str, base: str | None
) -> None:
    audio = _audio_url(entry, base)
    if audio and not urllib.parse.urlsplit(audio).scheme:
        b.warn(f"{where}: relative audio URL {audio!r} kept as is (no feed URL to resolve it)")
    link = str(entry.get("link") or "").strip()
    # dict.get: feedparser's own get() maps updated -> published with a DeprecationWarning.
    raw_date = (
        dict.get(entry, "published") or dict.get(entry, "updated") or dict.get(entry, "created")
    )
    guid = clean_text(entry.get("id"))
    episode_id = guid or audio or (link if not entry.get("guidislink") else "")
    title = entry.get("title")
    if not clean_text(title) and audio:
        stem = PurePosixPath(urllib.parse.urlsplit(audio).path).stem
        if stem:
            title = urllib.parse.unquote(stem)
            b.warn(f"{where}: no title; titled {title!r} after its audio file")
    if not episode_id and clean_text(title):
        episode_id = "sha1:" + stable_id(show.show_id, clean_text(title), raw_date or "")
    if episode_id:
        first = b.seen(episode_id)
        if first is not None and first[1] != show.show_id:
            namespaced = f"{show_key}#{episode_id}"
            b.warn(
                f"{where}: id {episode_id!r} is also used by another feed ({first[0]}); "
                f"imported as {namespaced!r}"
            )
            episode_id = namespaced
    b.add_episode(
        RawEpisode(
            where=where,
            episode_id=episode_id,
            title=title,
            description=_description(entry),
            show_id=show_key,
            language=entry.get("language"),
            pub_date=_entry_date(entry, raw_date),
            audio_url=audio,
            duration=entry.get("itunes_duration"),
        ),
        show,
    )


def _entry_date(entry: Any, raw: object) -> object:
    """Our parse of the raw date, else feedparser's (it knows many broken forms), else raw."""
    if not raw:
        return None
    try:
        return parse_date(raw)
    except DateError:
        pass
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(entry, key)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    return raw  # the builder reports it


def _description(entry: Any) -> str:
    for content in entry.get("content") or []:
        value = content.get("value")
        if value and value.strip():
            return str(value)
    for key in ("summary", "subtitle"):
        value = entry.get(key)
        if value and str(value).strip():
            return str(value)
    return ""


def _audio_url(entry: Any, base: str | None) -> str:
    candidates: list[tuple[str, str]] = []
    for enc in entry.get("enclosures") or []:
        candidates.append((str(enc.get("href") or "").strip(), str(enc.get("type") or "")))
    for media in _iter_media(entry.get("media_content")):
        candidates.append((str(media.get("url") or "").strip(), str(media.get("type") or "")))
    candidates = [(u, t.lower()) for u, t in candidates if u]
    if not candidates:
        return ""

    def rank(c: tuple[str, str]) -> int:
        url, mime = c
        if mime.startswith("audio/"):
            return 0
        if mime.startswith("video/"):
            return 1
        if urllib.parse.urlsplit(url).path.lower().endswith(_AUDIO_SUFFIXES):
            return 2
        return 3 if not mime.startswith("image/") else 4

    url = min(candidates, key=rank)[0]
    if base and not urllib.parse.urlsplit(url).scheme:
        url = urllib.parse.urljoin(base, url)
    return url


def _iter_media(value: object) -> Iterable[Any]:
    if isinstance(value, list):
        return [v for v in value if hasattr(v, "get")]
    return []
