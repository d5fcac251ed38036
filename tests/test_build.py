"""`digest build` end to end, against feeds served by a real HTTP server on loopback."""

from __future__ import annotations

import email
import email.policy
import gzip
import json
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Response

from digest.cli import Exit, app
from testkit.newsroom import Site, make_story
from testkit.safety import unsafe_parts
from tests.conftest import ConfigWriter

NOW = datetime.now(UTC)


def build(config: Path, *args: str) -> tuple[int, str, Path]:
    output = config.parent / "output"
    result = CliRunner().invoke(
        app, ["build", "--config", str(config), "--output", str(output), *args]
    )
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output, output


def issue_json(output: Path) -> dict:  # type: ignore[type-arg]
    folders = sorted(p for p in output.iterdir() if p.is_dir() and not p.name.startswith("."))
    return json.loads((folders[-1] / "issue.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def three_sites(httpserver: HTTPServer) -> list[Site]:
    full = Site(httpserver, "ledger", [make_story(i, now=NOW) for i in range(3)]).serve()
    excerpt = Site(httpserver, "gazette", [make_story(i, now=NOW) for i in range(3, 5)])
    excerpt.serve(excerpt=True)
    atom = Site(httpserver, "openroad", [make_story(i, now=NOW) for i in range(5, 7)])
    atom.serve(atom_feed=True)
    return [full, excerpt, atom]


def test_full_build_writes_the_four_files_and_the_archive(
    three_sites: list[Site], write_config: ConfigWriter
) -> None:
    config = write_config(*(s.feed_url for s in three_sites))
    code, out, output = build(config)
    assert code == Exit.WRITTEN, out
    record = issue_json(output)
    folder = output / record["id"]
    for name in ("email.html", "email.txt", "message.eml", "issue.json"):
        assert (folder / name).stat().st_size > 0
    assert (output / "index.html").read_text().count(record["id"]) >= 1
    assert [f["status"] for f in record["feeds"]] == ["ok", "ok", "ok"]
    assert [f["items"] for f in record["feeds"]] == [3, 2, 2]
    stories = record["stories"]
    # Seven new stories from three sources: the ledger's third would be 3 of 7 (over 40 %),
    # so it waits for the next issue.
    assert len(stories) == 6
    published = [s["published"] for s in stories]
    assert published == sorted(published, reverse=True)
    for story in stories:
        assert 1 <= len(story["summary"]) <= 3
        assert "utm_" not in story["url"]
        assert story["comments"], story["title"]
        texts = [c["text"] for c in story["comments"]]
        assert "First!" not in texts and not any(t.startswith("http") for t in texts)
        assert len({c["author"] for c in story["comments"]}) == len(story["comments"])
    html = (folder / "email.html").read_text()
    assert all(s["title"] in html for s in stories)
    assert unsafe_parts(html) == []
    message = email.message_from_bytes(
        (folder / "message.eml").read_bytes(), policy=email.policy.default
    )
    assert message.get_content_type() == "multipart/alternative"
    assert message["List-Unsubscribe"] == "<mailto:leave@example.com>"


def test_excerpt_feed_gets_its_text_from_the_article_page(
    three_sites: list[Site], write_config: ConfigWriter
) -> None:
    gazette = three_sites[1]
    config = write_config(gazette.feed_url)
    code, out, output = build(config)
    assert code == Exit.WRITTEN, out
    stories = issue_json(output)["stories"]
    summary = " ".join(s for story in stories for s in story["summary"])
    # The feed held 90 characters per story; three full sentences came from the pages.
    assert sum(len(story["summary"]) for story in stories) == 6
    assert "cookies" not in summary and "Most read" not in summary
    requested = {request.path for request, _ in gazette.server.log}
    assert {f"/gazette/{s.slug}/" for s in gazette.stories} <= requested


def test_full_text_never_keeps_the_excerpt(
    three_sites: list[Site], write_config: ConfigWriter
) -> None:
    gazette = three_sites[1]
    config = write_config(gazette.feed_url, full_text="never")
    code, _, output = build(config)
    assert code == Exit.WRITTEN
    requested = {request.path for request, _ in gazette.server.log}
    assert not any(path.endswith(f"/{s.slug}/") for s in gazette.stories for path in requested)
    assert all(len(s["summary"]) <= 1 for s in issue_json(output)["stories"])


def test_rebuild_gets_304s_and_repeats_no_story(
    three_sites: list[Site], write_config: ConfigWriter, httpserver: HTTPServer
) -> None:
    config = write_config(*(s.feed_url for s in three_sites))
    code, _, output = build(config)
    assert code == Exit.WRITTEN
    first = {s["url"] for s in issue_json(output)["stories"]}
    httpserver.clear_log()
    # The story the source balance held back is all the rebuild has: it comes now, alone.
    code, out, output = build(config)
    assert code == Exit.WRITTEN, out
    held_back = [s["url"] for s in issue_json(output)["stories"]]
    assert len(held_back) == 1 and held_back[0] not in first
    feed_requests = [r for r, _ in httpserver.log if r.path.endswith("feed.xml")]
    assert len(feed_requests) == 3
    assert all(r.headers.get("If-None-Match") for r in feed_requests)
    code, out, output = build(config)
    assert code == Exit.NOTHING_NEW, out
    assert "Nothing new" in out
    assert len([p for p in output.iterdir() if p.is_dir()]) == 2


def test_a_new_story_makes_a_new_issue_with_only_that_story(
    httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    stories = [make_story(i, now=NOW, hours_ago=i + 5) for i in range(3)]
    site = Site(httpserver, "ledger", stories).serve()
    config = write_config(site.feed_url)
    assert build(config)[0] == Exit.WRITTEN
    httpserver.clear()
    site.stories = [make_story(9, now=NOW, hours_ago=1), *stories]
    site.serve()
    code, out, output = build(config)
    assert code == Exit.WRITTEN, out
    record = issue_json(output)
    assert record["id"].endswith("-2")
    assert [s["title"] for s in record["stories"]] == [site.stories[0].title]


def test_max_stories_and_lookback_window(
    httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    stories = [make_story(i, now=NOW, hours_ago=24 * i + 1) for i in range(10)]
    site = Site(httpserver, "ledger", stories).serve()
    config = write_config(site.feed_url, newsletter="max_stories = 3")
    text = config.read_text().replace("lookback_days = 0", "lookback_days = 2")
    config.write_text(text)
    code, _, output = build(config)
    assert code == Exit.WRITTEN
    titles = [s["title"] for s in issue_json(output)["stories"]]
    assert titles == [stories[0].title, stories[1].title]


FAULTS = {
    "/500": Response("boom", status=500),
    "/404": Response("gone", status=404),
    "/429": Response("slow down", status=429),
    "/html": Response("<!doctype html><html><body><p>Hello</p></body></html>",
                      content_type="text/html"),
    "/bytes": Response(bytes(range(256)) * 40, content_type="application/octet-stream"),
    "/empty": Response(b"", content_type="application/rss+xml"),
    "/bomb": Response(
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "x" * 5000 + '">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss><channel><title>&b;</title>'
        "</channel></rss>",
        content_type="application/rss+xml",
    ),
    "/xxe": Response(
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<rss><channel><title>&x;</title></channel></rss>",
        content_type="application/rss+xml",
    ),
}  # fmt: skip


def test_every_fault_costs_only_its_feed(
    httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    site = Site(httpserver, "ledger", [make_story(i, now=NOW) for i in range(2)]).serve()
    for path, response in FAULTS.items():
        httpserver.expect_request(path).respond_with_response(response)
    httpserver.expect_request("/loop").respond_with_response(
        Response(status=302, headers={"Location": "/loop"})
    )
    gzip_bomb = gzip.compress(b"\0" * 30_000_000)
    httpserver.expect_request("/gzip").respond_with_response(
        Response(gzip_bomb, headers={"Content-Encoding": "gzip"}, content_type="application/xml")
    )
    faulty = [*FAULTS, "/loop", "/gzip"]
    config = write_config(
        site.feed_url,
        *(httpserver.url_for(p) for p in faulty),
        extra="max_bytes = 5000000",
    )
    code, out, output = build(config)
    assert code == Exit.WRITTEN, out
    feeds = {f["url"]: f for f in issue_json(output)["feeds"]}
    assert feeds[site.feed_url]["status"] == "ok"
    for path in faulty:
        report = feeds[httpserver.url_for(path)]
        assert report["status"] == "error", path
        assert report["error"] and "\n" not in report["error"]
    assert "passwd" not in (output / issue_json(output)["id"] / "email.html").read_text()
    assert "root:" not in json.dumps(issue_json(output))


def test_every_feed_failing_is_its_own_exit_code(
    httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    httpserver.expect_request("/500").respond_with_data("boom", status=500)
    config = write_config(httpserver.url_for("/500"))
    code, out, output = build(config)
    assert code == Exit.ALL_FEEDS_FAILED
    assert "HTTP 500" in out
    assert not output.exists() or not any(p.is_dir() for p in output.iterdir())


def test_strict_fails_when_any_feed_fails(
    three_sites: list[Site], httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    httpserver.expect_request("/500").respond_with_data("boom", status=500)
    config = write_config(three_sites[1].feed_url, httpserver.url_for("/500"))
    code, out, _ = build(config, "--strict")
    assert code == Exit.ALL_FEEDS_FAILED
    assert "A feed failed and --strict is on" in out
    # Decided as soon as the feeds are in: no article page or comment feed was asked for.
    paths = [request.path for request, _ in httpserver.log]
    assert paths and all(p.endswith(".xml") or p == "/500" for p in paths), paths
    assert build(config)[0] == Exit.WRITTEN


def test_an_unwritable_archive_is_one_line_and_costs_no_story(
    three_sites: list[Site], write_config: ConfigWriter
) -> None:
    config = write_config(three_sites[0].feed_url)
    output = config.parent / "output"
    (output / "index.html").mkdir(parents=True)  # a folder where the archive page goes
    code, out, _ = build(config)
    # The issue is written and its stories recorded; the archive is one warning line.
    assert code == Exit.WRITTEN, out
    warnings = [line for line in out.splitlines() if "archive not refreshed" in line]
    assert len(warnings) == 1 and "index.html" in warnings[0], out
    assert "Traceback" not in out
    (output / "index.html").rmdir()
    code, out, _ = build(config)  # the next build mends the archive, repeats no story
    assert code == Exit.NOTHING_NEW, out
    assert len(issue_json(output)["stories"]) == 3
    assert issue_json(output)["id"] in (output / "index.html").read_text()


HOSTILE = [
    "<script>alert('title')</script>Hostile headline",
    '<p onclick="alert(1)">Click <a href="javascript:alert(2)">here</a> now, reader friend.</p>'
    '<iframe src="https://evil.example/frame"></iframe>'
    '<form action="https://evil.example/steal"><input name="pw"></form>'
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">'
    "<p>Template {{ 7*7 }} and {% include 'x' %} stay text in every single summary line.</p>"
    '<img src="x" onerror="alert(3)"><style>body{background:url(https://evil.example/x)}</style>'
    "<p>Ford said the recall covers many trucks built in the last year at two plants.</p>"
    "<p>Dealers will fix the problem at no charge to owners across the whole country.</p>",
]


def test_hostile_html_never_reaches_the_email(
    httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    story = make_story(1, now=NOW)
    story.title = HOSTILE[0]
    story.raw_html = HOSTILE[1]
    story.comments = [("<b onmouseover=alert(4)>Evil</b>", HOSTILE[1])]
    site = Site(httpserver, "ledger", [story])
    site.serve()
    config = write_config(site.feed_url, full_text="never")
    code, out, output = build(config)
    assert code == Exit.WRITTEN, out
    record = issue_json(output)
    html = (output / record["id"] / "email.html").read_text()
    text = (output / record["id"] / "email.txt").read_text()
    assert unsafe_parts(html) == []
    # An RSS title is plain text: its markup, escaped once in the feed, is shown as text.
    title = "&lt;script&gt;alert('title')&lt;/script&gt;Hostile headline"
    assert title in html and record["stories"][0]["title"] == HOSTILE[0]
    # So is a commenter's name: shown as written, escaped, never markup.
    author = "&lt;b onmouseover=alert(4)&gt;Evil&lt;/b&gt;"
    shown = html.replace(title, "").replace(author, "")
    for needle in ("alert(", "evil.example", "javascript:", "<script", "onerror", "onclick"):
        assert needle not in shown
    assert "{{ 7*7 }}" in html and "{{ 7*7 }}" in text
    assert "<" not in json.dumps(record["stories"][0]["summary"])


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[newsletter]\ntitel = "x"\n', "line 2: unknown key 'newsletter.titel'"),
        ("[newsletter]\nmax_stories = \"ten\"\n", "max_stories = 'ten' must be an integer"),
        ('[[feeds]]\nurl = "a"\n\n[[feeds]]\nurl = "b"\nfulltext = "auto"\n',
         "line 6: unknown key 'feeds[1].fulltext'"),
        ('[[feeds]]\nurl = "a"\nfull_text = "sometimes"\n', "must be one of 'auto'"),
        ("[newsletter\n", "invalid TOML"),
        ('[newsletter]\ntitle = "x"\n', "no [[feeds]] configured"),
    ],
)  # fmt: skip
def test_bad_config_exits_2_with_one_line_naming_the_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    code, out, _ = build(config)
    assert code == Exit.BAD_CONFIG
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], out


def test_missing_config_names_the_file(tmp_path: Path) -> None:
    code, out, _ = build(tmp_path / "nope.toml")
    assert code == Exit.BAD_CONFIG
    assert "nope.toml: no such file" in out


def test_local_path_feed(tmp_path: Path, write_config: ConfigWriter) -> None:
    from testkit.newsroom import rss

    (tmp_path / "local.xml").write_text(
        rss("https://local.example", "Local", [make_story(0, now=NOW)], comment_feeds=False)
    )
    config = write_config("local.xml")
    code, out, output = build(config)
    assert code == Exit.WRITTEN, out
    assert issue_json(output)["stories"][0]["source"] == "Local"


def test_a_source_that_never_answers_costs_its_items_not_the_build(
    three_sites: list[Site], write_config: ConfigWriter
) -> None:
    """The whole gathering has a time limit: what is unfinished then is left out."""
    with socket.socket() as silent:  # accepts, then never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        stuck = f"http://127.0.0.1:{silent.getsockname()[1]}/feed.xml"
        config = write_config(three_sites[0].feed_url, stuck, extra="build_timeout = 2")
        text = config.read_text().replace("timeout = 5", "timeout = 60")
        config.write_text(text, encoding="utf-8")
        started = time.monotonic()
        code, out, output = build(config)
        took = time.monotonic() - started
    assert code == Exit.WRITTEN, out
    assert took < 50  # the 60 s request timeout was never waited for
    record = issue_json(output)
    assert len(record["stories"]) == 3
    (late,) = [f for f in record["feeds"] if f["status"] == "error"]
    assert late["url"] == stuck and "build_timeout" in late["error"]
