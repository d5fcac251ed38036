"""The attack suite: a hostile feed author against a real build on loopback.

Feeds live on 127.0.0.2, the "operator's internal service" on 127.0.0.3: a
URL found in a feed may reach the feed's own host and public addresses, never
the other host, and nothing of what it holds may reach any output. One item
that breaks costs only itself and one warning naming it.
"""

from __future__ import annotations

import email
import email.policy
import ipaddress
import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from digest.cli import Exit, app
from digest.collect.policy import FetchPolicy, embedded, is_public
from digest.config import parse_config
from digest.errors import ConfigError
from testkit.newsroom import Site, make_story
from testkit.safety import unsafe_parts
from tests.conftest import ConfigWriter
from tests.hostile_site import NOW, SECRET, article, item, loopback, rss, secret_page

OUTPUT_FILES = ("email.html", "email.txt", "message.eml", "issue.json", "web.html")


def run_build(config: Path) -> tuple[int, str, Path]:
    output = config.parent / "output"
    result = CliRunner().invoke(
        app, ["build", "--config", str(config), "--output", str(output)], terminal_width=400
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output, output


def the_issue(output: Path) -> Path:
    (folder,) = [p for p in output.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return folder


def everything_written(output: Path) -> str:
    folder = the_issue(output)
    parts = [(folder / name).read_bytes().decode("utf-8") for name in OUTPUT_FILES]
    parts += [(output / name).read_text() for name in ("index.html", "feed.xml")]
    message = email.message_from_bytes(
        (folder / "message.eml").read_bytes(), policy=email.policy.default
    )
    parts += [part.get_content() for part in message.walk() if not part.is_multipart()]
    return "\n".join(parts)


# ── the policy's address rules ─────────────────────────────────────────────────


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254", "127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1",
        "172.31.255.255", "192.168.1.1", "fc00::1", "fd12:3456::1", "fe80::1", "100.64.0.1",
        "0.0.0.0", "::", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
        "64:ff9b::7f00:1", "2002:7f00:1::1", "224.0.0.1", "255.255.255.255", "192.0.0.8",
    ],
)  # fmt: skip
def test_private_loopback_link_local_and_mapped_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    assert not FetchPolicy().admits(address, ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_admitted(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_ipv4_inside_ipv6_is_judged_as_ipv4() -> None:
    assert str(embedded(ipaddress.ip_address("::ffff:10.0.0.7"))) == "10.0.0.7"
    assert str(embedded(ipaddress.ip_address("64:ff9b::a00:7"))) == "10.0.0.7"


def test_allow_list_of_addresses_networks_and_names() -> None:
    policy = FetchPolicy.from_settings(["127.0.0.5", "10.0.0.0/8", "intranet.example", ".corp"])
    ip = ipaddress.ip_address
    assert policy.admits("x", ip("127.0.0.5")) and not policy.admits("x", ip("127.0.0.6"))
    assert policy.admits("x", ip("10.200.0.1")) and policy.admits("x", ip("::ffff:10.0.0.1"))
    assert policy.admits("intranet.example", ip("192.168.0.9"))
    assert policy.admits("wiki.corp", ip("192.168.0.9"))
    assert not policy.admits("evil.example", ip("192.168.0.9"))
    # The feed's own address is admitted for its links: nothing else private is.
    assert policy.admits("x", ip("127.0.0.2"), frozenset({ip("127.0.0.2")}))
    assert not policy.admits("x", ip("127.0.0.3"), frozenset({ip("127.0.0.2")}))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"10.0.0.0/8"', "fetch.allow_private = .* must be a list of strings"),
        ('["10.0.0.0/33"]', "fetch.allow_private = .* has '10.0.0.0/33'"),
        ('["intra net"]', "fetch.allow_private = .* has 'intra net'"),
        ("[1]", "fetch.allow_private = .* must be a list of strings"),
    ],
)
def test_allow_private_is_checked_at_load(tmp_path: Path, value: str, message: str) -> None:
    text = f'[[feeds]]\nurl = "a"\n\n[fetch]\nallow_private = {value}\n'
    with pytest.raises(ConfigError, match=r"line 5: " + message):
        parse_config(text, tmp_path)


def test_allow_private_accepts_addresses_networks_and_names(tmp_path: Path) -> None:
    text = '[fetch]\nallow_private = ["127.0.0.5", "10.0.0.0/8", "intranet.example", "::1"]\n'
    assert parse_config(text, tmp_path).fetch.allow_private == (
        "127.0.0.5",
        "10.0.0.0/8",
        "intranet.example",
        "::1",
    )


# ── SSRF in a real build ───────────────────────────────────────────────────────


def _ssrf_feed(feed: object, internal: object) -> None:
    """Items on 127.0.0.2 pointing at 127.0.0.3 in every way a feed can, and one honest item."""
    from tests.hostile_site import Loopback

    assert isinstance(feed, Loopback) and isinstance(internal, Loopback)
    internal.serve("/secret/", secret_page())
    internal.serve("/comments.xml", rss("c", []), "application/rss+xml")
    feed.serve("/fine/", article("Fine story"))
    feed.redirect("/moved/", internal.base + "/secret/")
    comments_elsewhere = f"<wfw:commentRss>{internal.base}/comments.xml</wfw:commentRss>"
    items = [
        item("Page on another host", internal.base + "/secret/", excerpt=True, hours_ago=1),
        item("Redirected away", feed.base + "/moved/", excerpt=True, hours_ago=2),
        item("Comments elsewhere", feed.base + "/fine/", extra=comments_elsewhere, hours_ago=3),
        item("Metadata", "http://169.254.169.254/latest/meta-data/", excerpt=True, hours_ago=4),
        item("Fine story", feed.base + "/fine/?again", hours_ago=5),
    ]
    feed.serve("/feed.xml", rss("Outside", items), "application/rss+xml")


def test_links_to_another_private_host_are_never_fetched(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    with loopback("127.0.0.2") as feed, loopback("127.0.0.3") as internal:
        _ssrf_feed(feed, internal)
        config = write_config(feed.base + "/feed.xml")
        code, out, output = run_build(config)
    assert code == Exit.WRITTEN, out
    assert internal.requests == []  # not even a connection that asked for something
    written = everything_written(output)
    assert SECRET not in written and "hunter2" not in written
    record = json.loads((the_issue(output) / "issue.json").read_text())
    titles = {s["title"] for s in record["stories"]}
    assert titles == {"Comments elsewhere", "Fine story"}
    refused = [w for w in record["warnings"] if "refused by the fetch policy" in w]
    assert len(refused) == 4 == len(record["warnings"]), record["warnings"]
    for url in (f"{internal.base}/secret/", f"{feed.base}/moved/", "169.254.169.254"):
        assert sum(url in w for w in refused) == 1, url
    assert sum(f"{internal.base}/comments.xml" in w for w in refused) == 1
    assert [f["status"] for f in record["feeds"]] == ["ok"]


def test_the_allow_list_lets_content_reach_a_private_host(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    with loopback("127.0.0.2") as feed, loopback("127.0.0.3") as internal:
        _ssrf_feed(feed, internal)
        config = write_config(feed.base + "/feed.xml", extra='allow_private = ["127.0.0.3"]')
        code, out, output = run_build(config)
    assert code == Exit.WRITTEN, out
    assert "/secret/" in internal.requests and "/comments.xml" in internal.requests
    record = json.loads((the_issue(output) / "issue.json").read_text())
    assert "Page on another host" in {s["title"] for s in record["stories"]}
    assert [w for w in record["warnings"] if "169.254.169.254" in w]  # still not allowed


def test_a_name_is_judged_by_the_address_it_resolves_to(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    with loopback("127.0.0.2") as feed, loopback("127.0.0.1") as internal:
        internal.serve("/secret/", secret_page())
        link = f"http://localhost:{internal.server.server_port}/secret/"
        items = [item("By name", link, excerpt=True), item("Fine", feed.base + "/", hours_ago=2)]
        feed.serve("/feed.xml", rss("Outside", items), "application/rss+xml")
        code, out, output = run_build(write_config(feed.base + "/feed.xml"))
    assert code == Exit.WRITTEN, out
    assert internal.requests == []
    assert SECRET not in everything_written(output)
    record = json.loads((the_issue(output) / "issue.json").read_text())
    assert any("localhost" in w and "refused" in w for w in record["warnings"])


def test_a_configured_feed_may_redirect_anywhere(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    with loopback("127.0.0.2") as outer, loopback("127.0.0.3") as internal:
        internal.serve("/page/", article("Inside"))
        items = [item("Inside", internal.base + "/page/")]
        internal.serve("/feed.xml", rss("Intranet", items), "application/rss+xml")
        outer.redirect("/feed.xml", internal.base + "/feed.xml")
        code, out, output = run_build(write_config(outer.base + "/feed.xml"))
    assert code == Exit.WRITTEN, out
    record = json.loads((the_issue(output) / "issue.json").read_text())
    assert [s["title"] for s in record["stories"]] == ["Inside"]
    assert record["warnings"] == []  # its links are on the host it was read from


def test_tls_keeps_the_name_for_sni_and_the_certificate(
    tmp_path: Path, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    with loopback("127.0.0.1") as site:
        site.server.socket = context.wrap_socket(site.server.socket, server_side=True)
        base = f"https://localhost:{site.server.server_port}"
        site.serve("/story/", article("Over TLS"))
        items = [item("Over TLS", base + "/story/", excerpt=True)]
        site.serve("/feed.xml", rss("Secure", items), "application/rss+xml")
        code, out, output = run_build(write_config(base + "/feed.xml"))
    assert code == Exit.WRITTEN, out
    assert site.requests == ["/feed.xml", "/story/"]  # the page came through the guard
    assert names == ["localhost", "localhost"]  # SNI names the host, not the pinned IP
    record = json.loads((the_issue(output) / "issue.json").read_text())
    assert record["warnings"] == [] and record["stories"][0]["summary"]


# ── the target: 20 healthy feeds and one feed of hostile items ────────────────


def _hostile_feed(feed: object, internal: object) -> dict[str, str]:
    """One item per defect class; returns each breaking item's URL by what it attempts."""
    from tests.hostile_site import Loopback

    assert isinstance(feed, Loopback) and isinstance(internal, Loopback)
    internal.serve("/secret/", secret_page())
    feed.serve("/fine/", article("Fine"))
    feed.redirect("/moved/", internal.base + "/secret/")
    topic = {
        "posts_count": -9,
        "post_stream": {
            "posts": [
                {"post_number": 1, "username": "op", "cooked": "<p>Topic</p>"},
                {
                    "id": 702, "post_number": 2, "username": "pat", "name": "Pat \udc80 Driver",
                    "reply_count": -4, "like_count": 3, "post_url": "/t/brakes/77/2",
                    "cooked": "<p>My dealer says the parts for the brake lines arrive next "
                    "month, so book the appointment early and ask about a loaner.</p>",
                },
                {
                    "id": 703, "post_number": 3, "username": "odd", "reply_to_post_number": [1],
                    "post_url": "/t/brakes/77/3", "cooked": "<p>A reply to nothing sane.</p>",
                },
            ]
        },
    }  # fmt: skip
    feed.serve("/t/77.json", json.dumps(topic, ensure_ascii=True), "application/json")
    bad = {
        "private page": internal.base + "/secret/",
        "redirect": feed.base + "/moved/",
        "metadata comments": "http://169.254.169.254/latest/meta-data/comments",
        "idna": "http://xn--ls8h.\u2100.example/story",
        "port": "http://127.0.0.2:99999/story",
        "comment": feed.base + "/t/brakes/77/3",
    }
    thread = f"<comments>{feed.base}/t/brakes/77</comments>"
    items = [
        item("Private page", bad["private page"], excerpt=True, hours_ago=3),
        item("Redirected", bad["redirect"], excerpt=True, hours_ago=3),
        item(
            "Metadata comments",
            feed.base + "/fine/?a",
            extra=f"<wfw:commentRss>{bad['metadata comments']}</wfw:commentRss>",
            hours_ago=3,
        ),
        item("Bad host", bad["idna"], hours_ago=3),
        item("Bad port", bad["port"], hours_ago=3),
        item("Forum thread", feed.base + "/fine/?b", extra=thread, hours_ago=3),
        item(
            "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt; Recall widens",
            feed.base + "/fine/?c",
            raw_title=True,
            hours_ago=0,
        ),
        item("Old as time", feed.base + "/fine/?d", date="Mon, 01 Jan 0001 00:00:00 +1400"),
    ]
    feed.serve("/feed.xml", rss("Hostile", items), "application/rss+xml")
    return bad


@pytest.mark.slow
def test_twenty_healthy_feeds_and_one_hostile_feed(
    httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    sites = [
        Site(httpserver, f"paper-{i}", [make_story(i, now=NOW, comments=3, hours_ago=5 + i)])
        for i in range(20)
    ]
    for site in sites:
        site.serve()
    with loopback("127.0.0.2") as feed, loopback("127.0.0.3") as internal:
        bad = _hostile_feed(feed, internal)
        config = write_config(
            *(s.feed_url for s in sites),
            feed.base + "/feed.xml",
            newsletter="max_stories = 50",
        )
        code, out, output = run_build(config)
    assert code == Exit.WRITTEN, out
    assert internal.requests == []
    folder = the_issue(output)
    record = json.loads((folder / "issue.json").read_text())
    assert [f["status"] for f in record["feeds"]] == ["ok"] * 21

    # The issue holds every healthy story, and the hostile items that survive intact.
    titles = [s["title"] for s in record["stories"]]
    for site in sites:
        assert site.stories[0].title in titles
    survivors = {"Metadata comments", "Forum thread", "Old as time"}
    assert survivors <= set(titles) and len(titles) == 20 + len(survivors) + 1

    # One warning per breaking item, naming it; nothing else warned.
    assert len(record["warnings"]) == len(bad), record["warnings"]
    for attempt, url in bad.items():
        assert sum(url in w for w in record["warnings"]) == 1, (attempt, record["warnings"])
    for warning in record["warnings"]:
        assert warning in out.replace("warning: ", "")

    # Nothing of the internal host anywhere; every output valid UTF-8, no markup from a title.
    written = everything_written(output)
    assert SECRET not in written
    assert unsafe_parts((folder / "email.html").read_text()) == []

    # The double-encoded title is unescaped exactly once, everywhere.
    once = "&lt;script&gt;alert(1)&lt;/script&gt; Recall widens"
    assert titles[0] == once
    message = email.message_from_bytes(
        (folder / "message.eml").read_bytes(), policy=email.policy.default
    )
    assert once in str(message["Subject"])
    assert once in (folder / "email.txt").read_text()
    html = (folder / "email.html").read_text()
    assert "&amp;lt;script&amp;gt;alert(1)" in html and "<script" not in html

    # The forum thread: a repaired name, a nonsense count dropped, the broken post left out.
    forum = next(s for s in record["stories"] if s["title"] == "Forum thread")
    (comment,) = forum["comments"]
    assert comment["author"] == "Pat \ufffd Driver" and comment["replies"] == 0


# ── text unescaped exactly once ───────────────────────────────────────────────

FEED = "http://127.0.0.2:8080/feed"


def _rss_title(title: str, description: str = "<p>Body text.</p>") -> str:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>F</title><item>'
        f"<title>{title}</title><link>https://e.example/a</link>"
        f"<author>jo@e.example ({title})</author>"
        f"<description>{description}</description></item></channel></rss>"
    )


def _atom_title(title: str, kind: str) -> str:
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><entry>'
        f'<title type="{kind}">{title}</title><link href="https://e.example/a"/>'
        f"<id>urn:a</id><updated>2026-11-20T10:00:00Z</updated></entry></feed>"
    )


@pytest.mark.parametrize(
    ("document", "text"),
    [
        # RSS titles and names are plain text: the XML's own escaping is the only one.
        (_rss_title("&amp;lt;script&amp;gt; A &amp;amp; B"), "&lt;script&gt; A &amp; B"),
        (_rss_title("&lt;script&gt;x&lt;/script&gt; hi"), "<script>x</script> hi"),
        (_rss_title("AT&amp;T &#8217;s 5 &lt; 6"), "AT&T ’s 5 < 6"),
        (_rss_title("<![CDATA[Q&amp;A <b>now</b>]]>"), "Q&amp;A <b>now</b>"),
        # Atom says which: text is text, html is HTML read once.
        (_atom_title("&amp;lt;b&amp;gt;", "text"), "&lt;b&gt;"),
        (_atom_title("&amp;lt;b&amp;gt; &lt;i&gt;x&lt;/i&gt;", "html"), "<b> x"),
        (_atom_title("AT&amp;amp;T", "html"), "AT&T"),
    ],
)  # fmt: skip
def test_titles_and_names_are_unescaped_exactly_once(document: str, text: str) -> None:
    from digest.collect.feeds import parse_feed
    from digest.models import Fetched

    (entry,) = parse_feed(Fetched(FEED, FEED, document.encode()))[1]
    assert entry.title == text
    if "<rss" in document:
        assert entry.author == text


def test_html_bodies_are_read_once_and_json_feed_text_stays_text() -> None:
    from digest.collect.feeds import parse_feed
    from digest.models import Fetched
    from digest.text.extract import from_feed

    double = "&lt;p&gt;Use &amp;amp;lt;b&amp;amp;gt; for bold.&lt;/p&gt;"
    (entry,) = parse_feed(Fetched(FEED, FEED, _rss_title("t", double).encode()))[1]
    assert from_feed(entry).paragraphs == ("Use &lt;b&gt; for bold.",)
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "items": [{"id": "1", "url": "https://e.example/j", "title": "&lt;i&gt; stays",
                   "content_text": "5 &lt; 6 and <b>not bold</b>\nsecond line"}],
    }  # fmt: skip
    (entry,) = parse_feed(Fetched(FEED, FEED, json.dumps(feed).encode()))[1]
    assert entry.title == "&lt;i&gt; stays"
    # Text as written, never read as markup (the summariser may still judge it code).
    shown = " ".join(block.text for block in from_feed(entry).blocks)
    assert shown == "5 &lt; 6 and <b>not bold</b> second line"


# ── entity bombs that slip under the DTD size check ────────────────────────────


def _small_bomb() -> bytes:
    refs = {i: f"&l{i - 1};" * 10 if i > 1 else "lol" * 10 for i in range(1, 10)}
    levels = "".join(f'<!ENTITY l{i} "{ref}">' for i, ref in refs.items())
    assert len(levels) < 2048  # under the oversized-DTD refusal
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [{levels}]><rss version="2.0"><channel>'
        "<title>Bomb</title><item><title>&l9;</title><link>https://e.example/b</link>"
        "<description>&l9;</description></item></channel></rss>"
    ).encode()


def test_an_entity_bomb_the_parser_stops_is_an_error_not_a_skeleton_story() -> None:
    from digest.collect.feeds import parse_feed
    from digest.errors import FeedError
    from digest.models import Fetched

    with pytest.raises(FeedError, match="refused: the document's XML entities"):
        parse_feed(Fetched(FEED, FEED, _small_bomb()))
    legit = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY co "ACME">]><rss version="2.0">'
        b"<channel><title>F</title><item><title>News from &co;</title>"
        b"<link>https://e.example/c</link></item></channel></rss>"
    )
    (entry,) = parse_feed(Fetched(FEED, FEED, legit))[1]
    assert entry.title == "News from ACME"


def test_a_bomb_feed_is_reported_as_failed_in_a_build(
    httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    httpserver.expect_request("/bomb.xml").respond_with_data(
        _small_bomb(), content_type="application/rss+xml"
    )
    site = Site(httpserver, "paper", [make_story(1, now=NOW)]).serve()
    code, out, output = run_build(write_config(httpserver.url_for("/bomb.xml"), site.feed_url))
    assert code == Exit.WRITTEN, out
    record = json.loads((the_issue(output) / "issue.json").read_text())
    assert [f["status"] for f in record["feeds"]] == ["error", "ok"]
    assert "entities" in record["feeds"][0]["error"]
    assert "lol" not in json.dumps(record["stories"])
