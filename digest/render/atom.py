"""The newsletter on the web: an Atom feed of its issues (`output/feed.xml`).

The archive page and each issue's `web.html` are templates (digest/render/email.py);
the feed is XML, built here so that no template can make it ill-formed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from digest.config import Config
from digest.render.email import ArchiveEntry
from digest.render.environment import output_url
from digest.render.i18n import Words, aware

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 50  # readers only look at the newest; the archive page has them all


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "digest"


def render_feed(entries: Sequence[ArchiveEntry], config: Config) -> str:
    """Return an Atom feed of the newest issues, each linking to its web version."""
    ET.register_namespace("", ATOM)
    base = output_url(config.newsletter.url)
    base = base if not base or base.endswith("/") else base + "/"
    title = config.newsletter.title
    words = Words(config.newsletter.fixed_language)
    newest = sorted(entries, key=lambda e: aware(e.generated_at), reverse=True)[:FEED_ENTRIES]

    def element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> None:
        child = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        child.text = text

    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": config.newsletter.fixed_language})
    element(feed, "id", base or f"urn:digest:{_slug(title)}")
    element(feed, "title", title)
    if config.newsletter.description:
        element(feed, "subtitle", config.newsletter.description)
    updated = max((aware(e.generated_at) for e in newest), default=datetime(1970, 1, 1, tzinfo=UTC))
    element(feed, "updated", updated.isoformat(timespec="seconds"))
    element(ET.SubElement(feed, f"{{{ATOM}}}author"), "name", title)
    if base:
        element(feed, "link", rel="self", href=f"{base}feed.xml")
        element(feed, "link", rel="alternate", href=base)
    element(feed, "generator", "digest")
    for entry in newest:
        page = f"{entry.id}/{entry.page}"
        node = ET.SubElement(feed, f"{{{ATOM}}}entry")
        element(node, "id", f"{base}{page}" if base else f"urn:digest:{_slug(title)}:{entry.id}")
        element(node, "title", f"{entry.title} · {words.longdate(entry.generated_at)}")
        element(node, "updated", aware(entry.generated_at).isoformat(timespec="seconds"))
        element(node, "published", aware(entry.generated_at).isoformat(timespec="seconds"))
        element(node, "link", rel="alternate", type="text/html", href=f"{base}{page}")
        if entry.first_story:
            summary = entry.first_story
            if entry.first_summary:
                summary += f" — {entry.first_summary}"
            element(node, "summary", summary)
    ET.indent(feed)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"
