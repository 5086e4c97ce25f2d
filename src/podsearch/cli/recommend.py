"""podsearch similar / recommend: "more like this" and listener recommendations."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from podsearch.cli.common import (
    CategoryOpt,
    FromOpt,
    IndexOpt,
    LangOpt,
    ShowOpt,
    ToOpt,
    console,
    make_filters,
)
from podsearch.cli.search import print_result
from podsearch.cli.settings import open_index
from podsearch.recommend import STRATEGIES, read_history


def register(app: typer.Typer) -> None:
    @app.command()
    def similar(
        episode_id: str = typer.Argument(..., help="The episode to find more like."),
        index: Path = IndexOpt,
        k: int = typer.Option(10, "--k", "-k", help="Results per page (1-100)."),
        offset: int = typer.Option(0, "--offset", help="Skip this many results (paging)."),
        exclude_show: bool = typer.Option(
            False, "--exclude-show", help="Leave out the episode's own show."
        ),
        per_show: int = typer.Option(None, "--per-show", help="At most this many per show."),
        lang: list[str] = LangOpt,
        show: list[str] = ShowOpt,
        category: list[str] = CategoryOpt,
        date_from: str = FromOpt,
        date_to: str = ToOpt,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Episodes most like EPISODE_ID (nearest stored vectors; no model is loaded)."""
        filters = make_filters(lang, show, category, date_from, date_to)
        with open_index(index) as ps:
            src = ps.episode(episode_id)
            res = ps.similar(
                episode_id, k=k, offset=offset, exclude_same_show=exclude_show,
                per_show=per_show, filters=filters,
            )  # fmt: skip
        if as_json:
            body = {
                **res.to_dict(),
                "source": {
                    "episode_id": src.episode_id,
                    "title": src.title,
                    "show_title": src.show_title,
                },
            }
            typer.echo(json.dumps(body, ensure_ascii=False))
            return
        console.print(f"more like [bold]{src.title}[/] ({src.show_title or src.show_id})")
        print_result(res)

    @app.command()
    def recommend(
        history: Path = typer.Option(
            ...,
            "--history",
            help="Listening history: JSONL or CSV of episode_id[,weight,timestamp,skipped], "
            "a JSON list, or one id per line.",
        ),
        index: Path = IndexOpt,
        strategy: str = typer.Option(
            "multi-interest", "--strategy", help=f"{' or '.join(STRATEGIES)}."
        ),
        k: int = typer.Option(10, "--k", "-k", help="Results per page (1-100)."),
        offset: int = typer.Option(0, "--offset", help="Skip this many results (paging)."),
        half_life: float = typer.Option(
            30.0, "--half-life", help="Days after which a listen counts half (0: no decay)."
        ),
        max_interests: int = typer.Option(5, "--max-interests", help="Most interests (1-20)."),
        per_show: int = typer.Option(None, "--per-show", help="At most this many per show."),
        lang: list[str] = LangOpt,
        show: list[str] = ShowOpt,
        category: list[str] = CategoryOpt,
        date_from: str = FromOpt,
        date_to: str = ToOpt,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Recommend unheard episodes from a listening history."""
        items = read_history(history)
        filters = make_filters(lang, show, category, date_from, date_to)
        with open_index(index) as ps:
            recs = ps.recommend(
                items, k=k, offset=offset, strategy=strategy,
                half_life_days=half_life or None, max_interests=max_interests,
                per_show=per_show, filters=filters,
            )  # fmt: skip
        if as_json:
            typer.echo(json.dumps(recs.to_dict(), ensure_ascii=False))
            return
        if recs.unknown_ids:
            console.print(
                f"[yellow]ignored {len(recs.unknown_ids)} unknown ids:[/] "
                + ", ".join(recs.unknown_ids[:10])
                + (" ..." if len(recs.unknown_ids) > 10 else "")
            )
        sizes = ", ".join(str(len(it.members)) for it in recs.interests)
        console.print(f"{recs.strategy}: {len(recs.interests)} interest(s) of {sizes} episodes")
        print_result(recs.result)
