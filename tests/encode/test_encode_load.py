"""load_encoder: aliases, local directories, errors. No real weights, no network."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from encode_helpers import assert_unit_rows, make_tiny_model

import podsearch.encode as encode
from podsearch.encode import DEFAULT_MODEL, MODEL_ALIASES, FakeEncoder, load_encoder
from podsearch.errors import MissingDependencyError, ModelError


def test_default_model_is_a_known_alias() -> None:
    assert DEFAULT_MODEL == "me5-small"
    assert {"me5-small", "minilm", "fake"} <= set(MODEL_ALIASES)


@pytest.mark.parametrize(("name", "dim"), [("fake", 64), ("fake:16", 16), (" fake:384 ", 384)])
def test_fake_aliases(name: str, dim: int) -> None:
    enc = load_encoder(name)
    assert isinstance(enc, FakeEncoder)
    assert enc.dim == dim
    assert_unit_rows(enc.encode_documents(["a podcast"]), dim, 1)


def test_fake_ignores_the_backend() -> None:
    assert isinstance(load_encoder("fake", backend="onnx-int8"), FakeEncoder)


@pytest.mark.parametrize("name", ["fake:", "fake:x", "fake:0", "fake:1", "fake:99999"])
def test_bad_fake_dims(name: str) -> None:
    with pytest.raises(ModelError, match="fake:DIM"):
        load_encoder(name)


def test_unknown_backend() -> None:
    with pytest.raises(ModelError, match="onnx-int8"):
        load_encoder("fake", backend="tensorrt")


@pytest.mark.parametrize("kwargs", [{"max_seq_length": 0}, {"batch_size": 0}])
def test_bad_sizes(kwargs: dict[str, int]) -> None:
    with pytest.raises(ModelError, match=">= 1"):  # a PodsearchError: one line in the CLI
        load_encoder("fake", **kwargs)


def test_missing_local_path_names_the_path_and_the_aliases(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelError) as info:
        load_encoder(str(missing))
    msg = str(info.value)
    assert "no such directory" in msg and "no-such-model" in msg
    assert "me5-small" in msg and "minilm" in msg and "fake" in msg
    assert info.value.exit_code == 5


def test_a_file_is_not_a_model(tmp_path: Path) -> None:
    f = tmp_path / "model.bin"
    f.write_bytes(b"x")
    with pytest.raises(ModelError, match="not a model directory"):
        load_encoder(str(f))


def test_an_empty_directory_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="local directory"):
        load_encoder(str(tmp_path))


def test_unknown_hub_name_fails_offline_with_what_was_tried() -> None:
    with pytest.raises(ModelError) as info:
        load_encoder("podsearch-test/definitely-not-a-model")
    msg = str(info.value)
    assert "Hugging Face hub name" in msg and "HF_HUB_OFFLINE" in msg
    assert "me5-small" in msg and "minilm" in msg


def test_missing_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object, **kwargs: object) -> object:
        return None if name == "onnxruntime" else real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(MissingDependencyError) as info:
        load_encoder("minilm", backend="onnx-int8")
    assert info.value.package == "onnxruntime" and info.value.extra == "onnx"
    assert "podsearch[onnx]" in str(info.value)


def test_me5_small_prefixes_cannot_be_turned_off() -> None:
    with pytest.raises(ModelError, match="always uses"):
        load_encoder("me5-small", e5_prefixes=False)


@pytest.mark.parametrize(
    ("name", "e5"),
    [
        ("intfloat/multilingual-e5-small", True),
        ("intfloat/e5-base-v2", True),
        ("/models/me5-small", True),
        ("sentence-transformers/all-MiniLM-L6-v2", False),
        ("bge5-small", False),
        ("e50-model", False),
    ],
)
def test_e5_names_are_detected(name: str, e5: bool) -> None:
    assert encode.is_e5_model(name) is e5


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "plain": make_tiny_model(root / "tiny-bert"),
        "e5": make_tiny_model(root / "tiny-e5"),
    }


def test_local_directory_loads_with_sentence_transformers(tiny_models: dict[str, Path]) -> None:
    enc = load_encoder(str(tiny_models["plain"]), max_seq_length=16, batch_size=2)
    assert enc.name == str(tiny_models["plain"].resolve())
    assert enc.dim == 32
    docs = ["how to stay healthy", "sourdough bread", "black hole", ""]
    assert_unit_rows(enc.encode_documents(docs), 32, 4)
    assert enc.encode_queries([]).shape == (0, 32)
    assert enc.query_prefix == "" and enc.passage_prefix == ""  # type: ignore[attr-defined]


def test_e5_named_directory_gets_prefixes(tiny_models: dict[str, Path]) -> None:
    enc = load_encoder(str(tiny_models["e5"]))
    assert (enc.query_prefix, enc.passage_prefix) == ("query: ", "passage: ")  # type: ignore[attr-defined]
    q, d = enc.encode_queries(["christmas"]), enc.encode_documents(["christmas"])
    assert not np.allclose(q, d)  # the prefixes reach the model


def test_prefixes_can_be_forced_off_and_on(tiny_models: dict[str, Path]) -> None:
    off = load_encoder(str(tiny_models["e5"]), e5_prefixes=False)
    on = load_encoder(str(tiny_models["plain"]), e5_prefixes=True)
    assert off.query_prefix == "" and on.query_prefix == "query: "  # type: ignore[attr-defined]
    np.testing.assert_allclose(
        off.encode_queries(["christmas"]), off.encode_documents(["christmas"]), atol=1e-6
    )
