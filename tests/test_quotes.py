"""Quoted words are never shown as the commenter's own, in every platform's real format."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.comments import pick_comments
from digest.comments.quotes import read_body
from digest.comments.ranking import stands_alone
from digest.comments.sources import discourse, hackernews, reddit, wordpress
from digest.models import Comment, CommentThread, Fetched

QUOTE = "Electric pickups will never tow a trailer across Nevada in winter"
OWN = "Mine towed a camper from Reno to Elko last January with one charging stop"
START = datetime(2026, 11, 20, 9, tzinfo=UTC)
SITE = "https://blog.example/2026/11/pickups"
ANN = ("Ann", f"<p>{QUOTE}.</p>")
MINE = f"<p>{OWN}.</p>"


# ── the platforms' formats, written as they serve them ─────────────────────


def wordpress_feed(comments: list[tuple[str, str]]) -> Fetched:
    """A WordPress RSS 2 comment feed (feed-rss2-comments.php): newest last here."""
    items = "".join(
        f"<item><title>By: {html.escape(author)}</title>"
        f"<link>{SITE}/#comment-{n}</link>"
        f"<dc:creator><![CDATA[{author}]]></dc:creator>"
        f"<pubDate>{format_datetime(START + timedelta(hours=n))}</pubDate>"
        f'<guid isPermaLink="false">https://blog.example/?p=7#comment-{n}</guid>'
        f"<description><![CDATA[{html.escape(re.sub('<[^>]+>', '', body))}]]></description>"
        f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
        for n, (author, body) in enumerate(comments, start=1)
    )
    feed = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel><title>Comments on: Pickups</title><link>{SITE}/</link>{items}</channel></rss>"
    )
    return Fetched("u", SITE + "/feed/", feed.encode(), "application/rss+xml")


def discourse_topic(posts: list[tuple[str, str, int | None]]) -> Fetched:
    """`/t/<id>.json`: post 1 opens the topic; (username, cooked, reply_to_post_number)."""
    stream = [
        {
            "id": 100 + n,
            "post_number": n,
            "username": user,
            "name": user.title(),
            "cooked": cooked,
            "created_at": (START + timedelta(hours=n)).isoformat().replace("+00:00", "Z"),
            "reply_to_post_number": parent,
            "post_type": 1,
            "like_count": 0,
            "post_url": f"/t/pickups/7/{n}",
        }
        for n, (user, cooked, parent) in enumerate(
            [("editor", "<p>Topic opener.</p>", None), *posts], start=1
        )
    ]
    body = {"posts_count": len(stream), "post_stream": {"posts": stream}}
    return Fetched("u", "https://forum.example/t/7.json", json.dumps(body).encode(), None)


def reddit_thread(parent: str, reply_html: str | None, reply_markdown: str = "") -> Fetched:
    """A `/comments/<id>.json` pair: Ann's comment and Bea's reply under it."""

    def comment(name: str, author: str, body_html: str | None, body: str, replies: object) -> dict:  # type: ignore[type-arg]
        data = {
            "name": name,
            "author": author,
            "body": body,
            "score": 5,
            "created_utc": (START + timedelta(hours=len(name))).timestamp(),
            "permalink": f"/r/cars/comments/x1/s/{name}/",
            "replies": replies,
        }
        if body_html is not None:
            data["body_html"] = body_html
        return {"kind": "t1", "data": data}

    reply = comment("t1_bb", "Bea", reply_html, reply_markdown, "")
    listing = {"kind": "Listing", "data": {"children": [reply]}}
    top = comment("t1_a", "Ann", f'<div class="md"><p>{parent}</p></div>', parent, listing)
    post = {"kind": "t3", "data": {"author": "op", "num_comments": 2, "title": "Pickups"}}
    pair = [
        {"kind": "Listing", "data": {"children": [post]}},
        {"kind": "Listing", "data": {"children": [top]}},
    ]
    return Fetched("u", "https://www.reddit.com/", json.dumps(pair).encode(), None)


def hn_item(parent: str, reply: str) -> Fetched:
    """An Algolia `items/<id>` story with Ann's comment and Bea's reply (HN's own HTML)."""
    stamp = START.isoformat().replace("+00:00", "Z")
    child = {"id": 3, "type": "comment", "author": "bea", "text": reply, "created_at": stamp}
    top = {
        "id": 2,
        "type": "comment",
        "author": "ann",
        "text": parent,
        "created_at": stamp,
        "children": [child],
    }
    story = {"id": 1, "type": "story", "author": "op", "children": [top]}
    return Fetched("u", "https://hn.algolia.com/", json.dumps(story).encode(), None)


Case = Callable[[], CommentThread]

CASES: list[tuple[str, Case, str, str | None]] = [
    # (form, thread, the quoting commenter, who the quote should be credited to)
    (
        "wordpress blockquote after 'X wrote:'",
        lambda: wordpress.parse(
            wordpress_feed(
                [
                    ANN,
                    (
                        "Bea",
                        f"<p>Ann wrote:</p><blockquote><p>{QUOTE}.</p></blockquote>{MINE}",
                    ),
                ]
            )
        ),
        "Bea",
        "Ann",
    ),
    (
        "wordpress reply: 'In reply to' link, blockquote without a name",
        lambda: wordpress.parse(
            wordpress_feed(
                [
                    ANN,
                    (
                        "Bea",
                        f'<p>In reply to <a href="{SITE}/#comment-1">Ann</a>.</p>\n'
                        f"<blockquote><p>{QUOTE}.</p></blockquote>\n<p>{OWN}.</p>",
                    ),
                ]
            )
        ),
        "Bea",
        "Ann",
    ),
    (
        "wordpress 'X wrote: \"…\"' in one paragraph",
        lambda: wordpress.parse(
            wordpress_feed([ANN, ("Bea", f'<p>Ann wrote: "{QUOTE}." {OWN}.</p>')])
        ),
        "Bea",
        "Ann",
    ),
    (
        "wordpress flat feed, '> ' paragraph naming no one",
        lambda: wordpress.parse(wordpress_feed([ANN, ("Bea", f"<p>&gt; {QUOTE}</p>{MINE}")])),
        "Bea",
        "Ann",
    ),
    (
        "wordpress mail habit 'On …, X wrote:'",
        lambda: wordpress.parse(
            wordpress_feed(
                [
                    ANN,
                    ("Bea", f"<p>On Nov 20, 2026, Ann wrote:</p><p>&gt; {QUOTE}.</p><p>{OWN}.</p>"),
                ]
            )
        ),
        "Bea",
        "Ann",
    ),
    (
        "discourse aside.quote",
        lambda: discourse.parse(
            discourse_topic(
                [
                    ("ann", f"<p>{QUOTE}.</p>", None),
                    (
                        "bea",
                        '<aside class="quote no-group" data-username="ann" data-post="2"'
                        ' data-topic="7">\n<div class="title">\n'
                        '<div class="quote-controls"></div>\n'
                        '<img alt="" width="24" height="24" src="https://forum.example/a.png"'
                        ' class="avatar"> ann:</div>\n'
                        f"<blockquote>\n<p>{QUOTE}.</p>\n</blockquote>\n</aside>\n<p>{OWN}.</p>",
                        2,
                    ),
                ]
            )
        ),
        "Bea",
        "ann",
    ),
    (
        "reddit blockquote",
        lambda: reddit.parse(
            reddit_thread(
                f"{QUOTE}.",
                f'<div class="md"><blockquote>\n<p>{QUOTE}</p>\n</blockquote>\n{MINE}\n</div>',
            )
        ),
        "Bea",
        "Ann",
    ),
    (
        "reddit markdown '> ' without body_html",
        lambda: reddit.parse(reddit_thread(f"{QUOTE}.", None, f"> {QUOTE}\n\n{OWN}.")),
        "Bea",
        "Ann",
    ),
    (
        "reddit reply opening with its parent's words",
        lambda: reddit.parse(
            reddit_thread(f"{QUOTE}.", f'<div class="md"><p>{QUOTE}. {OWN}.</p>\n</div>')
        ),
        "Bea",
        "Ann",
    ),
    (
        "hacker news '&gt;' paragraph",
        lambda: hackernews.parse(hn_item(f"{QUOTE}.", f"&gt; {QUOTE}<p>{OWN}.")),
        "bea",
        "ann",
    ),
    (
        "hacker news reply opening with its parent's words",
        lambda: hackernews.parse(hn_item(f"{QUOTE}.", f"{QUOTE}? {OWN}.")),
        "bea",
        "ann",
    ),
]


@pytest.mark.parametrize(
    ("form", "thread", "commenter", "credited"), CASES, ids=[c[0] for c in CASES]
)
def test_quote_is_kept_apart_and_credited(
    form: str, thread: Case, commenter: str, credited: str | None
) -> None:
    comments = thread().comments
    reply = next(c for c in comments if c.author.casefold() == commenter.casefold())
    assert "Reno to Elko" in reply.text, form
    assert "tow a trailer" not in reply.text, form
    assert reply.quote is not None and "tow a trailer across Nevada" in reply.quote.text
    assert reply.quote.author == credited
    picked = pick_comments(comments, 5, 120)
    assert all("tow a trailer" not in c.text or c.author.casefold() == "ann" for c in picked)


def test_wordpress_reply_names_and_links_its_parent() -> None:
    thread = wordpress.parse(
        wordpress_feed(
            [
                ANN,
                ("Bea", f'<p>In reply to <a href="{SITE}/#comment-1">Ann</a>.</p><p>{OWN}.</p>'),
            ]
        )
    )
    ann, bea = thread.comments
    assert bea.text == f"{OWN}." and bea.reply_to == "Ann"
    assert bea.parent == ann.id and bea.depth == 1 and ann.replies == 1


@pytest.mark.parametrize(
    ("markup", "own"),
    [
        (f"<p>{OWN}.</p><p><a href='https://forum.example/t/7'>Read full topic</a></p>", f"{OWN}."),
        (f"<p>{OWN}.</p><p>Continue discussion at forum.example</p>", f"{OWN}."),
        ("<p>[deleted]</p>", ""),
        ("<p>[removed by moderator]</p>", ""),
        ("<p>(post deleted by author)</p>", ""),
        ("<p>[flagged]</p>", ""),
        (
            f"<p>{OWN}.</p><aside class='onebox allowlistedgeneric'><header class='source'>"
            "<a href='https://news.example/'>news.example</a></header><article class='onebox-body'>"
            "<h3><a href='https://news.example/a'>Pickup sales up</a></h3><p>Summary text of a "
            "linked page.</p></article></aside>",
            f"{OWN}.",
        ),
        (f"<p>{OWN}.</p><p>https://news.example/a-link-card</p>", f"{OWN}."),
    ],
)
def test_platform_boilerplate_is_removed(markup: str, own: str) -> None:
    text, quote = read_body(markup)
    assert text == own and quote is None


def test_context_free_reply_loses_to_substantive_posts() -> None:
    posts = [
        ("ann", "<p>The towing figures assume a dry road and mild weather, which is "
         "not what most owners in the mountain states deal with from November on.</p>", None),
        ("cho", "<p>Charging stops on rural highways are the real limit: the stations "
         "are far apart and often share one working plug between four trucks.</p>", None),
        ("bea", "<p>Ahh. Ok. I see. Thanks!</p>", 2),
        ("dan", "<p>Battery heating uses a noticeable share of the pack on cold mornings, "
         "so range drops before the trip even starts.</p>", None),
    ]  # fmt: skip
    comments = discourse.parse(discourse_topic(posts)).comments
    assert stands_alone(next(c for c in comments if c.author == "Bea")) < 0.5
    picked = pick_comments(comments, 3, 120)
    assert "Bea" not in {c.author for c in picked}
    assert {c.author for c in picked} == {"Ann", "Cho", "Dan"}


# ── property: whatever the form, quoted words never count as the commenter's ─

_QUOTED_WORDS = st.lists(
    st.sampled_from(
        ["range", "winter", "trailer", "battery", "towing", "nevada", "payload", "charger"]
    ),
    min_size=6,
    max_size=14,
)
_OWN_WORDS = st.lists(
    st.sampled_from(["mine", "camper", "reno", "elko", "january", "stop", "dealer", "warranty"]),
    min_size=6,
    max_size=14,
)
_FORMS: dict[str, Callable[[str, str], str]] = {
    "blockquote": lambda q, o: f"<blockquote><p>{q}</p></blockquote><p>{o}</p>",
    "wrote": lambda q, o: f"<p>Ann wrote:</p><blockquote><p>{q}</p></blockquote><p>{o}</p>",
    "gt": lambda q, o: f"<p>&gt; {q}</p><p>{o}</p>",
    "aside": lambda q, o: (
        f'<aside class="quote" data-username="ann"><div class="title">ann:</div>'
        f"<blockquote><p>{q}</p></blockquote></aside><p>{o}</p>"
    ),
    "echo": lambda q, o: f"<p>{q}. {o}</p>",
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quoted=_QUOTED_WORDS, own=_OWN_WORDS, form=st.sampled_from(sorted(_FORMS)))
def test_no_pick_contains_its_quoted_block(quoted: list[str], own: list[str], form: str) -> None:
    q, o = " ".join(quoted).capitalize(), " ".join(own).capitalize()
    thread = wordpress.parse(wordpress_feed([("Ann", f"<p>{q}.</p>"), ("Bea", _FORMS[form](q, o))]))
    for comment in pick_comments(thread.comments, 3, 200):
        if comment.author == "Bea":
            assert q.casefold() not in comment.text.casefold()
            assert comment.quote is not None and comment.quote.text not in comment.text


# ── real threads: no pick opens with an earlier reader's words ──────────────


def opens_with_earlier_words(comment: Comment, earlier: list[Comment]) -> bool:
    first = re.split(r"(?<=[.!?])\s+", comment.text.strip(), maxsplit=1)[0]
    words = re.findall(r"\w+", first.casefold())
    grams = {tuple(words[i : i + 4]) for i in range(len(words) - 3)}
    if len(words) < 6 or not grams:
        return False
    for other in earlier:
        if other.author == comment.author:
            continue
        theirs = re.findall(r"\w+", other.text.casefold())
        source = {tuple(theirs[i : i + 4]) for i in range(len(theirs) - 3)}
        if len(grams & source) / len(grams) >= 0.6:
            return True
    return False


def test_corpus_picks_never_open_with_another_readers_words(corpus: Path) -> None:
    folder = corpus / "comments"
    checked = 0
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("reddit-"):
            thread = reddit.parse(Fetched("u", "https://www.reddit.com/", path.read_bytes(), None))
        elif "_posts" in path.name:
            thread = discourse.parse(Fetched("u", "https://f.example/", path.read_bytes(), None))
        else:
            continue
        stamp = {c.id: c.published or START for c in thread.comments}
        for pick in pick_comments(thread.comments, 3, 1000):
            when = next((stamp[c.id] for c in thread.comments if c.url == pick.url), START)
            earlier = [c for c in thread.comments if (c.published or START) < when]
            assert not opens_with_earlier_words(pick, earlier), (path.name, pick.text[:120])
            checked += 1
    assert checked >= 30


_FRAGMENTS = st.lists(
    st.sampled_from(
        [
            "<blockquote>", "</blockquote>", "<aside class='quote' data-username='x'>",
            "</aside>", "<p>", "</p>", "&gt; ", "Ann wrote:", "\n\n", "<div class='title'>",
            "</div>", "<aside class='onebox'>", "Read full topic", "[deleted]", "“", "”",
            "https://x.example/a", "<script>alert(1)</script>", "<br>", "words here. ",
        ]
    )
    | st.text(max_size=30),
    max_size=40,
)  # fmt: skip


_KNOWN_TAG = re.compile(r"</?(script|p|br|aside|div|blockquote|a)\b")


def _stray_open(markup: str) -> bool:
    """A "<" that starts no tag the fragments know: it swallows what follows into a tag."""
    return any(c == "<" and not _KNOWN_TAG.match(markup, i) for i, c in enumerate(markup))


@settings(max_examples=200, deadline=None)
@given(parts=_FRAGMENTS)
def test_read_body_takes_any_markup(parts: list[str]) -> None:
    markup = "".join(parts)
    text, quote = read_body(markup)
    # A script's body never becomes words, unless a stray "<" opened a tag around the
    # script's start: then, as in any browser, what follows is the tag's text.
    if not _stray_open(markup):
        assert "alert(1)" not in text and (quote is None or "alert(1)" not in quote.text)
    assert "<script" not in text and (quote is None or "<script" not in quote.text)
    assert "Read full topic" not in text.split("\n\n")
    assert quote is None or quote.text.strip()
