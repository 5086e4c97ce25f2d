"""The ``podsearch`` command line: thin commands over podsearch.Podsearch."""

from __future__ import annotations

import errno
import logging
import os
import sys
from pathlib import Path

import typer

from podsearch.cli import adapt as _adapt
from podsearch.cli import catalog as _catalog
from podsearch.cli import eval as _eval
from podsearch.cli import index as _index
from podsearch.cli import map as _map
from podsearch.cli import querygen as _querygen
from podsearch.cli import recommend as _recommend
from podsearch.cli import search as _search
from podsearch.cli import serve as _serve
from podsearch.cli import train as _train
from podsearch.cli.settings import use_config
from podsearch.errors import PodsearchError, StorageError

# The disk refused a write (full, read-only, quota, failing): one line, not a traceback.
_DISK_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EIO}

app = typer.Typer(
    name="podsearch",
    help="Natural-language, multilingual search for podcast catalogs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_MODULES = (_catalog, _index, _querygen, _train, _eval, _adapt, _search, _serve, _recommend, _map)
for module in _MODULES:
    module.register(app)


def _print_version(value: bool) -> None:
    if value:
        from podsearch import __version__

        typer.echo(f"podsearch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    config: Path = typer.Option(
        None,
        "--config",
        help="Settings file (default: $PODSEARCH_CONFIG, else ./podsearch.toml if present).",
    ),
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_print_version, help="Print the version."
    ),
) -> None:
    """Natural-language, multilingual search for podcast catalogs."""
    use_config(config)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: domain errors become one readable line and an exit code."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(args=argv, prog_name="podsearch", standalone_mode=False)
    except PodsearchError as e:
        typer.secho(f"error: {e}", fg="red", err=True)
        sys.exit(e.exit_code)
    except OSError as e:
        if e.errno not in _DISK_ERRNOS:
            raise
        where = f" ({e.filename})" if e.filename else ""
        typer.secho(f"error: {e.strerror or e}{where}", fg="red", err=True)
        sys.exit(StorageError.exit_code)
    except KeyboardInterrupt:
        typer.secho("interrupted", fg="yellow", err=True)
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as e:  # typer's own (vendored) click: usage errors exit 2
        show = getattr(e, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"Error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
