"""podsearch ingest / delete / stats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from podsearch.cli.common import IndexOpt, console, err_console
from podsearch.cli.settings import open_index
from podsearch.errors import CatalogError, IndexStateError
from podsearch.models import IngestReport


def _parse_mapping(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        for pair in item.split(","):
            field, sep, column = pair.partition("=")
            if not sep or not field.strip():
                raise CatalogError(
                    f"cannot read mapping {pair!r}: write FIELD=COLUMN, e.g. --map title=name"
                )
            out[field.strip()] = column.strip()
    return out


def print_ingest_report(report: IngestReport, report_path: Path | None) -> None:
    t = Table(title=f"ingest: {report.source}", show_header=False)
    for label, value in (
        ("rows read", report.read),
        ("imported (new)", report.imported),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("skipped", report.skipped_count),
        ("shows", report.shows),
    ):
        t.add_row(label, str(value))
    console.print(t)
    reasons = report.skipped_by_reason()
    if reasons:
        r = Table(title="skipped rows by reason")
        r.add_column("reason")
        r.add_column("rows", justify="right")
        r.add_column("example")
        for reason, n in reasons.items():
            ex = next(s for s in report.skipped if s.reason.split(":")[0] == reason)
            r.add_row(reason, str(n), f"{ex.where}: {ex.reason}"[:100])
        console.print(r)
    if report.warnings:
        console.print(f"[yellow]{len(report.warnings)} warnings[/], e.g. {report.warnings[0]}")
    if report_path:
        console.print(f"full report (every skipped row and warning): {report_path}")


def register(app: typer.Typer) -> None:
    @app.command()
    def ingest(
        catalog: str = typer.Option(
            ...,
            "--catalog",
            "-c",
            help="A Listen Notes folder (podcasts.csv + episodes.csv), an RSS/Atom feed file, "
            "folder or URL, a JSONL, Parquet, CSV or TSV file.",
        ),
        index: Path = IndexOpt,
        fmt: str = typer.Option(
            None, "--format", help="listennotes, feed, jsonl, parquet or table (default: guess)"
        ),
        mapping: list[str] = typer.Option(
            None, "--map", help="Column mapping FIELD=COLUMN for JSONL/Parquet/CSV (repeatable)."
        ),
        id_prefix: str = typer.Option(
            "", "--id-prefix", help="Prefix for every id, to keep several catalogs apart."
        ),
        language: str = typer.Option(
            None, "--language", help="Language of every episode when the catalog has none."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Read a catalog into the index directory's store (new, changed, skipped rows)."""
        with open_index(index, create=True) as ps:
            report = ps.ingest(
                catalog,
                fmt=fmt,
                mapping=_parse_mapping(mapping),
                id_prefix=id_prefix,
                language=language,
            )
            shown = ps.location.display
            path: Path | None = None  # a server location keeps nothing on local disk: --json
            if ps.location.local_files:
                reports = ps.index_dir / "reports"
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
                written = reports / f"ingest-{stamp}.json"
                try:
                    reports.mkdir(parents=True, exist_ok=True)
                    written.write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False))
                    path = written
                except OSError as e:  # the ingest is committed; only its report file is missing
                    err_console.print(f"[yellow]could not write the ingest report: {e}[/]")
        if as_json:
            typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        else:
            print_ingest_report(report, path)
            err_console.print(f"next: podsearch index --index {shown}")

    @app.command()
    def delete(
        episode_ids: list[str] = typer.Argument(None, help="Episode ids to delete."),
        index: Path = IndexOpt,
        from_file: Path = typer.Option(None, "--from-file", help="A file with one id per line."),
    ) -> None:
        """Delete episodes from the store and both indexes."""
        ids = list(episode_ids or [])
        if from_file:
            ids += [x.strip() for x in from_file.read_text().splitlines() if x.strip()]
        if not ids:
            raise CatalogError("name the episode ids to delete, or --from-file FILE")
        with open_index(index) as ps:
            n = ps.delete(ids)
        console.print(f"deleted {n} of {len(ids)} episodes ({len(ids) - n} were not in the index)")

    @app.command()
    def stats(index: Path = IndexOpt) -> None:
        """Show what an index holds (as JSON)."""
        with open_index(index) as ps:
            info = ps.stats()
        typer.echo(json.dumps(info, indent=1, ensure_ascii=False))
        if info["problems"]:  # printed above too; a script checking the exit code sees it
            raise IndexStateError("; ".join(info["problems"]))
