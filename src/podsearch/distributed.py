"""Distributed encoding for ``build_index``: Ray actors each hold the encoder; this process
streams them the episodes to encode and writes the vectors through the same write path as a
single-process build (one writer, the index's write lock, one generation bump per chunk).

Why Ray actors, not Ray Data ``map_batches``: the episodes come from this process's catalog
and every vector must come back to it (the indexes have one writer), so the job is a stream
the driver feeds and drains in order, with a bounded number of tasks in flight. Ray Data's
strength (reading sharded files on the workers, its own streaming executor) buys nothing for
that, and its executor adds start-up time and a dependency. Each actor loads the model once,
like a ``map_batches`` actor pool would.

Local mode (default): ``ray.init`` starts a private Ray on this machine with ``workers``
actors. Cluster mode: ``address`` (or ``$RAY_ADDRESS``) connects to a running cluster
(``ray start --head`` on one node, ``ray start --address HEAD:6379`` on the others); every
node needs podsearch and the model installed.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from podsearch.encode.batching import length_sorted_steps, step_size
from podsearch.errors import MissingDependencyError, PodsearchError

if TYPE_CHECKING:
    from podsearch.encode.base import Encoder
    from podsearch.models import Episode

Chunk = list[tuple["Episode", str]]
ProgressFn = Callable[[int, int], None]


class DistributedEncoder(Protocol):
    """Encodes a build's chunks somewhere else; yields (chunk, vectors) in input order."""

    def encode_chunks(
        self,
        recipe: Callable[[], Encoder],
        chunks: Iterable[Chunk],
        batch_size: int,
        progress: ProgressFn | None,
        total: int,
    ) -> Iterator[tuple[Chunk, np.ndarray]]: ...


@dataclass(frozen=True)
class EncoderRecipe:
    """How a worker loads the same encoder as this process (picklable)."""

    model: str
    backend: str

    def __call__(self) -> Encoder:
        from podsearch.encode import load_encoder

        return load_encoder(self.model, backend=self.backend)


@dataclass(frozen=True)
class GivenEncoder:
    """An Encoder object shipped to the workers as it is (it must be picklable)."""

    encoder: Encoder

    def __call__(self) -> Encoder:
        return self.encoder


class _Worker:
    """A Ray actor holding one encoder."""

    def __init__(self, recipe: Callable[[], Encoder], threads: int) -> None:
        os.environ["PODSEARCH_THREADS"] = str(threads)  # before the model is loaded
        from podsearch.encode.onnx import prefer_lean_tokenizer

        prefer_lean_tokenizer()  # documents only (same ids, 230 MiB less per worker)
        self.encoder = recipe()

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.encoder.encode_documents(texts, batch_size=batch_size)


@dataclass(frozen=True)
class RayEncoding:
    """Encode with ``workers`` Ray actors of ``cpus_per_worker`` CPUs each.

    ``address``: a Ray cluster (``auto``, ``HOST:6379`` or ``ray://HOST:10001``); None uses
    ``$RAY_ADDRESS`` when set, else starts a local Ray for this build and stops it after.
    At most ``in_flight`` tasks per worker are queued, so memory stays bounded.
    """

    workers: int = 2
    cpus_per_worker: int = 1
    address: str | None = None
    in_flight: int = 2

    def encode_chunks(
        self,
        recipe: Callable[[], Encoder],
        chunks: Iterable[Chunk],
        batch_size: int,
        progress: ProgressFn | None,
        total: int,
    ) -> Iterator[tuple[Chunk, np.ndarray]]:
        ray = _import_ray()
        started = self._connect(ray)
        try:
            actor = ray.remote(num_cpus=self.cpus_per_worker)(_Worker)
            pool = [actor.remote(recipe, self.cpus_per_worker) for _ in range(max(1, self.workers))]
            yield from self._stream(ray, pool, chunks, batch_size, progress, total)
        finally:
            if started:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Connect to the cluster or start a local Ray; True when this call started it."""
        if ray.is_initialized():
            return False
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        common: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        try:
            if address:
                ray.init(address=address, **common)
            else:
                ray.init(
                    num_cpus=max(1, self.workers) * self.cpus_per_worker,
                    include_dashboard=False,
                    object_store_memory=256 * 2**20,
                    runtime_env={"env_vars": {"PYTHONPATH": _local_pythonpath()}},
                    **common,
                )
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise PodsearchError(f"cannot start distributed encoding on {where}: {e}") from e
        return True

    def _stream(
        self,
        ray: Any,
        pool: list[Any],
        chunks: Iterable[Chunk],
        batch_size: int,
        progress: ProgressFn | None,
        total: int,
    ) -> Iterator[tuple[Chunk, np.ndarray]]:
        # One task per encode step of a chunk (the single-process plan), round-robin over
        # the actors; results are taken in submission order, so chunks come back in order.
        pending: deque[tuple[int, np.ndarray, Any]] = deque()  # (chunk no., rows, result)
        open_chunks: dict[int, list[Any]] = {}  # chunk no. -> [chunk, vectors, steps left]
        limit = max(1, self.in_flight) * len(pool)
        done = turn = 0

        def drain_one() -> Iterator[tuple[Chunk, np.ndarray]]:
            nonlocal done
            no, idx, ref = pending.popleft()
            entry = open_chunks[no]
            part = np.asarray(ray.get(ref), dtype=np.float32)
            if entry[1] is None:
                entry[1] = np.zeros((len(entry[0]), part.shape[1]), dtype=np.float32)
            entry[1][idx] = part
            done += len(idx)
            if progress:
                progress(done, total)
            entry[2] -= 1
            if entry[2] == 0:
                del open_chunks[no]
                yield entry[0], entry[1]

        for no, chunk in enumerate(chunks):
            texts = [ep.text for ep, _ in chunk]
            steps = length_sorted_steps(texts, step_size(batch_size))
            open_chunks[no] = [chunk, None, len(steps)]
            for idx in steps:
                while len(pending) >= limit:
                    yield from drain_one()
                ref = pool[turn % len(pool)].encode.remote([texts[i] for i in idx], batch_size)
                turn += 1
                pending.append((no, idx, ref))
        while pending:
            yield from drain_one()


def _local_pythonpath() -> str:
    """$PYTHONPATH with absolute entries, this podsearch's folder first: local workers start
    in another directory and must import the same code as this process."""
    import podsearch

    here = str(Path(podsearch.__file__).resolve().parents[1])
    rest = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys([here, *rest]))


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise MissingDependencyError("ray", "distributed", "Distributed encoding") from e
    return ray
