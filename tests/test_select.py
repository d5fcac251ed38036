"""Selection an editor would make: balance, no paid posts, filters, one story per article,
the publisher's own links, and sections. Feeds come from a real HTTP server on loopback."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from digest.cli import Exit, app
from digest.config import parse_config
from digest.errors import ConfigError
from digest.models import Entry
from digest.select import balance
from digest.select.rules import commercial

NOW = datetime.now(UTC)
BODY = "".join(
    f"<p>Paragraph {n}: the council met on Tuesday and agreed the budget for the new "
    "cycle lanes after a long debate about parking, buses and the school run.</p>"
    for n in range(6)
)


def item(title: str, link: str, hours: int = 1, extra: str = "") -> str:
    when = format_datetime(NOW - timedelta(hours=hours))
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<pubDate>{when}</pubDate><content:encoded><![CDATA[{BODY}]]></content:encoded>"
        f"{extra}</item>"
    )


def rss(title: str, *items: str, link: str = "https://news.example.com/") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0">'
        f"<channel><title>{escape(title)}</title><link>{link}</link>{''.join(items)}"
        "</channel></rss>"
    )


def serve(httpserver: HTTPServer, path: str, body: str) -> str:
    httpserver.expect_request(path).respond_with_data(body, content_type="application/rss+xml")
    return httpserver.url_for(path)


def write(tmp_path: Path, *feeds: Mapping[str, object], newsletter: str = "") -> Path:
    lines = ["[newsletter]", 'title = "Town Digest"', "lookback_days = 0", newsletter, ""]
    for feed in feeds:
        lines.append("[[feeds]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in feed.items()]
        lines += ['full_text = "never"', 'comments = "none"', ""]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def build(config: Path, expect: int = Exit.WRITTEN) -> tuple[dict, Path]:  # type: ignore[type-arg]
    output = config.parent / "output"
    result = CliRunner().invoke(app, ["build", "--config", str(config), "--output", str(output)])
    assert result.exit_code == expect, result.output
    folders = sorted(p for p in output.iterdir() if p.is_dir()) if output.is_dir() else []
    if expect != Exit.WRITTEN:
        return {}, output
    folder = max(folders, key=lambda p: (len(p.name), p.name))
    return json.loads((folder / "issue.json").read_text()), folder


def titles(record: dict) -> list[str]:  # type: ignore[type-arg]
    return [s["title"] for s in record["stories"]]


# Balance ------------------------------------------------------------------


def entry(source: str, n: int) -> Entry:
    return Entry(key=f"{source}{n}", title=f"{source} {n}", url="", source=source, feed_url="")


@pytest.mark.parametrize(
    ("counts", "limit", "expected"),
    [
        ({"a": 8, "b": 1, "c": 1}, 10, {"a": 1, "b": 1, "c": 1}),  # 3 stories, none over 40 %
        ({"a": 6, "b": 2, "c": 2}, 10, {"a": 2, "b": 2, "c": 2}),
        ({"a": 9, "b": 9, "c": 9}, 10, {"a": 4, "b": 3, "c": 3}),
        ({"a": 9, "b": 1}, 10, {"a": 9, "b": 1}),  # two sources: no balance rule
        ({"a": 5, "b": 5, "c": 5}, 2, {"a": 1, "b": 1}),  # too few places: one per source
    ],
)
def test_no_source_over_40_percent_when_three_have_news(
    counts: dict[str, int], limit: int, expected: dict[str, int]
) -> None:
    entries = [entry(s, n) for n in range(max(counts.values())) for s in counts if n < counts[s]]
    chosen = balance(entries, limit)
    assert dict(Counter(e.source for e in chosen)) == expected
    if len(counts) >= 3 and len(chosen) >= 3:
        assert max(Counter(e.source for e in chosen).values()) <= 0.4 * len(chosen)


def test_max_source_share_one_turns_the_balance_off() -> None:
    entries = [entry(s, n) for n in range(8) for s in "abc" if s == "a" or n == 0]
    assert len(balance(entries, 10, 1.0)) == 10
    assert len(balance(entries, 10, 0.5)) == 4  # 2 of a, 1 of b, 1 of c


def test_the_balance_holds_stories_back_for_the_next_issue(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    busy = [item(f"Busy story {n}", f"https://busy.example.com/{n}", n + 1) for n in range(6)]
    feeds = [
        {"url": serve(httpserver, "/busy.xml", rss("Busy Blog", *busy))},
        {
            "url": serve(
                httpserver,
                "/b.xml",
                rss("Bee", *(item(f"Bee {n}", f"https://b.example.com/{n}") for n in range(2))),
            )
        },
        {
            "url": serve(
                httpserver,
                "/c.xml",
                rss("Sea", *(item(f"Sea {n}", f"https://c.example.com/{n}") for n in range(2))),
            )
        },
    ]
    config = write(tmp_path, *feeds)
    record, _ = build(config)
    sources = Counter(s["source"] for s in record["stories"])
    assert sources == {"Busy Blog": 2, "Bee": 2, "Sea": 2}
    # The four held back were not marked sent: they make the next issue.
    record, _ = build(config)
    assert sorted(titles(record)) == [f"Busy story {n}" for n in range(2, 6)]


# Sponsored, job and deal posts --------------------------------------------------


@pytest.mark.parametrize(
    ("title", "categories", "left_out"),
    [
        ("[Sponsor] Manuscripts and Findings: Your Research Is Ready", (), True),
        ("Sponsored: The best VPN for travellers", (), True),
        ("Featured Advertiser: Acme Widgets", (), True),
        ("Smarking (YC W15) is hiring staff and engineers", (), True),
        ("We're Hiring: Senior Editor", (), True),
        ("Huge Fall Sale: 20% of All Trainers, $100 off Fenix 5, GoPro deal!", (), True),
        ("Black Friday Exclusive: Save Over 40% On The Nix Mini Color Sensor", (), True),
        ("Cyber Monday deals: 14 tech bargains that truly save you money", (), True),
        ("A new road bike, reviewed", ("Sponsored",), True),
        ("Ten trails to ride this winter", ("Advertising",), True),
        ("Gilt City Officially Acquires BuyWithMe", ("deals",), False),  # M&A news
        ("Using Speech-to-Text to transcribe your calls", ("Partners",), False),
        ("What Test Engineers do at Google", ("Jobs",), False),
        ("Russia-backed Syrian peace talks agree deal on new constitution", (), False),
        ("Reports: DOJ Could Seek CNN Sale Before AT&T-Time Warner Merger", (), False),
        ("Womply's New Deals Startup Loads Local Offers Onto Your Cards", (), False),
        ("Black Friday shoppers stay home as storms hit the east coast", (), False),
        ("Steve Jobs and ET", ("Steve Jobs",), False),
        ("Apple sales graphs and the iPhone 7", (), False),
    ],
)
def test_commercial_posts(title: str, categories: tuple[str, ...], left_out: bool) -> None:
    found = Entry(key="k", title=title, url="", source="s", feed_url="", categories=categories)
    assert (commercial(found) is not None) is left_out


def test_sponsored_posts_are_left_out_unless_the_feed_opts_in(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    body = rss(
        "Bike Blog",
        item("[Sponsor] Ride Insurance for Everyone", "https://bikes.example.com/s", 1),
        item("Acme Cycles is hiring mechanics", "https://bikes.example.com/h", 2),
        item("The council approves new cycle lanes", "https://bikes.example.com/n", 3),
        item("Trail report", "https://bikes.example.com/t", 4,
             "<category>Sponsored Content</category><category>Sponsored</category>"),
    )  # fmt: skip
    url = serve(httpserver, "/bikes.xml", body)
    (tmp_path / "default").mkdir()
    record, _ = build(write(tmp_path / "default", {"url": url}))
    assert titles(record) == ["The council approves new cycle lanes"]
    (tmp_path / "opt-in").mkdir()
    record, _ = build(write(tmp_path / "opt-in", {"url": url, "sponsored": True}))
    # Left out, not sent: with the opt-in they are all still new.
    assert sorted(titles(record)) == [
        "Acme Cycles is hiring mechanics",
        "Trail report",
        "[Sponsor] Ride Insurance for Everyone",
    ]


# include / exclude ----------------------------------------------------------------------


def test_include_and_exclude_words_and_regular_expressions(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    body = rss(
        "Motoring",
        item("Electric vans arrive at the depot", "https://m.example.com/1", 1),
        item("New EV chargers on Main Street", "https://m.example.com/2", 2),
        item("Electric scooter recall announced", "https://m.example.com/3", 3),
        item("Diesel prices fall again", "https://m.example.com/4", 4),
        item("Evening traffic report", "https://m.example.com/5", 5),  # "ev" is no whole word
    )
    url = serve(httpserver, "/m.xml", body)
    config = write(tmp_path, {"url": url, "include": ["electric", "/\\bEVs?\\b/"],
                              "exclude": ["recall"]})  # fmt: skip
    record, _ = build(config)
    assert titles(record) == ["Electric vans arrive at the depot", "New EV chargers on Main Street"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('["/([a-z/"]', "has an invalid regular expression '/([a-z/'"),
        ('"electric"', "feeds[0].include = "),
        ('["ok", ""]', "feeds[0].include = "),
    ],
)
def test_filters_are_checked_when_the_config_loads(value: str, message: str) -> None:
    text = f'[[feeds]]\nurl = "https://example.com/feed"\ninclude = {value}\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, base_dir=Path("."))
    assert message in str(caught.value) and "line 3:" in str(caught.value)


def test_new_feed_keys_load() -> None:
    text = (
        '[[feeds]]\nurl = "https://example.com/feed"\nsponsored = true\nsection = "Reviews"\n'
        'include = ["a", "/b+/"]\nexclude = ["c"]\n'
    )
    feed = parse_config(text, base_dir=Path(".")).feeds[0]
    assert (feed.sponsored, feed.section, feed.include, feed.exclude) == (
        True, "Reviews", ("a", "/b+/"), ("c",)
    )  # fmt: skip


# Links: origLink, redirect wrappers, relative links --------------------------------------


def test_feedburner_and_search_wrappers_give_way_to_the_articles_own_address(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    body = rss(
        "Wrapped",
        item("Proxied story", "http://feedproxy.google.com/~r/wrapped/~3/AbC/", 1,
             "<feedburner:origLink>https://wrapped.example.com/2026/proxied/"
             "</feedburner:origLink>"),
        item("Alerted story", "https://www.google.com/url?rct=j&sa=t&url=https://paper.example.org"
             "/alerted.html&ct=ga", 2),
    )  # fmt: skip
    record, folder = build(write(tmp_path, {"url": serve(httpserver, "/w.xml", body)}))
    assert [s["url"] for s in record["stories"]] == [
        "https://wrapped.example.com/2026/proxied/",
        "https://paper.example.org/alerted.html",
    ]
    assert "feedproxy" not in (folder / "email.html").read_text()


def test_relative_links_resolve_against_xml_base_and_for_local_files_the_feeds_link(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example.com/blog/">'
        "<title>Based</title><id>urn:x</id><updated>2026-11-30T00:00:00Z</updated>"
        "<entry><title>Relative entry</title><link href='posts/one.html'/><id>urn:1</id>"
        f"<updated>{NOW.isoformat()}</updated><content type='html'>{escape(BODY)}</content>"
        "</entry></feed>"
    )
    local = rss("Local", item("Local story", "/2026/local-story/"),
                link="https://local.example.net/")  # fmt: skip
    (tmp_path / "local.xml").write_text(local, encoding="utf-8")
    feeds = [{"url": serve(httpserver, "/atom.xml", atom)}, {"url": "local.xml"}]
    record, _ = build(write(tmp_path, *feeds))
    urls = {s["title"]: s["url"] for s in record["stories"]}
    assert urls == {
        "Relative entry": "https://base.example.com/blog/posts/one.html",
        "Local story": "https://local.example.net/2026/local-story/",
    }


# Duplicates ----------------------------------------------------------------------------


def test_one_story_per_article_across_feeds_and_no_twin_later(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    main = rss(
        "Paper",
        item("Council approves the cycle lane budget", "https://paper.example.com/lanes", 1),
        item("Library reopens after repairs", "https://paper.example.com/library", 2),
    )
    category = rss(
        "Paper: Transport",
        item("Council approves cycle lane budget", "http://feedproxy.google.com/~r/p/~3/x/", 1,
             "<feedburner:origLink>https://www.paper.example.com/lanes/</feedburner:origLink>"),
        item("Council approves the cycle-lane budget!", "https://other.example.org/lanes", 1),
        item("Bus timetable changes in January", "https://paper.example.com/buses", 3),
    )  # fmt: skip
    feeds = [
        {"url": serve(httpserver, "/main.xml", main)},
        {"url": serve(httpserver, "/transport.xml", category)},
    ]
    config = write(tmp_path, *feeds)
    record, _ = build(config)
    assert sorted(titles(record)) == [
        "Bus timetable changes in January",
        "Council approves the cycle lane budget",
        "Library reopens after repairs",
    ]
    # The twins were remembered with the story: they do not come back as news.
    build(config, expect=Exit.NOTHING_NEW)


def test_numbers_keep_similar_titles_apart() -> None:
    from digest.select.dupes import fold_duplicates

    entries = [
        Entry(key=f"k{v}", title=f"Tails {v} is out", url=f"https://t.example/{v}",
              source="Tails", feed_url="")
        for v in ("3.3", "3.4")
    ]  # fmt: skip
    kept, twins = fold_duplicates(entries)
    assert len(kept) == 2 and not twins
    photos = [Entry(key=f"p{n}", title="Photo", url=f"https://t.example/p{n}", source="T",
                    feed_url="") for n in range(2)]  # fmt: skip
    assert len(fold_duplicates(photos)[0]) == 2  # a two-word title says nothing


# Sections ------------------------------------------------------------------------------


def test_sections_head_their_stories_in_email_web_page_and_text(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    news = rss("Paper", *(item(f"News {n}", f"https://p.example.com/n{n}", n) for n in (1, 4)))
    reviews = rss(
        "Reviews", *(item(f"Review {n}", f"https://r.example.com/{n}", n) for n in (2, 3))
    )
    feeds = [
        {"url": serve(httpserver, "/reviews.xml", reviews), "section": "Reviews"},
        {"url": serve(httpserver, "/news.xml", news), "section": "News"},
    ]
    record, folder = build(write(tmp_path, *feeds))
    assert titles(record) == ["Review 2", "Review 3", "News 1", "News 4"]
    assert [s["section"] for s in record["stories"]] == ["Reviews", "Reviews", "News", "News"]
    email = (folder / "email.html").read_text()
    web = (folder / "web.html").read_text()
    text = (folder / "email.txt").read_text()
    for page in (email, web):
        headings = [m.start() for m in re.finditer(r'class="section-title"[^>]*>', page)]
        assert len(headings) == 2
        assert page[headings[0] :].split(">", 1)[1].startswith("Reviews<")
        assert page[headings[1] :].split(">", 1)[1].startswith("News<")
        assert headings[0] < page.rindex("Review 3") < headings[1] < page.rindex("News 4")
    assert "REVIEWS\n#######" in text and "NEWS\n####" in text
    assert text.index("REVIEWS") < text.index("Review 3") < text.index("NEWS")


@pytest.mark.parametrize(
    ("link", "page", "expected"),
    [
        # A redirector without origLink: the page it led to is the article.
        ("http://feedproxy.google.com/~r/p/~3/x/", "https://paper.example.com/2026/lanes",
         "https://paper.example.com/2026/lanes"),
        # …unless it led to a consent or login page, or a home page.
        ("http://feedproxy.google.com/~r/p/~3/x/",
         "https://consent.example.com/?continue=https://paper.example.com/lanes",
         "http://feedproxy.google.com/~r/p/~3/x/"),
        ("http://feedproxy.google.com/~r/p/~3/x/", "https://paper.example.com/",
         "http://feedproxy.google.com/~r/p/~3/x/"),
        # A publisher's own link stays as the feed gave it, wherever its page redirects.
        ("https://paper.example.com/lanes", "https://paper.example.com/2026/lanes-2",
         "https://paper.example.com/lanes"),
        ("http://feedproxy.google.com/~r/p/~3/x/", None, "http://feedproxy.google.com/~r/p/~3/x/"),
    ],
)  # fmt: skip
def test_a_redirectors_link_gives_way_to_the_page_it_led_to(
    link: str, page: str | None, expected: str
) -> None:
    from digest.collect.links import after_redirects

    assert after_redirects(link, page) == expected


def test_stories_whose_pages_are_one_are_folded() -> None:
    from digest.models import Story
    from digest.select import fold_stories

    def story(key: str, url: str) -> Story:
        return Story(title=key, url=url, source="s", author=None, published=None, image=None,
                     summary=(), comment_count=None, key=key)  # fmt: skip

    kept, twins = fold_stories(
        [
            story("a", "https://www.paper.example.com/lanes/"),
            story("b", "https://x.example/"),
            story("c", "http://paper.example.com/lanes"),
        ]
    )
    assert [s.key for s in kept] == ["a", "b"] and twins == {"a": ("c",)}


@given(st.text(max_size=200), st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_hostile_links_never_break_unwrapping(link: str, original: str) -> None:
    from digest.collect.links import after_redirects, is_wrapper, origlinks_in, unwrap

    raw = {"feedburner_origlink": original, "id": original}
    for url in (unwrap(link, raw, "https://e.example/"), unwrap(link, {}, None)):
        assert url is None or url == link or url.startswith(("http://", "https://"))
    is_wrapper(link)
    after_redirects(link, original)
    origlinks_in(f"<item><link>{link}</link><x:origLink>{original}</x:origLink></item>".encode(
        "utf-8", "surrogatepass"))  # fmt: skip


@given(st.text(min_size=1, max_size=40).filter(lambda w: w.strip() and "/" not in w))
@settings(max_examples=200, deadline=None)
def test_a_filter_word_always_finds_itself(word: str) -> None:
    from digest.select.rules import compile_pattern

    assert compile_pattern(word).search(f"before {word} after")


def test_a_generic_title_gives_way_to_the_posts_own_words() -> None:
    from digest.collect.feeds import parse_feed
    from digest.models import Fetched

    document = rss(
        "Tumble",
        "<item><title>Photo</title><link>https://t.example/1</link><description>"
        "&lt;img src='https://t.example/1.jpg'&gt;&lt;p&gt;A little trailer for Oddball!"
        "&lt;/p&gt;</description></item>",
        "<item><title>Photo</title><link>https://t.example/2</link><description>"
        "&lt;img src='https://t.example/2.jpg'&gt;</description></item>",
    )
    fetched = Fetched(url="https://t.example/rss", final_url="https://t.example/rss",
                      content=document.encode())  # fmt: skip
    assert [e.title for e in parse_feed(fetched)[1]] == ["A little trailer for Oddball!", "Photo"]
