"""podsearch querygen."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from podsearch.cli.common import IndexOpt, console, progress_bar
from podsearch.cli.settings import open_index
from podsearch.querygen import QuerygenReport


def register(app: typer.Typer) -> None:
    @app.command("querygen")
    def querygen_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Pairs file to write (JSONL)."),
        index: Path = IndexOpt,
        generator: str = typer.Option(
            "smollm2",
            "--generator",
            "-g",
            help="smollm2 (packaged, offline), smollm2-ct2 (the same through CTranslate2, "
            "~14x faster on CPU), a seq2seq doc2query model name or path, causal:PATH, "
            "ct2:PATH, or none (titles / human queries only).",
        ),
        per_episode: int = typer.Option(3, "--per-episode", min=1, max=20),
        sample: int | None = typer.Option(
            None, "--sample", min=1, help="Generate for this many sampled episodes (default all)."
        ),
        titles: bool = typer.Option(
            True, "--titles/--no-titles", help="Add each title as a query for its episode."
        ),
        human: Path | None = typer.Option(
            None, "--human", help="JSONL of human {query, episode_id} pairs to add."
        ),
        filter_k: int = typer.Option(
            30, "--filter-k", min=1, help="Round-trip filter: keep pairs ranked in the top k."
        ),
        no_filter: bool = typer.Option(False, "--no-filter", help="Skip round-trip filtering."),
        id_prefix: str | None = typer.Option(
            None, "--id-prefix", help="Only generate for episodes whose id starts with this."
        ),
        lang: list[str] = typer.Option([], "--lang", help="Only generate for these languages."),
        seed: int = typer.Option(0, "--seed"),
        batch_size: int = typer.Option(8, "--batch-size", min=1, max=256),
        as_json: bool = typer.Option(False, "--json"),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """Generate synthetic (query, episode) pairs from an ingested, indexed catalog.

        Resumable: after an interrupt, run the same command again to continue.
        """
        from podsearch.querygen import load_generator
        from podsearch.querygen.pipeline import generate_for_index

        gen = load_generator(generator, batch_size=batch_size)
        with (
            open_index(index) as ps,
            progress_bar("generating queries", enabled=not quiet and not as_json) as bar,
        ):
            report = generate_for_index(
                ps,
                out,
                generator=gen,
                per_episode=per_episode,
                sample=sample,
                titles=titles,
                human=human,
                filter_k=None if no_filter else filter_k,
                id_prefix=id_prefix,
                languages=tuple(lang),
                seed=seed,
                batch_size=batch_size * 4,
                progress=lambda phase, done, total: bar(done, total),
            )
        if as_json:
            typer.echo(json.dumps(report.to_dict()))
            return
        print_report(report)


def print_report(r: QuerygenReport) -> None:
    console.print(
        f"wrote {r.pairs} pairs to {r.out}"
        + (" (resumed)" if r.resumed else "")
        + f": generated {r.raw} raw queries for {r.episodes_generated} episodes "
        f"({r.episodes_per_second:.2f} episodes/s), {r.cleaned} left after cleaning "
        f"(dropped {r.dropped}), {r.roundtrip_dropped} dropped by the round-trip filter; "
        f"{r.title_pairs} title pairs ({r.title_dropped} dropped), {r.human_pairs} human pairs; "
        f"{r.no_text} episodes had too little text to generate from"
    )
