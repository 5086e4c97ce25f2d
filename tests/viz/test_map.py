"""The map of meaning: projection, HTML and PNG output, and podsearch map (fake encoder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from podsearch.errors import QueryError
from podsearch.viz import build_map, project, render_html, render_png
from tests.cli.test_cli import run


def _two_blobs() -> np.ndarray:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.05, (20, 8)) + np.eye(8)[0]
    b = rng.normal(0, 0.05, (20, 8)) + np.eye(8)[1]
    return np.concatenate([a, b]).astype(np.float32)


def test_pca_separates_blobs_and_is_deterministic() -> None:
    x = _two_blobs()
    c = project(x, "pca", 2, seed=1)
    assert c.shape == (40, 2)
    assert np.array_equal(c, project(x, "pca", 2, seed=1))
    gap = abs(c[:20, 0].mean() - c[20:, 0].mean())
    assert gap > 5 * max(c[:20, 0].std(), c[20:, 0].std())
    assert project(x, "pca", 3).shape == (40, 3)


def test_fit_mask_places_extra_rows_without_fitting_on_them() -> None:
    x = _two_blobs()
    mask = np.arange(40) < 38
    c = project(x, "pca", 2, fit_mask=mask)
    assert np.allclose(c[:38], project(x[:38], "pca", 2), atol=1e-4)


def test_umap_projection() -> None:
    c = project(_two_blobs(), "umap", 2, seed=0)
    assert c.shape == (40, 2) and np.isfinite(c).all()


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"method": "tsne"}, "projection"), ({"dims": 4}, "dims"), ({"rows": 2}, "at least")],
)
def test_project_errors(kw: dict[str, Any], match: str) -> None:
    rows = kw.pop("rows", 40)
    with pytest.raises(QueryError, match=match):
        project(_two_blobs()[:rows], **kw)


def test_render_html_is_self_contained_and_png_is_written(tmp_path: Path) -> None:
    c = project(_two_blobs(), "pca", 2)
    color = ["a"] * 20 + ["b"] * 19 + ["query"]
    hover = [f"episode {i}" for i in range(39)] + ["query: hello"]
    text = [""] * 39 + ["hello"]
    html = render_html(c, tmp_path / "m.html", color=color, hover=hover, text=text, title="t")
    page = html.read_text()
    assert "episode 7" in page and "hello" in page
    assert "<script src=" not in page  # plotly.js is inlined, nothing loads from elsewhere
    png = render_png(c, tmp_path / "m.png", color=color, text=text, title="t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    c3 = project(_two_blobs(), "pca", 3)
    render_html(c3, tmp_path / "m3.html", color=color, hover=hover, text=text)
    render_png(c3, tmp_path / "m3.png", color=color, text=text)


def test_build_map_on_the_tiny_index(engine: Any) -> None:
    data = build_map(engine, queries=["sourdough bread"], color_by="language", limit=10)
    assert data.coords.shape == (9, 2)
    assert data.color.count("query") == 1 and data.text[-1] == "sourdough bread"
    assert sorted(set(data.color) - {"query"}) == ["de", "en"]
    assert data.episode_ids[:8] == [f"e{i}" for i in range(1, 9)]
    cats = build_map(engine, color_by="category", limit=10)
    assert "Health" in cats.color and "Kitchen Stories" not in cats.color
    with pytest.raises(QueryError, match="color"):
        build_map(engine, color_by="mood")


def test_cli_map(tmp_path: Path, tiny_catalog: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ix = tmp_path / "ix"
    assert run(capsys, "ingest", "--catalog", str(tiny_catalog), "--index", str(ix))[0] == 0
    assert run(capsys, "index", "--index", str(ix), "--model", "fake", "-q")[0] == 0
    out, png = tmp_path / "map.html", tmp_path / "map.png"
    args = ["--out", str(out), "--png", str(png), "--color", "show", "--dims", "3"]
    code, stdout, _ = run(capsys, "map", "--index", str(ix), *args, "--query", "black holes")
    assert code == 0, stdout
    assert out.stat().st_size > 100_000 and png.stat().st_size > 1000
    code, _, err = run(capsys, "map", "--index", str(ix), "--method", "tsne")
    assert code == 2 and "tsne" in err


def test_query_labels_do_not_overlap_and_stay_inside() -> None:
    """Five queries within a hair of each other: every label gets its own spot (the old
    renderer wrote them all on top of each other)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    from podsearch.viz.map import place_labels

    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    ax.scatter(*rng.normal(0, 1, (500, 2)).T, s=10)
    points = np.array([[0.0, 0.0], [0.05, 0.02], [0.02, -0.04], [-0.03, 0.03], [0.04, -0.01]])
    labels = [
        "interview with cookbook author",
        "superhero film analysis",
        "cricket match report",
        "guided meditation for sleep",
        "eat better at xmas",
    ]
    anns = place_labels(ax, points, labels)
    renderer = fig.canvas.get_renderer()
    boxes = []
    for a in anns:
        a.update_positions(renderer)
        boxes.append(Text.get_window_extent(a, renderer))
    frame = ax.get_window_extent(renderer)
    assert len(boxes) == 5
    for i, b in enumerate(boxes):
        assert frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1
        for other in boxes[i + 1 :]:
            assert not b.overlaps(other), (b, other)
    plt.close(fig)


def test_group_colours_stand_out_on_white() -> None:
    from matplotlib.colors import to_rgb

    from podsearch.viz.map import _palette

    def luminance(c: str) -> float:
        lin = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in to_rgb(c)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    # WCAG contrast against white >= 2:1 for every named group (tab20's pale halves: ~1.3).
    colours = _palette(12)
    assert len(set(colours)) == 12
    assert all(1.05 / (luminance(c) + 0.05) >= 2.0 for c in colours), colours
