"""Plain data passed between pipeline stages.

Every stage takes some of these and returns new ones; none is mutated after
it is made. The chain is::

    FeedSource ─collect─► FetchedFeed ─feeds─► Feed(entries: Entry…)
    Entry ─extract─► Article ─summarise─► summary sentences
    Entry ─comments─► CommentThread
    … ─compose─► Issue ─render─► RenderedIssue ─output─► files
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class FeedStatus(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"


@dataclass(frozen=True)
class Validators:
    """HTTP cache validators remembered between runs for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    """One successful HTTP (or local file) response body, already size-capped."""

    url: str
    final_url: str
    content: bytes
    content_type: str | None = None
    validators: Validators = field(default_factory=Validators)
    not_modified: bool = False
    address: str | None = None  # the IP the body was read from (None for a file)


@dataclass(frozen=True)
class Picture:
    """One rendition of a story's picture, with what is known of its size."""

    url: str
    width: int | None = None  # pixels, from attributes, srcset or the URL; None when unknown
    height: int | None = None
    alt: str = ""  # from the caption, the image's title or alt text


@dataclass(frozen=True)
class Entry:
    """A feed item, normalised: plain-text title, canonical URL, raw content HTML."""

    key: str  # stable identity across runs and feeds (canonical URL, else guid)
    title: str
    url: str
    source: str  # the feed's title
    feed_url: str
    author: str | None = None
    published: datetime | None = None
    image: str | None = None
    content_html: str = ""
    language: str | None = None
    comments_feed: str | None = None  # wfw:commentRss or Atom rel="replies"
    comment_count: int | None = None  # slash:comments / thr:total
    comments_page: str | None = None  # where readers join the conversation
    is_excerpt: bool = False
    excerpt_html: str = ""  # the feed's own summary when the content is richer (a standfirst)
    pictures: tuple[Picture, ...] = ()  # every candidate rendition the item offered
    categories: tuple[str, ...] = ()
    section: str = ""  # `[[feeds]] section`: the heading the story goes under


@dataclass(frozen=True)
class Feed:
    """A configured feed after collection and parsing."""

    url: str
    status: FeedStatus
    title: str | None = None
    error: str | None = None
    entries: tuple[Entry, ...] = ()
    address: str | None = None  # the IP the feed was read from: its links may reach it
    warnings: tuple[str, ...] = ()  # one line per entry left out because it was unreadable


class BlockKind(StrEnum):
    """What a block of an article is; only paragraphs are prose a summary may quote."""

    PARAGRAPH = "paragraph"
    HEADING = "heading"
    LIST_ITEM = "list_item"
    QUOTE = "quote"
    CODE = "code"
    FIGURE = "figure"  # a caption or credit
    TABLE = "table"
    EMBED = "embed"  # a tweet, a social post, an iframe's fallback text
    LINKS = "links"  # a line that is mostly links
    NOTICE = "notice"  # byline, update / editor's note, series or feed notice, call to action
    ASIDE = "aside"  # navigation, header, footer, sidebar, share and related boxes


@dataclass(frozen=True)
class Block:
    """One block of an article's text, plain text with its kind."""

    kind: BlockKind
    text: str


@dataclass(frozen=True)
class Article:
    """An entry with its readable text: prose paragraphs of plain text, and every block."""

    entry: Entry
    paragraphs: tuple[str, ...]  # the prose blocks: where summary sentences come from
    image: str | None = None
    blocks: tuple[Block, ...] = ()  # the whole text, typed (headings, lists, quotes, code…)
    standfirst: str = ""  # the publisher's own excerpt, plain text, when it has one
    picture: Picture | None = None
    page_url: str | None = None  # where the article page was found, after redirects


@dataclass(frozen=True)
class Quote:
    """Words a comment repeats from someone else, kept apart from the commenter's own."""

    text: str  # plain text, paragraphs separated by blank lines
    author: str | None = None  # who wrote them, when the comment or the thread says


@dataclass(frozen=True)
class Comment:
    author: str
    text: str  # plain text, paragraphs separated by blank lines
    url: str | None = None
    published: datetime | None = None
    score: float | None = None  # reader votes where the source has them
    replies: int | None = None
    id: str | None = None  # the source's identity for the comment
    parent: str | None = None  # id of the comment replied to; None for a top-level comment
    depth: int = 0  # 0 for top-level, 1 for a reply, …
    source: str | None = None  # "wordpress", "reddit", "hackernews", "discourse", "mastodon"
    rank: int | None = None  # place among its siblings where the source ranks them (HN)
    by_author: bool = False  # written by the story's author or the discussion's submitter
    quote: Quote | None = None  # what it quotes (never part of `text`)
    reply_to: str | None = None  # the author of the comment it answers


@dataclass(frozen=True)
class CommentThread:
    comments: tuple[Comment, ...] = ()
    total: int | None = None  # as announced by the source
    error: str | None = None
    warnings: tuple[str, ...] = ()  # one line per comment left out because it was unreadable
    refused: bool = False  # the fetch policy kept the thread's URL off a private address


@dataclass(frozen=True)
class Story:
    title: str
    url: str
    source: str
    author: str | None
    published: datetime | None
    image: str | None
    summary: tuple[str, ...]
    comment_count: int | None
    comments: tuple[Comment, ...] = ()
    comments_url: str | None = None
    key: str = ""  # the entry's identity, remembered once the story is sent
    picture: Picture | None = None  # `image` with its size and alt text, when known
    section: str = ""
    language: str = ""  # what the summary was read as ("de", "pt"…)


@dataclass(frozen=True)
class FeedReport:
    url: str
    status: FeedStatus
    title: str | None = None
    error: str | None = None
    items: int = 0


@dataclass(frozen=True)
class Issue:
    id: str
    title: str
    generated_at: datetime
    stories: tuple[Story, ...]
    feeds: tuple[FeedReport, ...]
    warnings: tuple[str, ...] = ()  # items left out or cut short (entries, pages, comments)
    language: str = ""  # the language of its own words; "" for `[newsletter] language`


@dataclass(frozen=True)
class RenderedIssue:
    subject: str
    html: str  # final email body, CSS inlined
    text: str  # plain-text alternative
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Subscriber:
    """One reader on the list, as the store keeps them."""

    id: int
    email: str
    name: str
    status: str
    subscribed_at: str
    unsubscribed_at: str | None = None
    status_at: str = ""  # when the status last changed
    cause: str = ""  # why it did ("confirmed by the reader", "550 5.1.1 …")
    preferences: Preferences = field(default_factory=lambda: Preferences())


@dataclass(frozen=True)
class Preferences:
    """What one reader chose: the sources they want (none: all) and how often."""

    sources: tuple[str, ...] = ()
    cadence: str = "issue"  # "issue": every issue; "weekly": one digest of the week

    def to_json(self) -> str:
        return json.dumps({"sources": list(self.sources), "cadence": self.cadence})

    @classmethod
    def from_json(cls, text: str) -> Preferences:
        """What the store kept; anything unreadable reads as the defaults."""
        try:
            stored = json.loads(text)
        except ValueError:
            stored = {}
        stored = stored if isinstance(stored, dict) else {}
        sources = stored.get("sources")
        return cls(
            sources=tuple(str(s) for s in sources) if isinstance(sources, list) else (),
            cadence="weekly" if stored.get("cadence") == "weekly" else "issue",
        )
