"""Listening histories: the typed item, and reading them from JSONL, CSV or a list of ids."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from podsearch.errors import QueryError

MAX_HISTORY = 10_000
_TRUE = {"1", "true", "yes", "y", "skipped", "skip"}
_FALSE = {"", "0", "false", "no", "n", "listened"}


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One listened (or skipped) episode. ``weight`` scales its pull; ``timestamp`` its age."""

    episode_id: str
    weight: float = 1.0
    timestamp: datetime | None = None
    skipped: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "episode_id": self.episode_id,
            "weight": self.weight,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "skipped": self.skipped,
        }


def as_history(items: Iterable[HistoryItem | str | Mapping[str, Any]]) -> list[HistoryItem]:
    """Normalise ids, dicts and HistoryItems into HistoryItems; QueryError on bad values."""
    out: list[HistoryItem] = []
    for n, item in enumerate(items, start=1):
        if isinstance(item, HistoryItem):
            out.append(item)
        elif isinstance(item, str):
            out.append(HistoryItem(_clean_id(item, n)))
        elif isinstance(item, Mapping):
            out.append(_from_mapping(item, n))
        else:
            raise QueryError(
                f"history item {n}: expected an episode id or an object with 'episode_id', "
                f"got {type(item).__name__}"
            )
        if len(out) > MAX_HISTORY:
            raise QueryError(f"the history has more than {MAX_HISTORY} items: send the newest")
    return out


def read_history(path: str | Path) -> list[HistoryItem]:
    """Read a history file: JSONL (objects or bare ids), CSV/TSV with an ``episode_id``
    column (optional ``weight``, ``timestamp``, ``skipped``), a JSON list, or one id a line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise QueryError(f"cannot read the history file {p}: {e.strerror or e}") from e
    return parse_history(text, name=p.name)


def parse_history(text: str, *, name: str = "history") -> list[HistoryItem]:
    """Parse history text; the format is guessed from the content (and the name's suffix)."""
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except ValueError as e:
            raise QueryError(f"{name}: not valid JSON ({e})") from e
        if not isinstance(data, list):
            raise QueryError(f"{name}: expected a JSON list of ids or objects")
        return as_history(data)
    first = stripped.splitlines()[0].strip()
    if first.startswith("{") or first.startswith('"'):
        return _parse_jsonl(stripped, name)
    lower = first.lower()
    suffix = Path(name).suffix.lower()
    if "episode_id" in lower or suffix in (".csv", ".tsv"):
        return _parse_csv(stripped, name, "\t" if suffix == ".tsv" or "\t" in first else ",")
    return as_history(line.strip() for line in stripped.splitlines() if line.strip())


def _parse_jsonl(text: str, name: str) -> list[HistoryItem]:
    rows: list[Any] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as e:
            raise QueryError(f"{name} line {n}: not valid JSON ({e})") from e
    return as_history(rows)


def _parse_csv(text: str, name: str, delimiter: str) -> list[HistoryItem]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "episode_id" not in fields:
        raise QueryError(
            f"{name}: the header has no 'episode_id' column (found {fields}); "
            "write episode_id[,weight,timestamp,skipped]"
        )
    rows = [{k.strip().lower(): v for k, v in r.items() if k} for r in reader]
    return as_history(rows)


def _from_mapping(obj: Mapping[str, Any], n: int) -> HistoryItem:
    raw_id = obj.get("episode_id", obj.get("id"))
    if raw_id is None:
        raise QueryError(f"history item {n}: no 'episode_id'")
    weight = obj.get("weight")
    try:
        w = 1.0 if weight in (None, "") else float(weight)
    except (TypeError, ValueError) as e:
        raise QueryError(f"history item {n}: weight {weight!r} is not a number") from e
    if not w >= 0 or w == float("inf"):
        raise QueryError(f"history item {n}: weight must be a finite number >= 0, got {weight!r}")
    return HistoryItem(
        _clean_id(str(raw_id), n),
        weight=w,
        timestamp=_parse_time(obj.get("timestamp"), n),
        skipped=_parse_bool(obj.get("skipped"), n),
    )


def _clean_id(raw: str, n: int) -> str:
    s = raw.strip()
    if not s or len(s) > 500:
        raise QueryError(f"history item {n}: episode id must be 1 to 500 characters")
    return s


def _parse_time(value: Any, n: int) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        if isinstance(value, int | float):
            d = datetime.fromtimestamp(float(value), tz=UTC)
        else:
            d = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError) as e:
        raise QueryError(
            f"history item {n}: cannot read timestamp {value!r}: use ISO 8601 or Unix seconds"
        ) from e
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _parse_bool(value: Any, n: int) -> bool:
    if isinstance(value, bool):
        return value
    s = "" if value is None else str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise QueryError(f"history item {n}: skipped must be true or false, got {value!r}")
