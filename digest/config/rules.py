"""Checks of keys that only make sense together: SMTP security and port, the DKIM pair.

Each `Rule` reads some keys of one table (each `[[feeds]]` table in turn) and
returns what is wrong, or None. It runs only when every key it reads passed its
own check in `checks.py`, so one mistake is reported once, at the line of
the last key the rule reads. A new rule is one function and one row in `RULES`.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.config import FeedSettings, SmtpSettings

Resolve = Callable[[str], Path]
"""A path from config.toml made absolute (relative ones are beside config.toml)."""


@dataclass(frozen=True)
class Rule:
    """A check across keys of one table, reported at the line of the last key it reads."""

    table: str
    reads: tuple[str, ...]
    check: Callable[[Any, Resolve], str | None]  # (settings, resolve) -> problem or None


_IMPLICIT_TLS_PORTS = {465}
_PLAIN_START_PORTS = {25, 587}


def _security_and_port(smtp: SmtpSettings, resolve: Resolve) -> str | None:
    if smtp.security != "tls" and smtp.port in _IMPLICIT_TLS_PORTS:
        return (
            f'security = "{smtp.security}" with port {smtp.port}: port 465 speaks TLS from the'
            ' first byte; use security = "tls" (or port 587 with "starttls")'
        )
    if smtp.security == "tls" and smtp.port in _PLAIN_START_PORTS:
        return (
            f'security = "tls" with port {smtp.port}: that port starts in plain text;'
            ' use security = "starttls" (or port 465 with "tls")'
        )
    return None


def _password_in_clear(smtp: SmtpSettings, resolve: Resolve) -> str | None:
    if smtp.security != "none" or not smtp.username or _is_loopback(smtp.host):
        return None
    return (
        f'security = "none" with username: the password would cross the network to'
        f' {smtp.host} unencrypted; use "starttls" or "tls" (plain AUTH only to this machine)'
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _dkim_pair(smtp: SmtpSettings, resolve: Resolve) -> str | None:
    if bool(smtp.dkim_key) != bool(smtp.dkim_selector):
        return "dkim_key and dkim_selector go together: set both (to sign) or neither"
    return None


def _dkim_key_file(smtp: SmtpSettings, resolve: Resolve) -> str | None:
    if not smtp.dkim_key:
        return None
    data, problem = _read_small(resolve, smtp.dkim_key)
    if problem:
        return f"dkim_key {problem}"
    import dkim.crypto  # dkimpy: the parser that signs with the key later

    try:
        dkim.crypto.parse_pem_private_key(data)
    except Exception:  # dkimpy raises several types (UnparsableKeyError, ASN.1 and b64 errors)
        return f"dkim_key {smtp.dkim_key!r} is not a PEM private key (BEGIN … PRIVATE KEY)"
    return None


def _ca_file(smtp: SmtpSettings, resolve: Resolve) -> str | None:
    if not smtp.ca_file:
        return None
    _, problem = _read_small(resolve, smtp.ca_file)
    if problem:
        return f"ca_file {problem}"
    try:
        ssl.create_default_context(cafile=str(resolve(smtp.ca_file)))
    except (ssl.SSLError, OSError, ValueError):
        return f"ca_file {smtp.ca_file!r} holds no PEM certificate"
    return None


def _read_small(resolve: Resolve, path: str, limit: int = 1_000_000) -> tuple[bytes, str | None]:
    """A small regular file's bytes, or why it cannot be read (never blocks on a FIFO)."""
    try:
        full = resolve(path)
        if not full.is_file():
            return b"", f"{path!r}: no such file ({full})"
        with full.open("rb") as f:
            data = f.read(limit + 1)
    except (OSError, ValueError, RuntimeError) as e:
        return b"", f"{path!r}: cannot read: {getattr(e, 'strerror', None) or e}"
    if len(data) > limit:
        return b"", f"{path!r}: larger than {limit:,} bytes"
    return data, None


def _comments_url_needs_source(feed: FeedSettings, resolve: Resolve) -> str | None:
    if feed.comments_url and feed.comments in ("auto", "none"):
        return (
            f'comments_url is used only with an explicit comments source, not "{feed.comments}"'
            ' (e.g. comments = "discourse")'
        )
    return None


RULES = (
    Rule("smtp", ("security", "port"), _security_and_port),
    Rule("smtp", ("security", "host", "username"), _password_in_clear),
    Rule("smtp", ("dkim_key", "dkim_selector"), _dkim_pair),
    Rule("smtp", ("dkim_key",), _dkim_key_file),
    Rule("smtp", ("ca_file",), _ca_file),
    Rule("feeds", ("comments", "comments_url"), _comments_url_needs_source),
)
