"""A command-line search starts fast: it imports only what a search needs, and the caches that
make the second start fast (optimised ONNX graph, unpacked language model) change no result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from podsearch.cli import main

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ("torch", "transformers", "sentence_transformers", "fastapi", "starlette", "pandas",
         "pyarrow", "sklearn", "scipy", "uvicorn")  # fmt: skip
# Runs the real entry point, then writes the heavy packages it imported (at exit).
PROBE = """
import atexit, json, sys
heavy = {heavy!r}
def report():
    seen = sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))
    with open({out!r}, "w") as f:
        json.dump(seen, f)
atexit.register(report)
from podsearch.cli import main
main(sys.argv[1:])
"""


def search(tmp_path: Path, *args: str) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
    out = tmp_path / "modules.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    code = PROBE.format(heavy=HEAVY, out=str(out))
    res = subprocess.run(
        [sys.executable, "-c", code, "search", *args, "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout), json.loads(out.read_text())


@pytest.fixture
def onnx_index(tmp_path: Path, tiny_catalog: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "encode"))
    from encode_helpers import make_tiny_model

    monkeypatch.setenv("PODSEARCH_CACHE", str(tmp_path / "cache"))
    model = make_tiny_model(tmp_path / "tiny-e5")
    ix = tmp_path / "ix"
    for args in (
        ["ingest", "--catalog", str(tiny_catalog), "--index", str(ix)],
        ["index", "--index", str(ix), "--model", str(model), "--backend", "onnx", "-q"],
    ):
        try:
            main(args)
        except SystemExit as e:
            assert not e.code, args
    return ix


def test_search_imports_no_heavy_library_and_caches_change_no_result(
    onnx_index: Path, tmp_path: Path
) -> None:
    models = tmp_path / "cache" / "models"
    for d in [*models.glob("*/optimized-*"), models / "py3langid"]:  # start cold
        shutil.rmtree(d, ignore_errors=True)
    args = ["christmas health advice", "--index", str(onnx_index), "--k", "5"]
    cold, imported = search(tmp_path, *args)
    assert imported == []
    assert list(models.glob("*/optimized-*/weights.bin")) and (models / "py3langid").is_dir()
    warm, imported = search(tmp_path, *args)  # from the caches made by the first run
    assert imported == []
    assert cold["hits"] and len(cold["hits"]) == len(warm["hits"])
    for a, b in zip(cold["hits"], warm["hits"], strict=True):
        assert (a["episode_id"], a["score"]) == (b["episode_id"], b["score"])
    for mode in ("dense", "keyword"):
        _, imported = search(tmp_path, *args, "--mode", mode)
        assert imported == []
