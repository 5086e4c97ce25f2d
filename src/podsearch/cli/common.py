"""Options and helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from podsearch.search.filters import make_filters

__all__ = ["make_filters"]  # the commands read --lang/--show/--category/--from/--to with it

console = Console()
err_console = Console(stderr=True)

DEFAULT_INDEX = Path("var/index")

IndexOpt = typer.Option(
    None,
    "--index",
    "-i",
    help=f"Index directory, or a server URL such as postgresql://user:pass@host/db (default: "
    f"$PODSEARCH_INDEX, the config file, else {DEFAULT_INDEX}).",
)
ModelOpt = typer.Option(
    None,
    "--model",
    "-m",
    help="Encoder: me5-small (default), minilm, a Hugging Face name or a local model path.",
)

BackendOpt = typer.Option(
    None,
    "--backend",
    help="Encoder runtime: onnx (default; fp32, same vectors as torch), onnx-int8 (faster, "
    "~1 point of recall lower) or torch.",
)


LangOpt = typer.Option(
    None, "--lang", help="Only these languages: codes or names (en, English; repeatable)."
)
ShowOpt = typer.Option(
    None,
    "--show",
    help="Only these shows: an id or an exact title (repeatable; podsearch stats lists shows).",
)
CategoryOpt = typer.Option(None, "--category", help="Only these categories (repeatable).")
FromOpt = typer.Option(None, "--from", help="Published on or after YYYY-MM-DD.")
ToOpt = typer.Option(None, "--to", help="Published on or before YYYY-MM-DD.")


@contextmanager
def progress_bar(description: str, enabled: bool = True, unit: str = "") -> Iterator[callable]:  # type: ignore[valid-type]
    """Yields a ``progress(done, total)`` callback drawing a bar on stderr: done/total, rate
    (``unit``/s) and the time remaining."""
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
            per_s = f"{unit}/s" if unit else "/s"
            rate = f"{done / elapsed:.1f} {per_s}" if elapsed > 0 and done else ""
            p.update(task, completed=done, total=total, rate=rate)

        yield update
