"""One SMTP connection, opened on first use and reused: replies sorted into what to do next.

A 5xx for one recipient is PermanentError (recorded, never retried); a 4xx
to RCPT is RecipientDeferred (that reader waits, the run goes on); any other
4xx or a lost connection is TransientError (the connection is dropped and
the next message reconnects). No reply to the end of DATA within
`data_timeout` is UnknownOutcome: the server may have taken the message, so
it is never resent blindly. A refused sender stops the run (DeliveryError);
a setting that cannot work (TLS against plaintext, a missing CA file, a
refused login, no STARTTLS) is a ConfigError at once, never a retry. Every
reply is masked (`r***@example.org`) before it reaches a log or the send log.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
import ssl
from contextlib import suppress
from typing import Any

from digest.config import Config, SmtpSettings
from digest.errors import (
    ConfigError,
    DeliveryError,
    NoReply,
    PermanentError,
    RecipientDeferred,
    TransientError,
    UnknownOutcome,
)
from digest.mail.subscribers import mask

logger = logging.getLogger(__name__)


def smtp_password(settings: SmtpSettings) -> str | None:
    """The AUTH password from the environment, or None when no username is set."""
    if not settings.username:
        return None
    password = os.environ.get(settings.password_env)
    if not password:
        raise ConfigError(
            f"smtp.username is set: put the password in the environment variable"
            f" {settings.password_env} (smtp.password_env names it)"
        )
    return password


def relays(settings: SmtpSettings) -> list[tuple[str, int]]:
    """(host, port) of every relay: `host` first, then `relays`."""
    found = [(settings.host, settings.port)]
    for relay in settings.relays:
        host, _, port = relay.rpartition(":")
        found.append((host.strip("[]"), int(port)))
    return found


class SmtpTransport:
    """One SMTP connection, opened on first use and reused for every message."""

    def __init__(self, config: Config, relay: int = 0) -> None:
        """`relay` picks among `[smtp] host` and `relays` in turn (0 is `host`)."""
        self.settings = config.smtp
        self.host, self.port = relays(config.smtp)[relay % len(relays(config.smtp))]
        self._password = smtp_password(config.smtp)
        self._ca_file = str(config.resolve(config.smtp.ca_file)) if config.smtp.ca_file else None
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{self.host}:{self.port}"
        smtp: smtplib.SMTP | None = None
        try:
            context = ssl.create_default_context(cafile=self._ca_file)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(
                f"smtp.ca_file {self._ca_file}: {getattr(e, 'strerror', None) or e}"
                " (a PEM file of CA certificates)"
            ) from None
        try:
            if s.security == "tls":
                smtp = _TimedSMTPSSL(self.host, self.port, timeout=s.timeout, context=context)
            else:
                smtp = _TimedSMTP(self.host, self.port, timeout=s.timeout)
            smtp.data_timeout = s.data_timeout
            # A message is written as several TLS records; without NODELAY, Nagle holds
            # the last one until the server's delayed ACK (40 ms a message).
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise ConfigError(
                        f"{where} does not offer STARTTLS: set smtp.security to"
                        ' "tls" (port 465) or "none" (a relay on this machine)'
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username and self._password is not None:
                smtp.login(s.username, self._password)
        except ConfigError:
            _quietly_close(smtp)
            raise
        except smtplib.SMTPAuthenticationError as e:
            _quietly_close(smtp)
            raise ConfigError(
                f"{where} refused the login for {s.username!r} ({e.smtp_code});"
                f" check smtp.username and {s.password_env}"
            ) from None
        except (ssl.SSLCertVerificationError, ssl.CertificateError) as e:
            _quietly_close(smtp)
            raise ConfigError(
                f"{where}: the TLS certificate is not trusted ({_text(str(e))});"
                " smtp.ca_file can add a CA"
            ) from None
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as e:
            _quietly_close(smtp)
            raise TransientError(f"{where}: the TLS handshake was cut off ({e})") from None
        except ssl.SSLError as e:
            _quietly_close(smtp)
            raise ConfigError(
                f"{where}: the TLS handshake failed ({e.reason or e}); does the server speak"
                f' TLS on this port? smtp.security is "{s.security}" (465: "tls", 587: "starttls")'
            ) from None
        except smtplib.SMTPNotSupportedError as e:
            _quietly_close(smtp)
            raise ConfigError(f"{where}: {e} (check smtp.security and smtp.username)") from None
        except smtplib.SMTPResponseException as e:
            _quietly_close(smtp)
            if 400 <= e.smtp_code < 500:
                raise TransientError(f"{where} answered {e.smtp_code} on connect") from None
            raise DeliveryError(f"{where} answered {e.smtp_code}: {_text(e.smtp_error)}") from None
        except (OSError, smtplib.SMTPException) as e:
            _quietly_close(smtp)
            raise TransientError(f"cannot reach {where}: {e}") from None
        logger.info("connected to %s (%s)", where, s.security)
        return smtp

    def send(self, sender: str, recipient: str, raw: bytes) -> str:
        """Hand one message to the server; returns its reply to DATA.

        Raises TransientError (the connection is dropped, the next call
        reconnects), RecipientDeferred or PermanentError for this recipient,
        UnknownOutcome when the end of DATA went unanswered, or DeliveryError
        when the server refuses the sender itself.
        """
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        options = [] if recipient.isascii() else ["SMTPUTF8"]
        try:
            smtp.sendmail(sender, [recipient], raw, mail_options=options)
            return "250"
        except NoReply:
            self._drop()
            raise UnknownOutcome(
                f"no reply to the end of DATA within {self.settings.data_timeout:g} s"
                " (smtp.data_timeout): the server may have taken the message"
            ) from None
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()), (451, b"refused"))
            detail = f"{code} {scrub(_text(text), recipient)}"
            if 400 <= code < 500 and code != 421:
                raise RecipientDeferred(detail) from None
            return self._fail(code, text, recipient)
        except smtplib.SMTPSenderRefused as e:
            if 400 <= e.smtp_code < 500:
                return self._fail(e.smtp_code, e.smtp_error, recipient)
            self.close()
            raise DeliveryError(
                f"the server refused the sender {sender} ({e.smtp_code}):"
                f" {scrub(_text(e.smtp_error), recipient)}"
            ) from None
        except smtplib.SMTPResponseException as e:
            return self._fail(e.smtp_code, e.smtp_error, recipient)
        except (OSError, smtplib.SMTPException) as e:
            self._drop()
            reason = scrub(_text(str(e)), recipient)
            raise TransientError(f"connection lost: {type(e).__name__}: {reason}") from None

    def _fail(self, code: int, text: bytes | str, recipient: str) -> str:
        detail = f"{code} {scrub(_text(text), recipient)}"
        if 500 <= code < 600:
            raise PermanentError(detail)
        self._drop()  # 421 closes the session; after any 4xx a fresh one is simplest
        raise TransientError(detail)

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        _quietly_close(smtp, polite=False)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        _quietly_close(smtp)


class _DataTimeout:
    """Waits `data_timeout` (not the command timeout) for the reply to the end of DATA.

    RFC 5321 4.5.3.2.6: the server may take minutes to accept; a client that
    times out sooner and sends again mails the reader twice.
    """

    data_timeout: float = 600.0
    _body_sent = False
    _in_data = False
    sock: Any

    def data(self, msg: Any) -> tuple[int, bytes]:
        self._in_data, self._body_sent = True, False
        command_timeout = self.sock.gettimeout() if self.sock is not None else None
        try:
            return super().data(msg)  # type: ignore[misc, no-any-return]
        except smtplib.SMTPServerDisconnected as e:
            if self._body_sent and isinstance(e.__context__, TimeoutError):
                raise NoReply from None
            raise
        finally:
            self._in_data = False
            if self.sock is not None:
                self.sock.settimeout(command_timeout)

    def send(self, s: Any) -> None:
        super().send(s)  # type: ignore[misc]
        if self._in_data and isinstance(s, bytes) and self.sock is not None:
            self._body_sent = True  # smtplib sends the whole body, "." included, at once
            self.sock.settimeout(self.data_timeout)


class _TimedSMTP(_DataTimeout, smtplib.SMTP):
    pass


class _TimedSMTPSSL(_DataTimeout, smtplib.SMTP_SSL):
    pass


_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:@]+@[^\s<>()\[\]\"',;:@]+")


def scrub(text: str, address: str = "") -> str:
    """`text` with `address` (any case) and anything else like an address masked."""
    if address:
        masked = mask(address)
        text = re.sub(re.escape(address), lambda _: masked, text, flags=re.IGNORECASE)
    return _ADDRESS.sub(lambda m: m.group(0) if "***@" in m.group(0) else mask(m.group(0)), text)


def _quietly_close(smtp: smtplib.SMTP | None, polite: bool = True) -> None:
    if smtp is None:
        return
    try:
        if polite:
            smtp.quit()
    except (OSError, smtplib.SMTPException):
        pass
    with suppress(OSError):
        smtp.close()


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return " ".join(text.split())
