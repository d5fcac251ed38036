"""Comment sources, filters and the picking rule."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from digest.comments import (
    AbuseFilter,
    is_worth_showing,
    locate,
    parse_comments,
    pick_comments,
    ranking,
)
from digest.comments.filters import DEFAULT_ABUSE
from digest.comments.sources import discourse, hackernews, mastodon, reddit
from digest.config import load_config
from digest.errors import ConfigError
from digest.models import Comment, Entry, Fetched
from testkit.abuse_cases import CASES as ABUSE_CASES
from testkit.abuse_cases import MIN_ACCURACY as ABUSE_MIN_ACCURACY
from tests.conftest import ConfigWriter

REDDIT = [
    {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {"num_comments": 7}}]}},
    {
        "kind": "Listing",
        "data": {
            "children": [
                {
                    "kind": "t1",
                    "data": {
                        "name": "t1_a",
                        "author": "wrenchturner",
                        "body": "Owned one for ten years; the gearbox never gave up on me.",
                        "body_html": "&lt;div class='md'&gt;&lt;p&gt;Owned one for ten years; "
                        "the gearbox never gave up on me.&lt;/p&gt;&lt;/div&gt;",
                        "score": 41,
                        "created_utc": 1764000000,
                        "permalink": "/r/cars/comments/x1/s/a/",
                        "replies": {
                            "kind": "Listing",
                            "data": {
                                "children": [
                                    {
                                        "kind": "t1",
                                        "data": {
                                            "name": "t1_b",
                                            "author": "[deleted]",
                                            "body": "[deleted]",
                                            "score": -3,
                                            "created_utc": 1764000100,
                                            "replies": "",
                                        },
                                    },
                                    {"kind": "more", "data": {"children": ["c", "d"]}},
                                ]
                            },
                        },
                    },
                },
                {"kind": "more", "data": {"children": ["e"]}},
            ]
        },
    },
]
HN = {
    "id": 1,
    "children": [
        {
            "id": 2,
            "type": "comment",
            "author": "pg_fan",
            "text": "<p>The battery numbers in the piece match what I measured on mine.</p>",
            "created_at": "2026-11-20T10:00:00.000Z",
            "points": None,
            "children": [
                {
                    "id": 3,
                    "type": "comment",
                    "author": "x",
                    "text": "Same here, within a few percent over two winters.",
                    "created_at": "2026-11-20T11:00:00.000Z",
                    "points": None,
                    "children": [],
                }
            ],
        }
    ],
}
DISCOURSE = {
    "posts_count": 4,
    "post_stream": {
        "posts": [
            {"id": 10, "post_number": 1, "username": "op", "cooked": "<p>Topic</p>"},
            {
                "id": 11,
                "post_number": 2,
                "username": "ana",
                "cooked": '<aside class="quote"><blockquote>quoted words</blockquote></aside>'
                "<p>Fair point about the dealer network, it matters more than range.</p>",
                "created_at": "2026-11-20T10:00:00Z",
                "post_url": "/t/cars/5/2",
                "actions_summary": [{"id": 2, "count": 4}],
                "reply_count": 1,
                "reply_to_post_number": None,
                "post_type": 1,
            },
            {
                "id": 12,
                "post_number": 3,
                "username": "ben",
                "cooked": "<p>Agreed, the nearest one is two hours from me.</p>",
                "created_at": "2026-11-20T11:00:00Z",
                "post_url": "/t/cars/5/3",
                "like_count": 1,
                "reply_to_post_number": 2,
                "post_type": 1,
            },
            {
                "id": 13,
                "post_number": 4,
                "username": "op",
                "name": "Olive Park",
                "cooked": "<p>Thanks both: I will ask the dealer about loan cars.</p>",
                "created_at": "2026-11-20T12:00:00Z",
                "post_type": 1,
            },
        ]
    },
}
MASTODON = {
    "ancestors": [],
    "descendants": [
        {
            "id": "201",
            "in_reply_to_id": "200",
            "account": {"acct": "kim@social.example", "display_name": "Kim"},
            "content": "<p>Great read <script>alert(1)</script>on winter tyres.</p>",
            "created_at": "2026-11-20T10:00:00.000Z",
            "favourites_count": 5,
            "replies_count": 1,
            "url": "https://social.example/@kim/201",
            "visibility": "public",
        },
        {
            "id": "202",
            "in_reply_to_id": "201",
            "account": {"acct": "lee"},
            "content": "<p>Thanks, the pressure tip saved me a warning light.</p>",
            "created_at": "2026-11-20T11:00:00.000Z",
            "favourites_count": 0,
            "replies_count": 0,
            "url": "javascript:alert(1)",
            "visibility": "public",
        },
    ],
}


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    """A loopback server answering like each source's API (plus a 429 and an HTML page)."""
    routes: dict[str, tuple[int, str, bytes]] = {
        "/r/cars/comments/x1/s.json": (200, "application/json", json.dumps(REDDIT).encode()),
        "/api/v1/items/1": (200, "application/json", json.dumps(HN).encode()),
        "/t/5.json": (200, "application/json", json.dumps(DISCOURSE).encode()),
        "/api/v1/statuses/200/context": (200, "application/json", json.dumps(MASTODON).encode()),
        "/html": (200, "text/html", b"<!doctype html><html><body>login</body></html>"),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, kind, body = routes.get(self.path.split("?")[0], (404, "text/plain", b"no"))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _get(url: str) -> Fetched:
    import httpx

    response = httpx.get(url, timeout=5)
    return Fetched(url, str(response.url), response.content, response.headers.get("content-type"))


def test_reddit_thread_from_loopback(api: str) -> None:
    thread = reddit.parse(_get(api + "/r/cars/comments/x1/s.json?raw_json=1"))
    first, deleted = thread.comments
    assert thread.total == 7
    assert first.score == 41.0 and first.replies == 3 and first.depth == 0
    assert first.text.startswith("Owned one for ten years")
    assert first.url == "https://www.reddit.com/r/cars/comments/x1/s/a/"
    assert deleted.parent == "t1_a" and deleted.depth == 1 and not is_worth_showing(deleted)


def test_hackernews_item_from_loopback(api: str) -> None:
    thread = hackernews.parse(_get(api + "/api/v1/items/1"))
    top, reply = thread.comments
    assert top.score is None and top.rank == 0 and top.replies == 1
    assert reply.parent == "2" and reply.depth == 1
    assert top.url == "https://news.ycombinator.com/item?id=2"


def test_discourse_topic_from_loopback(api: str) -> None:
    thread = discourse.parse(_get(api + "/t/5.json"))
    assert thread.total == 3
    ana, ben, olive = thread.comments
    assert "quoted words" not in ana.text and ana.score == 4.0
    assert ben.parent == "11" and ben.depth == 1 and ben.score == 1.0
    assert ana.url == api + "/t/cars/5/2"
    assert olive.author == "Olive Park" and olive.by_author  # opened the topic
    assert not ana.by_author and not ben.by_author


def test_mastodon_context_from_loopback(api: str) -> None:
    thread = mastodon.parse(_get(api + "/api/v1/statuses/200/context"))
    kim, lee = thread.comments
    assert "alert" not in kim.text and "<" not in kim.text
    assert kim.score == 5.0 and kim.parent is None and lee.parent == "201"
    assert lee.url is None  # javascript: URLs never survive


@pytest.mark.parametrize("source", [reddit, hackernews, discourse, mastodon])
def test_html_instead_of_json_is_a_clear_error(api: str, source: object) -> None:
    from digest.errors import FeedError

    with pytest.raises(FeedError, match="expected JSON"):
        source.parse(_get(api + "/html"))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("https://www.reddit.com/r/cars/comments/x1/slug/", "https://www.reddit.com/r/cars/comments/x1/slug.json?raw_json=1"),
        ("https://news.ycombinator.com/item?id=123", "https://hn.algolia.com/api/v1/items/123"),
        ("https://forum.example/t/some-topic/2108", "https://forum.example/t/2108.json"),
        ("https://social.example/@kim/200", "https://social.example/api/v1/statuses/200/context"),
        ("https://blog.example/2026/post/#comments", None),
    ],
)  # fmt: skip
def test_auto_detects_the_discussion(page: str, expected: str | None) -> None:
    entry = Entry(key="k", title="t", url="https://blog.example/p", source="s", feed_url="f",
                  comments_page=page)  # fmt: skip
    where = locate(entry)
    assert (where.url if where else None) == expected


def test_comment_feed_wins_and_none_and_explicit_pattern() -> None:
    entry = Entry(key="k", title="t", url="https://blog.example/p/", source="s", feed_url="f",
                  comments_feed="https://blog.example/p/feed/",
                  comments_page="https://news.ycombinator.com/item?id=9")  # fmt: skip
    where = locate(entry)
    assert where is not None and where.source.name == "wordpress"
    assert locate(entry, "none") is None
    explicit = locate(entry, "hackernews", "https://hn.example/items/{id}")
    assert explicit is not None and explicit.url == "https://hn.example/items/9"


def test_atom_threading_read_from_the_xml() -> None:
    feed = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:t="http://purl.org/syndication/thread/1.0">
 <title>Comments</title>
 <entry><id>c1</id><title>By: Ann</title><author><name>Ann</name></author>
  <t:in-reply-to ref="post-1"/><t:total>1</t:total>
  <updated>2026-11-20T10:00:00Z</updated>
  <content type="html">&lt;p&gt;The range figures look optimistic for winter.&lt;/p&gt;</content>
 </entry>
 <entry><id>c2</id><title>By: Bob</title><author><name>Bob</name></author>
  <t:in-reply-to ref="c1"/><updated>2026-11-20T11:00:00Z</updated>
  <content type="html">&lt;p&gt;Mine loses a third of its range in frost.&lt;/p&gt;</content>
 </entry>
</feed>"""
    fetched = Fetched("u", "https://blog.example/c.xml", feed, "application/atom+xml")
    thread = parse_comments(fetched)
    ann, bob = thread.comments
    assert ann.parent is None and ann.replies == 1
    assert bob.parent == "c1" and bob.depth == 1


def _comment(author: str, text: str, minute: int = 0) -> Comment:
    return Comment(author=author, text=text, published=datetime(2026, 1, 1, 0, minute, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("First!", False),
        ("frist post", False),
        ("https://spam.example/buy", False),
        ("THIS IS THE WORST CAR EVER MADE BY ANYONE", False),
        ("Sooooooooo good", False),
        ("[deleted]", False),
        ("Nice car", False),
        ("I owned one for ten years and it never let me down once.", True),
    ],
)
def test_comment_filters(text: str, ok: bool) -> None:
    assert is_worth_showing(_comment("a", text)) is ok


def test_abuse_filter_test_set() -> None:
    verdicts = DEFAULT_ABUSE.abusive([text for text, _ in ABUSE_CASES])
    wrong = [text for v, (text, label) in zip(verdicts, ABUSE_CASES, strict=True) if v is not label]
    assert len(ABUSE_CASES) >= 40
    assert 1 - len(wrong) / len(ABUSE_CASES) >= ABUSE_MIN_ACCURACY, wrong


@pytest.mark.parametrize(
    ("text", "abusive"),
    [
        ("You are a fucking idiot and so is the author.", True),
        ("Anyone who buys this is a moron and a retard.", True),
        ("You're a f u c k i n g moron if you believe this.", True),
        ("The ride is a hell of a lot better than the old one.", False),
        ("Damn, that is a lot of money for a base model.", False),
        ("Scunthorpe has the best cocktail bar near the dealership.", False),
        ("The brake assembly class action is worth following.", False),
        ("This article is wrong about the brakes; the test car had the old pads.", False),
    ],
)
def test_abuse_filter_in_pick_comments(text: str, abusive: bool) -> None:
    picked = pick_comments([_comment("a", text)], per_story=3, max_words=80)
    assert (picked == []) is abusive


def test_abuse_filter_batch_agrees_with_single() -> None:
    texts = [text for text, _ in ABUSE_CASES] + ["This car is pure Lemonade, avoid it."]
    for abuse in (DEFAULT_ABUSE, AbuseFilter.from_settings(True, "", "lemonade", 0.5)):
        assert abuse.abusive(texts) == [abuse.is_abusive(t) for t in texts]
    assert DEFAULT_ABUSE.abusive([]) == []


def test_abuse_filter_is_configurable() -> None:
    mild = "The hatchback sucks in crosswinds above seventy."
    assert not DEFAULT_ABUSE.is_abusive(mild)
    assert AbuseFilter.from_settings(True, allow="", extra="").is_abusive(mild)
    assert not AbuseFilter.from_settings(True, allow="SUCKS", extra="").is_abusive(mild)
    text = "The ride is a hell of a lot better than the old one."
    strict = AbuseFilter.from_settings(True, allow="", extra="", threshold=0.4)
    assert pick_comments([_comment("a", text)], 3, 80, abuse=strict) == []

    extra = AbuseFilter.from_settings(True, allow="", extra="lemonade, tin can")
    lemon = _comment("a", "This car is pure LEMONADE, avoid it.")
    assert pick_comments([lemon], 3, 80, abuse=extra) == []
    assert extra.is_abusive("Built like a tin can on wheels, sadly.")
    assert not extra.is_abusive("Two lemonades and a coffee at the dealer, a nice touch.")

    leet = "What a sh1t take from someone who never drove one."
    assert AbuseFilter.from_settings(True, "", "", threshold=0.7).is_abusive(leet)
    assert not AbuseFilter.from_settings(True, "", "", threshold=0.9).is_abusive(leet)
    civil = "Thanks for the long-term test, the fuel figures match mine."
    assert AbuseFilter.from_settings(True, "", "", threshold=0.0).is_abusive(civil)

    off = AbuseFilter.from_settings(False, allow="", extra="lemonade")
    swear = "You are a fucking idiot and so is the author."
    assert len(pick_comments([_comment("a", swear)], 3, 80, abuse=off)) == 1
    assert off.abusive([swear, "pure lemonade"]) == [False, False]


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_abuse_threshold_out_of_range_is_a_config_error(
    threshold: float, write_config: ConfigWriter
) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        AbuseFilter.from_settings(True, "", "", threshold)
    path = write_config(
        "https://example.com/feed", extra=f"[comments]\nabuse_threshold = {threshold}"
    )
    message = r"line \d+: comments\.abuse_threshold = .* must be between 0 and 1"
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_abuse_threshold_is_read_from_config(write_config: ConfigWriter) -> None:
    path = write_config("https://example.com/feed", extra="[comments]\nabuse_threshold = 0.6")
    assert load_config(path).comments.abuse_threshold == 0.6
    assert load_config(write_config("https://example.com/feed")).comments.abuse_threshold == (
        DEFAULT_ABUSE.threshold
    )


def test_pick_comments_one_per_author_substance_then_chronological() -> None:
    long = "This is a thoughtful comment about the article with several points. " * 4
    comments = [
        _comment("Ann", "Short but fine comment here today.", 1),
        _comment("Bob", long, 2),
        _comment("Ann", long + " More.", 3),
        _comment("Cid", "First!", 4),
        _comment("Dee", "A reasonable remark that adds a little to the story.", 5),
        _comment("Eve", long, 6),  # duplicate text of Bob's
    ]
    picked = pick_comments(comments, per_story=3, max_words=500)
    assert [c.author for c in picked] == ["Ann", "Bob", "Dee"]  # shown oldest first
    assert len({c.author for c in picked}) == 3 and "Eve" not in {c.author for c in picked}


def test_replies_and_votes_outrank_time_and_diversity_per_parent() -> None:
    base = dict(published=datetime(2026, 1, 1, tzinfo=UTC))
    texts = [
        "The gearbox feels notchy in second until the oil warms up properly.",
        "Dealers here are asking sticker plus five thousand for the wagon.",
        "My neighbour bought the hybrid and averages fifty miles per gallon.",
    ]
    comments = [
        Comment(author=f"u{i}", text=texts[i], score=s, replies=0, id=str(i),
                parent="p", depth=1, **base)  # type: ignore[arg-type]
        for i, s in enumerate([50.0, 40.0, 30.0])
    ] + [Comment(author="z", text="Different words entirely about the engine noise.", score=1.0,
                 replies=0, id="z", **base)]  # type: ignore[arg-type]  # fmt: skip
    picked = pick_comments(comments, per_story=3, max_words=80)
    assert sum(c.parent == "p" for c in picked) == 2  # never three replies to one parent


def test_signature_and_article_quote_are_stripped() -> None:
    article = "The new wagon has a larger boot and a quieter engine than any model before it."
    comment = _comment(
        "a",
        f"{article}\n\nThe boot is the reason I would buy one over the SUV.\n\nSent from my iPhone",
    )
    (picked,) = pick_comments([comment], 3, 80, article=article)
    assert picked.text == "The boot is the reason I would buy one over the SUV."


def test_long_comment_cut_at_sentence_with_ellipsis() -> None:
    text = "One sentence here is fine. " * 30
    (picked,) = pick_comments([_comment("a", text)], per_story=3, max_words=20)
    assert picked.text.endswith("…")
    assert len(picked.text.split()) <= 21
    assert picked.text.startswith("One sentence here is fine. One")


def test_real_threads_parse(corpus: Path) -> None:
    path = corpus / "comments" / "reddit-python-2xmo63.json"
    thread = reddit.parse(Fetched("u", "https://www.reddit.com/", path.read_bytes(), None))
    assert len(thread.comments) >= 40 and all(c.source == "reddit" for c in thread.comments)
    assert 1 <= len(pick_comments(thread.comments, 3, 80)) <= 3


def test_hostile_comment_html_is_sanitised(corpus: Path) -> None:
    vectors = json.loads((corpus / "xss" / "vectors" / "owasp-xss-filter-evasion.json").read_text())
    items = vectors if isinstance(vectors, list) else list(vectors.values())
    for item in items[:200]:
        payload = item if isinstance(item, str) else json.dumps(item)
        body = json.dumps({"ancestors": [], "descendants": [{"id": "1", "content": payload}]})
        fetched = Fetched("u", "https://s.example/", body.encode(), "application/json")
        (c,) = mastodon.parse(fetched).comments
        assert "<script" not in c.text.lower() and "onerror=" not in c.text.lower()


def _voted(
    author: str, text: str, score: float | None, hours_before: float, **kw: object
) -> Comment:
    when = datetime(2026, 1, 10, 12, tzinfo=UTC) - timedelta(hours=hours_before)
    return Comment(author=author, text=text, published=when, score=score, **kw)  # type: ignore[arg-type]


def test_people_drawn_in_counts_distinct_others_below() -> None:
    thread = [
        Comment(author="Ann", text="a", id="1"),
        Comment(author="Bob", text="b", id="2", parent="1"),
        Comment(author="Ann", text="c", id="3", parent="2"),  # Ann answering: not counted for 1
        Comment(author="Cid", text="d", id="4", parent="3"),
        Comment(author="Bob", text="e", id="5", parent="1"),  # Bob again: counted once
        Comment(author="Dee", text="f", id="6"),
    ]
    assert ranking.people_drawn_in(thread) == {"1": 2, "2": 2, "3": 1}


def test_conversation_counts_replies_the_filters_drop() -> None:
    """A comment that started a conversation wins, even when the replies are not shown."""
    text = "The recall covers the brake seal, and dealers fix it in about an hour."
    other = "Insurance for the wagon costs less than the saloon in most regions here."
    thread = [
        Comment(author="Ann", text=other, id="a"),
        Comment(author="Bob", text=text, id="b"),
        *(Comment(author=f"fan{i}", text="lol", id=f"r{i}", parent="b") for i in range(6)),
    ]
    assert [c.author for c in pick_comments(thread, per_story=1, max_words=80)] == ["Bob"]


def test_young_votes_count_for_the_exposure_they_have_not_had() -> None:
    now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    old = _voted("Ann", "The seal is cheap but the labour is not, so ask about cover.", 40, 30)
    young = _voted("Bob", "The bulletin number is on the maker's site under recalls now.", 30, 1)
    assert ranking.rank([old, young], now=now)[0] == 1  # 30 votes in an hour beat 40 in a day
    later = now + timedelta(days=3)
    assert ranking.rank([old, young], now=later)[0] == 0  # both settled: the count stands


def test_without_votes_or_structure_early_substantive_comments_win() -> None:
    base = "A considered point about the brake recall and what owners should do next"
    thread = [
        _comment("Ann", "Meh.", 0),
        _comment("Bob", f"{base}, from the first hour.", 1),
        _comment("Cid", "Dealers near me already have the seals and book inspections.", 2),
        _comment("Dee", "https://example.com/my-blog", 3),
        *(
            _comment(f"late{i}", f"Late thought number {i} on the story today.", 10 + i)
            for i in range(20)
        ),
    ]
    picked = [c.author for c in pick_comments(thread, per_story=2, max_words=80)]
    assert picked == ["Bob", "Cid"]


def test_the_authors_reply_counts_for_more() -> None:
    text = "The loan car policy differs by dealer, so ask before you book the inspection."
    other = _comment("Ann", "Our dealer offered a loan car without asking, nice surprise.", 0)
    olive = _comment("Olive", text, 1)
    plain = ranking.scores([other, olive])
    marked = ranking.scores([other, replace(olive, by_author=True)])
    assert marked[0] == plain[0]
    assert (
        marked[1] - plain[1] == pytest.approx(ranking.WEIGHTS.author) and ranking.WEIGHTS.author > 0
    )
