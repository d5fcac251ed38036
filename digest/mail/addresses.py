"""Address checking at import speed: email-validator's answer, without its cost per row.

email-validator walks an address character by character (tens of microseconds);
a million-row import would spend most of its time there. Nearly every real
address is an ASCII dot-atom before the @ and one of a few hundred domains
after it, and for those its answer is knowable cheaply: the local part comes
back unchanged (role names such as `Postmaster` in lower case) and the domain
as email-validator normalises it on its own. So the local part is matched by
the very dot-atom pattern email-validator uses, the domain is checked once
per distinct domain by email-validator itself, the lengths are measured as it
measures them, and everything else (quoted or non-ASCII local parts, odd
characters, any doubt) goes to email-validator whole, which also writes every
error message.
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import (
    ATEXT,
    CASE_INSENSITIVE_MAILBOX_NAMES,
    EMAIL_MAX_LENGTH,
)

# An ASCII dot-atom, an @, and only characters email-validator allows in a domain
# (so neither a second @, nor a quote, nor an angle bracket).
_COMMON = re.compile(f"([{ATEXT}]+(?:\\.[{ATEXT}]+)*)@([a-zA-Z0-9.\\-\u0080-\U0010ffff]+)")
_ROLES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


def checked(address: str) -> str:
    """`address` (already stripped) as email-validator normalises it; EmailNotValidError
    with email-validator's own message when it is not an address."""
    fast = common_case(address)
    if fast is not None:
        return fast
    return validate_email(address, check_deliverability=False).normalized


def common_case(address: str) -> str | None:
    """The normalised address when it is of the common shape and valid; None when only
    email-validator can say (an odd shape, an invalid domain, a length at the limit)."""
    # Longer is refused by email-validator; shorter keeps the cache's keys small.
    shape = _COMMON.fullmatch(address) if len(address) <= EMAIL_MAX_LENGTH else None
    if shape is None:
        return None
    local, domain = shape.groups()
    known = _domain(domain)
    if known is None or local.lower() in _ROLES:
        return None
    normalised, ascii_domain = known
    # email-validator measures, in UTF-8 bytes, the address as given, normalised, and
    # with its domain in IDNA ASCII; the local part is ASCII, one byte a character.
    longest = max(len(domain.encode()), len(normalised.encode()), len(ascii_domain))
    if len(local) + 1 + longest > EMAIL_MAX_LENGTH:
        return None
    return f"{local}@{normalised}"


@lru_cache(maxsize=16384)  # a few hundred domains in a real list; a miss costs one check
def _domain(domain: str) -> tuple[str, str] | None:
    """(normalised, IDNA ASCII) domain as email-validator gives them; None if it refuses.

    The probe's local part `x` is a one-character ASCII dot-atom: email-validator
    splits it from the domain exactly where it splits any such local part, and a
    longer local part only makes the address longer, never valid where this is not.
    """
    try:
        probe = validate_email(f"x@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    return probe.domain, probe.ascii_domain
