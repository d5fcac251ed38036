"""Wrap a rendered issue in a MIME message: multipart/alternative, text then HTML."""

from __future__ import annotations

import email.policy
import logging
from datetime import UTC
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

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


def build_message(
    issue: Issue, rendered: RenderedIssue, config: Config, *, to: str | None = None
) -> EmailMessage:
    """Return the issue as an email; `bytes(message)` is the .eml file (CRLF line ends)."""
    sender = config.newsletter.sender
    _, address = parseaddr(sender)
    if "@" not in address:
        raise ConfigError(
            f"newsletter.from {sender!r} has no email address (Name <you@example.com>)"
        )
    sent = (
        issue.generated_at if issue.generated_at.tzinfo else issue.generated_at.replace(tzinfo=UTC)
    )

    msg = EmailMessage(policy=email.policy.SMTP)
    # A subject is one line whatever the story titles held (no header injection).
    msg["Subject"] = " ".join(rendered.subject.split())
    msg["From"] = sender
    msg["To"] = to or sender
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = make_msgid(domain=address.rpartition("@")[2])
    for name, value in list_unsubscribe_headers(config.newsletter.unsubscribe).items():
        msg[name] = value
    # Quoted-printable keeps the .eml readable and folds the HTML's long lines under 998.
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
