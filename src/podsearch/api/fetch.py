"""Fetching a feed named by a caller of ``POST /api/ingest``, safely (SSRF).

A URL from the network must not make the server reach what only the server can reach:

- only ``http`` and ``https``, redirects included (at most :data:`MAX_REDIRECTS`, each one
  checked again);
- every address a host name resolves to is checked *when the connection is made* (a custom
  ``httpcore`` network backend connects to the checked address itself, so a DNS answer that
  changes between check and use cannot slip through); addresses that are not public —
  loopback, private, link-local (cloud metadata at 169.254.169.254), shared, reserved,
  multicast — are refused unless a configured network allows them;
- the body is read in chunks up to ``max_bytes`` (413-style error past it) within
  ``deadline_s`` seconds in all; no content decoding (``Accept-Encoding: identity``), so a
  small compressed answer cannot expand; no proxy from the environment.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpcore

from podsearch.errors import CatalogError

MAX_REDIRECTS = 5
USER_AGENT = "podsearch/0.1 feed fetcher"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class FeedFetchError(CatalogError):
    """The feed could not be fetched, or the URL is not allowed (422)."""


class FeedTooLargeError(FeedFetchError):
    http_status = 413


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int
    deadline_s: float = 30.0
    connect_timeout_s: float = 10.0
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, max_bytes: int, networks: Sequence[str]) -> FetchPolicy:
        nets = []
        for n in networks:
            try:
                nets.append(ipaddress.ip_network(n.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(
                    f"feed_private_networks: {n!r} is not an address or network (CIDR)"
                ) from exc
        return cls(max_bytes=max_bytes, allowed_networks=tuple(nets))

    def address_allowed(self, ip: IPAddress) -> bool:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.allowed_networks):
            return True
        return ip.is_global and not ip.is_multicast


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; FeedFetchError otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FeedFetchError(f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FeedFetchError(
            f"only http and https feed URLs can be fetched, not {scheme or 'no scheme'!r}"
        )
    if not parts.hostname:
        raise FeedFetchError("the feed URL has no host name")
    if parts.username or parts.password:
        raise FeedFetchError("feed URLs with a user name or password are not fetched")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself and connects only to an address the policy allows."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FeedFetchError(f"cannot resolve the feed's host {host!r}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        refused = [a for a in addresses if not self.policy.address_allowed(a)]
        if refused or not addresses:
            # One private answer refuses the host: a name that is partly internal is not
            # fetched (the operator may allow networks with [server] feed_private_networks).
            raise FeedFetchError(
                f"the feed's host {host!r} is not a public address; this server fetches "
                "feeds only from public addresses"
            )
        last: Exception | None = None
        for ip in addresses:
            try:
                return super().connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise FeedFetchError(f"cannot connect to the feed's host {host!r}: {last}")


def fetch_feed(url: str, policy: FetchPolicy) -> tuple[bytes, str]:
    """The feed's bytes and the URL they came from (after redirects)."""
    deadline = time.monotonic() + policy.deadline_s
    timeouts = {
        "connect": policy.connect_timeout_s,
        "read": policy.connect_timeout_s,
        "write": policy.connect_timeout_s,
        "pool": policy.connect_timeout_s,
    }
    headers = [
        (b"User-Agent", USER_AGENT.encode()),
        (b"Accept", b"application/rss+xml, application/atom+xml, application/xml, text/xml, */*"),
        (b"Accept-Encoding", b"identity"),
    ]
    with httpcore.ConnectionPool(network_backend=_GuardedBackend(policy)) as pool:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url)
            try:
                with pool.stream(
                    "GET", url, headers=headers, extensions={"timeout": timeouts}
                ) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = dict((k.lower(), v) for k, v in response.headers).get(
                            b"location"
                        )
                        if not location:
                            raise FeedFetchError(f"HTTP {response.status} without a Location")
                        url = urljoin(url, location.decode("latin-1"))
                        continue
                    if response.status != 200:
                        raise FeedFetchError(f"cannot fetch the feed: HTTP {response.status}")
                    return _read(response, policy, deadline), url
            except httpcore.TimeoutException as exc:
                raise FeedFetchError("the feed's host did not answer in time") from exc
            except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
                raise FeedFetchError(f"cannot fetch the feed: {type(exc).__name__}") from exc
            except httpcore.UnsupportedProtocol as exc:
                raise FeedFetchError(f"cannot fetch the feed: {exc}") from exc
    raise FeedFetchError(f"more than {MAX_REDIRECTS} redirects; not followed")


def _read(response: httpcore.Response, policy: FetchPolicy, deadline: float) -> bytes:
    limit_mb = policy.max_bytes / 2**20
    declared = dict((k.lower(), v) for k, v in response.headers).get(b"content-length", b"")
    if declared.strip().isdigit() and int(declared) > policy.max_bytes:
        raise FeedTooLargeError(f"the feed is larger than {limit_mb:.0f} MiB; not fetched")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_stream():
        size += len(chunk)
        if size > policy.max_bytes:
            raise FeedTooLargeError(f"the feed is larger than {limit_mb:.0f} MiB; not fetched")
        if time.monotonic() > deadline:
            raise FeedFetchError(
                f"the feed took longer than {policy.deadline_s:g} s to download; not fetched"
            )
        chunks.append(chunk)
    return b"".join(chunks)
