"""Would an editor send it? Newsletters built from every corpus feed, linted for defects.

Run from the repository root:  python -m bench.quality [--corpus PATH] [--examples]

Each feed of the corpus (and a few mixed groups of feeds) is served from a
loopback HTTP server and built into an issue by the real `digest.build.build()`
(article pages and comments off: the bench is offline). The issue.json and
email.html are then checked against the feed documents themselves for each
defect class below; the table gives how often each happens, with an example.

The lints are heuristics written from the reader's side, independently of
how digest decides: a lint can flag a sentence digest had good reason to keep,
and the examples are printed so that a wrong flag is visible.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import feedparser
import httpx

from digest.build import build
from digest.config import load_config
from digest.store import State

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DIGEST_CORPUS", REPO.parent / "shared" / "corpus"))
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)

# ---------------------------------------------------------------------------
# Serving and building


class LoopbackOnly(httpx.AsyncBaseTransport):
    """A real transport that refuses anything but 127.0.0.1: the bench never leaves the box."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.refused: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != "127.0.0.1":
            self.refused[request.url.host] += 1
            raise httpx.ConnectError(f"offline bench: {request.url.host} not fetched")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """Serve the corpus feeds folder over HTTP on loopback."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            name = self.path.lstrip("/").split("?")[0]
            path = folder / name
            if "/" in name or not path.is_file():
                self.send_error(404)
                return
            body = path.read_bytes()
            self.send_response(200)
            kind = "application/json" if name.endswith(".json") else "application/xml"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def feed_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.endswith(("README", ".md"))
    )


def groups(files: list[Path]) -> list[list[Path]]:
    """Each feed alone, then mixed groups: seeded random fours and two chosen overlaps."""
    named = {p.name: p for p in files}
    chosen = [
        # Successive snapshots of one blog, and one blog in two formats: the same stories twice.
        ["rss2email-nodejs-feed1.xml", "rss2email-nodejs-feed2.xml", "rss2email-nodejs-feed3.xml"],
        ["netnewswire-DaringFireball.json", "netnewswire-DaringFireball.rss",
         "netnewswire-manton.rss", "netnewswire-macworld.rss"],
        ["rssparser-guardian.rss", "feedjira-TechCrunch.xml", "nodefeedparser-wapowellness.xml",
         "feedjira-HuffPostCanada.xml", "netnewswire-dcrainmaker.xml"],
    ]  # fmt: skip
    rng = random.Random(11)
    mixed = [rng.sample(files, 4) for _ in range(8)]
    singles = [[p] for p in files]
    return singles + [[named[n] for n in g if n in named] for g in chosen] + mixed


@dataclass
class Built:
    files: list[Path]
    record: dict[str, Any] | None
    email_html: str
    outcome: str
    seconds: float
    language: str


def build_one(files: list[Path], base: str, work: Path, transport: LoopbackOnly) -> Built:
    language = declared_language(files)
    lines = [
        "[newsletter]",
        'title = "Quality"',
        "max_stories = 10",
        "lookback_days = 0",
        f'language = "{language}"',
        "",
    ]
    for path in files:
        lines += ["[[feeds]]", f'url = "{base}/{path.name}"', 'full_text = "never"']
        lines += ['comments = "none"', ""]
    lines += ["[fetch]", "timeout = 20", "max_bytes = 5000000"]
    (work / "config.toml").write_text("\n".join(lines), encoding="utf-8")
    config = load_config(work / "config.toml")
    started = time.monotonic()
    with State(work / "state.sqlite") as store, contextlib.redirect_stderr(io.StringIO()):
        result = build(
            config, store, work / "output", now=NOW, issue_id="issue", transport=transport
        )
    seconds = time.monotonic() - started
    if result.folder is None:
        return Built(files, None, "", result.outcome.value, seconds, language)
    record = json.loads((result.folder / "issue.json").read_text(encoding="utf-8"))
    email_html = (result.folder / "email.html").read_text(encoding="utf-8")
    return Built(files, record, email_html, result.outcome.value, seconds, language)


def declared_language(files: list[Path]) -> str:
    """The language a user would set: the feeds' own, when they all declare the same one."""
    found = set()
    for path in files:
        language = parsed(path).feed.get("language") or ""
        found.add(language.strip().lower().replace("_", "-").split("-")[0] or "en")
    return found.pop() if len(found) == 1 and re.fullmatch(r"[a-z]{2}", next(iter(found))) else "en"


_PARSED: dict[Path, Any] = {}


def parsed(path: Path) -> Any:
    if path not in _PARSED:
        _PARSED[path] = feedparser.parse(path.read_bytes(), sanitize_html=False)
    return _PARSED[path]


# ---------------------------------------------------------------------------
# What the feed offered, read from the documents themselves


_IMG = re.compile(r"<img\b[^>]*>", re.I)
_ATTR = re.compile(r"""([\w:-]+)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))""")
_IMAGE_EXT = re.compile(r"\.(jpe?g|png|gif|webp|avif)(\?|$)", re.I)
_NOT_A_PICTURE = re.compile(
    r"gravatar|avatar|/emoji|emoji/|feedburner\.com|feedsportal|/~ff/|stats\.wordpress|pixel|"
    r"doubleclick|/ads?/|badge|icon|logo|spacer|blank\.gif|share|button",
    re.I,
)


def _attrs(tag: str) -> dict[str, str]:
    return {m[0].lower(): html.unescape(m[2] or m[3] or m[4] or "") for m in _ATTR.findall(tag)}


def width_hint(url: str) -> int | None:
    """A width written into an image URL (?w=140, -150x150, /w_460/, /460/), if any."""
    query = dict(parse_qsl(urlsplit(url).query))
    for key in ("w", "width", "resize", "fit"):
        value = query.get(key, "")
        match = re.match(r"(\d{2,4})", value)
        if match:
            return int(match[1])
    path = urlsplit(url).path
    for pattern in (r"-(\d{2,4})x\d{2,4}\.\w+$", r"/w_(\d{2,4})\b", r"/(\d{2,4})x\d{2,4}/",
                    r"[/_-]w(\d{3,4})\b", r"/(\d{3,4})/[^/]+\.\w+$"):  # fmt: skip
        match = re.search(pattern, path)
        if match:
            return int(match[1])
    return None


def _number(value: Any) -> int | None:
    match = re.fullmatch(r"\s*(\d+)\s*(px)?\s*", str(value or ""))
    return int(match[1]) if match else None


@dataclass
class Offered:
    urls: dict[str, int | None] = field(default_factory=dict)  # image URL -> known width
    ratios: dict[str, float] = field(default_factory=dict)  # image URL -> height / width

    def add(self, url: str | None, width: Any = None, height: Any = None) -> None:
        if not url or url.startswith("data:"):
            return
        url = html.unescape(url)
        known, tall = _number(width), _number(height)
        if known and tall:
            self.ratios.setdefault(url, tall / known)
        known = known or width_hint(url)
        if self.urls.get(url) is None:
            self.urls[url] = known

    def widest(self, like: str) -> int:
        """The widest rendition offered of the same picture as `like` (same file name)."""
        same = [w for u, w in self.urls.items() if w and _identity(u) == _identity(like)]
        return max(same, default=0)


def _identity(url: str) -> str:
    """A picture's file name without size suffixes, extension or query: its renditions share it."""
    name = urlsplit(url).path.rsplit("/", 1)[-1].lower()
    name = re.sub(r"\.\w+$", "", name)
    return re.sub(r"(-\d+x\d+|@\d(\.\d+)?x|[-_]\d{3,4}w?|-scaled)$", "", name)


def offered_images(entry: Any) -> Offered:
    """Every picture the item carries that a reader would call a picture."""
    found = Offered()
    for media in entry.get("media_content") or []:
        url = media.get("url") or ""
        kind = f"{media.get('medium', '')} {media.get('type', '')}"
        if "image" in kind or _IMAGE_EXT.search(url):
            found.add(url, media.get("width"), media.get("height"))
    for media in entry.get("media_thumbnail") or []:
        found.add(media.get("url"), media.get("width"), media.get("height"))
    for link in [*(entry.get("enclosures") or []), *(entry.get("links") or [])]:
        href = link.get("href") or ""
        if link.get("rel", "enclosure") != "enclosure":
            continue
        if str(link.get("type", "")).startswith("image/") or _IMAGE_EXT.search(href):
            found.add(href)
    bodies = [c.get("value", "") for c in entry.get("content") or []]
    bodies.append(entry.get("summary", "") or "")
    for body in bodies:
        for tag in _IMG.findall(body):
            attrs = _attrs(tag)
            src = attrs.get("src", "")
            tiny = any(attrs.get(k, "").strip() in {"0", "1", "2"} for k in ("width", "height"))
            if tiny or _NOT_A_PICTURE.search(src):
                continue
            found.add(src, attrs.get("width"), attrs.get("height"))
            w, h = _number(attrs.get("width")), _number(attrs.get("height"))
            for part in attrs.get("srcset", "").split(","):
                bits = part.split()
                if len(bits) == 2 and bits[1].endswith("w") and bits[1][:-1].isdigit():
                    width = int(bits[1][:-1])
                    found.add(bits[0], width, round(width * h / w) if w and h else None)
    found.urls = {u: w for u, w in found.urls.items() if not _NOT_A_PICTURE.search(u)}
    found.ratios = {u: r for u, r in found.ratios.items() if u in found.urls}
    return found


def text_of(entry: Any) -> str:
    bodies = [c.get("value", "") for c in entry.get("content") or []]
    bodies.append(entry.get("summary", "") or "")
    markup = max(bodies, key=len)
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", markup)
    markup = re.sub(
        r"(?i)<(br|/p|/div|/li|/h\d|/blockquote|/figcaption|/pre)\b[^>]*>", "\n", markup
    )
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def _norm_title(title: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", html.unescape(title).casefold()).split())


def find_entry(files: list[Path], story: dict[str, Any]) -> Any | None:
    title = _norm_title(story["title"])
    for path in files:
        for entry in parsed(path).entries:
            if _norm_title(entry.get("title", "")) == title and title:
                return entry
    url = story.get("url") or ""
    for path in files:
        for entry in parsed(path).entries:
            links = {entry.get("link"), entry.get("feedburner_origlink"), entry.get("id")}
            if url and url.rstrip("/") in {str(x).rstrip("/") for x in links if x}:
                return entry
    return None


# ---------------------------------------------------------------------------
# The lints


@dataclass
class Tally:
    label: str
    unit: str
    target: str
    count: int = 0
    total: int = 0
    example: str = ""
    flagged: list[str] = field(default_factory=list)

    def add(self, defect: bool, example: str = "") -> None:
        self.total += 1
        if defect:
            self.count += 1
            self.flagged.append(example)
            if not self.example:
                self.example = example


_TERMINATORS = ".!?:;…\"'”’»)]。！？；：」』）"  # CJK prose ends its sentences with its own marks
_ABBREVIATION_BEFORE = re.compile(
    r"(\b\d{1,4}|\b[A-Za-z]|\b(?:Dr|Mr|Mrs|Ms|St|Nr|No|Vol|Fig|vs|etc|ca|bzw|ggf|vgl|z\.\s?B|"
    r"u\.\s?a|d\.\s?h|e\.g|i\.e|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Inc|Ltd|Co|"
    r"Jr|Sr|Prof|Gen|Sen|Rep|Gov|Mt|Ft|approx|dept|est))\.$"
)


def mid_sentence(sentence: str, source: str) -> bool:
    """The sentence starts inside another: lower case, a continuation, or a false stop before it."""
    first = sentence.lstrip("\"'“‘«([ ")[:1]
    if first and first.islower() and not re.match(r"^[a-z]+[A-Z]", sentence.lstrip("\"'“‘«([ ")):
        return True
    if first and first in ",;)]}":
        return True
    flat = " ".join(source.split())
    start = flat.find(sentence[:40])
    if start <= 0:
        return False
    before = flat[:start].rstrip()
    if not before:
        return False
    if before[-1] not in _TERMINATORS and not before.endswith(("\n",)):
        # The source runs on into it: unless a block ended there (the flat text lost it).
        lines = source[: source.find(sentence[:20])] if sentence[:20] in source else ""
        return not lines.rstrip(" \t").endswith("\n") and bool(lines)
    return bool(_ABBREVIATION_BEFORE.search(before))


_NOT_PROSE = [
    ("url", re.compile(r"https?://|www\.\w|\b\w+\.(com|org|net|io)/\S", re.I)),
    ("handle", re.compile(r"(^|\s|\()@\w{2,}|pic\.twitter\.com|\(@\w+\)")),
    (
        "code",
        re.compile(
            r"[{};]\s*$|[{}]|=>|::|\w\(\)|#include|\bdef \w+\(|\brequire ['\"]|"
            r"\bimport \w+|\w+\.\w+\(|</?\w+>|\$\w+\s*=|\bvar \w+ =|\bfunc \w+"
        ),
    ),
    (
        "caption/credit",
        re.compile(
            r"^(photo|image|picture|credit|source|illustration|foto|bild|quelle)s?\s*[:(]|"
            r"\b(getty images|ap photo|afp|reuters|shutterstock|photograph:|photo:|"
            r"courtesy of|image credit)",
            re.I,
        ),
    ),
    (
        "boilerplate",
        re.compile(
            r"\b(appeared first on|originally (appeared|published)|continue reading|read more|"
            r"click here|subscribe|sign up|follow us|editor'?s note|^update\b|updated \d|"
            r"this (post|article) (is|was) part of|part \d+ of (a|our|the) series|"
            r"feed (has )?moved|newsletter|sponsored by|share this|all rights reserved)",
            re.I,
        ),
    ),
]


_DATELINE = re.compile(r"^[^\W\d_][\w .'-]{1,40} \((Reuters|AP|AFP|dpa|Bloomberg)\) [-–—] ")


def not_prose(sentence: str) -> str | None:
    sentence = _DATELINE.sub("", sentence)  # "BRASÍLIA (Reuters) - …" is news, not a credit
    for kind, pattern in _NOT_PROSE:
        if pattern.search(sentence):
            return kind
    # ASCII symbols only: the punctuation of Chinese or Japanese prose (，。！（）) is not code.
    symbols = sum(
        c.isascii() and not (c.isalnum() or c.isspace() or c in ".,;:!?'\"-()%$") for c in sentence
    )
    if len(sentence) > 20 and symbols / len(sentence) > 0.08:
        return "code"
    return None


_SPONSORED = re.compile(
    r"\bsponsor|\badverti[sz]|\bpaid (post|content|partner)|\bpartner content\b|promoted\b|"
    r"\b(is|are|we'?re|now) hiring\b|\bjob (opening|posting)|\bdeal alert\b|\d+ ?% off\b|"
    r"\$\d+ off\b|\bsave (over |up to )?\d+ ?%|\b(black friday|cyber monday|prime day)\b.*\b"
    r"(deals?|sales?|discounts?|bargains?)\b|\b(huge|big|flash|annual|fall|summer|spring|winter|"
    r"holiday) sale\b",
    re.I,
)
_COMMERCIAL_CATEGORY = re.compile(
    r"(sponsor\w*|advertis\w*|advertorial|deals?|jobs?|hiring|careers?|partner content|promoted)",
    re.I,
)
_WRAPPERS = re.compile(
    r"feedproxy\.google\.com|feeds\.feedburner\.com/~r/|/~r/|feedsportal\.com|click\.phdo|"
    r"rss\.feedsportal|pheedo\.com|feeds\.\w+\.com/click",
    re.I,
)
_ENGLISH_WORDS = ["Read more", "Join the conversation", "Sent by", "View in browser",
                  "Unsubscribe", " comments", "more stories", "Archive"]  # fmt: skip


def _canonical(url: str) -> str:
    parts = urlsplit(url)
    query = "&".join(sorted(p for p in parts.query.split("&") if not p.startswith("utm_")))
    return f"{(parts.hostname or '').removeprefix('www.')}{parts.path.rstrip('/')}?{query}"


def _similar(a: str, b: str) -> bool:
    x, y = set(_norm_title(a).split()), set(_norm_title(b).split())
    if not x or not y:
        return False
    return len(x & y) / len(x | y) >= 0.8


def _hero_width(email_html: str) -> tuple[str, int | None] | None:
    match = re.search(r"<img\b[^>]*class=\"[^\"]*hero[^>]*>", email_html)
    if not match:
        return None
    attrs = _attrs(match[0])
    return attrs.get("src", ""), None


def lint(runs: list[Built]) -> list[Tally]:
    t = {
        "mid": Tally("sentences starting mid-sentence", "sentences", "≤ 2 %"),
        "prose": Tally(
            "code/URL/handle/caption/credit/boilerplate sentences", "sentences", "≤ 1 %"
        ),
        "repeat": Tally("sentence repeated in most of a feed's stories", "sentences", "≤ 1 %"),
        "empty": Tally("empty summary (story has text)", "stories", "≤ 2 %"),
        "image": Tally("image dropped (item offered one)", "stories offering one", "≤ 10 %"),
        "small": Tally("< 300 px rendition when a larger was offered", "stories with image", "0"),
        "stretch": Tally(
            "lead picture under 300 px stretched to 600", "issues with a lead pic", "0"
        ),
        "box": Tally(
            "lead picture with a fixed height (empty box when blocked)",
            "issues with a lead pic",
            "0",
        ),
        "sponsored": Tally("sponsored / advertising / job / deal stories", "stories", "0"),
        "share": Tally("top source over 40 % (≥ 3 sources with stories)", "issues", "0"),
        "dupes": Tally("duplicate stories (same URL or near-same title)", "stories", "0"),
        "proxy": Tally("redirect-wrapper link (feedproxy…) when origLink exists", "stories", "0"),
        "quotes": Tally("comment pick opening with another reader's words", "comments", "0"),
        "language": Tally("interface words in another language than the issue's", "issues", "0"),
    }
    for run in runs:
        if not run.record:
            continue
        stories = run.record["stories"]
        name = "+".join(p.name for p in run.files)
        sentence_feeds: dict[str, Counter[str]] = {}
        for story in stories:
            entry = find_entry(run.files, story)
            source = text_of(entry) if entry is not None else ""
            where = f"{name}: {story['title'][:50]!r}"
            for sentence in story["summary"]:
                t["mid"].add(mid_sentence(sentence, source), f"{where}: {sentence[:90]!r}")
                kind = not_prose(sentence)
                t["prose"].add(kind is not None, f"{where}: [{kind}] {sentence[:90]!r}")
                sentence_feeds.setdefault(story["source"], Counter())[sentence] += 1
            has_text = len(source.split()) >= 25
            if has_text:
                t["empty"].add(not story["summary"], where)
            offered = offered_images(entry) if entry is not None else Offered()
            if offered.urls:
                t["image"].add(
                    not story.get("image"), f"{where}: offered {next(iter(offered.urls))}"
                )
            if story.get("image"):
                width = offered.urls.get(story["image"]) or width_hint(story["image"])
                widest = offered.widest(story["image"])
                small = width is not None and width < 300 and widest >= 300
                t["small"].add(small, f"{where}: {story['image']} ({width} px, {widest} offered)")
            categories = [tag.get("term", "") for tag in (entry or {}).get("tags", []) or []]
            commercial = [c for c in categories if _COMMERCIAL_CATEGORY.fullmatch(c.strip())]
            t["sponsored"].add(
                bool(_SPONSORED.search(story["title"]) or commercial),
                f"{where} {commercial or ''}",
            )
            orig = (entry or {}).get("feedburner_origlink") or (entry or {}).get("pheedo_origlink")
            link = (entry or {}).get("link") or ""
            if orig or _WRAPPERS.search(link):
                t["proxy"].add(bool(_WRAPPERS.search(story["url"])), f"{where}: {story['url']}")
            for comment in story.get("comments") or []:
                text = comment.get("text", "")
                quoted = re.match(r"\s*(>|\S+ (wrote|said|schrieb):|@\w+ (wrote|said))", text)
                t["quotes"].add(bool(quoted), f"{where}: {text[:80]!r}")
        for counts in sentence_feeds.values():
            in_feed = sum(1 for s in stories if s["source"] and counts)
            for sentence, n in counts.items():
                repeated = n >= 3 and n >= 0.5 * max(in_feed, 1)
                t["repeat"].add(repeated, f"{name}: ×{n} {sentence[:90]!r}")
        # Issue-level: balance, duplicates, pictures, language.
        sources = Counter(s["source"] for s in stories)
        fed = sum(1 for f in run.record["feeds"] if f["items"])
        if len({s["source"] for s in stories}) >= 3 or (fed >= 3 and len(stories) >= 3):
            top, n = sources.most_common(1)[0]
            t["share"].add(n / len(stories) > 0.4, f"{name}: {top} {n}/{len(stories)}")
        for i, story in enumerate(stories):
            twin = next(
                (o for o in stories[:i]
                 if (_canonical(o["url"]) == _canonical(story["url"]) and story["url"])
                 or _similar(o["title"], story["title"])),
                None,
            )  # fmt: skip
            t["dupes"].add(twin is not None, f"{name}: {story['title'][:60]!r} twice")
        hero = re.search(r"<img\b[^>]*\bhero\b[^>]*>", run.email_html)
        if hero and stories:
            attrs = _attrs(hero[0])
            lead = stories[0]
            entry = find_entry(run.files, lead)
            offered = offered_images(entry) if entry is not None else Offered()
            src = html.unescape(attrs.get("src", ""))
            width = offered.urls.get(src) or width_hint(src)
            t["stretch"].add(width is not None and width < 300, f"{name}: {src} ({width} px)")
            # A height the feed's own proportions do not back is a guess: a fixed box.
            style = attrs.get("style", "")
            fixed = bool(re.search(r"(^|;)\s*height\s*:\s*\d+px", style))
            shown_w, shown_h = _number(attrs.get("width")), _number(attrs.get("height"))
            if shown_h:
                ratio = offered.ratios.get(src) or next(
                    (r for u, r in offered.ratios.items() if _identity(u) == _identity(src)), None
                )
                fixed = fixed or ratio is None or abs(shown_h / (shown_w or 600) - ratio) > 0.05
            t["box"].add(fixed, f"{name}: {hero[0][:140]}")
        words = [w for w in _ENGLISH_WORDS if w in re.sub(r"<[^>]+>", " ", run.email_html)]
        if run.language != "en":
            t["language"].add(bool(words), f"{name} ({run.language}): {words}")
    return list(t.values())


def table(tallies: list[Tally], examples: bool) -> str:
    lines = [f"{'defect':<62}{'rate':>8}{'count':>12}  {'target':<8} unit"]
    for tally in tallies:
        rate = f"{100 * tally.count / tally.total:.1f}%" if tally.total else "n/a"
        lines.append(
            f"{tally.label:<62}{rate:>8}{f'{tally.count}/{tally.total}':>12}  "
            f"{tally.target:<8} {tally.unit}"
        )
    if examples:
        lines.append("")
        lines.append("examples (first flagged):")
        for tally in tallies:
            if tally.example:
                lines.append(f"- {tally.label}:\n    {tally.example[:220]}")
    return "\n".join(lines)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--examples", action="store_true", help="print an example per defect")
    parser.add_argument("--only", default="", help="only feeds whose name contains this")
    parser.add_argument(
        "--show", default="", help="print every case of defects whose label has this"
    )
    args = parser.parse_args()
    folder = args.corpus / "feeds"
    if not folder.is_dir():
        raise SystemExit(f"corpus feeds not found at {folder} (set DIGEST_CORPUS)")
    files = [p for p in feed_files(folder) if args.only in p.name]
    server, base = serve(folder)
    transport = LoopbackOnly()
    runs: list[Built] = []
    started = time.monotonic()
    try:
        with quiet():
            for group in groups(files) if not args.only else [[p] for p in files]:
                with tempfile.TemporaryDirectory() as tmp:
                    runs.append(build_one(group, base, Path(tmp), transport))
    finally:
        server.shutdown()
    written = [r for r in runs if r.record]
    stories = sum(len(r.record["stories"]) for r in written if r.record)
    print(
        f"{len(runs)} builds ({len(files)} single feeds + mixed groups), {len(written)} issues, "
        f"{stories} stories, {time.monotonic() - started:.0f} s; "
        f"outcomes {dict(Counter(r.outcome for r in runs))}"
    )
    if transport.refused:
        print(f"refused off-box requests: {sum(transport.refused.values())}")
    tallies = lint(runs)
    print(table(tallies, args.examples))
    for tally in tallies:
        if args.show and args.show in tally.label:
            print(f"\nall {tally.count} of {tally.label!r}:")
            print("\n".join(f"- {case[:240]}" for case in tally.flagged))


if __name__ == "__main__":
    main()
