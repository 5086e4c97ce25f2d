"""How a build splits documents into encode calls: longest first, so that texts of similar
length share a batch and padding does not burn the CPU (the encoder then pads each batch to
its own longest text). The single-process and the distributed builds both use this plan, so
they hand the encoder the same groups of texts and get the same vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Texts per encode call: large enough that sorting by length pays, small enough that the
# progress bar moves every few seconds and a distributed task stays a small message.
MIN_STEP = 256


def step_size(batch_size: int) -> int:
    """Texts per encode call for a given batch size."""
    return max(batch_size * 8, MIN_STEP)


def length_sorted_steps(texts: Sequence[str], step: int) -> list[np.ndarray]:
    """Indexes into ``texts``, longest text first (ties keep their order), cut into groups of
    at most ``step``."""
    if not texts:
        return []
    order = np.argsort([-len(t) for t in texts], kind="stable")
    return [order[s : s + step] for s in range(0, len(order), step)]
