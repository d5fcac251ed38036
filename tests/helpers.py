"""Issues and configs for the render, preview and browser tests: one lead story with
comments, one plain, one hostile in every field."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from digest.config import Config, NewsletterSettings
from digest.models import Comment, Issue, Story

NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script> <img src=x onerror=alert(1)> {{ 7*7 }} {% raw %} "q" &amp;'
LEAD_TITLE = "Renault Discussing U.S. Sale of Alpine Sports Cars With AutoNation"
SECOND_TITLE = "Junkyard Find: 1985 Toyota Van"


def make_config(base: Path, **newsletter: str) -> Config:
    settings: dict[str, Any] = {
        "title": "The Insider",
        "description": "The week's car news and the best of the conversation.",
        "sender": "The Insider <insider@example.com>",
        "unsubscribe": "https://example.com/unsubscribe?list=insider&u=42",
        "postal_address": "1 Example Street\nDetroit, MI 48201",
        "url": "https://example.com/insider",
    } | newsletter
    return Config(newsletter=NewsletterSettings(**settings), base_dir=base)


def make_issue() -> Issue:
    lead = Story(
        title=LEAD_TITLE,
        url="https://www.example.com/2026/11/renault-alpine?utm_source=feed&x=1",
        source="The Truth About Cars",
        author="Matt Posky",
        published=NOW - timedelta(hours=20),
        image="http://cdn.example.com/alpine.jpg",
        summary=(
            "Renault has been considering how best to sell Alpine sports cars in North America.",
            "Leveraging a big dealer network could be an ideal way to get a foot in the door.",
        ),
        comment_count=19,
        comments=(
            Comment(
                author="Corey Lewis",
                text="Infiniti dealers are the sensible place.\n\nWhere would you service them?",
                url="https://www.example.com/2026/11/renault-alpine#comment-1",
                published=NOW - timedelta(hours=2),
            ),
            Comment(
                author="Bkojote",
                text="AutoNation is basically a glorified buy-here-pay-here lot.",
                published=NOW - timedelta(days=3),
            ),
        ),
        comments_url="https://www.example.com/2026/11/renault-alpine#comments",
    )
    plain = Story(
        title=SECOND_TITLE,
        url="https://www.example.com/junkyard-van",
        source="Junkyard",
        author=None,
        published=None,
        image=None,
        summary=("The Toyota Van was a cab-over, mid-engined machine.",),
        comment_count=4,
    )
    hostile = Story(
        title=HOSTILE,
        url="javascript:alert(1)",
        source=f"Feed {HOSTILE}",
        author=HOSTILE,
        published=NOW - timedelta(days=1),
        image="data:image/svg+xml,<svg onload=alert(1)>",
        summary=(f"Summary {HOSTILE}", "{% include 'base.mjml.j2' %}"),
        comment_count=None,
        comments=(
            Comment(
                author=HOSTILE,
                text=f"Comment {HOSTILE}",
                url=" JaVaScRiPt:alert(1)",
                published=NOW - timedelta(minutes=5),
            ),
        ),
        comments_url="vbscript:msgbox(1)",
    )
    return Issue(
        id="2026-11-26",
        title="The Insider, 26 November 2026",
        generated_at=NOW,
        stories=(lead, plain, hostile),
        feeds=(),
    )


def big_issue(stories: int, title: str = "Story number {}") -> Issue:
    """Stories with long summaries and three long comments each: ~6.5 KB of HTML per story;
    `title` is each story's, with `{}` its number."""
    words = ("the quick brown fox jumps over the lazy dog again " * 8).split()
    lead = make_issue().stories[0]
    comment = Comment(
        author="A Regular Commenter",
        text=" ".join(words[:60]),
        url="https://www.example.com/2026/11/a-story-with-a-long-slug/#comment-123456",
        published=NOW - timedelta(hours=3),
    )
    return replace(
        make_issue(),
        stories=tuple(
            replace(
                lead,
                title=title.format(i),
                url=f"https://www.example.com/2026/11/a-story-with-a-long-slug-{i}/",
                image=f"https://cdn.example.com/uploads/2026/11/picture-{i}-1200x675.jpg",
                summary=(" ".join(words[:25]),) * 3,
                comments=(comment,) * 3,
            )
            for i in range(stories)
        ),
    )


def no_network() -> None:
    """Make any connection attempt outside loopback fail loudly in this process."""
    real = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in {"127.0.0.1", "::1", "localhost"} and not str(host).startswith("/"):
            raise OSError(f"network access attempted: {address}")
        real(self, address)  # type: ignore[arg-type]

    socket.socket.connect = guarded  # type: ignore[method-assign,assignment]


def write_override(tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / "templates" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")


CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: no browser download, ever
BROWSER_WAIT = 60_000  # ms: a loaded CI machine starts Chromium slowly


def launch_chromium(playwright: Any) -> Any:
    """Headless Chromium that reaches loopback only: no calls home, a dead proxy for the rest."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--proxy-server=http://127.0.0.1:9",
        ],
        timeout=BROWSER_WAIT,
    )
