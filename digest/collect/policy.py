"""The fetch policy: which addresses a URL found in content may reach.

A URL the operator configured (a `[[feeds]] url`) may point anywhere. A URL
taken from what a feed or page says (article links, comment feeds, thread
links, and every redirect followed from them) is fetched only when the
address we connect to is public, is the address the carrying document was
read from (the feed's own host), or is allowed by `[fetch] allow_private`.

The check is made on the connected address, not on the name: a guarded
connection resolves the host once, keeps only the addresses the policy
admits, and connects to one of those IPs (TLS still verifies and sends SNI
for the name). So a name that resolves differently on the second lookup (DNS
rebinding) or a redirect to an internal address is refused like a direct
link. Connections are pooled per scope (the carrying document's addresses),
so a connection admitted for one feed is never reused for another's links.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import httpcore
import httpx

from digest.errors import RefusedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Scope = frozenset[IPAddress]
"""The addresses a carrying document was read from: its links may reach these too."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# IETF protocol assignments: some Python versions call parts of this block global.
_RESERVED = ipaddress.IPv4Network("192.0.0.0/24")


@dataclass(frozen=True)
class FoundIn:
    """Where a URL was found: the document's URL and the address it was read from.

    `address` is None for a local file (its links may reach public addresses only).
    """

    url: str
    address: str | None


def parse_address(value: str) -> IPAddress | None:
    """The IP address in `value` (brackets and a zone index allowed), else None."""
    try:
        return ipaddress.ip_address(value.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def embedded(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public(address: IPAddress) -> bool:
    """True for a globally reachable unicast address (IPv4 inside IPv6 judged as IPv4)."""
    inner = embedded(address)
    return inner.is_global and not inner.is_multicast and inner not in _RESERVED


@dataclass(frozen=True)
class FetchPolicy:
    """The operator's exceptions: private networks and host names content may reach."""

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, allow_private: Iterable[str]) -> FetchPolicy:
        """The policy for `[fetch] allow_private` (checked by the config loader)."""
        networks: list[IPNetwork] = []
        names: set[str] = set()
        for entry in allow_private:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.add(entry.lower())
        return cls(tuple(networks), frozenset(names))

    def admits(self, host: str, address: IPAddress, scope: Scope = frozenset()) -> bool:
        """Whether content may make us connect to `address` for `host`."""
        if is_public(address) or address in scope or embedded(address) in scope:
            return True
        if any(embedded(address) in net or address in net for net in self.networks):
            return True
        host = host.lower().rstrip(".")
        return host in self.names or any(
            name.startswith(".") and host.endswith(name) for name in self.names
        )

    def refusal(self, host: str, address: IPAddress) -> str:
        """The one-line reason a connection is refused."""
        shown = host if host == str(address) else f"{host} ({address})"
        return (
            f"refused by the fetch policy: {shown} is not a public address nor the feed's "
            "own host (see [fetch] allow_private)"
        )


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves once, connects only to addresses the policy admits for this scope."""

    def __init__(self, policy: FetchPolicy, scope: Scope) -> None:
        self.policy = policy
        self.scope = scope
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port)
        admitted = [a for a in addresses if self.policy.admits(host, a, self.scope)]
        if not admitted:
            raise RefusedError(self.policy.refusal(host, addresses[0]))
        failure: Exception | None = None
        for address in admitted:
            try:
                stream = await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                failure = e
                continue
            peer = parse_address(str((stream.get_extra_info("server_addr") or ("",))[0]))
            if peer is None or not self.policy.admits(host, peer, self.scope):
                await stream.aclose()
                raise RefusedError(self.policy.refusal(host, peer or address))
            return stream
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedError("refused by the fetch policy: no Unix sockets for content URLs")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int) -> list[IPAddress]:
    literal = parse_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise httpcore.ConnectError(f"cannot resolve {host}") from e
    found = [parse_address(str(info[4][0])) for info in infos]
    addresses = list(dict.fromkeys(a for a in found if a is not None))
    if not addresses:
        raise httpcore.ConnectError(f"cannot resolve {host}")
    return addresses


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (its exception mapping and streaming) over a guarded pool."""

    def __init__(
        self, policy: FetchPolicy, scope: Scope, ssl_context: ssl.SSLContext, *, http2: bool
    ) -> None:
        # Not super().__init__(): it would build a pool (and a TLS context) only to drop it.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            http1=True,
            http2=http2,
            network_backend=GuardedBackend(policy, scope),
        )


ClientFactory = Callable[[httpx.AsyncBaseTransport], httpx.AsyncClient]


class Guard:
    """The guarded clients of one build, one per scope."""

    def __init__(
        self,
        policy: FetchPolicy,
        client: ClientFactory,
        *,
        http2: bool = False,
        tls: ssl.SSLContext | None = None,
    ):
        self.policy = policy
        self._make = client
        self._http2 = http2
        self._clients: dict[Scope, httpx.AsyncClient] = {}
        # Loading the CA bundle takes a while: once per build, shared with the fetcher.
        self._tls = tls or httpx.create_ssl_context()

    def client(self, found_in: FoundIn) -> httpx.AsyncClient:
        """The client for URLs found in that document."""
        scope = self.scope(found_in)
        if scope not in self._clients:
            transport = GuardedTransport(self.policy, scope, self._tls, http2=self._http2)
            self._clients[scope] = self._make(transport)
        return self._clients[scope]

    @staticmethod
    def scope(found_in: FoundIn) -> Scope:
        """The carrying document's address, when it adds to what is public anyway."""
        address = parse_address(found_in.address or "")
        if address is None or is_public(address):
            return frozenset()
        return frozenset({address})

    async def aclose(self) -> None:
        closing: Sequence[Awaitable[None]] = [c.aclose() for c in self._clients.values()]
        self._clients = {}
        await asyncio.gather(*closing)


def peer_address(response: httpx.Response) -> str | None:
    """The IP address a response came from (None without a network connection)."""
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    server = stream.get_extra_info("server_addr")
    if not server:
        return None
    return str(server[0])
