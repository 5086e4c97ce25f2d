"""The fake encoder: the deterministic stand-in every other unit test relies on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from encode_helpers import assert_unit_rows

from podsearch.encode import Encoder, FakeEncoder
from podsearch.encode import fake as fake_module

DOCS = [
    "Staying healthy over Christmas: a doctor on holiday dinners.",
    "Baking sourdough bread with a baker.",
    "Schwarze Löcher und Astronomie.",
]


def test_shape_dtype_and_unit_norm() -> None:
    enc = FakeEncoder()
    assert enc.dim == 64 and enc.name == "fake"
    assert_unit_rows(enc.encode_documents(DOCS), 64, 3)
    assert_unit_rows(enc.encode_queries(["healthy christmas"]), 64, 1)


def test_other_dims_are_named_by_dim() -> None:
    enc = FakeEncoder(dim=16)
    assert enc.name == "fake:16"
    assert_unit_rows(enc.encode_documents(DOCS), 16, 3)


def test_satisfies_encoder_protocol() -> None:
    assert isinstance(FakeEncoder(), Encoder)


def test_deterministic_across_instances() -> None:
    a = FakeEncoder().encode_documents(DOCS)
    fake_module._projection.cache_clear()
    b = FakeEncoder().encode_documents(DOCS)
    np.testing.assert_array_equal(a, b)


def test_same_vectors_in_another_process() -> None:
    # No salted hash(): a fresh interpreter with another hash seed gives the same vectors.
    code = (
        "from podsearch.encode.fake import FakeEncoder;"
        "print(FakeEncoder(dim=8).encode_queries(['healthy christmas'])[0].tolist())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    here = FakeEncoder(dim=8).encode_queries(["healthy christmas"])[0]
    np.testing.assert_allclose(np.array(json.loads(out)), here, atol=1e-6)


def test_case_and_punctuation_do_not_matter() -> None:
    enc = FakeEncoder()
    a, b = enc.encode_documents(["Healthy, Christmas!", "healthy christmas"])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_empty_input_gives_zero_rows() -> None:
    enc = FakeEncoder()
    for out in (enc.encode_documents([]), enc.encode_queries([])):
        assert out.shape == (0, 64) and out.dtype == np.float32


def test_empty_and_punctuation_only_texts_still_get_unit_vectors() -> None:
    assert_unit_rows(FakeEncoder().encode_documents(["", "?!", "   "]), 64, 3)


def test_shared_words_mean_higher_cosine() -> None:
    enc = FakeEncoder()
    q = enc.encode_queries(["healthy christmas dinner"])[0]
    d = enc.encode_documents(DOCS)
    scores = d @ q
    assert scores[0] == scores.max()
    assert scores[0] > 0.3
    assert abs(scores[2]) < scores[0]


def test_more_overlap_is_closer() -> None:
    enc = FakeEncoder()
    base, two, one, none = enc.encode_documents(
        [
            "marathon running training plan",
            "marathon running tips",
            "marathon history",
            "sourdough starter recipe",
        ]
    )
    assert base @ two > base @ one > base @ none


def test_queries_and_documents_share_one_space() -> None:
    enc = FakeEncoder()
    text = ["Marathon training basics"]
    np.testing.assert_allclose(enc.encode_queries(text), enc.encode_documents(text), atol=1e-6)


@pytest.mark.parametrize("bad", [0, 1, -3, 2.5, True, "64"])
def test_bad_dim_is_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="dim"):
        FakeEncoder(dim=bad)  # type: ignore[arg-type]


def test_a_bare_string_is_rejected() -> None:
    with pytest.raises(TypeError, match="not a single str"):
        FakeEncoder().encode_documents("one text")


def test_non_string_items_are_rejected() -> None:
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        FakeEncoder().encode_documents(["ok", None])  # type: ignore[list-item]


def test_accepts_any_sequence_and_batch_size() -> None:
    enc = FakeEncoder()
    out = enc.encode_documents(tuple(DOCS), batch_size=1, show_progress=True)
    np.testing.assert_array_equal(out, enc.encode_documents(DOCS))
