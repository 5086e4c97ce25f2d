"""podsearch index."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from podsearch.cli.common import BackendOpt, IndexOpt, ModelOpt, console, progress_bar
from podsearch.cli.settings import open_index


def register(app: typer.Typer) -> None:
    @app.command("index")
    def index_cmd(
        index: Path = IndexOpt,
        model: str = ModelOpt,
        backend: str = BackendOpt,
        rebuild: bool = typer.Option(False, "--rebuild", help="Re-encode every episode."),
        batch_size: int = typer.Option(32, "--batch-size", min=1, max=1024),
        as_json: bool = typer.Option(False, "--json"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
        distributed: bool = typer.Option(
            False,
            "--distributed",
            help="Encode on Ray workers (the 'distributed' extra); this process still writes "
            "the index. A local Ray unless --ray-address or $RAY_ADDRESS names a cluster.",
        ),
        workers: int = typer.Option(2, "--workers", min=1, help="Ray encoder workers."),
        cpus_per_worker: int = typer.Option(
            1, "--cpus-per-worker", min=1, help="CPUs (encoder threads) per Ray worker."
        ),
        ray_address: str | None = typer.Option(
            None,
            "--ray-address",
            help="A running Ray cluster (auto, HOST:6379, ray://HOST:10001; default "
            "$RAY_ADDRESS with --distributed); implies --distributed.",
        ),
    ) -> None:
        """Encode new and changed episodes and update the vector and keyword indexes."""
        from podsearch.encode.onnx import prefer_lean_tokenizer

        prefer_lean_tokenizer()  # documents only: the full tokenizer's 280 MiB is not needed
        remote = None
        if distributed or ray_address:
            from podsearch.distributed import RayEncoding

            remote = RayEncoding(
                workers=workers, cpus_per_worker=cpus_per_worker, address=ray_address or None
            )
        with open_index(index, model=model, backend=backend) as ps:
            ps.encoder()  # load (or reject) the model before the progress bar starts
            show = not quiet and not as_json
            with progress_bar("encoding episodes", enabled=show, unit="episodes") as bar:
                report = ps.build_index(
                    rebuild=rebuild, batch_size=batch_size, progress=bar, distributed=remote
                )
        if as_json:
            typer.echo(json.dumps(report.to_dict()))
            return
        console.print(
            f"indexed {report.encoded} new or changed episodes "
            f"({report.episodes_per_second:.1f}/s), removed {report.deleted}; "
            f"{report.total_indexed} in the index, model {report.model}"
            + (" (full rebuild)" if report.rebuilt else "")
        )

    @app.command()
    def migrate(
        source: str = typer.Option(
            ..., "--from", help="The index to copy: a directory (or any index location)."
        ),
        destination: str = typer.Option(
            ..., "--to", help="Where to: postgresql://..., milvus-lite:///abs.db, milvus://..."
        ),
        batch: int = typer.Option(2048, "--batch", min=1, max=100_000),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Move an index to another backend without re-encoding (catalog, vectors, keyword
        index rebuilt from the texts, hub scores); a re-run copies only what is missing."""
        from podsearch.migrate import migrate_index

        report = migrate_index(source, destination, batch=batch)
        if as_json:
            typer.echo(json.dumps(report.to_dict()))
            return
        console.print(
            f"episodes: {report.episodes_read} read = {report.imported} imported + "
            f"{report.updated} updated + {report.unchanged} unchanged + {report.skipped} "
            f"skipped; vectors: {report.vectors_read} read = {report.vectors_copied} copied + "
            f"{report.vectors_present} already there + {report.vectors_stale} stale "
            f"(left for podsearch index); model {report.model}; {report.seconds:.1f} s"
        )
