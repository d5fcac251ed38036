"""A small newsroom written for the tests: feeds, article pages and comment feeds.

Documents are made from parameters so each test can shape the site it needs;
`Site` serves them from a real HTTP server on 127.0.0.1 (pytest-httpserver).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

MAKERS = ["Ford", "Toyota", "Honda", "Kia", "Volvo", "Subaru", "Mazda", "Hyundai", "Jeep", "Ram"]
MODELS = [
    "Ranger",
    "Tacoma",
    "Civic",
    "Telluride",
    "XC60",
    "Outback",
    "CX-5",
    "Ioniq 5",
    "Wrangler",
]
TOPICS = ["recall", "price cut", "new trim", "hybrid option", "tariff", "plant expansion"]

SENTENCES = [
    "{maker} confirmed on Tuesday that the {model} will receive a {topic} before the spring.",
    "Dealers in the Midwest said demand for the {model} has outpaced supply for most of the year.",
    "The company expects the change to affect roughly 40,000 vehicles built since last March.",
    "Analysts at two banks described the move as a sensible answer to rising material costs.",
    "Owners will be notified by mail, and the work will be done at no charge at any dealer.",
    "The {model} competes in one of the busiest segments of the North American market.",
    "A spokesperson for {maker} declined to say whether other models would follow.",
    "Independent testers found the revised {model} slightly quieter on the highway.",
    "Insurance data shows the {model} has one of the lower claim rates in its class.",
    "The announcement came a week after a rival cut prices on its own competing model.",
    "Shares of {maker} rose a little more than one percent in afternoon trading.",
    "Regulators have asked for a written report on the {topic} within thirty days.",
]


@dataclass
class Story:
    slug: str
    title: str
    paragraphs: list[str]
    published: datetime
    author: str = "Jo Writer"
    image: str | None = None
    comments: list[tuple[str, str]] = field(default_factory=list)  # (author, html)
    comment_total: int | None = None
    raw_html: str | None = None  # the body as given, unescaped (for hostile markup)


def make_story(index: int, *, now: datetime, comments: int = 6, hours_ago: int = 0) -> Story:
    maker, model = MAKERS[index % len(MAKERS)], MODELS[index % len(MODELS)]
    topic = TOPICS[index % len(TOPICS)]
    words = {"maker": maker, "model": model, "topic": topic}
    sentences = [s.format(**words) for s in SENTENCES]
    rotated = sentences[index % 3 :] + sentences[: index % 3]
    paragraphs = [" ".join(rotated[i : i + 3]) for i in range(0, len(rotated), 3)]
    thread = [
        (
            "Alex Reader",
            f"<p>The {model} has been a solid choice for my family for years, "
            "and this sounds like a reasonable fix that owners will appreciate.</p>",
        ),
        ("Sam Driver", "<p>First!</p>"),
        (
            "Casey Mechanic",
            "<p>I work at a dealer. The parts have been on back order for weeks, "
            "so expect a wait before the work can be done. Call ahead and ask.</p>"
            "<p>Also check whether your VIN is in the affected range before you drive in.</p>",
        ),
        ("Spam Bot", "<p>https://cheap-parts.example/buy-now</p>"),
        (
            "Pat Skeptic",
            "<p>Another year, another announcement. I will believe the price when "
            "I see it on a window sticker at my local store.</p>",
        ),
        ("Alex Reader", "<p>Replying to myself: the dealer confirmed the parts arrived.</p>"),
        ("Morgan", "<p>WHY DOES NOBODY TALK ABOUT THE REAL PROBLEM HERE EVER</p>"),
    ][:comments]
    return Story(
        slug=f"story-{index}",
        title=f"{maker} {model} gets a {topic}",
        paragraphs=paragraphs,
        published=now - timedelta(hours=hours_ago or index + 1),
        image=None,
        comments=thread,
        comment_total=len(thread) + 10 if thread else None,
    )


def rss(
    site: str,
    title: str,
    stories: list[Story],
    *,
    excerpt: bool = False,
    comment_feeds: bool = True,
    language: str = "en-US",
) -> str:
    items = []
    for story in stories:
        link = f"{site}/{story.slug}/?utm_source=rss&utm_medium=feed"
        body = story.raw_html or "".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)
        if excerpt:
            content = f"<description>{escape(story.paragraphs[0][:90])} [&#8230;]</description>"
        else:
            content = (
                f"<description>{escape(story.paragraphs[0][:90])}</description>"
                f"<content:encoded><![CDATA[{body}]]></content:encoded>"
            )
        comments = ""
        if comment_feeds and story.comments:
            comments = (
                f"<wfw:commentRss>{site}/{story.slug}/feed/</wfw:commentRss>"
                f"<slash:comments>{story.comment_total}</slash:comments>"
                f"<comments>{site}/{story.slug}/#comments</comments>"
            )
        image = f'<media:content url="{story.image}" medium="image"/>' if story.image else ""
        items.append(
            f"<item><title>{escape(story.title)}</title><link>{escape(link)}</link>"
            f'<guid isPermaLink="false">{site}/?p={story.slug}</guid>'
            f"<dc:creator>{escape(story.author)}</dc:creator>"
            f"<pubDate>{format_datetime(story.published)}</pubDate>"
            f"{content}{comments}{image}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:wfw="http://wellformedweb.org/CommentAPI/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'
        ' xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel><title>{escape(title)}</title><link>{site}/</link>"
        f"<language>{language}</language>{''.join(items)}</channel></rss>"
    )


def atom(site: str, title: str, stories: list[Story]) -> str:
    entries = []
    for story in stories:
        body = escape("".join(f"<p>{escape(p)}</p>" for p in story.paragraphs))
        replies = ""
        if story.comments:
            replies = (
                f'<link rel="replies" type="application/atom+xml" '
                f'href="{site}/{story.slug}/comments.atom" thr:count="{story.comment_total}"/>'
            )
        entries.append(
            f"<entry><title>{escape(story.title)}</title>"
            f'<link rel="alternate" href="{site}/{story.slug}/"/>'
            f"<id>{site}/{story.slug}/</id><author><name>{escape(story.author)}</name></author>"
            f"<published>{story.published.isoformat()}</published>"
            f"<updated>{story.published.isoformat()}</updated>"
            f'<content type="html">{body}</content>{replies}</entry>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">'
        f"<title>{escape(title)}</title><id>{site}/</id>"
        f"<updated>{datetime.now(UTC).isoformat()}</updated>{''.join(entries)}</feed>"
    )


def comment_rss(site: str, story: Story) -> str:
    items = []
    for number, (author, html) in enumerate(story.comments, start=1):
        when = story.published + timedelta(minutes=30 * number)
        items.append(
            f"<item><title>By: {escape(author)}</title>"
            f"<link>{site}/{story.slug}/#comment-{number}</link>"
            f"<dc:creator>{escape(author)}</dc:creator>"
            f"<pubDate>{format_datetime(when)}</pubDate>"
            f'<guid isPermaLink="false">{site}/?comment={story.slug}-{number}</guid>'
            f"<content:encoded><![CDATA[{html}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>Comments on: {escape(story.title)}</title>{''.join(items)}"
        "</channel></rss>"
    )


def comment_atom(site: str, story: Story) -> str:
    entries = "".join(
        f"<entry><id>{site}/{story.slug}/c{n}</id><author><name>{escape(a)}</name></author>"
        f'<link rel="alternate" href="{site}/{story.slug}/#c{n}"/>'
        f"<updated>{(story.published + timedelta(hours=n)).isoformat()}</updated>"
        f'<content type="html">{escape(h)}</content></entry>'
        for n, (a, h) in enumerate(story.comments, start=1)
    )
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Comments</title><id>{site}/{story.slug}/c</id>{entries}</feed>"
    )


def article_page(story: Story, image: str | None = None) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in story.paragraphs)
    og = f'<meta property="og:image" content="{image}">' if image else ""
    return (
        f"<!doctype html><html><head><title>{escape(story.title)}</title>{og}</head><body>"
        '<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/reviews">Reviews</a></nav>'
        '<div class="cookie-banner">We use cookies to improve your visit. Accept all?</div>'
        f"<main><article><h1>{escape(story.title)}</h1><p class='byline'>By {story.author}</p>"
        f"{body}</article></main>"
        '<aside><h2>Most read</h2><ul><li><a href="/x">Ten sedans we miss dearly</a></li>'
        '<li><a href="/y">Why wagons never sold here</a></li></ul></aside>'
        "<footer>Copyright Example Motor Media. All rights reserved.</footer></body></html>"
    )


class Site:
    """One publication on the test server: a feed at `feed_path`, pages, comments."""

    def __init__(self, server: HTTPServer, name: str, stories: list[Story], **kind: object):
        self.server = server
        self.name = name
        self.stories = stories
        self.base = server.url_for(f"/{name}").rstrip("/")
        self.kind = kind
        self.feed_path = f"/{name}/feed.xml"

    @property
    def feed_url(self) -> str:
        return self.server.url_for(self.feed_path)

    def serve(self, *, atom_feed: bool = False, excerpt: bool = False) -> Site:
        title = self.name.replace("-", " ").title()
        body = (
            atom(self.base, title, self.stories)
            if atom_feed
            else rss(self.base, title, self.stories, excerpt=excerpt)
        )
        serve_conditional(self.server, self.feed_path, body, "application/rss+xml")
        for story in self.stories:
            path = f"/{self.name}/{story.slug}/"
            self.server.expect_request(path).respond_with_data(
                article_page(story), content_type="text/html; charset=utf-8"
            )
            if atom_feed:
                self.server.expect_request(f"{path}comments.atom").respond_with_data(
                    comment_atom(self.base, story), content_type="application/atom+xml"
                )
            else:
                self.server.expect_request(f"{path}feed/").respond_with_data(
                    comment_rss(self.base, story), content_type="application/rss+xml"
                )
        return self


def serve_conditional(server: HTTPServer, path: str, body: str, content_type: str) -> None:
    """Serve `body` with an ETag, answering 304 to a matching If-None-Match."""
    etag = '"' + hashlib.sha1(body.encode()).hexdigest()[:16] + '"'

    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type=content_type, headers={"ETag": etag})

    server.expect_request(path).respond_with_handler(handler)
