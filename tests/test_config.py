"""config.toml is checked whole at load: every problem listed with its line, before any request."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import subprocess
import sys
import typing
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from digest.cli import Exit, app
from digest.config import (
    _KEY_ALIASES,
    _SECTIONS,
    STARTER_CONFIG,
    Config,
    FeedSettings,
    load_config,
    parse_config,
)
from digest.demo import CONFIG_PATH as DEMO_CONFIG
from digest.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def problem_of(toml: str, base: Path) -> str:
    with pytest.raises(ConfigError) as error:
        parse_config(toml, base)
    return str(error.value)


# ── the shipped configurations ───────────────────────────────────────────────


@pytest.mark.parametrize("path", [REPO / "config.toml", DEMO_CONFIG], ids=["repo", "demo"])
def test_shipped_configs_are_valid(path: Path) -> None:
    config = load_config(path)
    assert config.feeds and config.newsletter.title


def test_starter_config_is_valid(tmp_path: Path) -> None:
    assert parse_config(STARTER_CONFIG, tmp_path).feeds


def test_defaults_and_the_from_alias(tmp_path: Path) -> None:
    config = parse_config('[newsletter]\nfrom = "A <a@b.co>"\n[[feeds]]\nurl = "x"\n', tmp_path)
    assert config.newsletter.sender == "A <a@b.co>"
    assert (config.newsletter.max_stories, config.newsletter.lookback_days) == (10, 7)
    assert config.summary.sentences == 3 and config.comments.per_story == 3
    assert config.feeds[0].full_text == "auto"
    assert config.output_dir == tmp_path / "output"


def test_defaults_pass_their_own_checks(tmp_path: Path) -> None:
    """Writing every default into the file changes nothing (the from default aside)."""
    lines = []
    for section, cls in _SECTIONS.items():
        lines.append(f"[{section}]")
        for f in dataclasses.fields(cls):
            if section == "newsletter" and f.name == "sender":
                continue  # "digest@localhost" is a placeholder, not a deliverable address
            key = next((k for k, v in _KEY_ALIASES.items() if v == f.name), f.name)
            lines.append(f"{key} = {json.dumps(f.default)}")
    config = parse_config("\n".join(lines) + '\n[[feeds]]\nurl = "x"\n', tmp_path)
    assert config.theme == Config().theme and config.smtp == Config().smtp


# ── one value at a time ──────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("toml", "attribute", "expected"),
    [
        ("[theme]\nbrand_color = '#ABC'", "theme.brand_color", "#aabbcc"),
        ("[theme]\nbrand_color = '#0B5394'", "theme.brand_color", "#0b5394"),
        ("[theme]\ntext_color = 'rgb(11, 83, 148)'", "theme.text_color", "#0b5394"),
        ("[theme]\ntext_color = 'rgb(11 83 148)'", "theme.text_color", "#0b5394"),
        ("[theme]\nbackground_color = 'RGB(100%, 0%, 50%)'", "theme.background_color", "#ff0080"),
        ("[theme]\nserif_font = 'Charter, \"Bitstream Charter\", serif'", "theme.serif_font",
         "Charter, 'Bitstream Charter', serif"),
        ("[theme]\nsans_font = \"-apple-system,'Segoe  UI' ,Helvetica\"", "theme.sans_font",
         "-apple-system, 'Segoe UI', Helvetica"),
        ("[theme]\nlogo_url = 'https://cdn.example.com/logo.png'", "theme.logo_url",
         "https://cdn.example.com/logo.png"),
        ('[theme]\nfooter_text = "Line one.\\nLine two."', "theme.footer_text",
         "Line one.\nLine two."),
        ("[newsletter]\nfrom = 'Le Café <cafe@news.example.com>'", "newsletter.sender",
         "Le Café <cafe@news.example.com>"),
        ("[newsletter]\nfrom = 'insider@example.com'", "newsletter.sender", "insider@example.com"),
        ("[newsletter]\nfrom = '\"Digest, Inc.\" <a@example.com>'", "newsletter.sender",
         '"Digest, Inc." <a@example.com>'),
        ("[newsletter]\nunsubscribe = 'https://x.example/u?t={token}'", "newsletter.unsubscribe",
         "https://x.example/u?t={token}"),
        ("[newsletter]\nunsubscribe = 'mailto:leave@example.com?subject=stop'",
         "newsletter.unsubscribe", "mailto:leave@example.com?subject=stop"),
        ("[newsletter]\nlanguage = 'pt-BR'", "newsletter.language", "pt-BR"),
        ("[newsletter]\nlookback_days = 0", "newsletter.lookback_days", 0),
        ("[newsletter]\nlookback_days = 36500", "newsletter.lookback_days", 36500),
        ('[newsletter]\npostal_address = "1 Main St\\nDetroit"', "newsletter.postal_address",
         "1 Main St\nDetroit"),
        ("[schedule]\ncron = '*/15 6-18 * * mon-fri'", "schedule.cron", "*/15 6-18 * * mon-fri"),
        ("[schedule]\ntimezone = 'Europe/Paris'", "schedule.timezone", "Europe/Paris"),
        ("[schedule]\ntimezone = ''", "schedule.timezone", ""),
        ("[fetch]\ntimeout = 0.5", "fetch.timeout", 0.5),
        ("[fetch]\ntimeout = 3", "fetch.timeout", 3.0),
        ("[fetch]\nmax_redirects = 0", "fetch.max_redirects", 0),
        ("[smtp]\nrate = 0", "smtp.rate", 0.0),
        ("[smtp]\nrate = 0.5", "smtp.rate", 0.5),
        ("[smtp]\nworkers = 8", "smtp.workers", 8),
        ("[smtp]\nrelays = ['smtp2.example.org:587', '[::1]:25']", "smtp.relays",
         ("smtp2.example.org:587", "[::1]:25")),
        ("[state]\nurl = 'postgresql://digest@db.example.org/digest'", "state.url",
         "postgresql://digest@db.example.org/digest"),
        ("[smtp]\nhost = '::1'", "smtp.host", "::1"),
        ("[smtp]\nhost = 'smtp.eu.mailgun.org'", "smtp.host", "smtp.eu.mailgun.org"),
        ("[smtp]\npassword_env = 'MAILGUN_KEY_2'", "smtp.password_env", "MAILGUN_KEY_2"),
        ("[comments]\nabuse_threshold = 1", "comments.abuse_threshold", 1.0),
        ("[output]\ndir = 'issues'", "output.dir", "issues"),
    ],
)  # fmt: skip
def test_good_values(tmp_path: Path, toml: str, attribute: str, expected: object) -> None:
    config = parse_config(toml + "\n", tmp_path)
    section, key = attribute.split(".")
    value = getattr(getattr(config, section), key)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[[feeds]]\nurl = 'https://example.com/feed'", "https://example.com/feed"),
        ("[[feeds]]\nurl = 'feeds/local.xml'", "feeds/local.xml"),
        ("[[feeds]]\nurl = 'file:///srv/feed.xml'", "file:///srv/feed.xml"),
        ("[[feeds]]\nurl = 'x'\nlanguage = 'fr'\ncomments = 'discourse'\n"
         "comments_url = 'https://forum.example.com/t/{id}.json'", "x"),
        ("[[feeds]]\nurl = 'y'\ncomments = 'reddit'\ncomments_url = '{page}.json'", "y"),
    ],
)  # fmt: skip
def test_good_feeds(tmp_path: Path, toml: str, expected: str) -> None:
    assert parse_config(toml + "\n", tmp_path).feeds[0].url == expected


BAD = [
    # many machines: a database URL, relays as host:port, a sane number of connections
    ("[state]\nurl = 'mysql://db.example.org/digest'", 2, "must be a PostgreSQL URL"),
    ("[smtp]\nrelays = ['smtp2.example.org']", 2, "is not \"host:port\""),
    ("[smtp]\nrelays = ['smtp2.example.org:99999']", 2, "is not \"host:port\""),
    ("[smtp]\nrelays = ['bad host:25']", 2, "smtp.relays"),
    ("[smtp]\nworkers = 0", 2, "smtp.workers = 0 must be between 1 and 256"),
    # colours: the theme computes with numbers, and the value goes into CSS verbatim
    ("[theme]\nbrand_color = 'red'", 2,
     'theme.brand_color = \'red\' is a colour name: write it as "#ff0000"'),
    ("[theme]\nbrand_color = 'red; background:url(https://evil.example/x)'", 2, "is not a colour"),
    ("[theme]\ntext_color = '#12345'", 2, "theme.text_color = '#12345' is not a colour"),
    ("[theme]\nbackground_color = 'rgb(300, 0, 0)'", 2, "outside 0–255"),
    ("[theme]\nbackground_color = 'rgba(0, 0, 0, 0.5)'", 2, "is not a colour"),
    ("[theme]\nbrand_color = 'transparent'", 2, "is not a colour"),
    # fonts: names, commas and quotes only
    ("[theme]\nserif_font = 'Georgia; } body { display:none'", 2, "must be font names"),
    ("[theme]\nsans_font = '</style><script>alert(1)</script>'", 2, "must be font names"),
    ("[theme]\nserif_font = 'Georgia,, serif'", 2, "must be font names"),
    ("[theme]\nserif_font = \"'Unclosed, serif\"", 2, "must be font names"),
    ("[theme]\nserif_font = '3D Font'", 2, "must be font names"),
    ("[theme]\nlogo_url = 'javascript:alert(1)'", 2, "must be an http(s) URL"),
    ("[theme]\nlogo_width = 0", 2, "theme.logo_width = 0 must be at least 1"),
    # the From header
    ("[newsletter]\nfrom = 'Just A Name'", 2, "newsletter.from = 'Just A Name' is not one address"),
    ("[newsletter]\nfrom = 'A <a@example.com>, B <b@example.com>'", 2, "is not one address"),
    ("[newsletter]\nfrom = 'A <a@example.com> trailing'", 2, "is not one address"),
    ("[newsletter]\nfrom = 'X <insider@example>'", 2, "has a bad address"),
    ("[newsletter]\nfrom = 'X <a@example.invalid>'", 2, "has a bad address"),
    ('[newsletter]\nfrom = "A <a@example.com>\\nBcc: x@example.com"', 2, "must be one line"),
    ("[newsletter]\nfrom = ''", 2, "is not one address"),
    ('[newsletter]\ntitle = "Two\\nlines"', 2, "newsletter.title = 'Two\\nlines' must be one line"),
    ("[newsletter]\nurl = 'example.com'", 2, "must be an http(s) URL"),
    ("[newsletter]\nunsubscribe = 'tel:555'", 2, "must be a mailto: or http(s) URL"),
    ("[newsletter]\nunsubscribe = 'mailto:a@example.com <b>'", 2, "must not contain spaces"),
    ("[newsletter]\nlanguage = 'english!'", 2, "must be a language tag"),
    ("[newsletter]\nunsubscribe_secret_env = 'MY SECRET'", 2, "environment variable name"),
    # the schedule
    ("[schedule]\ncron = '0 7 * *'", 2, "schedule.cron = '0 7 * *' needs five fields"),
    ("[schedule]\ncron = '0 7 * * 1-5 2027'", 2, "needs five fields"),
    ("[schedule]\ncron = '61 7 * * *'", 2, "is not a cron expression"),
    ("[schedule]\ncron = '0 0 30 2 *'", 2, "never comes due"),
    ("[schedule]\ntimezone = 'America/Nowhere'", 2, "is not an IANA zone"),
    ("[schedule]\ntimezone = '../../etc/passwd'", 2, "is not an IANA zone"),
    ("[schedule]\ngrace_minutes = 99999999", 2, "must be between 0 and 5,256,000"),
    # numbers: finite, in range, no overflow later
    ("[newsletter]\n\nmax_stories = 0", 3, "newsletter.max_stories = 0 must be at least 1"),
    ("[newsletter]\nlookback_days = -1", 2, "must be between 0 and 36,500"),
    ("[newsletter]\nlookback_days = 9999999999", 2, "and 36,500"),
    ("[newsletter]\nlookback_days = 1.5", 2, "must be an integer, not float"),
    ("[fetch]\ntimeout = 0", 2, "fetch.timeout = 0 must be more than 0"),
    ("[fetch]\ntimeout = nan", 2, "fetch.timeout = nan must be a finite number"),
    ("[fetch]\nmax_bytes = 1_000_000_000_000", 2, "must be at most 1,000,000,000"),
    ("[smtp]\ntimeout = inf", 2, "smtp.timeout = inf must be a finite number"),
    ("[smtp]\nbackoff = -inf", 2, "must be a finite number"),
    ("[smtp]\nport = 70000", 2, "must be between 1 and 65,535"),
    ("[smtp]\nretries = 1000", 2, "between 0 and 20"),
    ("[smtp]\nrate = 0.00001", 2, "must be 0 (no cap) or at least 0.001"),
    ("[smtp]\nhost = 'smtp example com'", 2, "must be a host name"),
    ("[smtp]\npassword_env = 'MY-PASS'", 2, "environment variable name"),
    ("[smtp]\ndkim_selector = '-bad-'", 2, "must be a DNS name"),
    ("[comments]\nabuse_threshold = 1.5", 2, "must be between 0 and 1"),
    # types and structure
    ("bogus = 1", 1, "unknown key 'bogus'"),
    ("[newsletter]\nfromm = 'a@example.com'", 2, "unknown key 'newsletter.fromm'"),
    ("[summary]\nsentences = true", 2, "summary.sentences = True must be an integer, not bool"),
    ("[summary]\nalgorithm = 'bert'", 2, "summary.algorithm = 'bert' must be one of 'auto'"),
    ("newsletter = 3", 1, "'newsletter' must be a table"),
    ("feeds = 3", 1, "'feeds' must be an array of tables"),
    ("[output]\ndir = 5", 2, "output.dir = 5 must be a string, not int"),
    ("[output]\ndir = ' '", 2, "must not be empty"),
    ("[state]\npath = ''", 2, "must not be empty"),
    # feeds
    ("[[feeds]]\ntitle = 'x'", 1, "feeds[0].url is required"),
    ("[[feeds]]\nurl = 'a'\ncomments = 'yes'", 3, "feeds[0].comments = 'yes' must be one of"),
    ("[[feeds]]\nurl = 'ftp://example.com/feed'", 2, "has scheme 'ftp'"),
    ("[[feeds]]\nurl = 'https://'", 2, "is not a complete http(s) URL"),
    ("[[feeds]]\nurl = ''", 2, "must not be empty"),
    ("[[feeds]]\nurl = 'x'\nsummary_sentences = -1", 3,
     "feeds[0].summary_sentences = -1 must be at least 0"),
    ("[[feeds]]\nurl = 'x'\nsummary_algorithm = 'bert'", 3, "must be one of '', 'auto', 'lead'"),
    ("[[feeds]]\nurl = 'x'\ncomments = 'discourse'\ncomments_url = 'forum/{id}'", 4,
     "must be an http(s) URL, optionally with {page}"),
    ("[[feeds]]\nurl = 'x'\n[[feeds]]\nurl = 'y'\nlanguage = '??'", 5, "feeds[1].language = '??'"),
]  # fmt: skip


@pytest.mark.parametrize(("toml", "line", "message"), BAD)
def test_bad_values(tmp_path: Path, toml: str, line: int, message: str) -> None:
    text = problem_of(toml + "\n", tmp_path)
    assert text.startswith(f"config.toml: line {line}: ")
    assert message in text
    assert "\n" not in text  # one problem, one line


# ── keys that go together ────────────────────────────────────────────────────


@functools.cache
def rsa_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


@pytest.fixture
def dkim_key(tmp_path: Path) -> Path:
    path = tmp_path / "dkim.pem"
    path.write_bytes(rsa_pem())
    return path


@pytest.mark.parametrize(
    "smtp",
    [
        'security = "starttls"\nport = 587',
        'security = "tls"\nport = 465',
        'security = "none"\nport = 25',
        'security = "tls"\nport = 2465',
        'security = "none"\nhost = "127.0.0.1"\nusername = "me"',
        'security = "none"\nhost = "localhost"\nusername = "me"',
        'security = "none"\nhost = "::1"\nusername = "me"',
        'security = "starttls"\nhost = "smtp.example.com"\nusername = "me"',
        'dkim_key = "dkim.pem"\ndkim_selector = "mail"',
    ],
)
def test_good_smtp_combinations(tmp_path: Path, dkim_key: Path, smtp: str) -> None:
    parse_config(f"[smtp]\n{smtp}\n", tmp_path)


@pytest.mark.parametrize(
    ("smtp", "line", "message"),
    [
        ('security = "tls"\nport = 587', 3, 'smtp: security = "tls" with port 587'),
        ('port = 25\nsecurity = "tls"', 2, 'security = "tls" with port 25'),
        ('security = "starttls"\nport = 465', 3, "port 465 speaks TLS from the first byte"),
        ("port = 465", 2, 'security = "starttls" with port 465'),
        ('security = "none"\nport = 465', 3, 'security = "none" with port 465'),
        ('security = "none"\nhost = "smtp.example.com"\nusername = "me"', 4,
         "the password would cross the network to smtp.example.com unencrypted"),
        ('dkim_key = "dkim.pem"', 2, "dkim_key and dkim_selector go together"),
        ('dkim_selector = "mail"', 2, "dkim_key and dkim_selector go together"),
        ('dkim_key = "missing.pem"\ndkim_selector = "mail"', 2,
         "dkim_key 'missing.pem': no such file"),
        ('dkim_key = "junk.pem"\ndkim_selector = "mail"', 2,
         "dkim_key 'junk.pem' is not a PEM private key"),
        ('dkim_key = "."\ndkim_selector = "mail"', 2, "no such file"),
        ('ca_file = "junk.pem"', 2, "ca_file 'junk.pem' holds no PEM certificate"),
        ('ca_file = "/nowhere/ca.pem"', 2, "ca_file '/nowhere/ca.pem': no such file"),
    ],
)  # fmt: skip
def test_bad_smtp_combinations(
    tmp_path: Path, dkim_key: Path, smtp: str, line: int, message: str
) -> None:
    (tmp_path / "junk.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n", "ascii")
    text = problem_of(f"[smtp]\n{smtp}\n", tmp_path)
    assert text.startswith(f"config.toml: line {line}: ") and message in text
    assert "\n" not in text


def test_ca_file_with_a_certificate(tmp_path: Path) -> None:
    import trustme

    trustme.CA().cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    assert parse_config('[smtp]\nca_file = "ca.pem"\n', tmp_path).smtp.ca_file == "ca.pem"


def test_comments_url_needs_an_explicit_source(tmp_path: Path) -> None:
    text = problem_of("[[feeds]]\nurl = 'x'\ncomments_url = 'https://f.example/{id}'\n", tmp_path)
    assert text == (
        "config.toml: line 3: feeds[0]: comments_url is used only with an explicit comments"
        ' source, not "auto" (e.g. comments = "discourse")'
    )


def test_a_rule_is_skipped_when_a_key_it_reads_is_wrong(tmp_path: Path) -> None:
    """A bad port is reported once, not again as a bad security/port pair."""
    text = problem_of('[smtp]\nsecurity = "tls"\nport = "587"\n', tmp_path)
    assert text == "config.toml: line 3: smtp.port = '587' must be an integer, not str"


# ── every problem at once ────────────────────────────────────────────────────

SEVERAL = """\
[newsletter]
title = "Insider"
from = "Insider"
lookback_days = -3

[[feeds]]
url = "https://example.com/feed"

[[feeds]]
url = "https://example.com/other"
comments = "sometimes"

[theme]
brand_color = "red"
serif_font = "Georgia; }"

[smtp]
security = "tls"
port = 587
dkim_selector = "mail"

[schedule]
cron = "0 7 * * 8"
timezone = "Mars/Olympus"
surprise = 1
"""


def test_every_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(SEVERAL, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "config.toml")
    header, *lines = str(error.value).split("\n")
    assert header == f"{tmp_path / 'config.toml'} has 10 problems:"
    numbers = [int(line.split(":")[0].removeprefix("  line ")) for line in lines]
    assert numbers == [3, 4, 11, 14, 15, 19, 20, 23, 24, 25]
    for fragment in (
        "newsletter.from = 'Insider'", "newsletter.lookback_days = -3", "feeds[1].comments",
        "theme.brand_color = 'red'", "theme.serif_font", 'security = "tls" with port 587',
        "dkim_key and dkim_selector go together", "schedule.cron = '0 7 * * 8'",
        "schedule.timezone = 'Mars/Olympus'", "unknown key 'schedule.surprise'",
    ):  # fmt: skip
        assert sum(fragment in line for line in lines) == 1, fragment


def test_invalid_toml_is_one_line_with_its_position(tmp_path: Path) -> None:
    text = problem_of("[newsletter]\ntitle = \n", tmp_path)
    assert text.startswith("config.toml: invalid TOML:") and "line 2" in text


# ── arbitrary values never crash the loader ──────────────────────────────────

FIELDS = [
    (section, next((k for k, v in _KEY_ALIASES.items() if v == f.name), f.name), hints[f.name])
    for section, cls in [*_SECTIONS.items(), ("feeds", FeedSettings)]
    for hints in [typing.get_type_hints(cls)]
    for f in dataclasses.fields(cls)
]
TRICKY = [
    "", " ", "red", "#fff", "#GGG", "rgb(1,2,3)", "rgb(999 0 0)", "Georgia, serif", "''", '"',
    "a@b.co", "A <a@b.co>", "<>", "@", "0 7 * * *", "* * * * * *", "0 0 31 2 *", "UTC",
    "America/Detroit", "../x", "/dev/zero", "/etc/passwd", ".", "\x00", "mailto:", "https://",
    "http://[::1", "file:///", "{id}", "localhost", "::1", "\u202e", "x" * 300,
]  # fmt: skip
SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(TRICKY),
    st.dates(),
    st.datetimes(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text("abc_", min_size=1, max_size=4), inner, max_size=3)
    ),
    max_leaves=5,
)


def typed(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of the key's own type, which reach the value checks (most others stop earlier)."""
    if typing.get_origin(annotation) is typing.Literal:
        return st.sampled_from(typing.get_args(annotation))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.integers(-5, 100)
    if annotation is float:
        return st.floats(allow_nan=True, allow_infinity=True) | st.floats(0, 100)
    return st.text(max_size=40) | st.sampled_from(TRICKY)


ENTRIES = st.sampled_from(FIELDS).flatmap(
    lambda f: st.tuples(st.just((f[0], f[1])), typed(f[2]) | VALUES)
)


def toml_value(value: Any) -> str:
    """`value` written as a TOML inline value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(ENTRIES, min_size=1, max_size=6))
def test_arbitrary_values_give_a_config_or_a_config_error(
    tmp_path: Path, entries: list[tuple[tuple[str, str], Any]]
) -> None:
    tables: dict[str, dict[str, Any]] = {}
    for (section, key), value in entries:
        tables.setdefault(section, {})[key] = value
    text = ""
    for section, keys in tables.items():
        text += "[[feeds]]\n" if section == "feeds" else f"[{section}]\n"
        text += "".join(f"{k} = {toml_value(v)}\n" for k, v in keys.items())
    try:
        config = parse_config(text, tmp_path)
    except ConfigError as e:
        assert all(line.strip() for line in str(e).split("\n"))
    else:
        assert isinstance(config, Config)


# ── the command line: exit 2 with the whole list, before any request ────────

BROKEN = """\
[newsletter]
title = "Broken"
from = "not an address"

[[feeds]]
url = "{feed}"

[theme]
brand_color = "red"

[schedule]
cron = "0 7 * *"
"""


def _assert_broken_config_report(output: str) -> None:
    assert "has 3 problems:" in output
    assert "line 3: newsletter.from = 'not an address'" in output
    assert "line 9: theme.brand_color = 'red' is a colour name" in output
    assert "line 12: schedule.cron = '0 7 * *' needs five fields" in output


@pytest.mark.parametrize(
    "command",
    [
        ["build"],
        ["send"],
        ["send", "--dry-run"],
        ["schedule", "--once"],
        ["subscribers", "add", "reader@example.com"],
        ["subscribers", "remove", "reader@example.com"],
        ["subscribers", "list"],
        ["subscribers", "import", "readers.csv"],
        ["subscribers", "export"],
        ["preview", "--port", "0"],
    ],
    ids=" ".join,
)
def test_every_command_exits_2_with_every_problem_and_no_request(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data("<rss/>", content_type="text/xml")
    path = tmp_path / "config.toml"
    path.write_text(BROKEN.format(feed=httpserver.url_for("/feed.xml")), encoding="utf-8")
    (tmp_path / "readers.csv").write_text("email\nreader@example.com\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # relative arguments (readers.csv) resolve here
    result = CliRunner().invoke(app, [*command, "--config", str(path)])
    assert result.exit_code == Exit.BAD_CONFIG, result.output
    _assert_broken_config_report(result.output)
    assert httpserver.log == []
    assert not (tmp_path / "state.sqlite").exists()  # nothing opened either


@pytest.mark.slow
def test_build_process_exits_2_before_fetching(tmp_path: Path, httpserver: HTTPServer) -> None:
    """The real command, as a process: stderr lists the problems, the feed server saw nothing.

    The same file with the problems fixed does fetch the feed, so the server would notice.
    """
    httpserver.expect_request("/feed.xml").respond_with_data("<rss/>", content_type="text/xml")
    path = tmp_path / "config.toml"
    broken = BROKEN.format(feed=httpserver.url_for("/feed.xml"))
    path.write_text(broken, encoding="utf-8")
    command = [sys.executable, "-m", "digest", "build", "--config", str(path)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    _assert_broken_config_report(done.stderr)
    assert httpserver.log == []

    fixed = broken.replace('"not an address"', '"Broken <b@example.com>"')
    fixed = fixed.replace('"red"', '"#ff0000"').replace('"0 7 * *"', '"0 7 * * *"')
    path.write_text(fixed, encoding="utf-8")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 2, done.stderr
    assert [request.path for request, _ in httpserver.log] == ["/feed.xml"]
