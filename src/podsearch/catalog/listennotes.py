"""The Listen Notes layout: ``podcasts.csv`` + ``episodes.csv`` in one folder.

``podcasts.csv``: id,title,image,description,language,categories,website,author,itunes_id
``episodes.csv``: id,podcast_id,title,audio,audio_length,description,pub_date

Episodes are inner-joined on ``episodes.podcast_id = podcasts.id``; an episode whose show is
missing is skipped as an orphan. Languages are names ("English") and become ISO 639-1 codes;
categories are ``|``-separated; ``audio_length`` is in seconds.
"""

from __future__ import annotations

from pathlib import Path

from podsearch.catalog.base import CatalogData
from podsearch.catalog.builder import CatalogBuilder, RawEpisode
from podsearch.catalog.files import CsvFile
from podsearch.errors import CatalogError

PODCASTS_FILE = "podcasts.csv"
EPISODES_FILE = "episodes.csv"
PODCAST_COLUMNS = (
    "id",
    "title",
    "image",
    "description",
    "language",
    "categories",
    "website",
    "author",
    "itunes_id",
)
EPISODE_COLUMNS = ("id", "podcast_id", "title", "audio", "audio_length", "description", "pub_date")
_REQUIRED_PODCAST = ("id", "title")
_REQUIRED_EPISODE = ("id", "podcast_id", "title")


def is_listennotes_dir(path: Path) -> bool:
    return (path / PODCASTS_FILE).is_file() and (path / EPISODES_FILE).is_file()


def read_listennotes(
    directory: str | Path, *, id_prefix: str = "", language: str | None = None
) -> CatalogData:
    """Read a Listen Notes folder (``podcasts.csv`` + ``episodes.csv``)."""
    directory = Path(directory)
    missing = [f for f in (PODCASTS_FILE, EPISODES_FILE) if not (directory / f).is_file()]
    if missing:
        raise CatalogError(
            f"{directory}: missing {' and '.join(missing)}; a Listen Notes catalog is a folder "
            f"holding {PODCASTS_FILE} ({','.join(PODCAST_COLUMNS)}) and {EPISODES_FILE} "
            f"({','.join(EPISODE_COLUMNS)})"
        )
    b = CatalogBuilder(str(directory), label=directory.name, id_prefix=id_prefix, language=language)
    rejected = _read_podcasts(directory / PODCASTS_FILE, b)
    _read_episodes(directory / EPISODES_FILE, b, rejected)
    return b.finish()


def _columns(csv_file: CsvFile, required: tuple[str, ...], expected: tuple[str, ...]) -> dict:
    index: dict[str, int] = {}
    for i, name in enumerate(csv_file.header):
        index.setdefault(name.lower(), i)
    lacking = [c for c in required if c not in index]
    if lacking:
        raise CatalogError(
            f"{csv_file.path}: missing required column(s) {', '.join(lacking)}; "
            f"found: {', '.join(csv_file.header) or '(none)'}; expected: {','.join(expected)}"
        )
    return index


def _read_podcasts(path: Path, b: CatalogBuilder) -> dict[str, str]:
    """Register the shows; return {show id: why it was rejected} for rows that were not used."""
    rejected: dict[str, str] = {}
    with CsvFile(path, b.warn) as f:
        col = _columns(f, _REQUIRED_PODCAST, PODCAST_COLUMNS)
        absent = [c for c in PODCAST_COLUMNS if c not in col]
        if absent:
            b.warn(f"{path.name} has no column(s) {', '.join(absent)}; those fields stay empty")

        for row in f.rows():
            where = f"{path.name}:{row.line}"
            if row.error:
                show_id = row.fields[0].strip() if row.fields else ""
                b.warn(f"{where}: show not read: {row.error}")
                if show_id:
                    rejected.setdefault(show_id, f"its row {where} is malformed")
                continue

            def get(name: str, fields: list[str] = row.fields) -> str:
                i = col.get(name)
                return fields[i] if i is not None else ""

            show_id = get("id").strip()
            if not show_id:
                b.warn(f"{where}: show not read: missing id")
                continue
            if b.show(show_id) is not None:
                b.warn(f"{where}: duplicate show id {show_id!r}; the first one is kept")
                continue
            b.add_show(
                show_id,
                get("title"),
                where=where,
                description=get("description"),
                language=get("language"),
                categories=get("categories"),
                author=get("author"),
                website=get("website"),
                image=get("image"),
            )
    return rejected


def _read_episodes(path: Path, b: CatalogBuilder, rejected: dict[str, str]) -> None:
    with CsvFile(path, b.warn) as f:
        col = _columns(f, _REQUIRED_EPISODE, EPISODE_COLUMNS)
        absent = [c for c in EPISODE_COLUMNS if c not in col]
        if absent:
            b.warn(f"{path.name} has no column(s) {', '.join(absent)}; those fields stay empty")
        for row in f.rows():
            where = f"{path.name}:{row.line}"
            if row.error:
                b.skip(where, row.error, row.fields[0] if row.fields else "")
                continue

            def get(name: str, fields: list[str] = row.fields) -> str:
                i = col.get(name)
                return fields[i] if i is not None else ""

            show_id = get("podcast_id").strip()
            show = b.show(show_id)
            if show is None:
                episode_id = get("id").strip()
                if not show_id:
                    b.skip(where, "orphan episode: no podcast_id", episode_id)
                elif show_id in rejected:
                    b.skip(
                        where,
                        f"orphan episode: show {show_id} was not read ({rejected[show_id]})",
                        episode_id,
                    )
                else:
                    b.skip(
                        where, f"orphan episode: show {show_id} not in {PODCASTS_FILE}", episode_id
                    )
                continue
            b.add_episode(
                RawEpisode(
                    where=where,
                    episode_id=get("id"),
                    title=get("title"),
                    description=get("description"),
                    show_id=show_id,
                    pub_date=get("pub_date"),
                    audio_url=get("audio"),
                    duration=get("audio_length"),
                    id_from_audio=True,
                ),
                show,
            )
