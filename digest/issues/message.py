"""Wrap a rendered issue in a MIME message: multipart/alternative, text then HTML.

The same function makes `message.eml` (no recipient) and each subscriber's
copy: one `To`, a per-reader unsubscribe token in `List-Unsubscribe` (mailto:
always, plus the https URL with RFC 8058 one-click when one is configured),
a `List-Id`, and optionally a DKIM signature.
"""

from __future__ import annotations

import dataclasses
import email.policy
import hashlib
import logging
import re
import secrets
import string
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import quote, urlsplit

from digest.config import Config
from digest.errors import ConfigError
from digest.models import Issue, RenderedIssue

logger = logging.getLogger(__name__)


def list_unsubscribe_headers(target: str) -> dict[str, str]:
    """Return List-Unsubscribe (and, for https, the RFC 8058 one-click header) for a URL."""
    target = target.strip()
    scheme = target.partition(":")[0].lower()
    if (
        not target
        or any(c in target for c in "<>\r\n ")
        or scheme not in ("mailto", "http", "https")
    ):
        if target:
            logger.warning(
                "newsletter.unsubscribe %r is not a mailto: or http(s) URL; ignored", target
            )
        return {}
    headers = {"List-Unsubscribe": f"<{target}>"}
    if scheme == "https":
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


TOKEN = "{token}"


def sender_address(config: Config) -> str:
    """The bare address of `[newsletter] from`; ConfigError when it has none."""
    sender = config.newsletter.sender
    _, address = parseaddr(sender)
    if "@" not in address:
        raise ConfigError(
            f"newsletter.from {sender!r} has no email address (Name <you@example.com>)"
        )
    return address


def list_id(config: Config) -> str:
    """RFC 2919 List-Id: the title, and a slug under the sender's domain."""
    domain = sender_address(config).rpartition("@")[2].lower()
    title = config.newsletter.title
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "digest"
    phrase = re.sub(r'["\\\r\n<>]', "", " ".join(title.split()))
    return f'"{phrase}" <{slug}.{domain}>' if phrase else f"<{slug}.{domain}>"


def personal_unsubscribe(config: Config, token: str) -> dict[str, str]:
    """List-Unsubscribe for one reader: mailto: with the token, plus the http(s) URL.

    The mailto address is the one in `[newsletter] unsubscribe` when that is a
    mailto:, else the From address; the URL gets the token in place of
    "{token}", or as a `token` query parameter.
    """
    target = config.unsubscribe_url.strip()
    scheme = target.partition(":")[0].lower()
    mailbox = sender_address(config)
    if scheme == "mailto":
        mailbox = urlsplit(target).path or mailbox
    elif config.newsletter.unsubscribe.startswith("mailto:"):
        mailbox = urlsplit(config.newsletter.unsubscribe).path or mailbox
    targets = [f"mailto:{mailbox}?subject={quote('unsubscribe ' + token)}"]
    if scheme in ("http", "https") and list_unsubscribe_headers(target):
        if TOKEN in target:
            url = target.replace(TOKEN, quote(token))
        else:
            url = f"{target}{'&' if '?' in target else '?'}token={quote(token)}"
        targets.append(url)
    headers = {"List-Unsubscribe": ", ".join(f"<{t}>" for t in targets)}
    # `digest serve` answers the one-click POST (on loopback too, where http is allowed).
    if scheme == "https" or config.server.base_url:
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def personal_message_id(issue_id: str, recipient: str, config: Config) -> str:
    """The same Message-ID for every try at one (issue, reader) pair.

    Should a message go out twice (the one window the send log cannot close),
    both copies carry one Message-ID, which mail stores use to drop the second.
    """
    key = hashlib.sha256(f"{issue_id}\0{recipient.lower()}".encode()).hexdigest()[:24]
    domain = sender_address(config).rpartition("@")[2]
    safe_id = re.sub(r"[^A-Za-z0-9.-]", "", issue_id) or "issue"
    return f"<{safe_id}.{key}@{domain}>"


def build_message(
    issue: Issue,
    rendered: RenderedIssue,
    config: Config,
    *,
    to: str | None = None,
    token: str | None = None,
    date: datetime | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """Return the issue as an email; `bytes(message)` is the .eml file (CRLF line ends).

    With a `token` the message is one reader's: List-Unsubscribe carries their
    token, and "{token}" in the body (the footer's unsubscribe link) becomes it.
    """
    msg = EmailMessage(policy=email.policy.SMTP)
    _set_headers(msg, issue, rendered, config, to, token, date, message_id)
    text, html = rendered.text, rendered.html
    if token is not None:
        text = text.replace(TOKEN, quote(token))
        html = html.replace(TOKEN, quote(token)).replace(quote(TOKEN), quote(token))
    # Quoted-printable keeps the .eml readable and folds the HTML's long lines under 998.
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def _set_headers(
    msg: EmailMessage,
    issue: Issue,
    rendered: RenderedIssue,
    config: Config,
    to: str | None,
    token: str | None,
    date: datetime | None,
    message_id: str | None,
) -> None:
    sender = config.newsletter.sender
    address = sender_address(config)
    when = date or issue.generated_at
    sent = when if when.tzinfo else when.replace(tzinfo=UTC)
    # A subject is one line whatever the story titles held (no header injection).
    msg["Subject"] = " ".join(rendered.subject.split())
    msg["From"] = sender
    msg["To"] = to or sender
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = message_id or make_msgid(domain=address.rpartition("@")[2])
    msg["List-Id"] = list_id(config)
    if token is None:
        unsubscribe = list_unsubscribe_headers(config.newsletter.unsubscribe)
    else:
        unsubscribe = personal_unsubscribe(config, token)
    for name, value in unsubscribe.items():
        msg[name] = value


class MessageFactory:
    """Each reader's copy as bytes, fast: the body is encoded once, only headers differ.

    Encoding 20 KB as quoted-printable costs more than everything else in a
    send, so it happens once per token length: "{token}" in the body becomes
    a random run of letters as long as the token, and each copy swaps the
    reader's token in (tokens are letters, digits, "-" and "_", which
    quoted-printable leaves as they are, so the soft line breaks fall where
    they would for the real token). The result equals
    `bytes(build_message(...))` but for the MIME boundary.
    """

    def __init__(self, issue: Issue, rendered: RenderedIssue, config: Config) -> None:
        self.issue, self.rendered, self.config = issue, rendered, config
        bodies = rendered.text + rendered.html
        self._personal = TOKEN in bodies or quote(TOKEN) in bodies
        self._encoded: dict[int, tuple[bytes, bytes, re.Pattern[bytes] | None]] = {}

    def build(self, *, to: str, token: str, date: datetime, message_id: str) -> bytes:
        msg = EmailMessage(policy=email.policy.SMTP)
        _set_headers(msg, self.issue, self.rendered, self.config, to, token, date, message_id)
        head = bytes(msg).removesuffix(b"\r\n\r\n")
        value = quote(token)
        if not _QP_SAFE.fullmatch(value):  # cannot happen with make_token; stay correct anyway
            full = build_message(self.issue, self.rendered, self.config, token=token)
            mime, body = _split(bytes(full))
            return head + mime + b"\r\n\r\n" + body
        mime, body, slot = self._body(len(value) if self._personal else 0)
        if slot is not None:
            body = slot.sub(lambda m: _fill(m.group(0), value.encode()), body)
        return head + mime + b"\r\n\r\n" + body

    def _body(self, length: int) -> tuple[bytes, bytes, re.Pattern[bytes] | None]:
        if length not in self._encoded:
            text, html = self.rendered.text, self.rendered.html
            slot = None
            if length:
                marker = "".join(secrets.choice(string.ascii_letters) for _ in range(length))
                text = text.replace(TOKEN, marker)
                html = html.replace(TOKEN, marker).replace(quote(TOKEN), marker)
                slot = re.compile(b"(?:=\r\n)?".join(re.escape(c.encode()) for c in marker))
            message = build_message(
                self.issue, dataclasses.replace(self.rendered, text=text, html=html), self.config
            )
            mime, body = _split(bytes(message))
            self._encoded[length] = (mime, body, slot)
        return self._encoded[length]


_QP_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def _split(raw: bytes) -> tuple[bytes, bytes]:
    """(the MIME-Version and Content-Type lines that end the header block, the body)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    return head[head.index(b"\r\nMIME-Version:") :], body


def _fill(found: bytes, token: bytes) -> bytes:
    """`found` (the marker, maybe cut by soft line breaks) with the token's characters."""
    out = bytearray()
    chars = iter(token)
    index = 0
    while index < len(found):
        if found.startswith(b"=\r\n", index):
            out += b"=\r\n"
            index += 3
        else:
            out.append(next(chars))
            index += 1
    return bytes(out)


_SIGNED = (
    b"From", b"To", b"Subject", b"Date", b"Message-ID", b"MIME-Version", b"Content-Type",
    b"List-Id", b"List-Unsubscribe", b"List-Unsubscribe-Post",
)  # fmt: skip


def dkim_signer(config: Config) -> Callable[[bytes], bytes] | None:
    """A function adding a DKIM-Signature to a message's bytes, or None when not configured."""
    smtp = config.smtp
    if not smtp.dkim_key and not smtp.dkim_selector:
        return None
    if not (smtp.dkim_key and smtp.dkim_selector):
        raise ConfigError("smtp.dkim_key and smtp.dkim_selector must be set together")
    path = config.resolve(smtp.dkim_key)
    try:
        key = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"smtp.dkim_key: cannot read {path}: {e.strerror}") from None
    import dkim  # dkimpy: imported only when signing, it pulls in dnspython

    domain = sender_address(config).rpartition("@")[2].encode()
    selector = smtp.dkim_selector.encode()

    def sign(raw: bytes) -> bytes:
        try:
            signature = dkim.sign(raw, selector, domain, key, include_headers=list(_SIGNED))
        except dkim.DKIMException as e:
            raise ConfigError(f"smtp.dkim_key: cannot sign with {path}: {e}") from None
        return bytes(signature) + raw

    return sign
