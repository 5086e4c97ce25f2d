"""Settings: flag > environment > config file > default, and errors that name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podsearch.config import Settings, load_settings, valid_keys
from podsearch.errors import ConfigError
from tests.cli.test_cli import run

FILE = """
index = "from-file"
model = "fake"
backend = "onnx-int8"
threads = 3

[fusion]
keyword_weight = 0.4
hubness_beta = 0

[server]
host = "0.0.0.0"
port = 9001
api_keys = ["k1", "k2"]
"""


def write(folder: Path, text: str = FILE, name: str = "podsearch.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = load_settings(env={}, cwd=tmp_path)
    assert s == Settings() and s.source is None and s.fusion() is None


def test_the_file_in_the_working_directory(tmp_path: Path) -> None:
    s = load_settings(env={}, cwd=write(tmp_path).parent)
    assert s.source == tmp_path / "podsearch.toml"
    assert (s.index, s.model, s.backend, s.threads) == (Path("from-file"), "fake", "onnx-int8", 3)
    assert (s.host, s.port, s.api_keys) == ("0.0.0.0", 9001, ("k1", "k2"))
    fusion = s.fusion()
    assert fusion is not None and fusion.keyword_weight == 0.4 and fusion.hubness_beta == 0.0
    assert fusion.cross_lingual_keyword_weight == 0.0  # the library default stays


def test_precedence_flag_over_env_over_file_over_default(tmp_path: Path) -> None:
    write(tmp_path)
    env = {"PODSEARCH_INDEX": "from-env", "PODSEARCH_PORT": "9002"}
    s = load_settings(env=env, cwd=tmp_path)
    assert (s.index, s.port, s.host) == (Path("from-env"), 9002, "0.0.0.0")
    s = load_settings(env=env, cwd=tmp_path, index=Path("from-flag"), port=None)
    assert (s.index, s.port) == (Path("from-flag"), 9002)  # a flag not given (None) is ignored
    assert load_settings(env={}, cwd=tmp_path / "..").index == Path("var/index")


def test_config_file_lookup_order(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    write(tmp_path, 'model = "from-cwd"')
    named = write(tmp_path / "a", 'model = "from-env-file"', name="x.toml")
    flag = write(tmp_path / "a", 'model = "from-flag-file"', name="y.toml")
    env = {"PODSEARCH_CONFIG": str(named)}
    assert load_settings(env={}, cwd=tmp_path).model == "from-cwd"
    assert load_settings(env=env, cwd=tmp_path).model == "from-env-file"
    assert load_settings(flag, env=env, cwd=tmp_path).model == "from-flag-file"
    with pytest.raises(ConfigError, match=r"no config file at .*nope.toml \(named by --config\)"):
        load_settings(tmp_path / "nope.toml", env={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"named by \$PODSEARCH_CONFIG"):
        load_settings(env={"PODSEARCH_CONFIG": "/no/such.toml"}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('modle = "x"', "unknown key 'modle'"),
        ("[fusion]\nkeyword_wieght = 1", "unknown key 'fusion.keyword_wieght'"),
        ('[server]\nport = "eighty"', "server.port in .* must be a whole number"),
        ("threads = 0", "threads in .* must be a whole number"),
        ("[fusion]\nhubness_beta = true", "fusion.hubness_beta in .* must be a number"),
        ("[server]\napi_keys = [1]", "server.api_keys in .* must be a list of strings"),
        ("index = [", "is not valid TOML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        load_settings(write(tmp_path, text), env={})
    if "unknown" in message:
        assert "valid keys: index, model, backend" in str(e.value)
        assert all(k in str(e.value) for k in valid_keys())


def test_a_bad_environment_variable_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\$PODSEARCH_PORT must be a whole number"):
        load_settings(env={"PODSEARCH_PORT": "http"}, cwd=tmp_path)


def test_the_cli_reads_file_env_and_flags(  # type: ignore[no-untyped-def]
    tmp_path: Path, tiny_catalog: Path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("PODSEARCH_CONFIG", "PODSEARCH_INDEX", "PODSEARCH_MODEL", "PODSEARCH_BACKEND"):
        monkeypatch.delenv(var, raising=False)
    write(tmp_path, 'index = "ix-file"\nmodel = "fake"')
    assert run(capsys, "ingest", "--catalog", str(tiny_catalog))[0] == 0
    assert run(capsys, "index", "-q")[0] == 0  # model "fake" from the file
    code, out, _ = run(capsys, "stats")
    assert code == 0 and json.loads(out)["index_dir"] == "ix-file"
    assert json.loads(out)["model"].startswith("fake")
    monkeypatch.setenv("PODSEARCH_INDEX", "ix-env")
    code, _, err = run(capsys, "stats")
    assert code == 3 and "no index at ix-env" in err
    code, out, _ = run(capsys, "stats", "--index", "ix-file")
    assert code == 0
    other = write(tmp_path, 'index = "ix-other"', name="other.toml")
    monkeypatch.delenv("PODSEARCH_INDEX")
    code, _, err = run(capsys, "--config", str(other), "stats")
    assert code == 3 and "no index at ix-other" in err
    write(tmp_path, 'index = "ix-file"\nmodle = "fake"')
    code, _, err = run(capsys, "stats")
    assert code == 2 and "unknown key 'modle'" in err and len(err.strip().splitlines()) == 1
