"""podsearch eval."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from podsearch.cli.common import IndexOpt, console, err_console
from podsearch.cli.settings import open_index
from podsearch.errors import QueryError


def parse_queries(specs: list[str]) -> list[tuple[str, str, str | None, str]]:
    """FILE[:CORPUS[:ID_PREFIX]] -> (set name, path, corpus, prefix).

    CORPUS ``*`` keeps every line; ID_PREFIX may map corpora to prefixes
    (``listennotes=ln:,taddy=taddy:``) for an index that holds several catalogs."""
    out = []
    for spec in specs:
        path, _, rest = spec.partition(":")
        corpus, _, prefix = rest.partition(":")
        corpus = "" if corpus == "*" else corpus
        if not Path(path).is_file():
            raise QueryError(f"No query file at {path}")
        name = f"curated queries ({Path(path).stem}{', ' + corpus if corpus else ''})"
        out.append((name, path, corpus or None, prefix))
    return out


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        index: Path = IndexOpt,
        out: Path = typer.Option(Path("var/report"), "--out", "-o", help="Report folder."),
        model: Path | None = typer.Option(
            None, "--model", "-m", help="Fine-tuned model directory (podsearch train)."
        ),
        tuned_index: Path | None = typer.Option(
            None,
            "--tuned-index",
            help="Index built with --model (default: INDEX-tuned; built if missing).",
        ),
        splits: Path | None = typer.Option(
            None, "--splits", help="Folder with test.jsonl (default: MODEL/splits)."
        ),
        queries: list[str] = typer.Option(
            [], "--queries", "-q", help="Curated queries: FILE[:CORPUS[:ID_PREFIX]] (repeatable)."
        ),
        recommend: bool = typer.Option(
            False, "--recommend", help="Evaluate recommendations on INDEX instead."
        ),
        id_prefix: str = typer.Option(
            "", "--id-prefix", help="--recommend: only episodes whose id starts with this."
        ),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Evaluate search (base vs fine-tuned vs BM25 vs hybrid) or recommendations."""
        if recommend:
            from podsearch.recommend.evaluate import evaluate_recommendations

            with open_index(index) as ps:
                recs = evaluate_recommendations(ps, id_prefix=id_prefix)
            out.mkdir(parents=True, exist_ok=True)
            (out / "recommend.md").write_text(recs.to_markdown(), "utf-8")
            (out / "recommend.json").write_text(json.dumps(recs.to_dict(), indent=2), "utf-8")
            typer.echo(json.dumps(recs.to_dict()) if as_json else recs.to_markdown())
            return
        if model is None:
            raise QueryError("podsearch eval needs --model (a fine-tuned model) or --recommend")
        from podsearch.train.pipeline import CARD_JSON, evaluate_adaptation
        from podsearch.train.pipeline import tuned_index as build

        card_path = model / CARD_JSON
        card = json.loads(card_path.read_text("utf-8")) if card_path.is_file() else None
        with open_index(index) as base:
            target = tuned_index or base.index_dir.with_name(base.index_dir.name + "-tuned")
            err_console.print(f"tuned index: {target} (encoding episodes if needed)")
            tuned = build(base, target, model)
            try:
                rep = evaluate_adaptation(
                    base, tuned, splits or model / "splits", out,
                    curated=parse_queries(queries), card=card, log=err_console.print,
                )  # fmt: skip
            finally:
                tuned.close()
        typer.echo(json.dumps(rep.to_dict()) if as_json else rep.to_markdown())
        if not as_json:
            console.print(f"report: {out / 'report.html'}")
