"""API keys for the write and admin endpoints (``Authorization: Bearer KEY``).

Keys come from ``[server] api_keys`` in the config file or ``PODSEARCH_API_KEYS``
(comma-separated); they are compared in constant time and never logged. No header: 401 with
``WWW-Authenticate: Bearer``; a wrong key: 403; no key configured: writes are off (403 saying
how to configure one).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import HTTPException, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from [server] api_keys in podsearch.toml or $PODSEARCH_API_KEYS.",
)

NO_KEYS = (
    "writes are disabled on this server: no API key is configured; set [server] api_keys "
    "in podsearch.toml or PODSEARCH_API_KEYS=KEY1,KEY2 and restart the server"
)


def key_checker(keys: Callable[[], Sequence[str]]) -> Callable[..., None]:
    """A FastAPI dependency accepting a request whose bearer token is one of ``keys()``."""

    def require_key(
        cred: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    ) -> None:
        valid = [k.encode() for k in keys() if k]
        if not valid:
            raise HTTPException(403, NO_KEYS)
        if cred is None or not cred.credentials:
            raise HTTPException(
                401,
                "this endpoint needs an API key: send Authorization: Bearer KEY",
                headers={"WWW-Authenticate": "Bearer"},
            )
        given = cred.credentials.encode()
        # Every key is compared (no early exit), so timing says nothing about which matched.
        ok = False
        for k in valid:
            ok |= hmac.compare_digest(given, k)
        if not ok:
            raise HTTPException(403, "the API key is not valid")

    return require_key
