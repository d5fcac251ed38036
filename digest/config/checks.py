"""What `load_config` checks beyond types: each value's range or form.

`FIELDS` maps a key as written in config.toml ("theme.brand_color"; every
`[[feeds]]` table is "feeds") to a function that returns the value to keep,
normalised ("#ABC" becomes "#aabbcc"), or raises ValueError saying what is
wrong: a new key gets its check with one row. Keys that only make sense
together are checked by `rules.py`.

Nothing here imports a stage, and the slow libraries (croniter, email-validator,
cssutils) load only when the key they check is in the file.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from digest.config.css import colour, font_list

# ── values ───────────────────────────────────────────────────────────────────

LARGEST = 1_000_000_000
"""Bound of every number: no setting needs more, and nothing overflows below it."""


def between(low: float, high: float, *, above: bool = False) -> Callable[[float], float]:
    """A range check: `low` <= value <= `high` (`low` < value with `above`)."""

    def check(value: float) -> float:
        if low <= value <= high and not (above and value == low):
            return value
        floor, top = _number(low), _number(high)
        if high >= LARGEST:
            if value > high:
                raise ValueError(f"must be at most {top}")
            raise ValueError(f"must be more than {floor}" if above else f"must be at least {floor}")
        if above:
            raise ValueError(f"must be more than {floor} and at most {top}")
        raise ValueError(f"must be between {floor} and {top}")

    return check


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


COUNT = between(1, LARGEST)
"""Sizes and counts: at least one."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n\t]")
MULTILINE = {"newsletter.postal_address", "theme.footer_text"}
"""String keys that may hold line breaks; every other string is one line."""


def one_line(value: str) -> str:
    if _LINE_BREAK.search(value) or _CONTROL.search(value):
        raise ValueError("must be one line without control characters")
    return value


def text_block(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def sender(value: str) -> str:
    """A From header with one address: "you@example.com" or "Name <you@example.com>"."""
    import email.policy

    from email_validator import EmailNotValidError, validate_email

    hint = 'write "Name <you@example.com>" or "you@example.com"'
    try:
        header: Any = email.policy.default.header_factory("From", value)
        addresses = header.addresses
        defects = header.defects
    except Exception:  # the stdlib header parser has crashed on odd input before
        raise ValueError(f"is not an address: {hint}") from None
    if len(addresses) != 1 or defects:
        raise ValueError(f"is not one address: {hint}")
    try:
        validate_email(addresses[0].addr_spec, check_deliverability=False)
    except EmailNotValidError as e:
        raise ValueError(f"has a bad address: {e}") from None
    return value.strip()


def http_url(value: str) -> str:
    """An absolute http(s) URL, or "" for none."""
    if value and not _is_http(value):
        raise ValueError("must be an http(s) URL (or empty)")
    return value


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(host) and not re.search(r"[\s<>\"']", url)


def unsubscribe_target(value: str) -> str:
    if value and not (value.lower().startswith("mailto:") or _is_http(value)):
        raise ValueError("must be a mailto: or http(s) URL (or empty)")
    if re.search(r"[\s<>]", value):
        raise ValueError("must not contain spaces or angle brackets")
    return value


def feed_url(value: str) -> str:
    """An http(s) URL, a file: URL or a local path (what the fetcher reads)."""
    if not value.strip():
        raise ValueError("must not be empty")
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        raise ValueError("is not a URL or a path") from None
    if scheme in ("http", "https") and not _is_http(value):
        raise ValueError("is not a complete http(s) URL")
    if scheme not in ("http", "https", "file") and len(scheme) > 1:
        raise ValueError(f"has scheme {scheme!r}: use http(s), file: or a local path")
    return value


def url_pattern(value: str) -> str:
    """A comments API URL with {page}, {url} or {id} in it, or "" ({page} may start it)."""
    filled = re.sub(r"\{(page|url)\}", "https://x.example/p", value).replace("{id}", "1")
    if value and not _is_http(filled):
        raise ValueError("must be an http(s) URL, optionally with {page}, {url} or {id}")
    return value


def not_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def language_tag(value: str) -> str:
    if (
        value
        and value != "auto"
        and not re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*", value)
    ):
        raise ValueError('must be a language tag such as "en" or "pt-BR", or "auto"')
    return value


def env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError("must be an environment variable name (letters, digits, _)")
    return value


def hostname(value: str) -> str:
    if not re.fullmatch(r"[\w.-]+|\[?[0-9A-Fa-f:.]+\]?", value):
        raise ValueError("must be a host name or an IP address")
    return value


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


def dns_labels(value: str) -> str:
    if value and not re.fullmatch(rf"{_LABEL}(?:\.{_LABEL})*", value):
        raise ValueError('must be a DNS name such as "mail" or "2026.mail" (or empty)')
    return value


def cron(value: str) -> str:
    """Five cron fields that come due at least once (no 30 February)."""
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(f"needs five fields (m h dom mon dow), not {len(fields)}")
    from croniter import CroniterError, croniter

    if not croniter.is_valid(value):
        raise ValueError("is not a cron expression (m h dom mon dow)")
    try:
        croniter(value, datetime(2026, 1, 1)).get_next(datetime)
    except (CroniterError, ValueError, OverflowError):
        raise ValueError("never comes due") from None
    return value


def timezone(value: str) -> str:
    """An IANA zone name, or "" for the machine's own."""
    if not value:
        return value
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError('is not an IANA zone such as "America/Detroit"') from None
    return value


def allowances(values: list[str]) -> list[str]:
    """`[fetch] allow_private`: each an IP address, a CIDR network or a host name."""
    for entry in values:
        try:
            ipaddress.ip_network(entry, strict=False)
            continue
        except ValueError:
            labels = entry.lower().removeprefix(".").split(".")
        if not all(re.fullmatch(r"(?!-)[a-z0-9-]{1,63}", label) for label in labels):
            raise ValueError(f"has {entry!r}, which is no IP address, network (CIDR) or host name")
    return values


def filters(values: list[str]) -> list[str]:
    """`[[feeds]] include` / `exclude`: words, phrases or /regular expressions/."""
    for pattern in values:
        if not pattern.strip():
            raise ValueError("has an empty filter")
        if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
            try:
                re.compile(pattern[1:-1])
            except re.error as e:
                raise ValueError(f"has an invalid regular expression {pattern!r}: {e}") from None
    return values


_BASE_URL = re.compile(r"(https?)://([A-Za-z0-9.\-]+|\[[0-9a-fA-F:]+\])(:\d+)?(/[^\s?#]*)?")


def base_url(value: str) -> str:
    """`[server] base_url`: https, or http on loopback only (RFC 8058 needs https)."""
    if not value:
        return value
    match = _BASE_URL.fullmatch(value)
    if not match:
        raise ValueError('must be an http(s) URL like "https://news.example.org"')
    host = match.group(2)
    if match.group(1) == "http" and not (host == "localhost" or host.startswith("127.")):
        raise ValueError("must use https (http only for localhost)")
    return value


def bounce_address(value: str) -> str:
    """`[smtp] bounce_address`: the plain address VERP adds `+<id>` to."""
    if value and not re.fullmatch(r"[^@\s+<>]+@[^@\s<>]+", value):
        raise ValueError('must be a bare address without "+", like "bounces@example.org"')
    return value


def is_database_url(target: object) -> bool:
    """Whether a state target names PostgreSQL rather than an SQLite file."""
    return str(target).startswith(("postgresql://", "postgres://"))


def database_url(value: str) -> str:
    if value and not is_database_url(value):
        raise ValueError(
            'must be a PostgreSQL URL like "postgresql://digest@db.example.org/digest"'
        )
    return value


def relays(value: tuple[str, ...]) -> tuple[str, ...]:
    for relay in value:
        host, _, port = relay.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65_536:
            raise ValueError(f'{relay!r} is not "host:port", like "smtp2.example.org:587"')
        hostname(host.strip("[]"))
    return value


def rate(value: float) -> float:
    if 0 < value < 0.001:
        raise ValueError("must be 0 (no cap) or at least 0.001 messages per second")
    return between(0, 1_000_000)(value)


# A timedelta, a sleep or a port number overflows past the upper bounds.
FIELDS: dict[str, Callable[[Any], Any]] = {
    "fetch.allow_private": allowances,
    "fetch.build_timeout": between(1, 86_400),
    "server.base_url": base_url,
    "server.host": hostname,
    "server.port": between(1, 65_535),
    "server.confirm_hours": between(1, 8_760),
    "server.subscribe_per_ip": between(1, 1_000_000),
    "server.subscribe_per_address": between(1, 1_000_000),
    "server.soft_bounce_limit": between(1, 1_000),
    "smtp.bounce_address": bounce_address,
    "feeds.include": filters,
    "feeds.exclude": filters,
    "newsletter.max_source_share": between(0, 1),
    "newsletter.max_stories": COUNT,
    "newsletter.lookback_days": between(0, 36_500),
    "feeds.summary_sentences": between(0, LARGEST),
    "summary.sentences": COUNT,
    "summary.max_words": COUNT,
    "comments.per_story": COUNT,
    "comments.max_words": COUNT,
    "comments.abuse_threshold": between(0, 1),
    "fetch.timeout": between(0, 86_400, above=True),
    "fetch.max_bytes": COUNT,
    "fetch.concurrency": COUNT,
    "fetch.per_host": COUNT,
    "fetch.max_redirects": between(0, 100),
    "theme.logo_width": COUNT,
    "theme.logo_height": COUNT,
    "theme.size_budget_kb": COUNT,
    "smtp.port": between(1, 65_535),
    "smtp.timeout": between(0, 86_400, above=True),
    "smtp.retries": between(0, 20),
    "smtp.backoff": between(0, 3_600),
    "smtp.data_timeout": between(0, 86_400, above=True),
    "smtp.defer_minutes": between(0, 10_080),
    "smtp.give_up_hours": between(0, 8_760),
    "schedule.grace_minutes": between(0, 5_256_000),
    "newsletter.language": language_tag,
    "newsletter.url": http_url,
    "newsletter.from": sender,
    "newsletter.unsubscribe": unsubscribe_target,
    "newsletter.unsubscribe_secret_env": env_name,
    "feeds.url": feed_url,
    "feeds.language": language_tag,
    "feeds.comments_url": url_pattern,
    "output.dir": not_empty,
    "state.path": not_empty,
    "state.url": database_url,
    "smtp.workers": between(1, 256),
    "smtp.relays": relays,
    "theme.brand_color": colour,
    "theme.text_color": colour,
    "theme.background_color": colour,
    "theme.serif_font": font_list,
    "theme.sans_font": font_list,
    "theme.logo_url": http_url,
    "smtp.host": hostname,
    "smtp.password_env": env_name,
    "smtp.rate": rate,
    "smtp.dkim_selector": dns_labels,
    "schedule.cron": cron,
    "schedule.timezone": timezone,
}


def check_value(key: str, value: Any) -> Any:
    """The value to keep for `key` ("section.name"), or ValueError saying what is wrong.

    `value` already has the key's type (a number is an int or float, not a bool).
    """
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(value, str):
        value = text_block(value) if key in MULTILINE else one_line(value)
    elif number and not math.isfinite(value):
        raise ValueError("must be a finite number")
    check = FIELDS.get(key)
    value = check(value) if check else value
    if number and abs(value) > LARGEST:
        raise ValueError(f"must be at most {LARGEST:,}")
    return value
