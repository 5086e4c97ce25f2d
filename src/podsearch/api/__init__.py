"""The HTTP API (FastAPI) and the web page it serves."""

from podsearch.api.app import create_app, create_app_from_dir

__all__ = ["create_app", "create_app_from_dir"]
