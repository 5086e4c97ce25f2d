"""The Python API: one object per index location, used by the CLI, the HTTP API and users.

An index location is a directory (embedded, the default) or a server URL
(``postgresql://...``); ``index/backends.py`` opens its backends. Layout of a directory::

    catalog.sqlite   shows, episodes, what is indexed, which model built the vectors
    vectors/         the vector index (CURRENT -> gen-NNNNNN/, swapped atomically)
    keyword/         the tantivy keyword index (atomic commits)

With ``postgresql://``, the catalog, vectors and keywords live in that database and nothing on
local disk; with a Milvus URL, vectors (and keywords) live on the server and ``catalog.sqlite``
in ``catalog_dir``.
"""

from __future__ import annotations

import errno
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from podsearch.encode import DEFAULT_BACKEND
from podsearch.encode.base import Encoder
from podsearch.encode.batching import length_sorted_steps, step_size
from podsearch.errors import (
    DamagedIndexError,
    IndexNotFoundError,
    IndexStateError,
    NotFoundError,
    PodsearchError,
    StorageError,
)
from podsearch.index.backends import open_location
from podsearch.index.base import CatalogStore, KeywordDoc, KeywordIndex, VectorIndex
from podsearch.models import DocPayload, Episode, Filters, IngestReport, SearchResult
from podsearch.search.filters import resolve_filters
from podsearch.search.hubness import hub_scores
from podsearch.search.searcher import FusionSettings, Searcher

if TYPE_CHECKING:
    from podsearch.catalog.base import CatalogData
    from podsearch.distributed import DistributedEncoder
    from podsearch.recommend import HistoryItem, Recommendations, Recommender

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]

TOP_SHOWS = 20  # shows listed by stats() and /api/facets
PUBLIC_KEYWORD_DAMAGED = (
    "the keyword index is damaged: keyword and hybrid searches may miss episodes until the "
    "operator rebuilds it"
)
HUB_PROBES = 2000  # query-like probes (episode titles) for hubness scores
# Reads check the index generation at most this often (seconds): the documented bound on how
# late a server sees another process's committed write is this plus one index reload.
REFRESH_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class IndexReport:
    """What one ``build_index`` run did."""

    encoded: int
    deleted: int
    total_indexed: int
    model: str
    rebuilt: bool
    encode_seconds: float
    seconds: float
    vector_index_seconds: float = 0.0  # FAISS add + save
    keyword_index_seconds: float = 0.0  # tantivy add + commit

    @property
    def episodes_per_second(self) -> float:
        return self.encoded / self.encode_seconds if self.encode_seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoded": self.encoded,
            "deleted": self.deleted,
            "total_indexed": self.total_indexed,
            "model": self.model,
            "rebuilt": self.rebuilt,
            "encode_seconds": round(self.encode_seconds, 3),
            "vector_index_seconds": round(self.vector_index_seconds, 3),
            "keyword_index_seconds": round(self.keyword_index_seconds, 3),
            "seconds": round(self.seconds, 3),
            "episodes_per_second": round(self.episodes_per_second, 2),
        }


class Podsearch:
    """A searchable podcast catalog stored at ``index_dir``: a directory or a server URL
    (``postgresql://user:pass@host/db``; then the SQLite catalog lives in ``catalog_dir``).

    ``model`` is an alias (``me5-small``, ``minilm``), a Hugging Face name or a local path;
    ``None`` means the model the index was built with, else the default (``me5-small``).
    Pass ``encoder`` to use an Encoder object directly (tests use the fake one).
    ``backend``: ``onnx`` (default: ONNX Runtime, fp32, the same vectors as PyTorch),
    ``onnx-int8`` (faster, ~1 point of recall lower) or ``torch``; all put vectors in the same
    space, so an index built with one is searched with another.
    ``create=False`` opens an existing index only: IndexNotFoundError when the index holds no
    catalog yet, and nothing is written (the CLI passes it everywhere but ``ingest``).
    ``refresh_interval``: reads check the index generation at most this often (seconds), so
    a write committed by another process is seen at most this plus one index reload later.
    """

    def __init__(
        self,
        index_dir: str | Path,
        *,
        model: str | None = None,
        encoder: Encoder | None = None,
        backend: str = DEFAULT_BACKEND,
        fusion: FusionSettings | None = None,
        commit_every: int = 2048,
        catalog_dir: str | Path | None = None,
        create: bool = True,
        refresh_interval: float = REFRESH_INTERVAL,
        vector_index: str | None = None,
    ) -> None:
        self.location = open_location(index_dir, catalog_dir=catalog_dir, vector_index=vector_index)
        self.index_dir = self.location.local_dir
        if self.index_dir.exists() and not self.index_dir.is_dir():
            raise IndexStateError(
                f"{self.location.display} is a file, not an index directory: give a directory"
            )
        if not create and not self.location.has_catalog():
            check = getattr(self.location, "check", None)
            if check is not None:  # a server: say first when it cannot be reached at all
                check()
            shown = self.location.display
            raise IndexNotFoundError(
                f"no index at {shown}: create one with "
                f"podsearch ingest --index {shown} --catalog CATALOG"
            )
        try:  # a local location makes its directory here
            self.store: CatalogStore = self.location.open_catalog()
        except OSError as e:
            raise StorageError(f"cannot create the index directory {self.index_dir}: {e}") from e
        self._encoder = encoder
        self._model_arg = model
        self._backend = backend
        self._encoder_given = encoder is not None  # an Encoder object: its backend is unknown
        self._backend_checked = False
        self._vectors: VectorIndex | None = None
        self._keywords: KeywordIndex | None = None
        self._model_resolved: str | None = None
        # Builds, ingests and deletes take the writer lock for their whole run; the component
        # lock only guards lazy creation, so searches never wait for an encoding build.
        self._write_lock = threading.RLock()
        self._write_depth = 0
        self._lock = threading.RLock()
        self._commit_every = commit_every
        self.refresh_interval = refresh_interval
        self._seen_generation = self.store.generation()
        self._checked_at = time.monotonic()
        self.searcher = Searcher(
            encoder=self.encoder,
            vectors=self._vector_index_for_search,
            keywords=self.keyword_index,
            lookup=self.store.get_many,
            hub_scores=self.store.hub_scores,
            show_images=self.store.show_images,
            fusion=fusion,
            languages=lambda: list(self.store.facet_counts("language")),
            generation=lambda: self._seen_generation,
        )

    # -- components (lazy: loading a model takes seconds) ---------------------------------
    @property
    def model_name(self) -> str:
        """The model this handle encodes with."""
        if self._encoder is not None:
            return self._encoder.name
        if self._model_arg:
            if self._model_resolved is None:  # "./dir" is recorded as /abs/dir, "fake:64" as fake
                from podsearch.encode import encoder_name

                self._model_resolved = encoder_name(self._model_arg)
            return self._model_resolved
        from podsearch.encode import DEFAULT_MODEL

        return self.store.get_meta("model") or DEFAULT_MODEL

    @property
    def indexed_model(self) -> str | None:
        """The model the stored vectors were built with (None before the first build)."""
        return self.store.get_meta("model")

    def encoder(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                from podsearch.encode import load_encoder

                self._encoder = load_encoder(self.model_name, backend=self._backend)
            return self._encoder

    def vector_index(self, dim: int | None = None) -> VectorIndex:
        with self._lock:
            if self._vectors is None:
                d = dim or int(self.store.get_meta("dim") or 0) or self.encoder().dim
                self._vectors = self.location.open_vectors(d)
            return self._vectors

    def _vector_index_for_search(self) -> VectorIndex:
        built = self.indexed_model
        if built is None:
            raise IndexStateError(
                f"the index at {self.location.display} has no vectors yet: run "
                f"podsearch index --index {self.location.display}"
            )
        if built != self.model_name:
            raise IndexStateError(
                f"the index was built with model {built!r} but this search uses "
                f"{self.model_name!r}: search with --model {built} or rebuild with "
                f"podsearch index --model {self.model_name}"
            )
        self._check_backend()
        return self.vector_index()

    def _encoder_recipe(self, enc: Encoder) -> Callable[[], Encoder]:
        """How a distributed worker gets this handle's encoder: loaded by name and backend,
        or (an Encoder object given to this handle) the object itself, pickled."""
        from podsearch.distributed import EncoderRecipe, GivenEncoder

        if self._encoder_given:
            return GivenEncoder(enc)
        return EncoderRecipe(self.model_name, self._backend)

    def _record_backend(self, rebuilt: bool) -> None:
        """Remember which encoder backends produced the stored vectors (comma-separated)."""
        if self._encoder_given:
            return
        old = "" if rebuilt else (self.store.get_meta("backend") or "")
        used = sorted({*filter(None, old.split(",")), self._backend})
        self.store.set_meta("backend", ",".join(used))

    def _check_backend(self) -> None:
        """One warning when queries are encoded with another backend than the index was."""
        if self._backend_checked or self._encoder_given:
            return
        self._backend_checked = True
        built = self.store.get_meta("backend")
        if built and self._backend not in built.split(","):
            log.warning(
                "the index at %s was encoded with the %s encoder backend and this search "
                "uses %s: both put texts in the same vector space (cosine ~0.99 between "
                "them), so scores and rankings can differ slightly; use --backend %s for "
                "identical results, or podsearch index --rebuild --backend %s",
                self.index_dir, built, self._backend, built.split(",")[0], self._backend,
            )  # fmt: skip

    def keyword_index(self) -> KeywordIndex:
        """The keyword index; DamagedIndexError when it is unreadable or holds fewer
        documents than the catalog says are indexed (a keyword search would silently miss
        them): ``build_index`` rebuilds it."""
        with self._lock:
            if self._keywords is None:
                kw = self.location.open_keywords()
                problem = self._keyword_shortfall(kw)
                if problem:
                    kw.close()
                    raise DamagedIndexError(problem)
                self._keywords = kw
            return self._keywords

    def _keyword_shortfall(self, kw: KeywordIndex) -> str:
        """Why ``kw`` cannot be trusted ('' when it can): every episode marked indexed has a
        document (a build commits the keyword index before marking episodes indexed)."""
        indexed, held = self.store.count_indexed(), len(kw)
        if held >= indexed:
            return ""
        return (
            f"the keyword index of {self.location.display} holds {held} documents but "
            f"{indexed} episodes are indexed (it was damaged or replaced): rebuild it with "
            f"podsearch index --index {self.location.display} (the vectors are kept)"
        )

    def _repair_keywords(self) -> int:
        """Re-create a damaged keyword index from the catalog (no encoding); returns how
        many episodes it re-added. Called by ``build_index``."""
        with self._lock:
            try:
                kw = self.location.open_keywords()
            except DamagedIndexError:
                discard = getattr(self.location, "discard_keywords", None)
                if discard is None:
                    raise
                log.warning("discarding the damaged keyword index of %s", self.location.display)
                discard()
                kw = self.location.open_keywords()
            if not self._keyword_shortfall(kw):
                self._keywords = kw
                return 0
            kw.reset()
            batch: list[KeywordDoc] = []
            n = 0
            for ep in self.store.iter_episodes():
                batch.append(KeywordDoc(ep.episode_id, ep.title, ep.text, DocPayload.of(ep)))
                if len(batch) >= self._commit_every:
                    kw.upsert(batch)
                    n, batch = n + len(batch), []
            kw.upsert(batch)
            kw.commit()
            self._keywords = kw
            return n + len(batch)

    def warm_up(self) -> None:
        """Load the model and open the indexes now, so the first query is not the slow one."""
        self.keyword_index()
        if self.indexed_model is not None:
            self._vector_index_for_search()
            self.searcher.encode_queries(["warm up"])

    # -- catalog ------------------------------------------------------------------------
    def ingest(
        self,
        source: str | Path,
        *,
        fmt: str | None = None,
        mapping: Mapping[str, str] | None = None,
        id_prefix: str = "",
        language: str | None = None,
    ) -> IngestReport:
        """Read a catalog (Listen Notes folder, feed file/URL/folder, JSONL, Parquet, CSV/TSV)
        into the store. New and changed episodes are indexed by the next ``build_index``."""
        from podsearch.catalog import read_catalog

        data = read_catalog(
            source, fmt=fmt, mapping=mapping, id_prefix=id_prefix, language=language
        )
        return self._ingest_data(data)

    def ingest_records(
        self, records: Iterable[object], *, source: str = "api", language: str | None = None
    ) -> IngestReport:
        """Upsert episode records (dicts in the catalog's field names, as the write API
        receives them) with the same cleaning and row accounting as ``ingest``."""
        from podsearch.catalog.tabular import read_records

        return self._ingest_data(read_records(records, source=source, language=language))

    def ingest_data(self, data: CatalogData) -> IngestReport:
        """Upsert a catalog already read (``read_catalog``, or a feed fetched elsewhere, as
        ``POST /api/ingest`` does) with the same row accounting as ``ingest``."""
        return self._ingest_data(data)

    def _ingest_data(self, data: CatalogData) -> IngestReport:
        with self._writing(), self.location.transaction():
            report = self.store.ingest(data)
            self._bump()
        if not report.balanced:  # a bug, never an input problem: fail loudly
            raise RuntimeError(f"ingest counts do not add up: {report.to_dict()}")
        return report

    def episode(self, episode_id: str) -> Episode:
        self.refresh()
        ep = self.store.get(episode_id)
        if ep is None:
            raise NotFoundError(f"no episode with id {episode_id!r}")
        return ep

    def delete(self, episode_ids: Sequence[str]) -> int:
        """Delete episodes from the store and both indexes; returns how many existed."""
        with self._writing(), self.location.transaction():
            found = self.store.delete(list(episode_ids))
            self._apply_tombstones()
            self._bump()
        return len(found)

    def _apply_tombstones(self) -> int:
        dead = self.store.tombstones()
        if not dead:
            return 0
        if self.indexed_model is not None:
            vi = self.vector_index()
            vi.delete(dead)
            vi.commit()
        kw = self.keyword_index()
        kw.delete(dead)
        kw.commit()
        self.store.clear_tombstones(dead)
        return len(dead)

    # -- indexing -----------------------------------------------------------------------
    def build_index(
        self,
        *,
        rebuild: bool = False,
        batch_size: int = 32,
        progress: ProgressFn | None = None,
        distributed: DistributedEncoder | None = None,
    ) -> IndexReport:
        """Encode new and changed episodes and add them to both indexes.

        Work is read, encoded and committed in chunks, so memory stays flat and an interrupted
        build resumes where it stopped. A different model than the one the vectors were built
        with triggers a full re-encode. ``distributed`` (e.g. ``podsearch.distributed.
        RayEncoding``) encodes the chunks elsewhere; this process still writes them.
        """
        t_start = time.perf_counter()
        with self._writing():
            enc = self.encoder()
            built = self.indexed_model
            rebuilt = rebuild or (built is not None and built != enc.name)
            if rebuilt:
                self._reset_vectors(enc.dim)
            deleted = self._apply_tombstones()
            if deleted:
                self._bump()
            total = self.store.count_dirty()
            vi = self.vector_index(enc.dim)
            if self._keywords is None and self._repair_keywords():
                log.warning("rebuilt the keyword index of %s", self.location.display)
            kw = self.keyword_index()
            self.store.set_meta("model", enc.name)
            self.store.set_meta("dim", str(enc.dim))
            if total or rebuilt:
                self._record_backend(rebuilt)
            probes, refresh_all = self._hub_probes(enc, rebuilt)
            encode_s = vector_s = keyword_s = 0.0
            done = 0
            if progress:
                progress(0, total)
            # Streamed: one commit chunk of episodes is read, encoded and written at a time,
            # so memory does not grow with the catalog.
            chunks = self.store.iter_dirty(self._commit_every)
            if distributed is None:
                encoded = _encode_chunks(enc, chunks, batch_size, progress, total)
            else:
                encoded = distributed.encode_chunks(
                    self._encoder_recipe(enc), chunks, batch_size, progress, total
                )
            while True:
                t0 = time.perf_counter()
                item = next(encoded, None)
                encode_s += time.perf_counter() - t0
                if item is None:
                    break
                chunk, vecs = item
                eps = [ep for ep, _ in chunk]
                ids = [ep.episode_id for ep in eps]
                payloads = [DocPayload.of(ep) for ep in eps]
                hubs = hub_scores(vecs, probes).tolist()
                # One transaction on PostgreSQL (catalog, vectors and keywords in one
                # database); elsewhere each write commits on its own, in this order.
                with self.location.transaction():
                    t1 = time.perf_counter()
                    vi.upsert(ids, vecs, payloads)
                    vi.commit()
                    t2 = time.perf_counter()
                    kw.upsert(
                        [
                            KeywordDoc(ep.episode_id, ep.title, ep.text, p)
                            for ep, p in zip(eps, payloads, strict=True)
                        ]
                    )
                    kw.commit()
                    vector_s += t2 - t1
                    keyword_s += time.perf_counter() - t2
                    self.store.set_hub_scores(zip(ids, hubs, strict=True))
                    self.store.mark_indexed([(ep.episode_id, h) for ep, h in chunk])
                    self._bump()  # readers elsewhere now load this chunk from both indexes
                done += len(chunk)
            if refresh_all:
                self._refresh_hub_scores(vi, probes)
            if rebuilt or refresh_all or not done:
                self._bump()
            self.searcher.cache = type(self.searcher.cache)(self.searcher.cache.size)
            self.searcher.reset_classifier()
            return IndexReport(
                encoded=done,
                deleted=deleted,
                total_indexed=len(vi),
                model=enc.name,
                rebuilt=rebuilt,
                encode_seconds=encode_s,
                seconds=time.perf_counter() - t_start,
                vector_index_seconds=vector_s,
                keyword_index_seconds=keyword_s,
            )

    def _hub_probes(self, enc: Encoder, rebuilt: bool) -> tuple[np.ndarray, bool]:
        """The probe vectors for hubness scores, made anew for a new model or when the catalog
        has doubled since they were sampled. Returns (probes, whether to re-score everyone)."""
        stored = self.store.load_hub_probes()
        made_at = int(self.store.get_meta("hub_probes_at") or 0)
        n = self.store.count()
        stale = (
            rebuilt
            or stored is None
            or self.store.get_meta("hub_probes_model") != enc.name
            or (n >= 2 * made_at and made_at < HUB_PROBES)
        )
        if stored is not None and not stale:
            return stored, False
        probes = enc.encode_queries(self.store.sample_titles(HUB_PROBES))
        self.store.save_hub_probes(probes)
        self.store.set_meta("hub_probes_model", enc.name)
        self.store.set_meta("hub_probes_at", str(n))
        return probes, True

    def _refresh_hub_scores(self, vi: VectorIndex, probes: np.ndarray) -> None:
        for ids, vecs in vi.iter_vectors(4096):
            self.store.set_hub_scores(zip(ids, hub_scores(vecs, probes).tolist(), strict=True))

    def _reset_vectors(self, dim: int) -> None:
        with self._lock:
            if self._vectors is not None:
                self._vectors.reset(dim)
            else:  # fresh: what is stored may hold another dimension
                self._vectors = self.location.open_vectors(dim, fresh=True)
        self.store.mark_all_unindexed()
        self.store.clear_hub_scores()
        self.store.set_meta("dim", "0")

    # -- search -------------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        k: int = 10,
        offset: int = 0,
        mode: str = "hybrid",
        filters: Filters | None = None,
        facets: bool = False,
    ) -> SearchResult:
        """Search in natural language (any language). Raises QueryError for bad input.

        ``facets``: also count languages, categories and shows over the query's matching set,
        and report its size (``SearchResult.facets``, ``total``; see ``search/facets.py``)."""
        self.refresh()
        filters = self.check_filters(filters)
        return self.searcher.search_batch(
            [query], k=k, offset=offset, mode=mode, filters=filters, facets=facets
        )[0]

    def search_batch(
        self,
        queries: Sequence[str],
        *,
        k: int = 10,
        offset: int = 0,
        mode: str = "hybrid",
        filters: Filters | None = None,
    ) -> list[SearchResult]:
        """Search many queries at once (query encoding is batched)."""
        self.refresh()
        filters = self.check_filters(filters)
        return self.searcher.search_batch(queries, k=k, offset=offset, mode=mode, filters=filters)

    # -- recommend ----------------------------------------------------------------------
    def similar(
        self,
        episode_id: str,
        *,
        k: int = 10,
        offset: int = 0,
        exclude_same_show: bool = False,
        per_show: int | None = None,
        filters: Filters | None = None,
    ) -> SearchResult:
        """Episodes nearest to ``episode_id``'s stored vector ("more like this"), itself
        excluded; optionally not from its show, at most ``per_show`` per show. No model is
        loaded. NotFoundError for an unknown id."""
        self.refresh()
        filters = self.check_filters(filters)
        return self._recommender().similar(
            episode_id, k=k, offset=offset, exclude_same_show=exclude_same_show,
            per_show=per_show, filters=filters,
        )  # fmt: skip

    def recommend(
        self,
        history: Iterable[HistoryItem | str | Mapping[str, Any]],
        *,
        k: int = 10,
        offset: int = 0,
        strategy: str = "multi-interest",
        half_life_days: float | None = 30.0,
        now: datetime | None = None,
        skip_penalty: float = 0.5,
        max_interests: int = 5,
        per_show: int | None = None,
        filters: Filters | None = None,
    ) -> Recommendations:
        """Unheard episodes for a listening history (ids, dicts or HistoryItems).

        ``mean``: one profile, the recency-weighted mean of listened vectors (weight halves
        every ``half_life_days``) minus ``skip_penalty`` x the skipped ones.
        ``multi-interest``: the history is clustered and each interest retrieves on its own;
        the lists are interleaved in proportion to the interests' weights. Unknown ids are
        ignored and reported in ``unknown_ids``; QueryError for an empty history,
        NotFoundError when no listened id is known.
        """
        self.refresh()
        filters = self.check_filters(filters)
        return self._recommender().recommend(
            history, k=k, offset=offset, strategy=strategy, half_life_days=half_life_days,
            now=now, skip_penalty=skip_penalty, max_interests=max_interests,
            per_show=per_show, filters=filters,
        )  # fmt: skip

    def check_filters(self, filters: Filters | None) -> Filters | None:
        """``filters`` checked against the catalog, show titles resolved to ids (QueryError
        naming the known values otherwise): every edge gets the same check through here."""
        return resolve_filters(filters, self.store)

    def _recommender(self) -> Recommender:
        from podsearch.recommend import Recommender

        return Recommender(vectors=self._vectors_for_reading, lookup=self.store.get_many)

    def _vectors_for_reading(self) -> VectorIndex:
        """The stored vectors, whatever model this handle would encode queries with."""
        if self.indexed_model is None:
            raise IndexStateError(
                f"the index at {self.location.display} has no vectors yet: run "
                f"podsearch index --index {self.location.display}"
            )
        return self.vector_index()

    # -- seeing other processes' writes ---------------------------------------------------
    @property
    def generation(self) -> int:
        """The index generation this handle's indexes reflect."""
        return self._seen_generation

    def _bump(self) -> None:
        """Record a committed write; another process's write in between leaves this handle's
        generation behind, so its next ``refresh`` reloads."""
        new = self.store.bump_generation()
        if new == self._seen_generation + 1:
            self._seen_generation = new

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the writer lock of this handle and, across processes, of the index directory
        (a CLI ingest and a server's write API take turns), with the indexes reloaded first so
        that this write starts from everything other processes committed."""
        if self.store.read_only:
            raise StorageError(
                f"the index at {self.location.display} is read-only: searching works, but "
                "ingest, index and delete need write access"
            )
        with self._write_lock:
            self._write_depth += 1
            try:
                if self._write_depth > 1:
                    yield
                    return
                with self.location.write_lock():
                    self.refresh(force=True)
                    yield
            except PodsearchError:
                raise
            except (OSError, RuntimeError, ValueError) as e:
                err = _disk_error(e, self.location.display, self.index_dir)
                if err is None:
                    raise
                raise err from e
            finally:
                self._write_depth -= 1

    def refresh(self, *, force: bool = False) -> bool:
        """Reload the indexes if another process committed a write since they were read.

        Cheap when nothing changed (one SQLite read, at most every ``refresh_interval``
        seconds unless ``force``). Skipped while this handle is writing: its own writes
        keep its indexes current. Returns whether it reloaded.
        """
        now = time.monotonic()
        if not force and now - self._checked_at < self.refresh_interval:
            return False
        self._checked_at = now
        gen = self.store.generation()
        if gen == self._seen_generation:
            return False
        if not self._write_lock.acquire(blocking=False):
            return False
        try:
            self._reload()
            self._seen_generation = gen
            return True
        finally:
            self._write_lock.release()

    def _reload(self) -> None:
        model = self.store.get_meta("model")
        dim = int(self.store.get_meta("dim") or 0)
        with self._lock:
            enc = self._encoder
            follows_index = not self._encoder_given and not self._model_arg
            if enc is not None and follows_index and model and enc.name != model:
                self._encoder = None  # rebuilt elsewhere with another model: follow it
                self.searcher.cache = type(self.searcher.cache)(self.searcher.cache.size)
            vi = self._vectors
            if vi is not None and dim and dim != vi.dim:
                vi.close()
                self._vectors = vi = None
            kw = self._keywords
        # Outside the component lock: searches go on over the old state while this loads.
        for index in (vi, kw):
            if index is not None and hasattr(index, "refresh"):
                index.refresh()
        self._backend_checked = False
        self.searcher.refresh_classifier()

    # -- info ---------------------------------------------------------------------------
    def problems(self, *, public: bool = False) -> list[str]:
        """What is wrong with the index that searches would not say themselves ([] when
        nothing is): a damaged keyword index. ``public``: in words for a public page or a
        health check (no paths, no operator commands)."""
        try:
            self.keyword_index()
        except DamagedIndexError as e:
            return [PUBLIC_KEYWORD_DAMAGED if public else str(e)]
        return []

    def stats(self) -> dict[str, Any]:
        self.refresh()
        return {
            "problems": self.problems(),
            "generation": self._seen_generation,
            "index_dir": str(self.index_dir),
            "index": self.location.display,
            "backend": self.location.kind,
            "episodes": self.store.count(),
            "shows": self.store.count_shows(),
            "indexed": self.store.count_indexed(),
            "model": self.indexed_model,
            "dim": int(self.store.get_meta("dim") or 0),
            "languages": self.store.facet_counts("language"),
            "categories": self.store.facet_counts("categories"),
            "top_shows": [
                {"show_id": sid, "title": title, "episodes": n}
                for sid, title, n in self.store.top_shows(TOP_SHOWS)
            ],
        }

    def close(self) -> None:
        with self._write_lock, self._lock:
            if self._vectors is not None:
                self._vectors.close()
            if self._keywords is not None:
                self._keywords.close()
            self.store.close()
            self.location.close()

    def __enter__(self) -> Podsearch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}
_DISK_WORDS = ("No space left", "Disk quota", "Read-only file system", "write error")
# numpy's tofile reports a short write as "N requested and M written" (no errno)
_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")


def _disk_error(e: BaseException, where: str, directory: Path) -> StorageError | None:
    """A StorageError naming the cause when ``e`` is the disk refusing a write (full,
    read-only, failing), else None. FAISS, tantivy and numpy report some of these as
    RuntimeError, ValueError or an OSError without errno, with the OS message inside."""
    text = str(e)
    if isinstance(e, OSError) and e.errno in _DISK_ERRNOS:
        cause = e.strerror or text
        if e.filename:
            cause += f" ({e.filename})"
    elif any(w in text for w in _DISK_WORDS):
        cause = next(w for w in _DISK_WORDS if w in text)
    elif isinstance(e, OSError) and _SHORT_WRITE.search(text):
        try:
            free = shutil.disk_usage(directory).free
        except OSError:
            free = -1
        cause = f"a short write ({text}; {free // 1024} KiB free there): the disk is full"
    else:
        return None
    return StorageError(
        f"cannot write the index at {where}: {cause}. What was committed before is kept and "
        "the index stays searchable; free some space (or make it writable) and re-run"
    )


def _encode_chunks(
    enc: Encoder,
    chunks: Iterable[list[tuple[Episode, str]]],
    batch_size: int,
    progress: ProgressFn | None,
    total: int,
) -> Iterator[tuple[list[tuple[Episode, str]], np.ndarray]]:
    """(chunk, its vectors) for each chunk, encoded here in length-sorted steps."""
    done = 0
    for chunk in chunks:
        texts = [ep.text for ep, _ in chunk]
        vecs = np.zeros((len(texts), enc.dim), dtype=np.float32)
        for idx in length_sorted_steps(texts, step_size(batch_size)):
            vecs[idx] = enc.encode_documents([texts[i] for i in idx], batch_size=batch_size)
            done += len(idx)
            if progress:
                progress(done, total)
        yield chunk, vecs
