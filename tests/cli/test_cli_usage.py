"""What a newcomer meets first: usage errors, wrong paths, mistyped models, a light --help.

Each case runs in-process (typer's runner or the real entry point) and as a subprocess of
``python -m podsearch.cli``, the way a shell runs ``podsearch``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from podsearch import __version__
from podsearch.cli import app
from tests.cli.test_cli import run

SRC = Path(__file__).resolve().parents[2] / "src"
USAGE_ERRORS = [
    (["serch", "x"], "No such command 'serch'"),
    (["search", "x", "--indx", "demo"], "No such option: --indx"),
    (["search", "x", "--k", "abc"], "Invalid value for '--k'"),
]


def podsearch(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    """``podsearch ARGS`` in a fresh interpreter, with this checkout's sources first."""
    full = {**os.environ, **(env or {})}
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), full.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "podsearch.cli", *args],
        capture_output=True, text=True, env=full, cwd=cwd, timeout=120,
    )  # fmt: skip


# -- usage errors ----------------------------------------------------------------------


def test_version() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"podsearch {__version__}"
    proc = podsearch("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"podsearch {__version__}"


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
def test_usage_errors_in_process(args: list[str], message: str, capsys) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and message in res.output
    code, _, err = run(capsys, *args)
    assert code == 2 and "Traceback" not in err
    assert err.startswith("Usage: podsearch") and f"Error: {message}" in err


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
def test_usage_errors_in_a_shell(args: list[str], message: str, tmp_path: Path) -> None:
    proc = podsearch(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and len(lines) <= 4
    assert lines[0].startswith("Usage: podsearch") and lines[-1].startswith(f"Error: {message}")
    assert not (tmp_path / "var").exists()


# -- a wrong --index creates nothing ---------------------------------------------------

MISSING_INDEX_COMMANDS = [
    ["search", "health"],
    ["search", "health", "--mode", "keyword"],
    ["stats"],
    ["serve"],
    ["index", "--model", "fake"],
    ["delete", "e1"],
    ["similar", "e1"],
    ["map"],
]


@pytest.mark.parametrize("args", MISSING_INDEX_COMMANDS, ids=lambda a: " ".join(a))
def test_a_missing_index_is_an_error_and_stays_missing(  # type: ignore[no-untyped-def]
    args: list[str], tmp_path: Path, capsys
) -> None:
    missing = tmp_path / "dmeo"
    code, out, err = run(capsys, *args, "--index", str(missing))
    assert code == 3 and err.startswith(f"error: no index at {missing}: create one with ")
    assert f"podsearch ingest --index {missing}" in err and len(err.strip().splitlines()) == 1
    assert not missing.exists()


def test_a_folder_without_an_index_gets_no_catalog(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "stats", "--index", str(tmp_path))
    assert code == 3 and "no index at" in err
    assert list(tmp_path.iterdir()) == []


def test_a_rejected_option_opens_no_index(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    proc = podsearch("search", "x", "--mode", "hybird", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown mode 'hybird'" in proc.stderr
    proc = podsearch("search", "x", "--backend", "tpu", cwd=tmp_path)
    assert proc.returncode == 5 and "Unknown encoder backend 'tpu'" in proc.stderr
    proc = podsearch("search", "health", "--index", str(tmp_path / "dmeo"), cwd=tmp_path)
    assert proc.returncode == 3 and "no index at" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no ./var/index/catalog.sqlite, no dmeo/


def test_ingest_still_creates_the_index(tmp_path: Path, tiny_catalog: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ix = tmp_path / "new" / "ix"
    code, out, _ = run(capsys, "ingest", "--catalog", str(tiny_catalog), "--index", str(ix))
    assert code == 0 and (ix / "catalog.sqlite").is_file()
    code, out, _ = run(capsys, "stats", "--index", str(ix))
    assert code == 0 and '"episodes": 8' in out


def test_the_python_api_and_the_server_open_existing_indexes_only(tmp_path: Path) -> None:
    from podsearch import Podsearch
    from podsearch.api import create_app_from_dir
    from podsearch.errors import IndexNotFoundError, NotFoundError

    with pytest.raises(IndexNotFoundError, match="no index at"):
        Podsearch(tmp_path / "nope", create=False)
    with pytest.raises(NotFoundError):
        create_app_from_dir(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()
    Podsearch(tmp_path / "made").close()  # the Python API creates by default
    Podsearch(tmp_path / "made", create=False).close()


# -- a mistyped model fails fast -------------------------------------------------------


@pytest.fixture
def fake_index(tmp_path: Path, tiny_catalog: Path, capsys) -> Path:  # type: ignore[no-untyped-def]
    ix = tmp_path / "ix"
    assert run(capsys, "ingest", "--catalog", str(tiny_catalog), "--index", str(ix))[0] == 0
    assert run(capsys, "index", "--index", str(ix), "--model", "fake", "-q")[0] == 0
    return ix


@pytest.mark.parametrize(
    ("model", "env", "message"),
    [
        ("me5-smal", {}, "unknown model 'me5-smal': did you mean me5-small? (known: me5-small"),
        ("someone/not-a-model", {"HF_HUB_OFFLINE": "1"}, "HF_HUB_OFFLINE is set"),
        # Online, but the hub cannot be reached: one line after one short connect, no retries.
        ("someone/not-a-model", {"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "",
                                 "HF_ENDPOINT": "http://127.0.0.1:9"}, "hub is unreachable"),
    ],
)  # fmt: skip
def test_a_bad_model_name_fails_at_once(  # type: ignore[no-untyped-def]
    model: str, env: dict[str, str], message: str, fake_index: Path
) -> None:
    for cmd in (["search", "bread", "--mode", "dense"], ["index"]):
        t = time.perf_counter()
        proc = podsearch(*cmd, "--index", str(fake_index), "--model", model, env=env)
        seconds = time.perf_counter() - t
        assert proc.returncode == 5, proc.stderr
        assert proc.stderr.startswith(f"error: {message}" if "did" in message else "error: ")
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert seconds < 10


# -- a light start -----------------------------------------------------------------------

HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "fastapi", "matplotlib",
         "pandas", "plotly", "umap", "sklearn", "onnxruntime", "datasets")  # fmt: skip


def _imported(args: list[str]) -> set[str]:
    """Heavy top-level modules imported by running ``podsearch ARGS`` in a fresh process."""
    script = (
        "import sys\nfrom podsearch.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return set(proc.stderr.strip().splitlines()[-1].split()) if proc.stderr.strip() else set()


def test_help_stats_and_keyword_search_import_no_heavy_library(fake_index: Path) -> None:
    assert _imported(["--help"]) == set()
    assert _imported(["stats", "--index", str(fake_index)]) == set()
    kw = ["search", "bread", "--mode", "keyword", "--index", str(fake_index)]
    assert _imported(kw) == set()
    # hybrid search with the fake encoder needs faiss, but never torch
    hybrid = _imported(["search", "bread", "--index", str(fake_index)])
    assert hybrid == {"faiss"}
