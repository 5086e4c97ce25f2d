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


# Saturated, mutually distinct colours (tab10 without its grey, plus four darker ones) for
# the named groups: tab20's pale halves made small groups vanish on white.
DISTINCT = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#393b79", "#637939", "#843c39", "#7b4173", "#e7298a",
)  # fmt: skip
MUTED = "#c8c8d0"  # "other" and "(none)": drawn first, underneath


def _palette(n: int) -> list[str]:
    return [DISTINCT[i % len(DISTINCT)] for i in range(n)]


def _colors(groups: Sequence[str]) -> dict[str, str]:
    named = [g for g in groups if g not in (OTHER, NONE, QUERY_GROUP)]
    colors = dict(zip(named, _palette(len(named)), strict=True))
    colors.update({OTHER: MUTED, NONE: MUTED, QUERY_GROUP: "#000000"})
    return colors


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
    colors = _colors(groups)
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
                "size": (14 if marked else 7) if not three else (8 if marked else 4),
                "symbol": ("diamond" if three else "star") if marked else "circle",
                "opacity": 1.0 if marked else 0.85,
                "line": {"width": 1 if marked else 0.3, "color": "#ffffff"},
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
    colors = _colors(groups)
    three = coords.shape[1] == 3
    fig = plt.figure(figsize=(12, 8.5), dpi=110)
    ax: Any = fig.add_subplot(projection="3d" if three else None)  # 2-D or 3-D Axes
    # Muted groups first (underneath), then the named ones largest first, so that small
    # groups stay visible on top of big ones.
    muted = [g for g in groups if g in (OTHER, NONE)]
    named = [g for g in groups if g not in (OTHER, NONE, QUERY_GROUP)]
    n = len(coords)
    size = 22.0 if n <= 5000 else 10.0
    for z, g in enumerate(muted + named):
        idx = [i for i, c in enumerate(color) if c == g]
        pts = [coords[idx, d] for d in range(coords.shape[1])]
        ax.scatter(*pts, s=size, alpha=0.85, color=colors[g], label=f"{g} ({len(idx)})",
                   edgecolors="white", linewidths=0.3, zorder=2 + z * 0.01)  # fmt: skip
    q = [i for i, c in enumerate(color) if c == QUERY_GROUP]
    if q:
        pts = [coords[q, d] for d in range(coords.shape[1])]
        ax.scatter(*pts, s=260, marker="*", color="black", edgecolors="white", linewidths=1.2,
                   label="query", zorder=5)  # fmt: skip
    ax.set_xticks([])
    ax.set_yticks([])
    if three:
        ax.set_zticks([])
    handles, names = ax.get_legend_handles_labels()
    order = sorted(range(len(names)), key=lambda i: names[i].startswith((OTHER, NONE)))
    legend = ax.legend([handles[i] for i in order], [names[i] for i in order], fontsize=9,
                       markerscale=1.6, loc="center left", bbox_to_anchor=(1.0, 0.5),
                       frameon=False)  # fmt: skip
    for handle in legend.legend_handles:
        if handle is not None:
            handle.set_alpha(1.0)
    ax.set_title(title, fontsize=12)
    for spine in getattr(ax, "spines", {}).values():
        spine.set_color("#bbbbbb")
    fig.tight_layout()
    if q and three:
        for i in q:
            ax.text(*list(coords[i]), f"  {labels[i]}", fontsize=10, weight="bold", zorder=6)
    elif q:  # after the layout is final: placement works in display pixels
        place_labels(ax, coords[q], [labels[i] for i in q])
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


# Where a label may go, around its point: (dx, dy) directions in display space, tried in
# order at growing distances until the label's box overlaps no other label, no query point and
# stays inside the axes. A leader line joins a label to its point.
_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
_RADII_PX = (28, 48, 72, 100, 135, 175, 220, 280)


def place_labels(ax: Any, points: np.ndarray, labels: Sequence[str]) -> list[Any]:
    """Label 2-D ``points`` on ``ax`` without overlaps (greedy, in display pixels): boxed
    text with a leader line; returns the annotations. Points are labelled in the order given."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    frame = ax.get_window_extent(renderer)
    centres = [to_px(p) for p in np.asarray(points)[:, :2]]
    taken: list[Any] = []  # Bbox of placed labels and of every query marker
    from matplotlib.transforms import Bbox

    for cx, cy in centres:
        taken.append(Bbox.from_extents(cx - 9, cy - 9, cx + 9, cy + 9))
    out = []
    for (cx, cy), label in zip(centres, labels, strict=True):
        if not label:
            continue
        ann = ax.annotate(
            label,
            xy=(0, 0),
            xycoords="data",
            xytext=(0, 0),
            textcoords="offset pixels",
            fontsize=10.5,
            weight="bold",
            color="#111111",
            zorder=7,
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "#333333", "lw": 0.8,
                  "alpha": 0.92},
            arrowprops={"arrowstyle": "-", "color": "#333333", "lw": 1.0, "shrinkA": 0,
                        "shrinkB": 6},
        )  # fmt: skip
        ann.xy = ax.transData.inverted().transform((cx, cy))
        best = None
        # First a spot whose leader line passes over no other query, then any free spot.
        for avoid_crossing in (True, False):
            for r, (dx, dy) in ((r, d) for r in _RADII_PX for d in _DIRECTIONS):
                ann.set_ha("left" if dx > 0 else "right" if dx < 0 else "center")
                ann.set_va("bottom" if dy > 0 else "top" if dy < 0 else "center")
                ann.set_position((dx * r, dy * r * 0.7))
                box = _label_box(ann, renderer)
                inside = (
                    box.x0 >= frame.x0 and box.x1 <= frame.x1
                    and box.y0 >= frame.y0 and box.y1 <= frame.y1
                )  # fmt: skip
                if (
                    inside
                    and not any(box.overlaps(t) for t in taken)
                    and not (avoid_crossing and _crosses((cx, cy), box, taken[: len(centres)]))
                ):
                    best = box
                    break
            if best is not None:
                break
        if best is None:  # nowhere free: the first spot, still boxed and readable
            ann.set_ha("left")
            ann.set_va("bottom")
            ann.set_position((_RADII_PX[0], _RADII_PX[0] * 0.7))
            best = _label_box(ann, renderer)
        taken.append(best)
        out.append(ann)
    return out


def _crosses(start: tuple[float, float], box: Any, markers: Sequence[Any]) -> bool:
    """Whether the leader line from ``start`` to ``box``'s centre passes over another query
    marker (its own marker, which holds ``start``, excepted)."""
    x0, y0 = start
    x1, y1 = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    for m in markers:
        if m.contains(x0, y0):
            continue
        for t in np.linspace(0.0, 1.0, 24):
            if m.contains(x0 + t * (x1 - x0), y0 + t * (y1 - y0)):
                return True
    return False


def _label_box(ann: Any, renderer: Any) -> Any:
    """The display box of an annotation's text with its frame and a margin (the leader line
    is left out: it may cross other things)."""
    from matplotlib.text import Text

    ann.update_positions(renderer)
    return Text.get_window_extent(ann, renderer).padded(7)


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
