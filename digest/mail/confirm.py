"""The double opt-in mail: one plain-text message with the reader's confirmation link.

It goes out from the same VERP envelope as the issues, so an address that
bounces before it is ever confirmed ends up `bounced` too.
"""

from __future__ import annotations

import email.policy
import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from digest.config import Config
from digest.errors import ConfigError, DeliveryError, DigestError
from digest.issues.message import dkim_signer, list_id, sender_address
from digest.mail.bounces import on_refusal, verp_address
from digest.mail.smtp import SmtpTransport
from digest.models import Subscriber
from digest.render.environment import make_environment
from digest.store import State

logger = logging.getLogger(__name__)


def confirmation_message(config: Config, subscriber: Subscriber, link: str) -> bytes:
    """The confirmation mail's bytes (text from the theme's pages/confirm.txt.j2)."""
    env = make_environment(config)
    text = env.get_template("pages/confirm.txt.j2").render(
        title=config.newsletter.title,
        name=subscriber.name,
        link=link,
        hours=config.server.confirm_hours,
    )
    msg = EmailMessage(policy=email.policy.SMTP)
    address = sender_address(config)
    msg["Subject"] = f"Confirm your subscription to {' '.join(config.newsletter.title.split())}"
    msg["From"] = config.newsletter.sender
    msg["To"] = formataddr((subscriber.name, subscriber.email))
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=address.rpartition("@")[2])
    msg["List-Id"] = list_id(config)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    msg.set_content(text.strip() + "\n", charset="utf-8", cte="quoted-printable")
    raw = bytes(msg)
    sign = dkim_signer(config)
    return sign(raw) if sign else raw


def send_confirmation(config: Config, subscriber: Subscriber, link: str) -> bool:
    """Mail the link; False (logged, nothing raised) when the server would not take it."""
    envelope = sender_address(config)
    if config.smtp.bounce_address:
        envelope = verp_address(config.smtp.bounce_address, subscriber.id)
    try:
        raw = confirmation_message(config, subscriber, link)
        with SmtpTransport(config) as smtp:
            smtp.send(envelope, subscriber.email, raw)
    except DeliveryError as e:
        logger.warning("confirmation mail for subscriber #%d not sent: %s", subscriber.id, e)
        if str(e)[:1] == "5":  # a 5.1.x: the address does not exist
            try:
                with State(config.state_target) as state:
                    on_refusal(state, subscriber.id, str(e))
            except ConfigError as problem:  # authentication refused: the operator must act
                logger.error("%s", problem)
        return False
    logger.info("confirmation mail sent to subscriber #%d", subscriber.id)
    return True


def send_welcome(config: Config, subscriber_id: int) -> None:
    """Mail the newest issue to a reader who just confirmed (recorded in the send log)."""
    from digest.issues.files import load_issue
    from digest.mail.send import send_issue  # send imports this module's neighbours

    try:
        loaded = load_issue(config.output_dir)
        with State(config.state_target) as state:
            report = send_issue(config, state, loaded, only=subscriber_id)
    except DigestError as e:
        logger.warning("welcome mail for subscriber #%d not sent: %s", subscriber_id, e)
        return
    logger.info("welcome mail: issue %s, %d sent", report.issue_id, report.sent)
