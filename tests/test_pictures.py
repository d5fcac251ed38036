"""Pictures that fit: the best rendition a feed offers, small ones beside the text, no junk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from digest.cli import Exit, app
from digest.collect import images
from digest.collect.feeds import parse_feed
from digest.models import Fetched, Picture
from tests.conftest import ConfigWriter

NOW = datetime.now(UTC)
BODY = "".join(
    f"<p>Paragraph {n} of the story says something worth reading about the new trail bikes, "
    "the prices dealers quote and how the season went for the shops that sell them.</p>"
    for n in range(8)
)


def item(n: int, extra: str = "", body: str = BODY, link: str = "") -> str:
    when = format_datetime(NOW - timedelta(hours=n + 1))
    return (
        f"<item><title>Story number {n} about bikes and trails</title>"
        f"<link>{link or f'https://news.example.com/{n}/'}</link>"
        f"<pubDate>{when}</pubDate><content:encoded><![CDATA[{body}]]></content:encoded>"
        f"{extra}</item>"
    )


def rss(*items: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:media="http://search.yahoo.com/mrss/">'
        f"<channel><title>Trail News</title><link>https://news.example.com/</link>"
        f"{''.join(items)}</channel></rss>"
    )


def build(config: Path) -> tuple[dict, str]:  # type: ignore[type-arg]
    output = config.parent / "output"
    result = CliRunner().invoke(app, ["build", "--config", str(config), "--output", str(output)])
    assert result.exit_code == Exit.WRITTEN, result.output
    folder = next(p for p in output.iterdir() if p.is_dir())
    record = json.loads((folder / "issue.json").read_text())
    return record, (folder / "email.html").read_text()


def serve(httpserver: HTTPServer, body: str) -> str:
    httpserver.expect_request("/feed.xml").respond_with_data(
        body, content_type="application/rss+xml"
    )
    return httpserver.url_for("/feed.xml")


def parse(document: str) -> list[Picture | None]:
    fetched = Fetched(
        url="https://news.example.com/feed",
        final_url="https://news.example.com/feed",
        content=document.encode(),
    )
    return [images.best(e.pictures) for e in parse_feed(fetched)[1]]


@pytest.mark.parametrize(
    ("url", "width"),
    [
        ("https://i.guim.co.uk/img/master/3000.jpg?w=140&q=55&s=abc", 140),
        ("https://tc.files.wordpress.com/2011/11/angies-list.jpeg?w=150", 150),
        ("https://example.com/uploads/2017/11/Sale-150x150.png", 150),
        ("https://res.cloudinary.com/demo/image/upload/w_460/sample.jpg", 460),
        ("https://example.com/photo.jpg", None),
        ("https://example.com/2017/11/24/photo.jpg", None),  # a date is no width
    ],
)
def test_width_hints_in_urls(url: str, width: int | None) -> None:
    assert images.width_hint(url) == width


@pytest.mark.parametrize(
    "url",
    [
        "https://secure.gravatar.com/avatar/bbce6c3c48f8?s=96&d=identicon",
        "https://example.com/wp-content/uploads/avatars/jo-96x96.jpg",
        "https://s.w.org/images/core/emoji/2.3/72x72/1f600.png",
        "http://feeds.feedburner.com/~r/Techcrunch/~4/kTeeGj4FnwU",
        "http://feeds.feedburner.com/~ff/Techcrunch?d=yIl2AUoC8zA",
        "https://da.feedsportal.com/r/186529795925/u/49/f/645000/c/30/s/1.gif",
        "https://pixel.wp.com/b.gif?host=example.com",
        "https://example.com/images/icons/rss.png",
        "https://example.com/favicon.ico",
    ],
)
def test_avatars_icons_emoji_and_pixels_are_no_pictures(url: str) -> None:
    assert images.picture(url, None, 600, 400) is None


@pytest.mark.parametrize(
    ("srcset", "width", "expected"),
    [
        ("a-300.jpg 300w, a-1024.jpg 1024w", None, [("a-300.jpg", 300), ("a-1024.jpg", 1024)]),
        ("d.png 1x, d@2x.png 2x, d@1.5x.png 1.5x", 383,
         [("d.png", 383), ("d@2x.png", 766), ("d@1.5x.png", 574)]),
        ("d.png 1x, d@2x.png 2x", None, []),  # densities need the image's own width
        ("https://x.example/a,b.jpg 640w", None, [("https://x.example/a,b.jpg", 640)]),
    ],
)  # fmt: skip
def test_srcset_candidates(srcset: str, width: int | None, expected: list[tuple[str, int]]) -> None:
    assert images.parse_srcset(srcset, width) == expected


def test_one_pixel_and_banner_shapes_are_no_pictures() -> None:
    assert images.picture("https://example.com/t.gif", None, 1, 1) is None
    assert images.picture("https://example.com/ad.jpg", None, 728, 90) is None
    assert images.picture("https://example.com/p.jpg", None, 640, 480) is not None


def test_the_widest_rendition_up_to_1200_px_wins() -> None:
    chosen = parse(
        rss(
            item(
                0,
                '<media:content url="https://img.example.com/a.jpg?w=140" width="140"/>'
                '<media:content url="https://img.example.com/a.jpg?w=460" width="460"/>'
                '<media:content url="https://img.example.com/a.jpg?w=2400" width="2400"/>',
            )
        )
    )
    assert chosen[0] == Picture("https://img.example.com/a.jpg?w=460", 460, None, "")


def test_srcset_of_the_first_content_image_and_its_caption() -> None:
    body = (
        '<figure><img src="https://news.example.com/up/Bike-720x480.jpg" width="720" '
        'height="480" alt="" srcset="https://news.example.com/up/Bike-300x200.jpg 300w, '
        "https://news.example.com/up/Bike-1024x683.jpg 1024w, "
        'https://news.example.com/up/Bike.jpg 2048w" sizes="100vw">'
        "<figcaption>The new bike on the <b>ridge trail</b></figcaption></figure>"
        '<p><img src="https://news.example.com/up/Later-1200x800.jpg" width="1200"></p>' + BODY
    )
    (chosen,) = parse(rss(item(0, body=body)))
    assert chosen is not None
    assert (chosen.url, chosen.width, chosen.height) == (
        "https://news.example.com/up/Bike-1024x683.jpg",
        1024,
        683,
    )
    assert chosen.alt == "The new bike on the ridge trail"


@pytest.mark.parametrize(
    ("alt", "expected"),
    [
        ("A rider on the ridge trail", "A rider on the ridge trail"),
        ("AppleWatchSeries3-FitnessSportUse", ""),
        ("CT_VIPLogo_Rainmaker", ""),
        ("IMG_2041.jpg", ""),
        ("image", ""),
        ("Sunset", "Sunset"),
    ],
)
def test_alt_text_that_is_a_file_name_is_no_alt_text(alt: str, expected: str) -> None:
    body = f'<p><img src="https://e.example/p.jpg" width="800" height="500" alt="{alt}"></p>'
    (chosen,) = parse(rss(item(0, body=body + BODY)))
    assert chosen is not None and chosen.alt == expected


def test_enclosures_without_a_type_and_podcast_artwork() -> None:
    chosen = parse(
        rss(
            item(0, '<enclosure url="https://news.example.com/cover.jpg" length="0"/>'),
            item(
                1,
                '<enclosure url="https://news.example.com/ep.mp3" type="audio/mpeg" length="1"/>'
                '<itunes:image xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
                'href="https://news.example.com/art.jpg"/>',
            ),
        )
    )
    assert [c.url if c else None for c in chosen] == [
        "https://news.example.com/cover.jpg",
        "https://news.example.com/art.jpg",
    ]


def test_a_small_picture_is_kept_as_a_thumbnail_never_stretched_into_the_lead(
    httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    feed = rss(
        item(0, '<media:content url="https://img.example.com/a.jpg?w=150" medium="image"/>'),
        item(1, '<media:content url="https://img.example.com/b.jpg" medium="image" '
                'width="900" height="600"/>'),
    )  # fmt: skip
    record, html = build(write_config(serve(httpserver, feed), full_text="never"))
    assert [s["image"] for s in record["stories"]] == [
        "https://img.example.com/a.jpg?w=150",
        "https://img.example.com/b.jpg",
    ]
    assert record["stories"][1]["image_width"] == 900
    doc = lxml.html.fromstring(html)
    assert not doc.xpath("//img[contains(@class, 'hero')]")  # the lead's picture is 150 px
    small = doc.xpath("//img[contains(@src, 'a.jpg')]")[0]
    assert "thumb" in small.get("class") and int(small.get("width")) <= 150
    other = doc.xpath("//img[contains(@src, 'b.jpg')]")[0]
    # Known proportions give a height that matches them: 176 × 600 / 900.
    assert (other.get("width"), other.get("height")) == ("176", "117")


def test_a_lead_picture_has_no_fixed_height_and_its_caption_as_alt_text(
    httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    figure = (
        '<figure><img src="https://img.example.com/wide.jpg" width="1200" height="800" '
        'alt="wide.jpg"><figcaption>Riders at dawn</figcaption></figure>'
    )
    feed = rss(item(0, body=figure + BODY))
    record, html = build(write_config(serve(httpserver, feed), full_text="never"))
    hero = lxml.html.fromstring(html).xpath("//img[contains(@class, 'hero')]")[0]
    # No height: blocked, it leaves its alt text rather than a 600 × 400 empty box.
    assert (hero.get("width"), hero.get("height")) == ("600", None)
    assert record["stories"][0]["image_height"] == 800
    assert hero.get("alt") == "Riders at dawn"
    assert record["stories"][0]["image_alt"] == "Riders at dawn"


def test_an_excerpt_story_gets_the_pages_og_image(
    httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    page = (
        "<html><head><title>x</title>"
        '<meta property="og:image" content="/img/lead.jpg">'
        '<meta property="og:image:width" content="1000">'
        '<meta property="og:image:height" content="500"></head><body><article>'
        f"{BODY}</article></body></html>"
    )
    httpserver.expect_request("/story/").respond_with_data(page, content_type="text/html")
    excerpt = "<p>Short teaser about the bikes […]</p>"
    feed = rss(item(0, body=excerpt, link=httpserver.url_for("/story/")))
    record, _ = build(write_config(serve(httpserver, feed)))
    story = record["stories"][0]
    assert story["image"] == httpserver.url_for("/img/lead.jpg")
    assert (story["image_width"], story["image_height"]) == (1000, 500)


def test_every_full_content_wordpress_post_gets_its_picture(corpus: Path) -> None:
    """DC Rainmaker carries whole posts, pictures in the content only (with srcset)."""
    document = (corpus / "feeds" / "netnewswire-dcrainmaker.xml").read_bytes()
    address = "https://www.dcrainmaker.com/feed"
    fetched = Fetched(url=address, final_url=address, content=document)
    entries = parse_feed(fetched)[1]
    chosen = [images.best(e.pictures) for e in entries]
    assert all(chosen), [e.title for e, c in zip(entries, chosen, strict=True) if not c]
    for picture in chosen:
        assert picture is not None and picture.width is not None
        assert 300 <= picture.width <= 1200, picture


def test_guardian_never_gets_the_140_px_rendition(corpus: Path) -> None:
    document = (corpus / "feeds" / "rssparser-guardian.rss").read_bytes()
    address = "https://www.theguardian.com/uk/rss"
    fetched = Fetched(url=address, final_url=address, content=document)
    chosen = [images.best(e.pictures) for e in parse_feed(fetched)[1]]
    widths = {p.width for p in chosen if p is not None}
    assert widths and min(w for w in widths if w) >= 300


def test_picture_and_section_survive_issue_json() -> None:
    from digest.issues import codec
    from digest.models import Issue, Story

    story = Story(
        title="t", url="https://e.example/", source="s", author=None, published=None,
        image="https://e.example/p.jpg", summary=("One.",), comment_count=None,
        picture=Picture("https://e.example/p.jpg", 800, 600, "A caption"), section="News",
    )  # fmt: skip
    issue = Issue(id="i", title="T", generated_at=NOW, stories=(story,), feeds=())
    back, _ = codec.loads(codec.dumps(issue))
    assert back.stories[0].picture == story.picture and back.stories[0].section == "News"


@given(st.text(max_size=300), st.text(max_size=40), st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_hostile_picture_markup_never_breaks_and_yields_only_http_urls(
    markup: str, width: str, srcset: str
) -> None:
    body = f'<img src="{markup}" width="{width}" srcset="{srcset}">{markup}'
    found = images.first_content_picture(body, "https://e.example/feed", {})
    found += images.from_page(
        f'<meta property="og:image" content="{markup}">', "https://e.example/"
    )
    for picture in found:
        assert picture.url.startswith(("http://", "https://"))
        assert picture.width is None or picture.width >= 48
    images.width_hint(markup)
    images.parse_srcset(srcset, 100)
    images.srcsets_in(body.encode("utf-8", "surrogatepass"))
