"""What the local preview server accepts: localhost names, and a backlog fit for a page load."""

from __future__ import annotations

import ipaddress
from http.server import ThreadingHTTPServer

BACKLOG = 128


def loopback_host(header: str | None) -> bool:
    """Whether a Host header names this machine: a localhost name or an IP address.

    A DNS-rebinding page reaches us under its own name; no browser sends a
    header without one (HTTP/1.0 clients may, and are served).
    """
    if header is None:
        return True
    host = header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class LocalServer(ThreadingHTTPServer):
    """The stdlib's threading server with a real backlog; request threads never block exit."""

    request_queue_size = BACKLOG  # the stdlib's 5 drops connections when a page loads at once
    daemon_threads = True
