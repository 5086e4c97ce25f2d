"""The methods a path allows, for the ``Allow`` header of a 405 answer.

Starlette answers 405 with the methods of the first route whose path matches, so a path
served by two routes (``GET`` and ``POST /api/search``) would list only one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from starlette.routing import Match


def allowed_methods(routes: Iterable[Any], scope: MutableMapping[str, Any]) -> list[str]:
    """Every method some route in ``routes`` serves at ``scope``'s path, sorted."""
    methods: set[str] = set()
    for route in routes:
        route_methods = getattr(route, "methods", None)
        if not route_methods:
            continue
        match, _ = route.matches(scope)
        if match in (Match.FULL, Match.PARTIAL):
            methods.update(route_methods)
    return sorted(methods)
