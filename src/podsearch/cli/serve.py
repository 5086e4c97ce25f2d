"""podsearch serve / demo."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

import typer

from podsearch.cli.common import BackendOpt, IndexOpt, ModelOpt, console, err_console, progress_bar
from podsearch.cli.search import print_result
from podsearch.cli.settings import open_with, settings
from podsearch.config import Settings

SETTINGS_ENV = "PODSEARCH_SERVE_SETTINGS"  # the settings, as JSON, for worker processes


def _serve(s: Settings) -> None:
    import uvicorn

    if s.workers > 1:
        # Each worker process opens the index and loads the model itself (``app_factory``);
        # writes by one are seen by the others through the index generation.
        open_with(s).close()  # a wrong --index fails here, once, before any worker starts
        os.environ[SETTINGS_ENV] = _settings_json(s)
        console.print(
            f"podsearch web page: http://{s.host}:{s.port}/  (OpenAPI schema: /openapi.json; "
            f"{s.workers} worker processes)"
        )
        uvicorn.run(
            "podsearch.cli.serve:app_factory",
            factory=True,
            host=s.host,
            port=s.port,
            workers=s.workers,
            log_level="warning",
            timeout_graceful_shutdown=s.shutdown_timeout,
            timeout_keep_alive=s.keep_alive,
        )
        return
    app = _app(s)
    console.print(f"podsearch web page: http://{s.host}:{s.port}/  (OpenAPI schema: /openapi.json)")
    uvicorn.run(
        app,
        host=s.host,
        port=s.port,
        log_level="warning",
        timeout_graceful_shutdown=s.shutdown_timeout,
        timeout_keep_alive=s.keep_alive,
    )


def _app(s: Settings) -> Any:
    from podsearch.api import create_app

    engine = open_with(s)  # before importing the server: a wrong --index fails at once
    app = create_app(engine, close_engine=True, allowed_hosts=s.server_hosts(), settings=s)
    _log_access()
    app.state.settings = s  # the API keys, for the write API
    err_console.print("loading the model and indexes…")
    app.state.engine.warm_up()
    return app


def _settings_json(s: Settings) -> str:
    values = {f.name: getattr(s, f.name) for f in fields(s) if f.name != "source"}
    return json.dumps(values, default=lambda v: list(v) if isinstance(v, tuple) else str(v))


def app_factory() -> Any:
    """The app of one worker process (``podsearch serve --workers N``)."""
    from podsearch.config import load_settings

    flags = json.loads(os.environ[SETTINGS_ENV])
    s = load_settings(None, env={}, **flags)
    s.export_environment()
    return _app(s)


def _log_access() -> None:
    """Access log lines (JSON, one per request) and server errors to stderr."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name, level in (("podsearch.access", logging.INFO), ("podsearch", logging.WARNING)):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(level)
            logger.propagate = False


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        index: Path = IndexOpt,
        model: str = ModelOpt,
        backend: str = BackendOpt,
        host: str = typer.Option(None, "--host", help="Default: $PODSEARCH_HOST, else 127.0.0.1."),
        port: int = typer.Option(None, "--port", help="Default: $PODSEARCH_PORT, else 8000."),
        workers: int = typer.Option(
            None, "--workers", help="Server processes. Default: $PODSEARCH_WORKERS, else 1."
        ),
    ) -> None:
        """Serve the HTTP API and the web page."""
        _serve(
            settings(
                index=index, model=model, backend=backend, host=host, port=port, workers=workers
            )
        )

    @app.command()
    def demo(
        index: Path = typer.Option(Path("var/demo-index"), "--index", "-i"),
        model: str = ModelOpt,
        serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the web page after."),
        host: str = typer.Option(None, "--host", help="Default: $PODSEARCH_HOST, else 127.0.0.1."),
        port: int = typer.Option(None, "--port", help="Default: $PODSEARCH_PORT, else 8000."),
    ) -> None:
        """Index the bundled demo catalog, run example searches, and serve the web page."""
        from podsearch.catalog.demo import DEMO_CATALOG, DEMO_QUERIES
        from podsearch.cli.catalog import print_ingest_report

        s = settings(index=index, model=model, host=host, port=port)
        with open_with(s, create=True) as ps:
            print_ingest_report(ps.ingest(DEMO_CATALOG), None)
            with progress_bar("encoding episodes", unit="episodes") as bar:
                r = ps.build_index(progress=bar)
            console.print(f"{r.total_indexed} episodes indexed with {r.model}")
            for q in DEMO_QUERIES:
                print_result(ps.search(q, k=3))
        if serve:
            err_console.print(f"open http://{s.host}:{s.port}/?q=eat+better+during+xmas+holidays")
            _serve(s)
        else:
            console.print(f"serve it with: podsearch serve --index {index}")
