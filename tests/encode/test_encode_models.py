"""The packaged real models through load_encoder (PyTorch backend)."""

from __future__ import annotations

import numpy as np
import pytest
from encode_helpers import assert_ranks_relevant_first, assert_unit_rows

from podsearch.encode import Encoder, load_encoder

pytestmark = pytest.mark.integration

DOCS = [
    "Staying healthy over Christmas: a doctor on holiday dinners.",
    "Baking sourdough bread with a master baker.",
    "Schwarze Löcher: wie Astronomen sie fotografieren.",
]


@pytest.fixture(scope="module", params=["minilm", "me5-small"])
def encoder(request: pytest.FixtureRequest) -> Encoder:
    return load_encoder(request.param, max_seq_length=128, batch_size=2)


def test_shape_dtype_and_unit_norm(encoder: Encoder) -> None:
    assert isinstance(encoder, Encoder)
    assert encoder.dim == 384
    assert_unit_rows(encoder.encode_documents(DOCS), 384, 3)
    assert_unit_rows(encoder.encode_queries(["healthy christmas"]), 384, 1)


def test_empty_input(encoder: Encoder) -> None:
    for out in (encoder.encode_documents([]), encoder.encode_queries([])):
        assert out.shape == (0, 384) and out.dtype == np.float32


def test_relevant_document_ranks_first(encoder: Encoder) -> None:
    assert_ranks_relevant_first(encoder)


def test_batch_size_does_not_change_vectors(encoder: Encoder) -> None:
    one = encoder.encode_documents(DOCS, batch_size=1)
    all_ = encoder.encode_documents(DOCS, batch_size=32)
    np.testing.assert_allclose(one, all_, atol=2e-5)


def test_me5_uses_e5_prefixes_and_minilm_none(encoder: Encoder) -> None:
    q = encoder.encode_queries(["christmas"])
    d = encoder.encode_documents(["christmas"])
    if encoder.name == "me5-small":
        assert (encoder.query_prefix, encoder.passage_prefix) == ("query: ", "passage: ")  # type: ignore[attr-defined]
        assert not np.allclose(q, d, atol=1e-4)
    else:
        np.testing.assert_allclose(q, d, atol=1e-6)
