"""Projection and rendering of the map of meaning.

``project`` and the two renderers take plain arrays and strings, so any stage (the evaluation
report's picture of query and episode embeddings, for one) can draw with them; ``build_map``
gathers an index's vectors, labels and queries for ``podsearch map``.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from podsearch.errors import IndexStateError, MissingDependencyError, QueryError
from podsearch.models import Episode

if TYPE_CHECKING:
    from podsearch.engine import Podsearch

METHODS: tuple[str, ...] = ("pca", "umap")
COLOR_BY: tuple[str, ...] = ("category", "language", "show")
MAX_GROUPS = 12  # legend entries; the rest are "other"
OTHER, NONE = "other", "(none)"
QUERY_GROUP = "query"


def project(
    vectors: np.ndarray,
    method: str = "pca",
    dims: int = 2,
    seed: int = 0,
    *,
    fit_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Project rows of ``vectors`` to ``dims`` (2 or 3) coordinates with PCA or UMAP (cosine).

    ``fit_mask`` (bool per row): fit on those rows only and place the rest with the fitted
    transform (e.g. fit on episodes, then place queries). Deterministic for a given seed.
    """
    if method not in METHODS:
        raise QueryError(f"unknown projection {method!r}; use one of: {', '.join(METHODS)}")
    if dims not in (2, 3):
        raise QueryError(f"dims must be 2 or 3, got {dims!r}")
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or len(x) < dims + 1:
        raise QueryError(f"need at least {dims + 1} vectors to project, got {len(x)}")
    fit = x if fit_mask is None else x[np.asarray(fit_mask, dtype=bool)]
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=dims, random_state=seed).fit(fit)
        return pca.transform(x).astype(np.float32)
    try:
        with warnings.catch_warnings():  # umap warns that its TensorFlow variant is absent
            warnings.simplefilter("ignore", ImportWarning)
            import umap
    except ImportError as e:  # pragma: no cover - a core dependency
        raise MissingDependencyError("umap-learn", "map", "UMAP projection") from e
    reducer = umap.UMAP(
        n_components=dims,
        metric="cosine",
        n_neighbors=min(15, len(fit) - 1),
        random_state=seed,
        n_jobs=1,
    )
    coords = reducer.fit_transform(fit)
    if fit_mask is None:
        return np.asarray(coords, dtype=np.float32)
    out = np.empty((len(x), dims), dtype=np.float32)
    mask = np.asarray(fit_mask, dtype=bool)
    out[mask] = coords
    if (~mask).any():
        out[~mask] = reducer.transform(x[~mask])
    return out


def _palette(n: int) -> list[str]:
    import matplotlib

    cmap = matplotlib.colormaps["tab20" if n > 10 else "tab10"]
    return [matplotlib.colors.to_hex(cmap(i % cmap.N)) for i in range(n)]


def _groups(color: Sequence[str]) -> list[str]:
    """Legend order: by size, "other" and "(none)" last, queries first."""
    counts = Counter(c for c in color if c != QUERY_GROUP)
    tail = [g for g in (OTHER, NONE) if g in counts]
    head = sorted((g for g in counts if g not in tail), key=lambda g: (-counts[g], g))
    return ([QUERY_GROUP] if QUERY_GROUP in color else []) + head + tail


def render_html(
    coords: np.ndarray,
    out: str | Path,
    *,
    color: Sequence[str],
    hover: Sequence[str],
    text: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """Write an interactive scatter (2-D or 3-D by ``coords``' width) with plotly.js inlined.

    ``color``: group per point (legend); ``hover``: text per point; ``text``: a label per point,
    non-empty for the few to mark and name on the map (queries)."""
    import plotly.graph_objects as go

    coords = np.asarray(coords)
    labels = list(text) if text is not None else [""] * len(coords)
    groups = _groups(color)
    colors = dict(zip(groups, _palette(len(groups)), strict=True))
    colors[QUERY_GROUP] = "#000000"
    fig = go.Figure()
    three = coords.shape[1] == 3
    for g in groups:
        idx = [i for i, c in enumerate(color) if c == g]
        marked = g == QUERY_GROUP
        kw = {
            "x": coords[idx, 0],
            "y": coords[idx, 1],
            "name": f"{g} ({len(idx)})",
            "hovertext": [hover[i] for i in idx],
            "hoverinfo": "text",
            "mode": "markers+text" if marked else "markers",
            "text": [labels[i] for i in idx] if marked else None,
            "textposition": "top center",
            "marker": {
                "color": colors[g],
                "size": (12 if marked else 5) if not three else (7 if marked else 3),
                "symbol": "diamond" if marked else "circle",
                "opacity": 1.0 if marked else 0.75,
            },
        }
        if three:
            fig.add_trace(go.Scatter3d(z=coords[idx, 2], **kw))
        else:
            fig.add_trace(go.Scattergl(**kw) if len(idx) > 2000 else go.Scatter(**kw))
    fig.update_layout(
        title=title, template="plotly_white", legend={"itemsizing": "constant"},
        margin={"l": 20, "r": 20, "t": 50, "b": 20}, height=800,
    )  # fmt: skip
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs=True, full_html=True)
    return path


def render_png(
    coords: np.ndarray,
    out: str | Path,
    *,
    color: Sequence[str],
    text: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """Write the same map as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    coords = np.asarray(coords)
    labels = list(text) if text is not None else [""] * len(coords)
    groups = _groups(color)
    colors = dict(zip(groups, _palette(len(groups)), strict=True))
    three = coords.shape[1] == 3
    fig = plt.figure(figsize=(11, 8), dpi=110)
    ax: Any = fig.add_subplot(projection="3d" if three else None)  # 2-D or 3-D Axes
    for g in [x for x in groups if x != QUERY_GROUP]:
        idx = [i for i, c in enumerate(color) if c == g]
        pts = [coords[idx, d] for d in range(coords.shape[1])]
        ax.scatter(*pts, s=6, alpha=0.6, color=colors[g], label=f"{g} ({len(idx)})", lw=0)
    q = [i for i, c in enumerate(color) if c == QUERY_GROUP]
    if q:
        pts = [coords[q, d] for d in range(coords.shape[1])]
        ax.scatter(*pts, s=90, marker="*", color="black", label="query", zorder=5)
        for i in q:
            pos = list(coords[i])
            ax.text(*pos, f" {labels[i]}", fontsize=9, weight="bold", zorder=6)
    ax.set_xticks([])
    ax.set_yticks([])
    if three:
        ax.set_zticks([])
    ax.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


@dataclass(frozen=True, slots=True)
class MapData:
    """What the renderers need: coordinates and, per point, group, hover text, label."""

    coords: np.ndarray
    color: list[str]
    hover: list[str]
    text: list[str]
    episode_ids: list[str]  # "" for queries
    title: str


def build_map(
    engine: Podsearch,
    *,
    queries: Sequence[str] = (),
    color_by: str = "category",
    method: str = "pca",
    dims: int = 2,
    limit: int = 3000,
    seed: int = 0,
    id_prefix: str = "",
) -> MapData:
    """Sample up to ``limit`` indexed episodes (seeded), add the queries (encoded with the
    index's model, which is loaded only when there are queries) and project them all."""
    if color_by not in COLOR_BY:
        raise QueryError(f"unknown --color {color_by!r}; use one of: {', '.join(COLOR_BY)}")
    if limit < 10:
        raise QueryError(f"limit must be at least 10, got {limit}")
    if engine.indexed_model is None:
        raise IndexStateError(
            f"the index at {engine.index_dir} has no vectors: run podsearch index"
        )
    vi = engine.vector_index()
    ids = sorted(i for i in vi.ids() if i.startswith(id_prefix))
    if len(ids) < 4:
        raise IndexStateError(f"only {len(ids)} indexed episodes match {id_prefix!r}: too few")
    rng = np.random.default_rng(seed)
    if len(ids) > limit:
        ids = sorted(ids[j] for j in rng.choice(len(ids), limit, replace=False))
    vecs = vi.get_vectors(ids)
    eps = engine.store.get_many(ids)
    ids = [i for i in ids if i in vecs and i in eps]
    raw = [_value(eps[i], color_by) for i in ids]
    keep = {g for g, _ in Counter(r for r in raw if r != NONE).most_common(MAX_GROUPS)}
    color = [r if r in keep or r == NONE else OTHER for r in raw]
    hover = [_hover(eps[i]) for i in ids]
    text = [""] * len(ids)
    matrix = np.stack([vecs[i] for i in ids])
    qs = [q.strip() for q in queries if q.strip()]
    if qs:
        qv = engine.searcher.encode_queries(qs)
        matrix = np.concatenate([matrix, qv])
        color += [QUERY_GROUP] * len(qs)
        hover += [f"query: {q}" for q in qs]
        text += qs
    fit_mask = np.arange(len(matrix)) < len(ids)
    coords = project(matrix, method, dims, seed, fit_mask=fit_mask)
    title = (
        f"{len(ids)} episodes{' and ' + str(len(qs)) + ' queries' if qs else ''} "
        f"({engine.indexed_model}, {method.upper()} {dims}-D), coloured by {color_by}"
    )
    return MapData(coords, color, hover, text, ids + [""] * len(qs), title)


def _value(ep: Episode, color_by: str) -> str:
    if color_by == "category":
        return ep.categories[0] if ep.categories else NONE
    if color_by == "language":
        return ep.language or NONE
    return ep.show_title or ep.show_id or NONE


def _hover(ep: Episode) -> str:
    from html import escape

    cats = ", ".join(ep.categories[:3])
    return (
        f"<b>{escape(ep.title[:90])}</b><br>{escape(ep.show_title[:60])}<br>"
        f"{escape(ep.language)} · {escape(cats)}"
    )
