"""The MIME message: headers, multipart/alternative, UTF-8, List-Unsubscribe."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from digest.config import Config, NewsletterSettings
from digest.errors import ConfigError
from digest.issues.message import (
    MessageFactory,
    build_message,
    list_id,
    list_unsubscribe_headers,
    personal_message_id,
)
from digest.models import Comment, Issue, RenderedIssue, Story
from digest.render.email import render_issue

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
TITLE = "Le Café — Insider"


def make_config(base: Path, unsubscribe: str = "", sender: str = "") -> Config:
    settings = NewsletterSettings(
        title=TITLE,
        sender=sender or "Le Café Insider <insider@news.example.com>",
        unsubscribe=unsubscribe,
    )
    return Config(newsletter=settings, base_dir=base)


def make_issue(generated_at: datetime = NOW) -> Issue:
    story = Story(
        title="Déjà vu: the Citroën returns — again",
        url="https://www.example.com/citroen",
        source="Auto Wire",
        author="Zoë",
        published=NOW - timedelta(hours=5),
        image="https://cdn.example.com/citroen.jpg",
        summary=("The company’s “new” car looks familiar.", "Critics say ça suffit."),
        comment_count=7,
        comments=(Comment(author="René", text="Très bien — enfin!", published=NOW),),
    )
    other = Story(
        title="Second story",
        url="https://www.example.com/second",
        source="Auto Wire",
        author=None,
        published=None,
        image=None,
        summary=("Plain words.",),
        comment_count=None,
    )
    return Issue(
        id="2026-11-26",
        title=TITLE,
        generated_at=generated_at,
        stories=(story, other),
        feeds=(),
    )


def roundtrip(msg: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(bytes(msg), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def build(
    tmp_path: Path, *, to: str | None = None, **settings: str
) -> tuple[EmailMessage, RenderedIssue]:
    config = make_config(tmp_path, **settings)
    issue = make_issue()
    rendered = render_issue(issue, config)
    return build_message(issue, rendered, config, to=to), rendered


def test_headers(tmp_path: Path) -> None:
    msg, rendered = build(tmp_path)
    parsed = roundtrip(msg)
    assert parsed["Subject"] == rendered.subject
    assert parsed["Subject"] == f"{TITLE}: Déjà vu: the Citroën returns — again and 1 more"
    assert parsed["From"] == "Le Café Insider <insider@news.example.com>"
    assert parsed["To"] == "Le Café Insider <insider@news.example.com>"  # no recipient: the sender
    assert parsedate_to_datetime(parsed["Date"]) == NOW
    assert parsed["MIME-Version"] == "1.0"
    assert re.fullmatch(r"<[^<>@\s]+@news\.example\.com>", parsed["Message-ID"])
    assert "List-Unsubscribe" not in parsed and "List-Unsubscribe-Post" not in parsed


def test_explicit_recipient(tmp_path: Path) -> None:
    parsed = roundtrip(build(tmp_path, to="Reader <reader@example.org>")[0])
    assert parsed["To"] == "Reader <reader@example.org>"


def test_message_ids_are_unique(tmp_path: Path) -> None:
    first, _ = build(tmp_path)
    second, _ = build(tmp_path)
    assert first["Message-ID"] != second["Message-ID"]


def test_multipart_alternative_text_then_html_in_utf8(tmp_path: Path) -> None:
    msg, rendered = build(tmp_path)
    parsed = roundtrip(msg)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    text, html = (p.get_content().replace("\r\n", "\n") for p in parts)
    assert text == rendered.text and html == rendered.html
    assert "Déjà vu: the Citroën returns — again" in text and "René" in text
    assert "Déjà vu: the Citroën returns — again" in html


def test_eml_bytes_are_ascii_with_crlf_and_short_lines(tmp_path: Path) -> None:
    raw = bytes(build(tmp_path)[0])
    raw.decode("ascii")  # every non-ASCII character is encoded
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


@pytest.mark.parametrize(
    ("target", "unsubscribe", "post"),
    [
        (
            "mailto:insider@news.example.com?subject=unsubscribe",
            "<mailto:insider@news.example.com?subject=unsubscribe>",
            None,
        ),
        (
            "https://news.example.com/unsubscribe?u=42&l=insider",
            "<https://news.example.com/unsubscribe?u=42&l=insider>",
            "List-Unsubscribe=One-Click",
        ),
        ("http://news.example.com/unsubscribe", "<http://news.example.com/unsubscribe>", None),
        ("", None, None),
        ("javascript:alert(1)", None, None),
        ("https://x.example.com/>\r\nBcc: victim@example.com", None, None),
    ],
)
def test_list_unsubscribe(
    tmp_path: Path, target: str, unsubscribe: str | None, post: str | None
) -> None:
    parsed = roundtrip(build(tmp_path, unsubscribe=target)[0])
    assert parsed["List-Unsubscribe"] == unsubscribe
    assert parsed["List-Unsubscribe-Post"] == post
    assert "Bcc" not in parsed


def test_list_unsubscribe_headers_helper() -> None:
    assert list_unsubscribe_headers("HTTPS://news.example.com/u") == {
        "List-Unsubscribe": "<HTTPS://news.example.com/u>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_subject_is_one_line_whatever_the_rendered_subject(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rendered = RenderedIssue(
        subject="Hello\r\nBcc: victim@example.com", html="<p>x</p>", text="x\n"
    )
    parsed = roundtrip(build_message(make_issue(), rendered, config))
    assert parsed["Subject"] == "Hello Bcc: victim@example.com"
    assert "Bcc" not in parsed


@pytest.mark.parametrize(
    ("generated_at", "expected"),
    [
        (datetime(2026, 11, 26, 7, 0), "Thu, 26 Nov 2026 07:00:00 +0000"),  # naive means UTC
        (
            datetime(2026, 11, 26, 8, 0, tzinfo=timezone(timedelta(hours=1))),
            "Thu, 26 Nov 2026 08:00:00 +0100",
        ),
    ],
)
def test_date_header(tmp_path: Path, generated_at: datetime, expected: str) -> None:
    config = make_config(tmp_path)
    issue = make_issue(generated_at)
    rendered = RenderedIssue(subject="s", html="<p>x</p>", text="x\n")
    assert roundtrip(build_message(issue, rendered, config))["Date"] == expected


def test_sender_without_address_is_a_config_error(tmp_path: Path) -> None:
    config = make_config(tmp_path, sender="Just A Name")
    rendered = RenderedIssue(subject="s", html="<p>x</p>", text="x\n")
    with pytest.raises(ConfigError, match=r"newsletter\.from"):
        build_message(make_issue(), rendered, config)


# One subscriber's copy ------------------------------------------------------


def personal(tmp_path: Path, unsubscribe: str, token: str = "7-Ab_c") -> EmailMessage:
    config = make_config(tmp_path, unsubscribe=unsubscribe)
    issue = make_issue()
    return roundtrip(
        build_message(issue, render_issue(issue, config), config, to="ann@example.org", token=token)
    )


@pytest.mark.parametrize(
    ("target", "expected", "post"),
    [
        (
            "https://news.example.com/u?t={token}",
            "<mailto:insider@news.example.com?subject=unsubscribe%207-Ab_c>,"
            " <https://news.example.com/u?t=7-Ab_c>",
            "List-Unsubscribe=One-Click",
        ),
        (
            "https://news.example.com/leave",
            "<mailto:insider@news.example.com?subject=unsubscribe%207-Ab_c>,"
            " <https://news.example.com/leave?token=7-Ab_c>",
            "List-Unsubscribe=One-Click",
        ),
        (
            "http://news.example.com/leave?list=1",
            "<mailto:insider@news.example.com?subject=unsubscribe%207-Ab_c>,"
            " <http://news.example.com/leave?list=1&token=7-Ab_c>",
            None,
        ),
        (
            "mailto:leave@news.example.com?subject=unsubscribe",
            "<mailto:leave@news.example.com?subject=unsubscribe%207-Ab_c>",
            None,
        ),
        ("", "<mailto:insider@news.example.com?subject=unsubscribe%207-Ab_c>", None),
        (
            "javascript:alert(1)",
            "<mailto:insider@news.example.com?subject=unsubscribe%207-Ab_c>",
            None,
        ),
    ],
)
def test_personal_list_unsubscribe(
    tmp_path: Path, target: str, expected: str, post: str | None
) -> None:
    parsed = personal(tmp_path, target)
    assert parsed["List-Unsubscribe"].strip() == expected  # a long value is folded
    assert parsed["List-Unsubscribe-Post"] == post
    assert parsed["To"] == "ann@example.org"


def test_token_placeholder_in_the_body_becomes_the_readers_token(tmp_path: Path) -> None:
    config = make_config(tmp_path, unsubscribe="https://news.example.com/u?t={token}")
    rendered = RenderedIssue(
        subject="s",
        html='<p><a href="https://news.example.com/u?t=%7Btoken%7D">Unsubscribe</a></p>',
        text="Unsubscribe: https://news.example.com/u?t={token}\n",
    )
    parsed = roundtrip(build_message(make_issue(), rendered, config, token="9-xyz"))
    text, html = (p.get_content() for p in parsed.iter_parts())
    assert "https://news.example.com/u?t=9-xyz" in text
    assert 'href="https://news.example.com/u?t=9-xyz"' in html
    assert "token" not in text + html


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (TITLE, '"Le Café — Insider" <le-caf-insider.news.example.com>'),
        ('The "Daily" <Wire>', '"The Daily Wire" <the-daily-wire.news.example.com>'),
        ("", "<digest.news.example.com>"),
    ],
)
def test_list_id(tmp_path: Path, title: str, expected: str) -> None:
    config = Config(
        newsletter=NewsletterSettings(title=title, sender="X <insider@News.Example.com>"),
        base_dir=tmp_path,
    )
    assert list_id(config) == expected
    rendered = RenderedIssue(subject="s", html="<p>x</p>", text="x\n")
    assert roundtrip(build_message(make_issue(), rendered, config))["List-Id"] == expected


def test_personal_message_id_is_stable_per_issue_and_reader(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first = personal_message_id("2026-11-26", "ann@example.org", config)
    assert first == personal_message_id("2026-11-26", "ANN@example.org", config)
    assert first != personal_message_id("2026-11-26", "bob@example.org", config)
    assert first != personal_message_id("2026-11-27", "ann@example.org", config)
    assert re.fullmatch(r"<2026-11-26\.[0-9a-f]{24}@news\.example\.com>", first)


def test_explicit_date(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rendered = RenderedIssue(subject="s", html="<p>x</p>", text="x\n")
    when = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    parsed = roundtrip(build_message(make_issue(), rendered, config, date=when))
    assert parsedate_to_datetime(parsed["Date"]) == when


def _same_but_boundary(raw: bytes) -> bytes:
    return re.sub(rb"={15}\d+==", b"BOUNDARY", raw)


@pytest.mark.parametrize("token", ["7-abcDEF_gh-ijklmnopqrstu", "123456-x", "5-a b/é"])
@pytest.mark.parametrize("shift", [0, 1, 5, 37, 70])
def test_factory_equals_build_message(tmp_path: Path, token: str, shift: int) -> None:
    """The encode-once path gives the very bytes of a full build, wherever the token falls."""
    config = make_config(tmp_path, unsubscribe="https://news.example.com/u?t={token}")
    pad = "x" * shift
    rendered = RenderedIssue(
        subject="Déjà vu",
        html=(f'<p>{pad}<a href="https://news.example.com/u?t=%7Btoken%7D">Leave</a></p>' * 40),
        text=f"{pad}é Unsubscribe: https://news.example.com/u?t={{token}} and more\n" * 40,
    )
    issue = make_issue()
    factory = MessageFactory(issue, rendered, config)
    options = {
        "to": "Zoë <zoe@example.org>",
        "token": token,
        "date": NOW,
        "message_id": "<a@news.example.com>",
    }
    fast = factory.build(**options)  # type: ignore[arg-type]
    slow = bytes(build_message(issue, rendered, config, **options))  # type: ignore[arg-type]
    assert _same_but_boundary(fast) == _same_but_boundary(slow)
    assert _same_but_boundary(factory.build(**options)) == _same_but_boundary(fast)  # type: ignore[arg-type]
    parsed = roundtrip_bytes(fast)
    text = parsed.get_body(("plain",))
    assert text is not None
    assert text.get_content().count("/u?t=" + quote(token)) == 40


def test_factory_without_a_token_in_the_body(tmp_path: Path) -> None:
    config = make_config(tmp_path, unsubscribe="mailto:leave@news.example.com")
    rendered = RenderedIssue(subject="s", html="<p>x</p>" * 500, text="x\n")
    factory = MessageFactory(make_issue(), rendered, config)
    first = factory.build(to="a@example.org", token="1-a", date=NOW, message_id="<1@x.example>")
    second = factory.build(to="b@example.org", token="2-b", date=NOW, message_id="<2@x.example>")
    assert roundtrip_bytes(first)["To"] == "a@example.org"
    assert roundtrip_bytes(second)["To"] == "b@example.org"
    assert first.partition(b"\r\n\r\n")[2] == second.partition(b"\r\n\r\n")[2]


def roundtrip_bytes(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed
