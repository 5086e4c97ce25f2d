"""``GET /api/episodes/{id}/similar`` and ``POST /api/recommend``: thin edges over the
engine's ``similar`` and ``recommend``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from podsearch.api.schemas import FilterParams, HitOut
from podsearch.recommend.history import MAX_HISTORY
from podsearch.search.searcher import MAX_K, MAX_OFFSET

if TYPE_CHECKING:
    from podsearch.engine import Podsearch


class _PageParams(FilterParams):
    """Filters and paging shared by both endpoints."""

    k: int = Field(10, ge=1, le=MAX_K, description="Number of hits to return (1 to 100).")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Hits to skip (0 to 1000).")
    per_show: int | None = Field(None, ge=1, le=MAX_K, description="At most this many per show.")


class SimilarParams(_PageParams):
    model_config = ConfigDict(extra="ignore")

    exclude_show: bool = Field(False, description="Leave out the episode's own show.")


class HistoryItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    episode_id: str = Field(min_length=1, max_length=500)
    # strict: a JSON body's true is not a weight, nor "yes" a boolean (the schema says so).
    weight: float = Field(1.0, ge=0, allow_inf_nan=False, strict=True)
    timestamp: datetime | None = Field(None, description="When it was heard (ISO 8601).")
    skipped: bool = Field(
        False, description="Heard a little and skipped: pushes away.", strict=True
    )


class RecommendRequest(_PageParams):
    # A JSON body only: strict types (k: true or k: "3" is a 422, as the schema says integer).
    # Dates stay possible: the filters' validator turns ISO days into dates first.
    model_config = ConfigDict(extra="forbid", strict=True)

    history: list[Annotated[str, Field(min_length=1, max_length=500)] | HistoryItemIn] = Field(
        min_length=1,
        max_length=MAX_HISTORY,
        description="Listened episodes (at least one): ids, or objects with episode_id, "
        "weight, timestamp, skipped.",
        examples=[["ln:5148", {"episode_id": "ln:5031", "weight": 2.0}]],
    )
    strategy: Literal["multi-interest", "mean"] = "multi-interest"

    @field_validator("history", mode="before")
    @classmethod
    def _not_empty(cls, v: Any) -> Any:
        # Before the schema's minItems, which says the same with less helpful words.
        if isinstance(v, list) and not v:
            raise ValueError(
                "the listening history is empty: give at least one listened episode id"
            )
        return v

    half_life_days: float | None = Field(
        30.0, gt=0, allow_inf_nan=False, description="Listens lose half their weight per period."
    )
    max_interests: int = Field(5, ge=1, le=20)


class SourceOut(BaseModel):
    episode_id: str
    title: str
    show_title: str


class SimilarResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: SourceOut = Field(description="The episode the hits are like.")
    query: str
    mode: str
    k: int
    offset: int
    hits: list[HitOut]


class InterestOut(BaseModel):
    weight: float
    size: int
    episode_ids: list[str]


class RecommendHitOut(HitOut):
    interest: int | None = Field(None, description="Index of the interest it came from.")


class RecommendResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    strategy: str
    unknown_ids: list[str] = Field(description="History ids the index does not know (ignored).")
    interests: list[InterestOut]
    k: int
    offset: int
    hits: list[RecommendHitOut]


def register(app: FastAPI, engine: Podsearch, responses: dict[int | str, Any]) -> None:
    """Add the endpoints; call before ``/api/episodes/{id}`` so that ``/similar`` wins."""

    @app.get(
        "/api/episodes/{episode_id:path}/similar",
        response_model=SimilarResponse,
        responses=responses,
        tags=["recommend"],
        summary="More like this episode",
    )
    def similar(episode_id: str, params: Annotated[SimilarParams, Query()]) -> dict[str, Any]:
        """Episodes nearest to this one's vector, itself excluded; 404 for an unknown id."""
        src = engine.episode(episode_id)
        res = engine.similar(
            episode_id, k=params.k, offset=params.offset, exclude_same_show=params.exclude_show,
            per_show=params.per_show, filters=params.filters(),
        )  # fmt: skip
        body = res.to_dict()
        body["source"] = {"episode_id": src.episode_id, "title": src.title,
                          "show_title": src.show_title}  # fmt: skip
        return body

    @app.post(
        "/api/recommend",
        response_model=RecommendResponse,
        responses=responses,
        tags=["recommend"],
        summary="Recommend from a listening history",
    )
    def recommend(body: RecommendRequest) -> dict[str, Any]:
        """Unheard episodes for a history; unknown ids are ignored and listed in
        `unknown_ids`; 422 for an empty history, 404 when no listened id is known."""
        history = [h if isinstance(h, str) else h.model_dump() for h in body.history]
        recs = engine.recommend(
            history, k=body.k, offset=body.offset, strategy=body.strategy,
            half_life_days=body.half_life_days, max_interests=body.max_interests,
            per_show=body.per_show, filters=body.filters(),
        )  # fmt: skip
        return recs.to_dict()
