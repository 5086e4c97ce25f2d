"""podsearch search (one query, or a JSONL file of queries in one process)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from podsearch.cli.common import BackendOpt, IndexOpt, ModelOpt, console, make_filters
from podsearch.cli.settings import open_index
from podsearch.errors import PodsearchError, QueryError
from podsearch.models import SearchResult
from podsearch.search.searcher import check_page

if TYPE_CHECKING:
    from podsearch.engine import Podsearch


def print_result(res: SearchResult) -> None:
    t = Table(
        title=f"{res.mode} search: {res.query!r}",
        caption=" ".join(f"{k}={v:.1f}" for k, v in res.timings_ms.items()),
        show_lines=True,
    )
    t.add_column("#", justify="right")
    t.add_column("score", justify="right")
    t.add_column("episode")
    t.add_column("show")
    t.add_column("lang")
    t.add_column("date")
    for h in res.hits:
        t.add_row(
            str(h.rank),
            f"{h.score:.3f}",
            f"[bold]{h.title}[/]\n[dim]{h.snippet}[/]\n[dim]id {h.episode_id}[/]",
            h.show_title,
            h.language,
            h.pub_date.date().isoformat() if h.pub_date else "",
        )
    console.print(t)
    if not res.hits:
        console.print("no results")


def _batch(ps: Podsearch, path: Path, **kw: Any) -> None:
    """One JSON line out per line in, in order; a bad line answers with an error object.

    A line without an id (or with ``"id": null``) answers with its line number as id.
    """
    if str(path) == "-":
        _batch_lines(ps, sys.stdin, **kw)
        return
    try:
        f = path.open(encoding="utf-8")
    except OSError as e:
        raise QueryError(f"cannot read the queries file {path}: {e.strerror or e}") from e
    with f:
        _batch_lines(ps, f, **kw)


def _parse_line(line: str, n: int) -> tuple[str, str | None, str]:
    """(id, query, error) for line ``n`` of a batch file; query None when the line is bad."""
    try:
        obj = json.loads(line)
    except ValueError:
        obj = None
    if not isinstance(obj, dict):
        return str(n), None, f'line {n}: expected {{"id": ..., "query": ...}}'
    qid = str(n) if obj.get("id") is None else str(obj["id"])
    query = obj.get("query")
    if not isinstance(query, str):
        got = "nothing" if "query" not in obj else json.dumps(query)
        return qid, None, f'line {n}: "query" must be a string, got {got}'
    return qid, query, ""


def _json_line(body: dict[str, Any]) -> str:
    """One JSON line; escaped to ASCII when it holds text that cannot be written as UTF-8 (an
    id with a lone surrogate), so that one line never stops the batch."""
    line = json.dumps(body, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body)
    return line


def _batch_lines(ps: Podsearch, lines: Iterable[str], **kw: Any) -> None:
    batch: list[tuple[str, str | None, str]] = []  # (id, query, error)

    def flush() -> None:
        good = [(i, q) for i, (_, q, _) in enumerate(batch) if q is not None]
        answers: dict[int, SearchResult | str] = {}
        try:
            results = ps.search_batch([q for _, q in good], **kw)
            answers.update(zip([i for i, _ in good], results, strict=True))
        except QueryError:  # one bad query in the batch: answer each on its own
            for i, q in good:
                try:
                    answers[i] = ps.search_batch([q], **kw)[0]
                except PodsearchError as e:
                    answers[i] = str(e)
        for i, (qid, _, error) in enumerate(batch):
            a = answers.get(i, error)
            if isinstance(a, SearchResult):
                body = {"id": qid, **a.to_dict()}
            else:
                body = {"id": qid, "error": a, "hits": []}
            typer.echo(_json_line(body))
        batch.clear()

    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        batch.append(_parse_line(line, n))
        if len(batch) >= 64:
            flush()
    flush()


def _audio(ps: Podsearch, audio: Path, language: str | None, as_json: bool, **kw: Any) -> None:
    """Transcribe the spoken query, show the transcript, then the results."""
    from podsearch.voice import search_audio

    if not as_json:
        console.print(f"[dim]transcribing {audio} ...[/]")
    found = search_audio(ps, audio, language=language, **kw)
    if as_json:
        typer.echo(json.dumps(found.to_dict(), ensure_ascii=False))
        return
    t = found.transcript
    console.print(
        f"[bold]heard:[/] {t.text!r}  [dim]({t.language}, p={t.language_probability:.2f}, "
        f"{t.duration_s:.1f} s of audio in {t.seconds:.1f} s)[/]"
    )
    print_result(found.result)


def register(app: typer.Typer) -> None:
    @app.command()
    def search(
        query: str = typer.Argument(None, help="What to find, in any language."),
        index: Path = IndexOpt,
        k: int = typer.Option(10, "--k", "-k", help="Results per page (1-100)."),
        offset: int = typer.Option(0, "--offset", help="Skip this many results (paging)."),
        mode: str = typer.Option("hybrid", "--mode", help="dense, keyword or hybrid."),
        lang: list[str] = typer.Option(None, "--lang", help="Only these languages (repeatable)."),
        show: list[str] = typer.Option(None, "--show", help="Only these show ids (repeatable)."),
        category: list[str] = typer.Option(None, "--category", help="Only these categories."),
        date_from: str = typer.Option(None, "--from", help="Published on or after YYYY-MM-DD."),
        date_to: str = typer.Option(None, "--to", help="Published on or before YYYY-MM-DD."),
        queries: Path = typer.Option(
            None, "--queries", help='JSONL file of {"id", "query"} lines (- for stdin).'
        ),
        audio: Path = typer.Option(
            None, "--audio", help="Search with a spoken query: WAV, MP3, OGG or WebM file."
        ),
        audio_lang: str = typer.Option(
            None, "--audio-lang", help="Language spoken in --audio (e.g. es); default: detect."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        model: str = ModelOpt,
        backend: str = BackendOpt,
    ) -> None:
        """Search the index in natural language (dense, keyword or hybrid)."""
        check_page(k, offset, mode)  # before opening: a bad option never touches the index
        filters = make_filters(lang, show, category, date_from, date_to)
        kw = {"k": k, "offset": offset, "mode": mode, "filters": filters}
        if queries is None:  # one query: skip loading the whole tokenizer (same ids)
            from podsearch.encode.onnx import prefer_quick_start

            prefer_quick_start()
        with open_index(index, model=model, backend=backend) as ps:
            if queries is not None:
                _batch(ps, queries, **kw)
                return
            if audio is not None:
                if query is not None:
                    raise QueryError("give either a text query or --audio FILE, not both")
                _audio(ps, audio, audio_lang, as_json, **kw)
                return
            if query is None:
                raise QueryError("give a query, --audio FILE, or --queries FILE for a batch")
            res = ps.search(query, **kw)
        if as_json:
            typer.echo(json.dumps(res.to_dict(), ensure_ascii=False))
        else:
            print_result(res)
