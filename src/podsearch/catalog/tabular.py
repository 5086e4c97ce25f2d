"""Flat episode tables: CSV/TSV, JSON Lines and Parquet, read through a column mapping.

Each row is one episode; show fields may repeat on every row (the first row of a show wins).
The canonical fields are :data:`CANONICAL_FIELDS`. Which column fills which field is decided
by ``mapping`` (``{"title": "name", ...}``, canonical field -> column) and, for the fields it
leaves out, by :data:`DEFAULT_MAPPING` (the first listed column that exists, ignoring case).

Mapping values:

* ``"column"`` - read the field from that column (case-insensitive; in JSON Lines a dotted
  path such as ``"show.title"`` reaches into nested objects);
* ``"=text"`` - a literal: every row gets ``text`` (``{"show_title": "=Sommar & Vinter i P1",
  "language": "=sv"}`` for a single-show file without show columns);
* ``""`` or ``None`` - do not read the field at all, even if a default column exists.

Durations are seconds in ``duration_s``; map a column to ``duration_ms`` or ``duration_min``
instead when it holds milliseconds or minutes. A column that is only called ``duration`` and
holds small fractional numbers (all under 1000, mostly not whole) is read as minutes, with a
warning; map it to ``duration_s`` explicitly to keep seconds.

Rows need a title and an id (an id column, or else the audio URL is used as the id). Without a
show id column, the show id is made from the show title, else the file name.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podsearch.catalog.base import CatalogData
from podsearch.catalog.builder import CatalogBuilder, RawEpisode
from podsearch.catalog.clean import clean_text, slugify, split_categories
from podsearch.catalog.files import CsvFile, decode_lines
from podsearch.errors import CatalogError

CANONICAL_FIELDS: tuple[str, ...] = (
    "episode_id",
    "title",
    "description",
    "show_id",
    "show_title",
    "show_description",
    "language",
    "categories",
    "pub_date",
    "audio_url",
    "duration_s",
)
# Other units a duration column may be mapped as: field name -> seconds per unit.
DURATION_UNITS: dict[str, float] = {"duration_s": 1.0, "duration_ms": 0.001, "duration_min": 60.0}
MAPPING_FIELDS: tuple[str, ...] = (*CANONICAL_FIELDS, "duration_ms", "duration_min")

DEFAULT_MAPPING: dict[str, tuple[str, ...]] = {
    "episode_id": (
        "episode_id",
        "episode_uuid",
        "uuid",
        "episode_uri",
        "episode_guid",
        "guid",
        "id",
    ),
    "title": ("title", "episode_title", "episode_name", "name"),
    "description": (
        "description",
        "episode_description",
        "summary",
        "short_summary",
        "content",
        "subtitle",
    ),
    "show_id": (
        "show_id",
        "series_uuid",
        "show_uri",
        "podcast_id",
        "podcast_uuid",
        "series_id",
        "feed_id",
        "feed_url",
        "rss_link",
    ),
    "show_title": (
        "show_title",
        "show_name",
        "podcast_title",
        "podcast_name",
        "series_title",
        "series_name",
        "feed_title",
    ),
    "show_description": ("show_description", "podcast_description", "series_description"),
    "language": ("language", "lang", "language_code", "show_language"),
    "categories": ("categories", "category", "genres", "genre", "tags"),
    "pub_date": (
        "pub_date",
        "date_published",
        "published",
        "published_at",
        "publish_date",
        "release_date",
        "pubdate",
        "date",
        "timestamp",
    ),
    "audio_url": (
        "audio_url",
        "audio",
        "mp3_url",
        "enclosure_url",
        "enclosure",
        "media_url",
        "audio_file",
    ),
    "duration_s": (
        "duration_s",
        "duration_seconds",
        "duration_sec",
        "duration",
        "audio_length",
        "length_seconds",
        "itunes_duration",
        "length",
    ),
    "duration_ms": ("duration_ms",),
    "duration_min": ("duration_min", "duration_minutes"),
}
"""Canonical field -> the column names tried, in order, when ``mapping`` does not say."""

_AMBIGUOUS_DURATION = ("duration", "length")
_SAMPLE_ROWS = 1000
_PARQUET_BATCH = 2048


@dataclass(slots=True)
class ColumnPlan:
    """Where each canonical field comes from in one file."""

    columns: dict[str, str] = field(default_factory=dict)  # field -> column (original case)
    literals: dict[str, str] = field(default_factory=dict)  # field -> constant value
    duration_field: str = ""  # "duration_s" / "duration_ms" / "duration_min" or ""
    infer_duration_unit: bool = False

    @property
    def duration_column(self) -> str | None:
        return self.columns.get(self.duration_field) if self.duration_field else None

    def describe(self) -> str:
        parts = [f"{f}<-{c}" for f, c in self.columns.items()]
        parts += [f"{f}={v!r}" for f, v in self.literals.items()]
        return ", ".join(parts)


def plan_columns(
    columns: Iterable[str], mapping: Mapping[str, str | None] | None, name: str
) -> ColumnPlan:
    """Decide which column fills which field; CatalogError names what was found and expected."""
    columns = [c for c in columns if c is not None]
    lookup: dict[str, str] = {}
    for c in columns:
        lookup.setdefault(str(c).strip().lower(), c)
    found = ", ".join(map(str, columns)) or "(none)"
    mapping = dict(mapping or {})
    unknown = sorted(set(mapping) - set(MAPPING_FIELDS))
    if unknown:
        raise CatalogError(
            f"unknown mapping field(s) {', '.join(unknown)}; "
            f"known fields: {', '.join(MAPPING_FIELDS)}"
        )
    plan = ColumnPlan()
    disabled: set[str] = set()
    for fld, value in mapping.items():
        if value is None or str(value) == "":
            disabled.add(fld)
        elif str(value).startswith("="):
            if fld == "episode_id" or fld in DURATION_UNITS:
                raise CatalogError(f"mapping {fld}={value!r}: {fld} cannot be a literal")
            plan.literals[fld] = str(value)[1:]
        else:
            col = _find_column(str(value), lookup)
            if col is None:
                raise CatalogError(
                    f"{name}: mapping {fld}={value!r} names no column; found columns: {found}"
                )
            plan.columns[fld] = col

    explicit_duration = [f for f in DURATION_UNITS if f in mapping]
    if len(explicit_duration) > 1:
        raise CatalogError(f"map only one of {', '.join(explicit_duration)}")
    for fld in CANONICAL_FIELDS:
        if fld in mapping or fld in disabled or fld == "duration_s":
            continue
        for candidate in DEFAULT_MAPPING[fld]:
            if candidate in lookup:
                plan.columns[fld] = lookup[candidate]
                break

    if explicit_duration:
        plan.duration_field = explicit_duration[0] if plan.columns.get(explicit_duration[0]) else ""
    else:
        for unit_field in ("duration_s", "duration_ms", "duration_min"):
            col = next((lookup[c] for c in DEFAULT_MAPPING[unit_field] if c in lookup), None)
            if col is not None:
                plan.columns[unit_field] = col
                plan.duration_field = unit_field
                plan.infer_duration_unit = str(col).strip().lower() in _AMBIGUOUS_DURATION
                break

    missing = []
    if "title" not in plan.columns:
        missing.append(("title", DEFAULT_MAPPING["title"]))
    if "episode_id" not in plan.columns and "audio_url" not in plan.columns:
        missing.append(("episode_id", DEFAULT_MAPPING["episode_id"]))
    if missing:
        what = "; ".join(f"{f} (one of: {', '.join(c)})" for f, c in missing)
        raise CatalogError(
            f"{name}: no column for {what}; found columns: {found}. Name the columns with "
            f"mapping={{'{missing[0][0]}': 'your_column', ...}}"
        )
    return plan


def _find_column(value: str, lookup: dict[str, str]) -> str | None:
    key = value.strip().lower()
    if key in lookup:
        return lookup[key]
    head = key.split(".", 1)[0]
    if "." in key and head in lookup:  # a dotted path into nested objects (JSON Lines)
        return value.strip()
    return None


# ------------------------------------------------------------------------------------------


class _TableReader:
    """Turns rows (dicts of column -> value) into episodes through a :class:`ColumnPlan`."""

    def __init__(self, b: CatalogBuilder, plan: ColumnPlan, name: str, default_show: str):
        self.b = b
        self.plan = plan
        self.name = name
        self.default_show = default_show
        self.duration_unit = DURATION_UNITS.get(plan.duration_field, 1.0)

    def infer_units(self, sample: list[Mapping[str, Any]]) -> None:
        col = self.plan.duration_column
        if not (self.plan.infer_duration_unit and col):
            return
        values: list[float] = []
        for row in sample:
            v = _get(row, col)
            if v is None or v == "":
                continue
            try:
                values.append(float(v))
            except (TypeError, ValueError):
                return  # "01:02:03" and friends: not a plain number, nothing to infer
        fractional = sum(1 for x in values if not float(x).is_integer())
        if values and max(values) < 1000 and fractional >= 0.5 * len(values):
            self.duration_unit = 60.0
            self.b.warn(
                f"{self.name}: column {col!r} holds small fractional numbers, read as minutes; "
                f"pass mapping={{'duration_s': {col!r}}} to read it as seconds"
            )

    def value(self, row: Mapping[str, Any], fld: str) -> Any:
        if fld in self.plan.literals:
            return self.plan.literals[fld]
        col = self.plan.columns.get(fld)
        return _get(row, col) if col is not None else None

    def add(self, row: Mapping[str, Any], where: str) -> None:
        v = self.value
        show_title = v(row, "show_title")
        show_key = _text_id(v(row, "show_id"))
        if not show_key:
            title_text = clean_text(show_title)
            show_key = slugify(title_text) if title_text else self.default_show
        show = self.b.show(show_key) or self.b.add_show(
            show_key,
            show_title,
            where=where,
            description=v(row, "show_description"),
            language=v(row, "language"),
            categories=v(row, "categories"),
            category_separators="|;,",
        )
        self.b.add_episode(
            RawEpisode(
                where=where,
                episode_id=v(row, "episode_id"),
                title=v(row, "title"),
                description=v(row, "description"),
                show_id=show_key,
                language=v(row, "language"),
                categories=split_categories(v(row, "categories"), "|;,"),
                pub_date=v(row, "pub_date"),
                audio_url=v(row, "audio_url"),
                duration=_get(row, self.plan.duration_column)
                if self.plan.duration_column
                else None,
                duration_unit=self.duration_unit,
                id_from_audio=True,
            ),
            show,
        )


def _get(row: Mapping[str, Any], col: str) -> Any:
    if col in row:
        return row[col]
    if "." in col:  # nested path
        cur: Any = row
        for part in col.split("."):
            if not isinstance(cur, Mapping):
                return None
            nxt = cur.get(part)
            if nxt is None:
                nxt = next((cv for ck, cv in cur.items() if str(ck).lower() == part.lower()), None)
            cur = nxt
        return cur
    return None


def _text_id(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _builder(path: Path, id_prefix: str, language: str | None) -> CatalogBuilder:
    return CatalogBuilder(str(path), label=path.stem, id_prefix=id_prefix, language=language)


def _run(
    reader: _TableReader,
    rows: Iterator[tuple[str, Mapping[str, Any] | None, str]],
) -> None:
    """Feed (where, row or None, error) triples; buffer a sample first to infer units."""
    sample = list(itertools.islice(rows, _SAMPLE_ROWS))
    reader.infer_units([r for _, r, _ in sample if r is not None])
    for where, row, error in itertools.chain(sample, rows):
        if row is None:
            reader.b.skip(where, error)
        else:
            reader.add(row, where)


# -- CSV / TSV -------------------------------------------------------------------------------


def read_table(
    path: str | Path,
    *,
    mapping: Mapping[str, str | None] | None = None,
    id_prefix: str = "",
    language: str | None = None,
    delimiter: str | None = None,
) -> CatalogData:
    """Read a CSV or TSV episode table (tab for .tsv, else sniffed from the header line)."""
    path = Path(path)
    if delimiter is None and path.suffix.lower() == ".tsv":
        delimiter = "\t"
    b = _builder(path, id_prefix, language)
    with CsvFile(path, b.warn, delimiter=delimiter) as f:
        plan = plan_columns(f.header, mapping, path.name)
        header = f.header
        reader = _TableReader(b, plan, path.name, path.stem)

        def rows() -> Iterator[tuple[str, Mapping[str, Any] | None, str]]:
            for row in f.rows():
                where = f"{path.name}:{row.line}"
                if row.error:
                    yield where, None, row.error
                else:
                    yield where, _zip_first(header, row.fields), ""

        _run(reader, rows())
    return b.finish()


def _batch_rows(batch: Any) -> Iterator[tuple[dict[str, Any] | None, str]]:
    """(row, '') per row of a record batch, or (None, reason) for a row holding a value
    Python cannot represent (a timestamp beyond year 9999): that row alone is skipped."""
    try:
        rows = batch.to_pylist()
    except (ValueError, OverflowError):
        pass
    else:
        for r in rows:
            yield r, ""
        return
    columns = batch.schema.names
    for i in range(batch.num_rows):
        row: dict[str, Any] = {}
        for name, col in zip(columns, batch.columns, strict=True):
            try:
                row[name] = col[i].as_py()
            except (ValueError, OverflowError) as e:
                yield None, f"malformed row: column {name!r} holds a value out of range ({e})"
                break
        else:
            yield row, ""


def _zip_first(header: list[str], fields: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for h, v in zip(header, fields, strict=False):
        out.setdefault(h, v)
    return out


# -- JSON Lines ------------------------------------------------------------------------------


def read_jsonl(
    path: str | Path,
    *,
    mapping: Mapping[str, str | None] | None = None,
    id_prefix: str = "",
    language: str | None = None,
) -> CatalogData:
    """Read a JSON Lines file: one JSON object (an episode) per line."""
    path = Path(path)
    b = _builder(path, id_prefix, language)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise CatalogError(f"cannot read {path}: {e.strerror or e}") from e
    with fh:
        parsed = _jsonl_rows(decode_lines(fh, path.name, b.warn), path.name)
        sample = list(itertools.islice(parsed, _SAMPLE_ROWS))
        keys: dict[str, None] = {}
        for _, row, _ in sample:
            if row is not None:
                keys.update(dict.fromkeys(row))
        if not sample:
            raise CatalogError(f"{path}: the file is empty; expected one JSON object per line")
        if not keys:
            raise CatalogError(
                f"{path}: no JSON objects in the first {len(sample)} line(s); "
                "expected one JSON object per line"
            )
        plan = plan_columns(keys, mapping, path.name)
        _run(_TableReader(b, plan, path.name, path.stem), itertools.chain(sample, parsed))
    return b.finish()


def _jsonl_rows(
    lines: Iterable[str], name: str
) -> Iterator[tuple[str, Mapping[str, Any] | None, str]]:
    for lineno, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
        where = f"{name}:{lineno}"
        try:
            obj = json.loads(s)
        except ValueError as e:
            yield where, None, f"malformed row: invalid JSON ({e})"
            continue
        except RecursionError:
            yield where, None, "malformed row: JSON nested too deeply to read"
            continue
        if not isinstance(obj, dict):
            yield where, None, f"malformed row: a JSON {type(obj).__name__}, not an object"
            continue
        yield where, obj, ""


def read_records(
    records: Iterable[object],
    *,
    source: str = "api",
    id_prefix: str = "",
    language: str | None = None,
) -> CatalogData:
    """Episode records already parsed from JSON (the write API's bodies), in the catalog's
    field names (:data:`CANONICAL_FIELDS`): the same cleaning, ids and row accounting as a
    JSONL file; a record that is not an object is skipped with its reason."""
    rows = list(records)
    b = CatalogBuilder(source, label=source, id_prefix=id_prefix, language=language)
    keys: dict[str, None] = {}
    for row in rows:
        if isinstance(row, Mapping):
            keys.update(dict.fromkeys(str(k) for k in row))
    plan = plan_columns(keys or CANONICAL_FIELDS, None, source)

    def triples() -> Iterator[tuple[str, Mapping[str, Any] | None, str]]:
        for i, row in enumerate(rows, 1):
            where = f"{source} record {i}"
            if isinstance(row, Mapping):
                yield where, row, ""
            else:
                yield where, None, f"malformed row: a JSON {type(row).__name__}, not an object"

    _run(_TableReader(b, plan, source, source), triples())
    return b.finish()


# -- Parquet ---------------------------------------------------------------------------------


def read_parquet(
    path: str | Path,
    *,
    mapping: Mapping[str, str | None] | None = None,
    id_prefix: str = "",
    language: str | None = None,
) -> CatalogData:
    """Read a Parquet file batch by batch (only the mapped columns are loaded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    b = _builder(path, id_prefix, language)
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise CatalogError(f"{path}: not a readable Parquet file: {e}") from e
    with pf:
        names = list(pf.schema_arrow.names)
        plan = plan_columns(names, mapping, path.name)
        needed = sorted(
            {c.split(".", 1)[0] if c not in names else c for c in plan.columns.values()}
        )
        reader = _TableReader(b, plan, path.name, path.stem)

        def rows() -> Iterator[tuple[str, Mapping[str, Any] | None, str]]:
            n = 0
            try:
                for batch in pf.iter_batches(batch_size=_PARQUET_BATCH, columns=needed):
                    for row, error in _batch_rows(batch):
                        n += 1
                        yield f"{path.name} row {n}", row, error
            except pa.ArrowException as e:
                raise CatalogError(f"{path}: cannot read past row {n}: {e}") from e

        _run(reader, rows())
    return b.finish()
