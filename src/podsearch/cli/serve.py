"""podsearch serve / demo."""

from __future__ import annotations

from pathlib import Path

import typer

from podsearch.cli.common import BackendOpt, IndexOpt, ModelOpt, console, err_console, progress_bar
from podsearch.cli.search import print_result


def _serve(index: Path, model: str | None, host: str, port: int, backend: str = "onnx") -> None:
    import uvicorn

    from podsearch.api import create_app_from_dir

    app = create_app_from_dir(index, model=model, backend=backend)
    err_console.print("loading the model and indexes…")
    app.state.engine.warm_up()
    console.print(f"podsearch web page: http://{host}:{port}/  (OpenAPI schema: /openapi.json)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        index: Path = IndexOpt,
        model: str = ModelOpt,
        backend: str = BackendOpt,
        host: str = typer.Option("127.0.0.1", "--host"),
        port: int = typer.Option(8000, "--port"),
    ) -> None:
        """Serve the HTTP API and the web page."""
        _serve(index, model, host, port, backend)

    @app.command()
    def demo(
        index: Path = typer.Option(Path("var/demo-index"), "--index", "-i"),
        model: str = ModelOpt,
        serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the web page after."),
        host: str = typer.Option("127.0.0.1", "--host"),
        port: int = typer.Option(8000, "--port"),
    ) -> None:
        """Index the bundled demo catalog, run example searches, and serve the web page."""
        from podsearch.catalog.demo import DEMO_CATALOG, DEMO_QUERIES
        from podsearch.cli.catalog import print_ingest_report
        from podsearch.engine import Podsearch

        with Podsearch(index, model=model) as ps:
            print_ingest_report(ps.ingest(DEMO_CATALOG), None)
            with progress_bar("encoding episodes") as bar:
                r = ps.build_index(progress=bar)
            console.print(f"{r.total_indexed} episodes indexed with {r.model}")
            for q in DEMO_QUERIES:
                print_result(ps.search(q, k=3))
        if serve:
            err_console.print(f"open http://{host}:{port}/?q=eat+better+during+xmas+holidays")
            _serve(index, model, host, port)
        else:
            console.print(f"serve it with: podsearch serve --index {index}")
