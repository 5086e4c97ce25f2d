"""Turns raw records from any reader into cleaned Shows and Episodes, counting what it skips.

Every reader feeds a :class:`CatalogBuilder` with :class:`RawEpisode` records; the builder
cleans the fields, resolves ids (``id_prefix``), languages and dates, keeps the books
(``read == len(episodes) + len(skipped)``) and writes every problem down.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from dataclasses import dataclass

from podsearch.catalog.base import CatalogData
from podsearch.catalog.clean import (
    MAX_TEXT_CHARS,
    MIN_DETECT_CONFIDENCE,
    DateError,
    DurationError,
    cap_text,
    clean_text,
    detect_language_scored,
    html_to_text,
    normalize_language,
    normalize_whitespace,
    parse_date,
    parse_duration,
    safe_url,
    split_categories,
)
from podsearch.models import Episode, Show, SkippedRow

MAX_TITLE_CHARS = 1_000
# A show without a language gets the one most of its episodes were confidently detected as
# (at least _FILL_MIN_VOTES of them and _FILL_MIN_SHARE of the confident ones); its episodes
# that were too short or unclear to detect confidently take that language.
_CONFIDENT = 0.5
_FILL_MIN_VOTES = 2
_FILL_MIN_SHARE = 0.6


@dataclass(slots=True)
class RawEpisode:
    """One record as a reader found it; the builder cleans and checks every field."""

    where: str  # "episodes.csv:17", "feed.rss item 3", ...
    episode_id: object = None
    title: object = None
    description: object = None
    show_id: str = ""  # without id_prefix
    language: object = None
    categories: object = None
    pub_date: object = None
    audio_url: object = None
    duration: object = None
    duration_unit: float = 1.0  # seconds per unit of a numeric duration
    id_from_audio: bool = False  # derive a missing id from the audio URL (with a warning)


def _short(value: object, n: int = 60) -> str:
    s = str(value)
    return repr(s if len(s) <= n else s[:n] + "…")


class CatalogBuilder:
    """Collects cleaned shows and episodes for one :class:`CatalogData`."""

    def __init__(
        self,
        source: str,
        *,
        label: str | None = None,
        id_prefix: str = "",
        language: str | None = None,
    ) -> None:
        self.data = CatalogData(source=source)
        self.label = label if label is not None else source
        self.id_prefix = id_prefix
        self.default_language = normalize_language(language) if language else ""
        self._shows: dict[str, Show] = {}  # prefixed show id -> Show
        self._show_where: dict[str, str] = {}
        self._seen: dict[str, tuple[str, str]] = {}  # prefixed episode id -> (where, show id)
        # per episode: detection confidence, or None when the language came from the source
        self._detected: list[float | None] = []
        self._unknown_languages: Counter[str] = Counter()

    # -- bookkeeping -----------------------------------------------------------------------

    def warn(self, message: str) -> None:
        self.data.warnings.append(message)

    def skip(self, where: str, reason: str, record_id: object = "") -> None:
        """Count one record as read and not imported, with the reason."""
        self.data.read += 1
        self.data.skipped.append(SkippedRow(where, reason, str(record_id or "")))

    def prefixed(self, raw_id: str) -> str:
        return self.id_prefix + raw_id

    def seen(self, raw_episode_id: str) -> tuple[str, str] | None:
        """(where, prefixed show id) of the imported episode with this (unprefixed) id."""
        return self._seen.get(self.prefixed(raw_episode_id))

    # -- shows ------------------------------------------------------------------------------

    def show(self, raw_show_id: str) -> Show | None:
        return self._shows.get(self.prefixed(raw_show_id))

    def add_show(
        self,
        raw_show_id: str,
        title: object,
        *,
        where: str = "",
        description: object = None,
        language: object = None,
        categories: object = None,
        category_separators: str = "|",
        author: object = None,
        website: object = None,
        image: object = None,
    ) -> Show:
        """Register (and clean) a show; a second show with the same id keeps the first."""
        show_id = self.prefixed(raw_show_id)
        if show_id in self._shows:
            if where:
                self.warn(
                    f"{where}: duplicate show id {raw_show_id!r} "
                    f"(first at {self._show_where[show_id]}); the first one is kept"
                )
            return self._shows[show_id]
        desc, capped = cap_text(html_to_text(description))
        if capped:
            self.warn(f"{where or raw_show_id}: show description capped at {MAX_TEXT_CHARS} chars")
        show = Show(
            show_id=show_id,
            title=cap_text(clean_text(title), MAX_TITLE_CHARS)[0],
            description=desc,
            language=self._language(language),
            categories=split_categories(categories, category_separators),
            author=clean_text(author),
            website=safe_url(website),
            image=safe_url(image),
        )
        self._shows[show_id] = show
        self._show_where[show_id] = where or raw_show_id
        return show

    def _language(self, value: object) -> str:
        code = normalize_language(value)
        if not code and value is not None and str(value).strip() not in ("", "[]", "None"):
            self._unknown_languages[str(value).strip()[:40]] += 1
        return code

    # -- episodes ---------------------------------------------------------------------------

    def add_episode(self, raw: RawEpisode, show: Show) -> Episode | None:
        """Clean and import one record, or skip it with a reason. Counts it as read."""
        where = raw.where
        audio_url = safe_url(raw.audio_url)
        if not audio_url and raw.audio_url not in (None, ""):
            self.warn(
                f"{where}: audio URL {_short(raw.audio_url)} dropped (only http and https "
                "URLs are kept)"
            )
        if isinstance(raw.episode_id, list | tuple | dict):
            kind = "an object" if isinstance(raw.episode_id, dict) else "a list"
            self.skip(where, f"malformed id: {kind}, not a text or number")
            return None
        episode_id = _id_text(raw.episode_id)
        if not episode_id:
            if raw.id_from_audio and audio_url:
                episode_id = audio_url
                self.warn(f"{where}: no id; using its audio URL {_short(audio_url)} as the id")
            else:
                self.skip(where, "missing id")
                return None
        title, title_capped = cap_text(clean_text(raw.title), MAX_TITLE_CHARS)
        if not title:
            self.skip(where, "missing title", episode_id)
            return None
        full_id = self.prefixed(episode_id)
        first = self._seen.get(full_id)
        if first is not None:
            self.skip(where, f"duplicate id: {episode_id} (first at {first[0]})", episode_id)
            return None
        if title_capped:
            self.warn(f"{where}: title capped at {MAX_TITLE_CHARS} chars")

        full_description = html_to_text(raw.description)
        description, capped = cap_text(full_description)
        if capped:
            self.warn(
                f"{where}: description of {len(full_description):,} chars capped "
                f"at {MAX_TEXT_CHARS:,}"
            )

        confidence: float | None = None
        language = self._language(raw.language) or show.language or self.default_language
        if not language:
            language, confidence = detect_language_scored(f"{title}. {description}")
            if confidence < MIN_DETECT_CONFIDENCE:
                language = ""

        pub_date = None
        if raw.pub_date is not None:
            try:
                pub_date = parse_date(raw.pub_date)
            except DateError:
                self.warn(
                    f"{where}: unparseable pub_date {_short(raw.pub_date)}; "
                    "episode kept without a date"
                )

        duration = None
        try:
            duration = parse_duration(raw.duration, raw.duration_unit)
        except DurationError:
            self.warn(
                f"{where}: unparseable duration {_short(raw.duration)}; "
                "episode kept without a duration"
            )

        categories = split_categories((*show.categories, *split_categories(raw.categories)))
        episode = Episode(
            episode_id=full_id,
            show_id=show.show_id,
            title=title,
            description=description,
            show_title=show.title,
            show_description=show.description,
            language=language,
            categories=categories,
            pub_date=pub_date,
            audio_url=audio_url,
            duration_s=duration,
            source=self.label,
        )
        self.data.read += 1
        self.data.episodes.append(episode)
        self._detected.append(confidence)
        self._seen[full_id] = (where, show.show_id)
        return episode

    # -- the end ----------------------------------------------------------------------------

    def finish(self) -> CatalogData:
        """Fill languages per show, keep the shows that have episodes, summarise warnings."""
        data = self.data
        self._fill_languages()
        used = {e.show_id for e in data.episodes}
        data.shows = [s for sid, s in self._shows.items() if sid in used]
        unused = len(self._shows) - len(data.shows)
        if unused:
            data.warnings.append(f"{unused} show(s) have no imported episodes and were left out")
        for value, n in self._unknown_languages.most_common(20):
            data.warnings.append(
                f"unknown language {value!r} in {n} record(s); detected from the text instead"
            )
        unknown = sum(1 for e in data.episodes if not e.language)
        if unknown:
            data.warnings.append(
                f"{unknown} episode(s) have no language: none in the source and too little "
                "text to detect one"
            )
        return data

    def _fill_languages(self) -> None:
        """Shows without a language get their episodes' confident majority (see above)."""
        votes: dict[str, Counter[str]] = defaultdict(Counter)
        episodes = self.data.episodes
        for ep, conf in zip(episodes, self._detected, strict=True):
            if conf is not None and conf >= _CONFIDENT and ep.language:
                votes[ep.show_id][ep.language] += 1
        majority: dict[str, str] = {}
        for show_id, counter in votes.items():
            lang, n = counter.most_common(1)[0]
            if n >= _FILL_MIN_VOTES and n / sum(counter.values()) >= _FILL_MIN_SHARE:
                majority[show_id] = lang
        for show_id, show in self._shows.items():
            if not show.language and show_id in majority:
                self._shows[show_id] = dataclasses.replace(show, language=majority[show_id])
        for i, (ep, conf) in enumerate(zip(episodes, self._detected, strict=True)):
            fill = majority.get(ep.show_id)
            if fill and conf is not None and conf < _CONFIDENT and ep.language != fill:
                episodes[i] = dataclasses.replace(ep, language=fill)


def _id_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if value.is_integer():
            value = int(value)
    return str(value) if isinstance(value, int) else normalize_whitespace(str(value))
