"""The article's own address behind the link a feed gives.

FeedBurner, Pheedo and other feed services replace each item's link with
a redirect through their servers (feedproxy.google.com/~r/…), and keep the
original in an `origLink` element; search alerts and social sites wrap it in
a query parameter. Readers should get the article itself, and the same
article reached through two wrappers is one story.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from digest.text.sanitise import safe_url

# Hosts whose links only redirect elsewhere; the target is not in the URL.
_OPAQUE = (
    "feedproxy.google.com",
    "feeds.feedburner.com",
    "feeds.feedblitz.com",
    "feedsportal.com",
    "pheedo.com",
)
# Hosts (or host suffixes) whose links carry the target in a query parameter.
_WRAPPERS: dict[str, tuple[str, ...]] = {
    "google.com": ("url", "q"),
    "news.google.com": ("url",),
    "l.facebook.com": ("u",),
    "lm.facebook.com": ("u",),
    "out.reddit.com": ("url",),
    "t.umblr.com": ("z",),
    "href.li": (),
    "bing.com": ("url",),
    "r.search.yahoo.com": (),
    "go.redirectingat.com": ("url",),
    "click.linksynergy.com": ("murl", "RD_PARM1"),
    "slack-redir.net": ("url",),
    "getpocket.com": ("url",),
}
_REDIRECT_PATHS = ("/url", "/l.php", "/redirect", "/news/url", "/news/apiclick.aspx", "/")


def is_wrapper(url: str) -> bool:
    """True when `url` belongs to a redirect service rather than to a publisher."""
    host = (urlsplit(url).hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in _OPAQUE):
        return True
    path = urlsplit(url).path
    return "/click.phdo" in path or (_wrapper_params(host) is not None and _target(url) is not None)


def _wrapper_params(host: str) -> tuple[str, ...] | None:
    for suffix, params in _WRAPPERS.items():
        if host == suffix or host.endswith("." + suffix):
            return params
    return None


def _target(url: str) -> str | None:
    """The URL a known wrapper redirects to, when it is written into the wrapper's URL."""
    parts = urlsplit(url)
    params = _wrapper_params((parts.hostname or "").lower())
    if params is None or not parts.path.startswith(_REDIRECT_PATHS):
        return None
    if not params and parts.query.startswith("http"):
        return safe_url(parts.query)  # href.li/?https://…
    query = dict(parse_qsl(parts.query))
    for name in params:
        target = safe_url(query.get(name))
        if target:
            return target
    return None


_ITEM = re.compile(rb"<(item|entry)\b.*?</\1>", re.S | re.I)
_LINK = re.compile(
    rb"<link>\s*(?:<!\[CDATA\[)?\s*([^<\s\]]+)|<link\b[^>]*\bhref=[\"']([^\"']+)", re.I
)
_ORIG = re.compile(rb"<(?:\w+:)?origLink>\s*(?:<!\[CDATA\[)?\s*([^<\s\]]+)", re.I)


def origlinks_in(document: bytes) -> dict[str, str]:
    """item link → its origLink, read from the raw document.

    feedparser keeps `feedburner:origLink` only where the namespace is declared
    as it expects; a feed with items nested oddly loses it, so it is read here too.
    """
    if b"origlink" not in document.lower():
        return {}
    found: dict[str, str] = {}
    for item in _ITEM.finditer(document):
        link, orig = _LINK.search(item[0]), _ORIG.search(item[0])
        if link and orig:
            href = html.unescape((link[1] or link[2]).decode("utf-8", "replace"))
            found.setdefault(href, html.unescape(orig[1].decode("utf-8", "replace")))
    return found


def unwrap(
    link: str | None, raw: Any, base: str | None, origlinks: dict[str, str] | None = None
) -> str | None:
    """The publisher's URL for an item: origLink, an unwrapped redirect, or the link itself."""
    for key in ("feedburner_origlink", "pheedo_origlink", "origlink"):
        original = safe_url(str(raw.get(key) or "") or None, base)
        if original:
            return _peel(original)
    if not link:
        return None
    original = safe_url((origlinks or {}).get(link), base)
    if original:
        return _peel(original)
    peeled = _peel(link)
    if is_wrapper(peeled):
        # An opaque redirect: the guid is often the permalink the redirect leads to.
        guid = safe_url(str(raw.get("id") or "") or None)
        if guid and not is_wrapper(guid) and urlsplit(guid).path not in {"", "/"}:
            return guid
    return peeled


def _peel(url: str) -> str:
    """Remove nested wrappers (a search alert around a social link…), at most a few deep."""
    for _ in range(3):
        target = _target(url)
        if target is None:
            return url
        url = target
    return url


def after_redirects(link: str, page_url: str | None) -> str:
    """The article's address once its page was fetched: a redirector's link gives way to
    where it led, unless that looks like a consent, login or error page."""
    if not page_url or not is_wrapper(link) or is_wrapper(page_url):
        return link
    parts = urlsplit(page_url)
    if parts.path in {"", "/"} or "http" in parts.query.lower() or not safe_url(page_url):
        return link
    return page_url
