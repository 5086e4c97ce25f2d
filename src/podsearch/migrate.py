"""Move an index from one location to another without re-encoding (``podsearch migrate``).

Typically an embedded directory -> a server (``postgresql://...``, Milvus). What moves:

- the catalog (shows, episodes) through the destination's ``ingest``, with its row
  accounting (imported + updated + unchanged + skipped = episodes read);
- the stored vectors, streamed with ``iter_vectors`` (never all in memory), of the episodes
  whose vectors are current in the source; the keyword index is rebuilt on the destination
  from the episodes' texts; hub scores and hub probes are copied;
- the metadata that says which model built the vectors (``model``, ``dim``, ``backend``).

Idempotent: an episode the destination already holds indexed with the same content hash is
not written again, so a re-run (after an interruption, or to pick up later changes in the
source) copies only what is missing. On PostgreSQL each batch (vectors + keyword rows +
``mark_indexed``) is one transaction. Episodes whose source vectors are stale (ingested but
not indexed) are left for ``podsearch index`` on the destination and counted.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from podsearch.catalog.base import CatalogData
from podsearch.errors import IndexNotFoundError, IndexStateError, QueryError
from podsearch.index.backends import IndexLocation, open_location
from podsearch.index.base import CatalogStore, KeywordDoc
from podsearch.models import DocPayload


@dataclass(slots=True)
class MigrateReport:
    source: str
    destination: str
    episodes_read: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    shows: int = 0
    vectors_read: int = 0
    vectors_copied: int = 0  # written to the destination (vectors + keyword rows)
    vectors_present: int = 0  # already indexed there with the same content: not rewritten
    vectors_stale: int = 0  # stale in the source, or no catalog row: left for podsearch index
    model: str | None = None
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        rows = self.imported + self.updated + self.unchanged + self.skipped
        vecs = self.vectors_copied + self.vectors_present + self.vectors_stale
        return rows == self.episodes_read and vecs == self.vectors_read

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3), "balanced": self.balanced}


def migrate_index(
    source: str | Path,
    destination: str | Path,
    *,
    batch: int = 2048,
    source_catalog_dir: str | Path | None = None,
    destination_catalog_dir: str | Path | None = None,
) -> MigrateReport:
    """Copy the index at ``source`` to ``destination`` (see the module docstring)."""
    t0 = time.perf_counter()
    src = open_location(source, catalog_dir=source_catalog_dir)
    dst = open_location(destination, catalog_dir=destination_catalog_dir)
    try:
        if src.display == dst.display and src.local_dir == dst.local_dir:
            raise QueryError("the source and the destination are the same index")
        if not src.has_catalog():
            raise IndexNotFoundError(f"no index at {src.display} to migrate")
        s_store = src.open_catalog()
        d_store = dst.open_catalog()
        try:
            with dst.write_lock(), src.write_lock():
                report = MigrateReport(source=src.display, destination=dst.display)
                _copy_catalog(s_store, d_store, report, batch)
                _copy_vectors(src, dst, s_store, d_store, report, batch)
                d_store.bump_generation()  # running servers on the destination reload
        finally:
            s_store.close()
            d_store.close()
    finally:
        src.close()
        dst.close()
    report.seconds = time.perf_counter() - t0
    if not report.balanced:  # a bug, never an input problem
        raise RuntimeError(f"migrate counts do not add up: {report.to_dict()}")
    return report


def _copy_catalog(s: CatalogStore, d: CatalogStore, report: MigrateReport, batch: int) -> None:
    shows = s.shows()
    report.shows = len(shows)
    pending: list[Any] = []

    def flush() -> None:
        data = CatalogData(source="migrate", shows=shows if report.episodes_read == 0 else [])
        data.episodes, data.read = list(pending), len(pending)
        r = d.ingest(data)
        report.episodes_read += data.read
        report.imported += r.imported
        report.updated += r.updated
        report.unchanged += r.unchanged
        report.skipped += r.skipped_count
        pending.clear()

    for ep in s.iter_episodes(batch):
        pending.append(ep)
        if len(pending) >= batch:
            flush()
    if pending or report.episodes_read == 0:
        flush()


def _copy_vectors(
    src: IndexLocation,
    dst: IndexLocation,
    s: CatalogStore,
    d: CatalogStore,
    report: MigrateReport,
    batch: int,
) -> None:
    model, dim = s.get_meta("model"), int(s.get_meta("dim") or 0)
    report.model = model
    if model is None or not dim:
        return  # never indexed: the catalog alone moves
    d_model, d_dim = d.get_meta("model"), int(d.get_meta("dim") or 0)
    if d_model is not None and d_dim and (d_model, d_dim) != (model, dim):
        raise IndexStateError(
            f"{dst.display} holds vectors of model {d_model!r} ({d_dim}-d), the source "
            f"{model!r} ({dim}-d): migrate into an empty index"
        )
    fresh = d_model is None
    d_vi = dst.open_vectors(dim, fresh=fresh)
    d_kw = dst.open_keywords()
    if fresh:  # start clean and say so at once: a re-run after an interruption continues
        d_kw.reset()
        d.mark_all_unindexed()
        d.clear_hub_scores()
    for key in ("model", "dim", "backend"):
        value = s.get_meta(key)
        if value is not None:
            d.set_meta(key, value)
    stale_in_src = {ep.episode_id for ep, _ in s.dirty()}  # ingested there, never encoded
    todo = {ep.episode_id: h for ep, h in d.dirty()}  # not yet indexed in the destination
    s_vi = src.open_vectors(dim)
    try:
        for ids, vecs in s_vi.iter_vectors(batch):
            report.vectors_read += len(ids)
            eps = s.get_many(ids)  # the source rows the vectors were encoded from
            current = [e in eps and e not in stale_in_src for e in ids]
            # Copy where the destination holds the same content, not yet indexed (an id
            # skipped there as a conflict, or changed there since, is not this vector's).
            keep = [
                i for i, e in enumerate(ids) if current[i] and todo.get(e) == eps[e].content_hash
            ]
            present = sum(1 for i, e in enumerate(ids) if current[i] and e not in todo)
            report.vectors_present += present
            report.vectors_stale += len(ids) - len(keep) - present
            if not keep:
                continue
            k_ids = [ids[i] for i in keep]
            k_eps = [eps[e] for e in k_ids]
            payloads = [DocPayload.of(ep) for ep in k_eps]
            hubs = s.hub_scores(k_ids)
            with dst.transaction():
                d_vi.upsert(k_ids, vecs[keep], payloads)
                d_vi.commit()
                d_kw.upsert(
                    [
                        KeywordDoc(ep.episode_id, ep.title, ep.text, p)
                        for ep, p in zip(k_eps, payloads, strict=True)
                    ]
                )
                d_kw.commit()
                d.set_hub_scores(hubs.items())
                d.mark_indexed([(e, todo[e]) for e in k_ids])
            report.vectors_copied += len(k_ids)
        for key in ("hub_probes_model", "hub_probes_at"):
            value = s.get_meta(key)
            if value is not None:
                d.set_meta(key, value)
        probes = s.load_hub_probes()
        if probes is not None:
            d.save_hub_probes(probes)
    finally:
        s_vi.close()
        d_vi.close()
        d_kw.close()
