"""Settings: one frozen object read from a TOML file, the environment and CLI flags.

Precedence, highest first: a CLI flag (or keyword argument), an environment variable, the
config file, the default. The file is ``--config PATH``, else ``$PODSEARCH_CONFIG``, else
``./podsearch.toml`` when it exists. Keys are documented in docs/CONFIG.md::

    index = "var/index"
    model = "me5-small"
    backend = "onnx"

    [fusion]
    keyword_weight = 0.25

    [server]
    port = 8000
    api_keys = ["..."]
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podsearch.errors import ConfigError

if TYPE_CHECKING:
    from podsearch.search.searcher import FusionSettings

CONFIG_ENV = "PODSEARCH_CONFIG"
CONFIG_FILE = "podsearch.toml"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a user may configure. ``None`` means the library's own default."""

    index: Path = Path("var/index")
    # Where a Milvus location keeps its catalog: a directory, or postgresql://... (the pairing
    # for several API replicas). None: the default directory. Other locations ignore it.
    catalog: str | None = None
    model: str | None = None
    backend: str = "onnx"
    # The embedded vector index for a new index (hnsw, hnsw-sq8, ivf-pq, scann); an existing
    # index keeps the kind it was built with (podsearch index --rebuild applies a new one).
    vector_index: str | None = None
    cache: Path | None = None  # $PODSEARCH_CACHE: exported models, downloads
    threads: int | None = None  # $PODSEARCH_THREADS: encoder CPU threads
    keyword_weight: float | None = None
    hubness_beta: float | None = None
    cross_lingual_keyword_weight: float | None = None
    title_keyword_weight: float | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: tuple[str, ...] = ()  # kept for the server's write API
    # Host headers the server answers (DNS-rebinding protection); empty: the loopback names
    # when bound to a loopback address, else every host (set them for a public server).
    allowed_hosts: tuple[str, ...] = ()
    # Origins whose pages may call the API from a browser (CORS); empty: none (CORS off).
    cors_origins: tuple[str, ...] = ()
    # Requests per minute per client on each expensive endpoint (0: no limit), and the burst.
    rate_limit: int = 30
    rate_burst: int = 10
    # Largest catalog upload or fetched feed for POST /api/ingest, MiB.
    max_upload_mb: int = 50
    # Networks (CIDR) or addresses that POST /api/ingest may fetch feeds from although they
    # are not public (private, loopback, link-local): none by default (SSRF protection).
    feed_private_networks: tuple[str, ...] = ()
    # Server processes; 1 answers concurrent searches from one process's thread pool.
    workers: int = 1
    # Seconds a stopping server waits for in-flight requests and background jobs.
    shutdown_timeout: int = 30
    # Seconds an idle keep-alive connection stays open. Longer than a client's pauses: a
    # connection closed just as the client sends on it fails with no response (uvicorn's own
    # default, 5 s, did so in the load benchmark; bench/keepalive_race.py reproduces it).
    keep_alive: int = 75
    source: Path | None = None  # the config file read, if any

    def fusion(self) -> FusionSettings | None:
        """The fusion settings to search with (None when nothing was configured)."""
        chosen = {k: getattr(self, k) for k in _FUSION_KEYS if getattr(self, k) is not None}
        if not chosen:
            return None
        from podsearch.search.searcher import FusionSettings

        return FusionSettings(**chosen)

    def server_hosts(self) -> tuple[str, ...] | None:
        """The Host headers the server accepts: ``allowed_hosts`` when set; the loopback names
        when the server binds a loopback address (a page elsewhere cannot then reach it by
        rebinding a domain of its own to 127.0.0.1); None (any) otherwise."""
        if self.allowed_hosts:
            return self.allowed_hosts
        if self.host in ("127.0.0.1", "localhost", "::1"):
            return ("127.0.0.1", "localhost", "[::1]", "::1")
        return None

    def export_environment(self) -> None:
        """Hand ``cache`` and ``threads`` to the code that reads $PODSEARCH_CACHE/_THREADS."""
        if self.cache is not None:
            os.environ["PODSEARCH_CACHE"] = str(self.cache)
        if self.threads is not None:
            os.environ["PODSEARCH_THREADS"] = str(self.threads)


# File layout: top-level keys, [fusion] and [server] tables -> Settings fields.
_TOP = ("index", "model", "backend", "catalog", "vector_index", "cache", "threads")
_FUSION_KEYS = (
    "keyword_weight",
    "hubness_beta",
    "cross_lingual_keyword_weight",
    "title_keyword_weight",
)
_SERVER_KEYS = (
    "host",
    "port",
    "api_keys",
    "allowed_hosts",
    "cors_origins",
    "rate_limit",
    "rate_burst",
    "max_upload_mb",
    "feed_private_networks",
    "workers",
    "shutdown_timeout",
    "keep_alive",
)
_SERVER = {k: k for k in _SERVER_KEYS}
_ENV = {
    "PODSEARCH_INDEX": "index",
    "PODSEARCH_CATALOG": "catalog",
    "PODSEARCH_MODEL": "model",
    "PODSEARCH_BACKEND": "backend",
    "PODSEARCH_VECTOR_INDEX": "vector_index",
    "PODSEARCH_CACHE": "cache",
    "PODSEARCH_THREADS": "threads",
    "PODSEARCH_HOST": "host",
    "PODSEARCH_PORT": "port",
    "PODSEARCH_API_KEYS": "api_keys",  # comma-separated
    "PODSEARCH_ALLOWED_HOSTS": "allowed_hosts",  # comma-separated
    "PODSEARCH_CORS_ORIGINS": "cors_origins",  # comma-separated
    "PODSEARCH_RATE_LIMIT": "rate_limit",
    "PODSEARCH_RATE_BURST": "rate_burst",
    "PODSEARCH_MAX_UPLOAD_MB": "max_upload_mb",
    "PODSEARCH_FEED_PRIVATE_NETWORKS": "feed_private_networks",  # comma-separated
    "PODSEARCH_WORKERS": "workers",
    "PODSEARCH_SHUTDOWN_TIMEOUT": "shutdown_timeout",
    "PODSEARCH_KEEP_ALIVE": "keep_alive",
}
_TYPES: dict[str, type] = {
    "index": Path,
    "catalog": str,
    "model": str,
    "backend": str,
    "vector_index": str,
    "cache": Path,
    "threads": int,
    "keyword_weight": float,
    "hubness_beta": float,
    "cross_lingual_keyword_weight": float,
    "title_keyword_weight": float,
    "host": str,
    "port": int,
    "api_keys": tuple,
    "allowed_hosts": tuple,
    "cors_origins": tuple,
    "rate_limit": int,
    "rate_burst": int,
    "max_upload_mb": int,
    "feed_private_networks": tuple,
    "workers": int,
    "shutdown_timeout": int,
    "keep_alive": int,
}


def valid_keys() -> list[str]:
    """Every key a config file may hold, as ``table.key`` for keys inside a table."""
    return [*_TOP, *(f"fusion.{k}" for k in _FUSION_KEYS), *(f"server.{k}" for k in _SERVER)]


def load_settings(
    config: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    **flags: Any,
) -> Settings:
    """Settings from defaults < the config file < ``env`` (os.environ) < ``flags``.

    ``config`` must exist when given (or named by $PODSEARCH_CONFIG); ``./podsearch.toml`` in
    ``cwd`` is read only when present. Flags that are None are ignored (a CLI flag not given).
    ConfigError names the bad key and the valid ones.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = _find_config(config, env, Path.cwd() if cwd is None else Path(cwd))
    if path is not None:
        values.update(_read_file(path))
    for var, key in _ENV.items():
        raw = env.get(var, "").strip()
        if raw:
            values[key] = _convert(key, raw, f"${var}")
    names = {f.name for f in fields(Settings)} - {"source"}
    for key, value in flags.items():
        if key not in names:
            raise TypeError(f"load_settings() got an unknown setting {key!r}")
        if value is not None:
            values[key] = _convert(key, value, f"--{key.replace('_', '-')}")
    return replace(Settings(source=path), **values)


def _find_config(config: str | Path | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    if config is not None:
        given, how = Path(config).expanduser(), "--config"
    elif env.get(CONFIG_ENV, "").strip():
        given, how = Path(env[CONFIG_ENV].strip()).expanduser(), f"${CONFIG_ENV}"
    else:
        default = cwd / CONFIG_FILE
        return default if default.is_file() else None
    if not given.is_file():
        raise ConfigError(f"no config file at {given} (named by {how})")
    return given


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the config file {path}: {e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"the config file {path} is not valid TOML: {e}") from e
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _TOP:
            out[key] = _convert(key, value, f"{key} in {path}")
        elif key in ("fusion", "server") and isinstance(value, dict):
            allowed = _FUSION_KEYS if key == "fusion" else tuple(_SERVER)
            for sub, v in value.items():
                if sub not in allowed:
                    _unknown(f"{key}.{sub}", path)
                out[sub] = _convert(sub, v, f"{key}.{sub} in {path}")
        else:
            _unknown(key, path)
    return out


def _unknown(key: str, path: Path) -> None:
    raise ConfigError(
        f"unknown key {key!r} in the config file {path}; valid keys: {', '.join(valid_keys())}"
    )


def _convert(key: str, value: Any, where: str) -> Any:
    """``value`` as the type of setting ``key``; strings (env vars) are parsed."""
    kind = _TYPES[key]
    bad = ConfigError(f"{where} must be {_TYPE_WORDS[kind]}, got {value!r}")
    if kind is tuple:
        if isinstance(value, str):
            value = [x.strip() for x in value.split(",") if x.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(x, str) for x in value):
            raise bad
        return tuple(value)
    if isinstance(value, bool):  # TOML true is not a number
        raise bad
    if kind is int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if not isinstance(value, int) or value < _MIN_INT.get(key, value) or value > 65535:
            raise bad
        return value
    if kind is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise bad from None
        if not isinstance(value, int | float):
            raise bad
        return float(value)
    if not isinstance(value, str | Path) or not str(value).strip():
        raise bad
    if key == "vector_index":
        from podsearch.index.faiss_index import VECTOR_INDEXES

        if str(value).strip() not in VECTOR_INDEXES:
            raise ConfigError(f"{where} must be one of {', '.join(VECTOR_INDEXES)}, got {value!r}")
    return Path(value).expanduser() if kind is Path else str(value).strip()


_MIN_INT = {
    "port": 1,
    "threads": 1,
    "rate_limit": 0,
    "rate_burst": 1,
    "max_upload_mb": 1,
    "workers": 1,
    "shutdown_timeout": 0,
    "keep_alive": 1,
}
_TYPE_WORDS = {
    Path: "a path (a string)",
    str: "a string",
    int: "a whole number (0-65535; see docs/CONFIG.md for each key's range)",
    float: "a number",
    tuple: "a list of strings",
}
