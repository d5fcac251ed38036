"""A story's picture: every rendition an item offers, and the one that fits the email.

Feeds offer pictures in many places (media:content, media:thumbnail,
enclosures, itunes:image, the content's first <img> and its srcset, the
page's og:image) and often several sizes of the same one. The email wants
one picture no wider than it can use, never a thumbnail blown up to the
column's width, and never a tracking pixel, avatar or icon.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from digest.models import Picture
from digest.text.sanitise import clean_text, safe_url

MAX_WIDTH = 1200
"""Widest rendition worth sending: twice the 600 px column, for high-density screens."""
LEAD_MIN_WIDTH = 300
"""Narrower pictures are shown as a thumbnail beside the text, never stretched to 600 px."""
_MIN_SIDE = 48  # smaller than this is an icon or a spacer, not a picture

_IMAGE_EXT = re.compile(r"\.(jpe?g|png|gif|webp|avif)$", re.I)
# Hosts and paths of things that are images but not pictures of the story.
_NOT_A_PICTURE = re.compile(
    r"gravatar\.com|/avatars?\b|avatar[s_-]|/emoji|emoji/|s\.w\.org/images/core|/smil(ey|ies)/|"
    r"feeds\.feedburner\.com|feedproxy\.google\.com/~|/~ff/|/~a/|feedsportal\.com|"
    r"doubleclick\.net|stats\.wordpress\.com|pixel\.wp\.com|/pixel[./?]|[/_-]pixel\b|"
    r"/b\.gif\b|/spacer\b|blank\.gif|1x1\b|/icons?/|favicon|[/_-]icon[s._-]|/badges?/|"
    r"/share[_-]?buttons?/|feeds\.wordpress\.com/1\.0/|\.(svg|ico)(\?|$)",
    re.I,
)
_TAG = re.compile(r"<(img|figure|/figure|figcaption|/figcaption)\b[^>]*>", re.I)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_FILENAME_ALT = re.compile(
    r"^[\w-]+\.(jpe?g|png|gif|webp)$|^(image|img|photo|picture)\s*\d*$|_", re.I
)
_WIDTH_PATTERNS = (
    re.compile(r"-(\d{2,4})x(\d{2,4})\.\w+$"),  # WordPress: name-300x200.jpg
    re.compile(r"/w_(\d{2,4})\b"),  # Cloudinary: /w_460/
    re.compile(r"/(\d{2,4})x(\d{2,4})/"),  # /460x260/
    re.compile(r"/(?:width|w)[/=-](\d{2,4})\b"),
)
_WIDTH_PARAMS = ("w", "width", "imwidth", "resize", "fit")


def width_hint(url: str) -> int | None:
    """A width written into an image URL: ?w=140, -150x150.jpg, /w_460/, or None."""
    parts = urlsplit(url)
    for key, value in parse_qsl(parts.query):
        if key.lower() in _WIDTH_PARAMS:
            match = re.match(r"(\d{2,4})\b", value)
            if match:
                return int(match[1])
    for pattern in _WIDTH_PATTERNS:
        found = pattern.search(parts.path)
        if found:
            return int(found[1])
    return None


def _int(value: Any) -> int | None:
    match = re.match(r"\s*(\d{1,5})\s*(px)?\s*$", str(value or ""))
    return int(match[1]) if match else None


def picture(
    url: Any, base: str | None, width: Any = None, height: Any = None, alt: str = ""
) -> Picture | None:
    """A Picture for `url` when it is an http(s) URL of something that may be a picture."""
    safe = safe_url(html.unescape(str(url)) if url else None, base)
    if safe is None or _NOT_A_PICTURE.search(safe):
        return None
    w, h = _int(width), _int(height)
    if w is None:
        w = width_hint(safe)
    if (w is not None and w < _MIN_SIDE) or (h is not None and h < _MIN_SIDE):
        return None  # tracking pixels, spacers, icons
    if w and h and not 0.2 <= w / h <= 5:
        return None  # ad banners (728×90, 468×60) and rules
    return Picture(url=safe, width=w, height=h, alt=clean_text(alt)[:300])


def from_entry(raw: Any, base: str | None, srcsets: dict[str, str] | None = None) -> list[Picture]:
    """Every rendition a feedparser entry offers, the feed's declared pictures first."""
    found: list[Picture | None] = []
    for media in raw.get("media_content") or []:
        medium, mime, url = media.get("medium", ""), media.get("type", ""), media.get("url", "")
        path = urlsplit(str(url)).path
        if (
            medium == "image"
            or mime.startswith("image/")
            or (not medium and not mime and _IMAGE_EXT.search(path))
        ):
            found.append(picture(url, base, media.get("width"), media.get("height")))
    for media in raw.get("media_thumbnail") or []:
        found.append(picture(media.get("url"), base, media.get("width"), media.get("height")))
    enclosures = [*(raw.get("enclosures") or [])]
    enclosures += [x for x in raw.get("links") or [] if x.get("rel") == "enclosure"]
    for enclosure in enclosures:
        href, mime = str(enclosure.get("href") or ""), str(enclosure.get("type") or "")
        if mime.startswith("image/") or (not mime and _IMAGE_EXT.search(urlsplit(href).path)):
            found.append(picture(href, base))
    content = _content_html(raw)
    found += first_content_picture(content, base, srcsets or {})
    itunes = raw.get("image")
    if isinstance(itunes, dict) and itunes.get("href"):
        found.append(picture(itunes.get("href"), base))  # podcast artwork: square, large
    return _unique(p for p in found if p is not None)


def _content_html(raw: Any) -> str:
    bodies = [str(c.get("value") or "") for c in raw.get("content") or []]
    bodies.append(str(raw.get("summary") or ""))
    return max(bodies, key=len)


def _attrs(tag: str) -> dict[str, str]:
    return {m[0].lower(): html.unescape(m[1] or m[2] or m[3]) for m in _ATTR.findall(tag)}


def first_content_picture(markup: str, base: str | None, srcsets: dict[str, str]) -> list[Picture]:
    """The renditions of the first real picture in an HTML body, with its caption as alt text."""
    for match in _TAG.finditer(markup):
        if match[1].lower() != "img":
            continue
        attrs = _attrs(match[0])
        alt = _caption_after(markup, match.end()) or _useful_alt(attrs)
        first = picture(attrs.get("src"), base, attrs.get("width"), attrs.get("height"), alt)
        if first is None:
            continue
        renditions = [first]
        src = attrs.get("src", "")
        srcset = attrs.get("srcset") or srcsets.get(src) or srcsets.get(_file_name(src), "")
        ratio = first.height / first.width if first.width and first.height else None
        for url, width in parse_srcset(srcset, first.width):
            height = round(width * ratio) if ratio else None
            rendition = picture(url, base, width, height, alt)
            if rendition is not None:
                renditions.append(rendition)
        return renditions
    return []


def parse_srcset(value: str, base_width: int | None = None) -> list[tuple[str, int]]:
    """(URL, width) for each candidate of a srcset: `url 720w`, or `url 2x` when the
    image's own width is known."""
    found = []
    for part in re.split(r",\s+(?=\S)", value.strip()):
        bits = part.split()
        if len(bits) != 2:
            continue
        if re.fullmatch(r"\d{1,5}w", bits[1]):
            found.append((bits[0], int(bits[1][:-1])))
        elif base_width and re.fullmatch(r"\d(\.\d+)?x", bits[1]):
            found.append((bits[0], round(base_width * float(bits[1][:-1]))))
    return found


def srcsets_in(document: bytes) -> dict[str, str]:
    """src → srcset of every <img> in a raw feed document (feedparser's sanitiser drops srcset)."""
    if b"srcset" not in document:
        return {}
    text = html.unescape(document.decode("utf-8", "replace"))
    found: dict[str, str] = {}
    for match in re.finditer(r"<img\b[^>]*\bsrcset\s*=[^>]*>", text, re.I):
        attrs = _attrs(match[0])
        if attrs.get("src") and attrs.get("srcset"):
            found.setdefault(attrs["src"], attrs["srcset"])
            # feedparser makes content URLs absolute: the file name finds it again.
            found.setdefault(_file_name(attrs["src"]), attrs["srcset"])
    return found


def _file_name(url: str) -> str:
    return "/" + urlsplit(url).path.rsplit("/", 1)[-1]


def _caption_after(markup: str, start: int) -> str:
    """The <figcaption> of the figure an image sits in, if it follows within that figure."""
    rest = markup[start : start + 3000]
    end = re.search(r"</figure>", rest, re.I)
    caption = re.search(r"<figcaption\b[^>]*>(.*?)</figcaption>", rest, re.I | re.S)
    if not caption or (end and end.start() < caption.start()):
        return ""
    return clean_text(html.unescape(re.sub(r"<[^>]+>", " ", caption[1])))


def _useful_alt(attrs: dict[str, str]) -> str:
    for key in ("alt", "title"):
        text = clean_text(attrs.get(key, ""))
        # A caption has spaces; "AppleWatchSeries3-FitnessSportUse" is a file's name.
        if text and not _FILENAME_ALT.search(text) and (" " in text or len(text) <= 12):
            return text
    return ""


def from_page(page_html: str, base: str) -> list[Picture]:
    """The page's og:image (or twitter:image) with its declared size, when it has one."""
    head = page_html[:200_000]
    metas = [_attrs(m[0]) for m in re.finditer(r"<meta\b[^>]*>", head, re.I)]
    props = {
        (m.get("property") or m.get("name") or "").lower(): m.get("content", "") for m in metas
    }
    url = props.get("og:image") or props.get("og:image:url") or props.get("twitter:image")
    if not url:
        return []
    alt = props.get("og:image:alt", "")
    found = picture(url, base, props.get("og:image:width"), props.get("og:image:height"), alt)
    return [found] if found else []


def _unique(pictures: Iterable[Picture]) -> list[Picture]:
    seen: dict[str, Picture] = {}
    for p in pictures:
        known = seen.get(p.url)
        if known is None or (known.width is None and p.width is not None):
            seen[p.url] = (
                p if known is None else Picture(p.url, p.width, p.height, known.alt or p.alt)
            )
    return list(seen.values())


def best(candidates: Sequence[Picture]) -> Picture | None:
    """The rendition to send: the widest up to MAX_WIDTH, else one of unknown size (in the
    feed's order), else the narrowest wider one, else the widest small one."""
    if not candidates:
        return None
    order = {id(p): i for i, p in enumerate(candidates)}

    def rank(p: Picture) -> tuple[int, int]:
        if p.width is None:
            return (1, order[id(p)])
        if LEAD_MIN_WIDTH <= p.width <= MAX_WIDTH:
            return (0, -p.width)
        if p.width > MAX_WIDTH:
            return (2, p.width)
        return (3, -p.width)

    chosen = min(candidates, key=rank)
    alt = chosen.alt or next((p.alt for p in candidates if p.alt), "")
    return Picture(chosen.url, chosen.width, chosen.height, alt)
