"""Options and helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from podsearch.errors import QueryError
from podsearch.models import Filters

console = Console()
err_console = Console(stderr=True)

DEFAULT_INDEX = Path("var/index")

IndexOpt = typer.Option(
    None,
    "--index",
    "-i",
    help=f"Index directory (default: $PODSEARCH_INDEX, the config file, else {DEFAULT_INDEX}).",
)
ModelOpt = typer.Option(
    None,
    "--model",
    "-m",
    help="Encoder: me5-small (default), minilm, a Hugging Face name or a local model path.",
)

BackendOpt = typer.Option(
    None, "--backend", help="Encoder runtime: torch (default), or onnx-int8 (faster on CPU)."
)


def parse_date(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError as e:
        raise QueryError(f"cannot read date {value!r}: use YYYY-MM-DD") from e
    if len(value) <= 10 and end:
        d = d.replace(hour=23, minute=59, second=59)
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def make_filters(
    lang: list[str] | None,
    show: list[str] | None,
    category: list[str] | None,
    date_from: str | None,
    date_to: str | None,
) -> Filters:
    return Filters(
        languages=tuple(x.strip().lower() for x in lang or () if x.strip()),
        show_ids=tuple(show or ()),
        categories=tuple(category or ()),
        date_from=parse_date(date_from),
        date_to=parse_date(date_to, end=True),
    )


@contextmanager
def progress_bar(description: str, enabled: bool = True) -> Iterator[callable]:  # type: ignore[valid-type]
    """Yields a ``progress(done, total)`` callback drawing a bar on stderr."""
    if not enabled:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as p:
        task = p.add_task(description, total=None, rate="")

        def update(done: int, total: int) -> None:
            elapsed = p.tasks[0].elapsed or 0.0
            rate = f"{done / elapsed:.1f}/s" if elapsed > 0 and done else ""
            p.update(task, completed=done, total=total, rate=rate)

        yield update
