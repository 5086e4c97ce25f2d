"""podsearch map: the catalog's meaning as an interactive HTML map and a PNG."""

from __future__ import annotations

from pathlib import Path

import typer

from podsearch.cli.common import IndexOpt, console
from podsearch.cli.settings import open_index
from podsearch.viz import build_map, render_html, render_png


def register(app: typer.Typer) -> None:
    @app.command(name="map")
    def map_(
        index: Path = IndexOpt,
        out: Path = typer.Option(Path("map.html"), "--out", "-o", help="HTML file to write."),
        png: Path = typer.Option(None, "--png", help="Also write this PNG."),
        color: str = typer.Option("category", "--color", help="category, language or show."),
        query: list[str] = typer.Option(
            None, "--query", "-q", help="Place this query on the map (repeatable)."
        ),
        method: str = typer.Option("pca", "--method", help="pca or umap."),
        dims: int = typer.Option(2, "--dims", help="2 or 3."),
        limit: int = typer.Option(3000, "--limit", help="Most episodes drawn (sampled)."),
        seed: int = typer.Option(0, "--seed", help="Sampling and projection seed."),
        id_prefix: str = typer.Option(
            "", "--id-prefix", help="Only episodes whose id starts with this (one catalog)."
        ),
    ) -> None:
        """Draw episodes (and queries) by meaning: PCA or UMAP of their vectors."""
        with open_index(index) as ps:
            data = build_map(
                ps, queries=query or (), color_by=color, method=method, dims=dims,
                limit=limit, seed=seed, id_prefix=id_prefix,
            )  # fmt: skip
        render_html(data.coords, out, color=data.color, hover=data.hover, text=data.text,
                    title=data.title)  # fmt: skip
        console.print(f"wrote {out} ({data.title})")
        if png is not None:
            render_png(data.coords, png, color=data.color, text=data.text, title=data.title)
            console.print(f"wrote {png}")
