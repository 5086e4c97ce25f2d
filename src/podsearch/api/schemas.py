"""Request and response shapes of the HTTP API (pydantic), and their mapping to the library."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from podsearch.errors import QueryError
from podsearch.models import Episode, Filters
from podsearch.search.filters import make_filters
from podsearch.search.searcher import MAX_K, MAX_OFFSET, MAX_QUERY_CHARS

MAX_FILTER_VALUES = 50
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A query needs one character that is neither whitespace nor a character the server removes
# (controls, zero-width and direction marks): the schema's pattern for ``q`` says so.
QUERY_PATTERN = r"[^\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060\ufeff]"
_VISIBLE = re.compile(QUERY_PATTERN)
MAX_FILTER_VALUE_CHARS = 200

FilterValues = Annotated[
    list[Annotated[str, Field(max_length=MAX_FILTER_VALUE_CHARS)]],
    Field(max_length=MAX_FILTER_VALUES),
]


def clean_text(s: str) -> str:
    """Replace control characters and lone surrogates by spaces; collapse the ends.

    Lone surrogates (valid in JSON, invalid in UTF-8) would otherwise break every encoder
    and store below; control characters carry no meaning in a search box.
    """
    out = []
    for ch in s:
        cat = unicodedata.category(ch)
        out.append(" " if cat in ("Cc", "Cs") else ch)
    return "".join(out).strip()


class FilterParams(BaseModel):
    """The filter fields of every search and recommendation request, as query parameters or
    JSON fields; ``filters()`` reads them with ``podsearch.search.filters.make_filters``."""

    lang: FilterValues = Field(
        default_factory=list,
        description="Keep only episodes in these languages: ISO 639-1 codes (`en`) or names "
        "(`English`), any case; repeat the parameter for several. A language no episode has "
        "is a 422 error that lists the catalog's languages.",
    )
    show: FilterValues = Field(
        default_factory=list,
        description="Keep only episodes of these shows: a show id or an exact show title "
        "(case-insensitive); repeatable. `GET /api/facets` lists the largest shows.",
    )
    category: FilterValues = Field(
        default_factory=list,
        description="Keep only episodes in these categories (case-insensitive); repeatable.",
    )
    date_from: date | None = Field(
        None,
        description="Keep episodes published on or after this day (ISO date `YYYY-MM-DD`, "
        "UTC). A date_from after date_to is a 422 error.",
    )
    date_to: date | None = Field(
        None,
        description="Keep episodes published on or before this day (ISO date `YYYY-MM-DD`, "
        "UTC). A date_to before date_from is a 422 error.",
    )

    @field_validator("date_from", "date_to", mode="before")
    @classmethod
    def _iso_day_only(cls, v: Any, info: ValidationInfo) -> Any:
        # The schema says "format: date"; pydantic alone would also take a number (seconds
        # since 1970) or a timestamp at midnight.
        if v is None or (isinstance(v, date) and not isinstance(v, datetime)):
            return v
        if isinstance(v, str) and _ISO_DAY.fullmatch(v):
            # A date, not the string: strict models (JSON bodies) take no strings for dates.
            try:
                return date.fromisoformat(v)
            except ValueError:
                raise ValueError(
                    f"{info.field_name}: {v!r} is not a day of the calendar (YYYY-MM-DD)"
                ) from None
        raise ValueError(f"give a date as YYYY-MM-DD, got {str(v)[:40]!r}")

    @field_validator("lang", "show", "category", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        # A JSON body may send one value as a plain string.
        return [v] if isinstance(v, str) else v

    @field_validator("lang", "show", "category")
    @classmethod
    def _clean_values(cls, v: list[str]) -> list[str]:
        return [c for c in (clean_text(x) for x in v) if c]

    @model_validator(mode="after")
    def _check_filters(self) -> Self:
        try:
            self.filters()
        except QueryError as exc:  # a start after the end: a 422 naming the request
            raise ValueError(str(exc)) from exc
        return self

    def filters(self) -> Filters:
        """The library's Filters; dates are whole UTC days, both ends inclusive."""
        return make_filters(self.lang, self.show, self.category, self.date_from, self.date_to)


class SearchRequest(FilterParams):
    """One search: the same fields as ``GET /api/search`` query parameters or a JSON body."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    q: str = Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        pattern=QUERY_PATTERN,
        description="The natural-language query, 1 to 1000 characters, at least one of them "
        "visible (control characters are removed first). Any language or script.",
        examples=["interviews with startup founders about burnout"],
    )
    k: int = Field(10, ge=1, le=MAX_K, description="Number of hits to return (1 to 100).")
    offset: int = Field(
        0, ge=0, le=MAX_OFFSET, description="Number of hits to skip, for paging (0 to 1000)."
    )
    mode: Literal["hybrid", "dense", "keyword"] = Field(
        "hybrid",
        description="`dense` (embeddings), `keyword` (BM25) or `hybrid` (both: standardised "
        "cosine plus a weighted, normalised BM25 score, with a hubness correction).",
    )
    facets: bool = Field(
        False,
        description="Also return `facets` (language, category and show counts over this "
        "query's matching set, with the filters applied) and `total`/`total_exact` for a "
        "pager. The matching set: the ranked candidate pool (keyword mode: episodes holding a "
        "query word; dense/hybrid: the best 100 or offset+k by the fused score), so a value "
        "counted c gives at least c results when chosen as a filter.",
    )

    @field_validator("q", mode="before")
    @classmethod
    def _check_query(cls, v: Any) -> Any:
        # Before the schema's constraints, which say the same with less helpful words.
        if not isinstance(v, str):
            return v
        if len(v) > MAX_QUERY_CHARS:
            raise ValueError(
                f"The query is too long ({len(v)} characters): shorten it to at most "
                f"{MAX_QUERY_CHARS} characters."
            )
        if not _VISIBLE.search(v) or not clean_text(v):
            raise ValueError("The query is empty: type a few words to search for.")
        return v

    @field_validator("q")
    @classmethod
    def _clean_query(cls, v: str) -> str:
        return clean_text(v)


# Response models: they document the API in /openapi.json; extra fields pass through.


class HitOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    episode_id: str
    score: float = Field(description="Higher is better; scale depends on the mode.")
    rank: int = Field(description="1-based position in the whole result list.")
    title: str
    show_title: str
    show_id: str
    language: str = Field(description="ISO 639-1 code, or empty when unknown.")
    pub_date: str | None = Field(description="ISO 8601 timestamp (UTC), or null.")
    categories: list[str]
    snippet: str = Field(description="A short plain-text excerpt of the description.")
    audio_url: str
    dense_rank: int | None = Field(None, description="Rank from the dense retriever (hybrid).")
    keyword_rank: int | None = Field(None, description="Rank from the keyword retriever (hybrid).")
    highlights: list[list[int]] = Field(
        default_factory=list,
        description="[start, end) character offsets in `snippet` of whole words whose stem "
        "(Snowball stemmer of the episode's language) equals a query word's stem.",
    )
    image_url: str = Field("", description="The show's artwork URL (http or https), or empty.")
    duration_s: int | None = Field(None, description="Episode length in seconds, if known.")


class SearchResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    query: str = Field(description="The query as searched (control characters removed).")
    mode: str
    k: int
    offset: int
    hits: list[HitOut]
    timings_ms: dict[str, float] = Field(description="Time spent per stage, milliseconds.")
    has_more: bool = Field(False, description="Whether another page follows this one.")
    weak: bool = Field(
        False, description="No close match: the page may say so (rule: search/confidence.py)."
    )
    fuzzy: bool = Field(False, description="Keyword hits found only by forgiving typos.")
    did_you_mean: str | None = Field(None, description="The query spelt as the hits spell it.")
    took_ms: float = Field(description="Wall time of the request inside the server, ms.")
    facets: FacetsOut | None = Field(
        None, description="With `facets=true`: counts over this query's matching set."
    )
    total: int | None = Field(
        None, description="With `facets=true`: the size of the matching set (see total_exact)."
    )
    total_exact: bool | None = Field(
        None,
        description='True: `total` counts every match ("page 2 of N"); false: there are '
        '`total` or more ("N+ results").',
    )


class EpisodeOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    episode_id: str
    show_id: str
    title: str
    description: str
    show_title: str
    show_description: str
    language: str
    categories: list[str]
    pub_date: str | None
    audio_url: str
    duration_s: int | None
    source: str


class HealthOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "degraded", "error"] = Field(
        description="`ok` (200); `degraded` (503): the index answers but something is wrong "
        "(see `problems`), take this replica out of rotation; `error` (503): it cannot be read."
    )
    episodes: int | None = None
    shows: int | None = None
    indexed: int | None = None
    model: str | None = None
    generation: int | None = Field(
        None, description="Index generation: rises with every committed write (any process)."
    )
    detail: str | None = None
    problems: list[str] | None = Field(
        None, description="What is wrong, in public words (the server log has the details)."
    )


class FacetValue(BaseModel):
    value: str
    count: int


class ShowFacet(BaseModel):
    show_id: str
    title: str
    episodes: int


class FacetsOut(BaseModel):
    languages: list[FacetValue] = Field(description="Languages by episode count, largest first.")
    categories: list[FacetValue] = Field(description="Categories by episode count, largest first.")
    shows: list[ShowFacet] = Field(
        default_factory=list, description="The shows with most episodes, largest first."
    )


class ErrorOut(BaseModel):
    error: str = Field(description="The error type, e.g. `QueryError` or `ValidationError`.")
    detail: str = Field(description="What went wrong and what to do about it.")


def episode_to_dict(ep: Episode) -> dict[str, object]:
    return {
        "episode_id": ep.episode_id,
        "show_id": ep.show_id,
        "title": ep.title,
        "description": ep.description,
        "show_title": ep.show_title,
        "show_description": ep.show_description,
        "language": ep.language,
        "categories": list(ep.categories),
        "pub_date": ep.pub_date.isoformat() if ep.pub_date else None,
        "audio_url": ep.audio_url,
        "duration_s": ep.duration_s,
        "source": ep.source,
    }


def facet_list(counts: Any) -> list[dict[str, object]]:
    """``{value: count}`` -> ``[{value, count}]``, largest first, then by name."""
    if not isinstance(counts, dict):
        return []
    items = [(str(k), int(v)) for k, v in counts.items() if str(k)]
    items.sort(key=lambda kv: (-kv[1], kv[0].lower()))
    return [{"value": k, "count": n} for k, n in items]


SearchResponse.model_rebuild()  # its facets field names FacetsOut, defined after it
