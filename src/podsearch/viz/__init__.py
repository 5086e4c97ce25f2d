"""The map of meaning: episode (and query) vectors projected to 2-D or 3-D and drawn as a
self-contained interactive HTML file (plotly, plotly.js inlined) and a PNG (matplotlib)."""

from podsearch.viz.map import MapData, build_map, project, render_html, render_png

__all__ = ["MapData", "build_map", "project", "render_html", "render_png"]
