"""One SMTP connection, opened on first use and reused: replies sorted into what to do next.

A 5xx for one recipient is PermanentError (recorded, never retried), a 4xx or
a lost connection TransientError (the connection is dropped and the next
message reconnects), and a refusal of the sender or of the login a
DeliveryError that stops the run.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import ssl
from contextlib import suppress

from digest.config import Config, SmtpSettings
from digest.errors import ConfigError, DeliveryError, PermanentError, TransientError

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


class SmtpTransport:
    """One SMTP connection, opened on first use and reused for every message."""

    def __init__(self, config: Config) -> None:
        self.settings = config.smtp
        self._password = smtp_password(config.smtp)
        self._ca_file = str(config.resolve(config.smtp.ca_file)) if config.smtp.ca_file else None
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        where = f"{s.host}:{s.port}"
        smtp: smtplib.SMTP | None = None
        try:
            context = ssl.create_default_context(cafile=self._ca_file)
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            # A message is written as several TLS records; without NODELAY, Nagle holds
            # the last one until the server's delayed ACK (40 ms a message).
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"{where} does not offer STARTTLS (smtp.security)")
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username and self._password is not None:
                smtp.login(s.username, self._password)
        except smtplib.SMTPAuthenticationError as e:
            _quietly_close(smtp)
            raise DeliveryError(
                f"{where} refused the login for {s.username!r} ({e.smtp_code});"
                f" check smtp.username and {s.password_env}"
            ) from None
        except (ssl.SSLCertVerificationError, ssl.CertificateError) as e:
            _quietly_close(smtp)
            raise DeliveryError(
                f"{where}: the TLS certificate is not trusted ({e}); smtp.ca_file can add a CA"
            ) from None
        except smtplib.SMTPNotSupportedError as e:
            _quietly_close(smtp)
            raise DeliveryError(f"{where}: {e} (check smtp.security and smtp.username)") from None
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
        reconnects), PermanentError for this recipient, or DeliveryError when
        the server refuses the sender itself.
        """
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        options = [] if recipient.isascii() else ["SMTPUTF8"]
        try:
            smtp.sendmail(sender, [recipient], raw, mail_options=options)
            return "250"
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()), (451, b"refused"))
            return self._fail(code, text)
        except smtplib.SMTPSenderRefused as e:
            if 400 <= e.smtp_code < 500:
                return self._fail(e.smtp_code, e.smtp_error)
            self.close()
            raise DeliveryError(
                f"the server refused the sender {sender} ({e.smtp_code}): {_text(e.smtp_error)}"
            ) from None
        except smtplib.SMTPResponseException as e:
            return self._fail(e.smtp_code, e.smtp_error)
        except (OSError, smtplib.SMTPException) as e:
            self._drop()
            raise TransientError(f"connection lost: {type(e).__name__}: {e}") from None

    def _fail(self, code: int, text: bytes | str) -> str:
        detail = f"{code} {_text(text)}"
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
