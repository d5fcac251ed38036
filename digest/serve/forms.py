"""What the forms send, read defensively: CSRF tokens, the honeypot, the reader's choices.

The CSRF defence is a signed double submit: GET /subscribe sets a random
nonce in a SameSite=Strict cookie and puts `<time>.<HMAC(nonce, time)>` in
the form; a POST must bring both, and the pair must be under two hours old.
A page on another site can neither read the form's token nor send the
cookie. The honeypot is a text field hidden from people: a bot that fills it
gets the usual answer and nothing is done.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request

from digest.models import Preferences

CSRF_COOKIE = "digest_csrf"
CSRF_MAX_AGE = 2 * 3600
HONEYPOT = "website"
MAX_BODY = 16_384  # a form is a few hundred bytes; more is not a reader
MAX_FIELD = 320  # the longest email address; names and sources are cut far shorter


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def csrf_token(secret: bytes, nonce: str, now: float) -> str:
    issued = str(int(now))
    return f"{issued}.{_sign(secret, nonce, issued)}"


def csrf_ok(secret: bytes, nonce: str | None, token: str, now: float) -> bool:
    """Whether the form's token matches the cookie's nonce and is recent."""
    issued, _, signature = token.partition(".")
    if not nonce or not issued.isdigit() or not signature:
        return False
    if not 0 <= now - int(issued) <= CSRF_MAX_AGE:
        return False
    return hmac.compare_digest(signature, _sign(secret, nonce, issued))


def _sign(secret: bytes, nonce: str, issued: str) -> str:
    digest = hmac.new(secret, f"csrf:{nonce}:{issued}".encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


@dataclass(frozen=True)
class SubscribeForm:
    email: str
    name: str
    preferences: Preferences
    csrf: str
    trapped: bool  # the honeypot was filled: a bot


def field(values: dict[str, list[str]], name: str) -> str:
    """The first value of a field, trimmed and bounded ("" when absent)."""
    found = values.get(name) or [""]
    return found[0].strip()[:MAX_FIELD]


def choices(values: dict[str, list[str]], offered: Sequence[str]) -> Preferences:
    """Sources among those offered (unknown ones dropped) and a cadence ("issue" by default)."""
    allowed = set(offered)
    chosen = _unique(v for v in values.get("sources", []) if v in allowed)
    # Every source ticked means "everything", so sources added later are included too.
    sources = () if set(chosen) == allowed else chosen
    cadence = "weekly" if field(values, "cadence") == "weekly" else "issue"
    return Preferences(sources=sources, cadence=cadence)


def subscribe_form(values: dict[str, list[str]], offered: Sequence[str]) -> SubscribeForm:
    return SubscribeForm(
        email=field(values, "email"),
        name=" ".join(field(values, "name").split())[:100],
        preferences=choices(values, offered),
        csrf=field(values, "csrf"),
        trapped=bool(field(values, HONEYPOT)),
    )


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


async def read_form(request: Request, *, strict: bool = True) -> dict[str, list[str]]:
    """The urlencoded fields of a POST (at most MAX_BODY bytes; others give no fields)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}  # RFC 8058 allows multipart too: the unsubscribe needs no field
    try:
        return parse_qs(body.decode("utf-8", "replace"), max_num_fields=100)
    except ValueError:
        if strict:
            raise HTTPException(400) from None
        return {}
