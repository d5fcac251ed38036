"""The quick address check gives email-validator's answer exactly, accepted or refused."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import ATEXT, CASE_INSENSITIVE_MAILBOX_NAMES
from hypothesis import example, given, settings
from hypothesis import strategies as st

from digest.mail.addresses import checked, common_case


def reference(address: str) -> tuple[str, str]:
    try:
        return "ok", validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as e:
        return "refused", str(e)


def ours(address: str) -> tuple[str, str]:
    try:
        return "ok", checked(address)
    except EmailNotValidError as e:
        return "refused", str(e)


def same(address: str) -> None:
    assert ours(address) == reference(address)
    fast = common_case(address)
    if fast is not None:  # whatever the quick path answers, email-validator answers too
        assert reference(address) == ("ok", fast)


ATEXT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_!#$%&'*+-/=?^`{|}~"
assert all(c in ATEXT_CHARS for c in "_!#$%&'*+-/=?^`{|}~") and "\\$" in ATEXT

atoms = st.text(ATEXT_CHARS, min_size=1, max_size=12)
dot_atoms = st.lists(atoms, min_size=1, max_size=4).map(".".join)
odd_locals = st.text(ATEXT_CHARS + '.."\\ @<>()[],;:ëß\u0301\u00a0\u200bａ', max_size=20)
long_locals = st.integers(60, 70).map(lambda n: "a" * n)


@st.composite
def roles(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(CASE_INSENSITIVE_MAILBOX_NAMES))
    upper = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if u else c for c, u in zip(name, upper, strict=True))


DOMAINS = [
    "example.org", "EXAMPLE.ORG", "Example.Org", "mail.example.co.uk", "bücher.de",
    "BÜCHER.DE", "xn--bcher-kva.de", "straße.de", "日本語.jp", "xn--wgv71a119e.jp",
    "exämple.fr", "ＥＸＡＭＰＬＥ.org", "example。org", "ﬁnance.org", "a-b.io",
    "host.local", "localhost", "a.localhost", "x.test", "x.invalid", "x.onion", "in-addr.arpa",
    "example.123", "example", "1.2.3.4", "[127.0.0.1]", "exa_mple.org", "-bad.org", "bad-.org",
    "a..b.org", ".a.org", "a.org.", "ab--c.org", "xn--zz.org", "e\u0301xample.org",
    "\u0301example.org", "exam ple.org", "example.org>", "x@example.org", "",
    "a" * 63 + ".org", "a" * 64 + ".org", ("b" * 60 + ".") * 4 + "org",
]  # fmt: skip


def _sized(total: int, domain_tail: str = ".example.org") -> str:
    """An address of exactly `total` characters (a 64-character local part)."""
    local, head = "l" * 64, ""
    room = total - len(local) - 1 - len(domain_tail)
    while room > 61:
        head, room = head + "d" * 60 + ".", room - 61
    address = f"{local}@{head}{'d' * room}{domain_tail}"
    assert len(address) == total
    return address


labels = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-éüßЖ日", max_size=12
)
made_domains = st.lists(labels, min_size=1, max_size=4).map(".".join)
domains = st.one_of(st.sampled_from(DOMAINS), made_domains)
locals_ = st.one_of(dot_atoms, odd_locals, long_locals, roles())
at_the_limit = st.tuples(st.integers(248, 260), st.sampled_from([".example.org", ".bücher.de"]))
addresses = st.one_of(
    at_the_limit.map(lambda sized: _sized(*sized)),
    st.tuples(locals_, st.sampled_from(["@", "@", "@", "@@", "＠", ""]), domains).map("".join),
    st.emails(),
    st.text(max_size=40),
)


@settings(max_examples=3000, deadline=None)
@given(addresses)
@example("a" * 64 + "@" + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + ".org")
def test_quick_path_agrees_with_email_validator(address: str) -> None:
    same(address)


@pytest.mark.parametrize(
    ("address", "normalised"),
    [
        ("reader@example.org", "reader@example.org"),
        ("Reader.Name+tag@EXAMPLE.ORG", "Reader.Name+tag@example.org"),
        ("o'brien@example.org", "o'brien@example.org"),
        ("x@bücher.de", "x@bücher.de"),
        ("x@BÜCHER.DE", "x@bücher.de"),
        ("x@xn--bcher-kva.de", "x@bücher.de"),
        ("Postmaster@Example.org", "postmaster@example.org"),
        ("a" * 64 + "@example.org", "a" * 64 + "@example.org"),
        (_sized(254), _sized(254)),
        ("a..b@example.org", None),
        (".a@example.org", None),
        ("a.@example.org", None),
        ('"quoted"@example.org', None),  # quoted local parts are not allowed by default
        ('"a b"@example.org', None),
        ("zoë@example.org", "zoë@example.org"),
        ("x@host.local", None),
        ("x@localhost", None),
        ("x@mail.localhost", None),
        ("x@example.test", None),
        ("x@example.123", None),
        ("x@[127.0.0.1]", None),
        ("Reader <x@example.org>", None),
        ("x@example.org.", None),
        (_sized(255), None),
        (
            "a" * 80 + "@" + ".".join(["ü"] * 20) + ".de",
            "a" * 80 + "@" + ".".join(["ü"] * 20) + ".de",
        ),
        ("a" * 100 + "@" + ".".join(["ü"] * 20) + ".de", None),  # too long only in IDNA ASCII
    ],
)
def test_edges(address: str, normalised: str | None) -> None:
    """Each case pins email-validator's answer too, so a new version that changes it shows."""
    same(address)
    outcome = reference(address)
    assert outcome[0] == ("ok" if normalised else "refused"), outcome
    if normalised:
        assert outcome[1] == normalised


@pytest.mark.parametrize(
    "address",
    ["reader@example.org", "Some.One+news@Mail.Example.co.uk", "x@bücher.de", "a_b-c@d.io"],
)
def test_common_addresses_take_the_quick_path(address: str) -> None:
    assert common_case(address) == reference(address)[1]


@pytest.mark.parametrize(
    "address",
    ['"q"@example.org', "zoë@example.org", "info@example.org", "x@host.local", _sized(255)],
)
def test_the_rest_goes_to_email_validator(address: str) -> None:
    assert common_case(address) is None
