"""Real public feeds from the shared corpus, built through the whole pipeline.

The corpus lives outside the repository (`DIGEST_CORPUS`, default
`../shared/corpus`); every test here skips with that reason where it is absent.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from typer.testing import CliRunner

from digest.cli import Exit, app
from digest.collect.feeds import parse_feed
from digest.comments import parse_comments
from digest.config import Config, NewsletterSettings
from digest.errors import FeedError
from digest.models import Fetched, Issue, Story
from digest.render.email import render_issue
from digest.text import extract
from digest.text.summarise import summarise
from testkit.safety import unsafe_parts

SKIP_NAMES = {"PROVENANCE.md", "PROVENANCE-h4.md"}


def _feeds(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.name not in SKIP_NAMES and "README" not in p.name
    )  # fmt: skip


def _build_local(tmp_path: Path, files: list[Path], max_stories: int = 200) -> tuple[int, Path]:
    """One `digest build` over local copies of `files`; returns (exit code, issue folder)."""
    feeds = tmp_path / "feeds"
    feeds.mkdir(exist_ok=True)
    lines = [
        "[newsletter]",
        'title = "Corpus"',
        f"max_stories = {max_stories}",
        "lookback_days = 0",
        "",
    ]
    for source in files:
        target = feeds / source.name
        shutil.copyfile(source, target)
        # Pages and comment feeds of real data are on the internet, which tests never reach.
        lines += ["[[feeds]]", f'url = "feeds/{source.name}"', 'full_text = "never"']
        lines += ['comments = "none"', ""]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    output = tmp_path / "output"
    result = CliRunner().invoke(app, ["build", "-c", str(config), "-o", str(output)])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    folders = [p for p in output.glob("*") if p.is_dir()] if output.exists() else []
    return result.exit_code, folders[0] if folders else output


def _usable_entries(path: Path) -> int:
    parsed = feedparser.parse(path.read_bytes())
    return sum(1 for e in parsed.entries if e.get("title") or e.get("link"))


def test_every_malformed_file_builds_without_a_crash(corpus: Path, tmp_path: Path) -> None:
    files = _feeds(corpus / "malformed")
    code, folder = _build_local(tmp_path, files)
    assert code == Exit.WRITTEN
    record = json.loads((folder / "issue.json").read_text())
    reports = {Path(f["url"]).name: f for f in record["feeds"]}
    assert len(reports) == len(files)
    for path in files:
        report = reports[path.name]
        if report["status"] == "error":
            assert report["error"] and "\n" not in report["error"], path.name
        if path.name.startswith("defusedxml_"):
            continue  # attacks: refusing them is the right outcome
        expected = _usable_entries(path)
        if expected:
            assert report["status"] == "ok" and report["items"] == expected, path.name
    html = (folder / "email.html").read_text()
    assert unsafe_parts(html) == []
    assert "root:x:0" not in html


def _stories_from(path: Path) -> list[Story]:
    """Every entry of a feed file as a story, its whole text as the summary.

    Built stage by stage rather than by `digest build`: the XSS feeds share
    their links, so a build would keep one story of hundreds. Every entry is
    also read as a comment, so the comment path meets every vector too.
    """
    fetched = Fetched(url=str(path), final_url=str(path), content=path.read_bytes())
    try:
        feed_title, entries = parse_feed(fetched)
        thread = parse_comments(fetched)
    except FeedError:
        return []
    # Vectors in the feed's own fields reach the email as the stories' source.
    stories = [Story(feed_title or "", "", feed_title or "", None, None, None, (), None)]
    for entry in entries:
        article = extract.from_feed(entry)
        stories.append(
            Story(
                title=entry.title,
                url=entry.url,
                source=entry.source,
                author=entry.author,
                published=entry.published,
                image=article.image,
                summary=article.paragraphs + summarise(article.paragraphs, "en", 3),
                comment_count=entry.comment_count,
                comments=thread.comments[:3],
                comments_url=entry.comments_page,
            )
        )
    return stories


def test_xss_vectors_leave_nothing_executable(corpus: Path) -> None:
    files = _feeds(corpus / "xss")
    assert len(files) > 400
    stories = [story for path in files for story in _stories_from(path)]
    assert len(stories) > 550
    config = Config(newsletter=NewsletterSettings(unsubscribe="https://example.com/u"))
    for start in range(0, len(stories), 60):
        batch = tuple(stories[start : start + 60])
        issue = Issue("x", "XSS", datetime(2026, 1, 1, tzinfo=UTC), batch, ())
        rendered = render_issue(issue, config)
        assert unsafe_parts(rendered.html) == [], [s.title for s in batch]
        assert "alert(" not in rendered.html.lower().replace("alert(&", "")


@pytest.mark.slow
def test_real_feeds_all_parse(corpus: Path, tmp_path: Path) -> None:
    files = _feeds(corpus / "feeds")
    code, folder = _build_local(tmp_path, files, max_stories=40)
    assert code == Exit.WRITTEN
    record = json.loads((folder / "issue.json").read_text())
    failed = {Path(f["url"]).name: f["error"] for f in record["feeds"] if f["status"] != "ok"}
    assert failed == {}
    assert len(record["stories"]) == 40
    html = (folder / "email.html").read_text()
    assert unsafe_parts(html) == []


def test_nodejs_snapshots_repeat_no_story(corpus: Path, tmp_path: Path) -> None:
    """Three successive snapshots of one feed: the updated item is not sent again."""
    snapshots = [corpus / "feeds" / f"rss2email-nodejs-feed{n}.xml" for n in (1, 2, 3)]
    feed = tmp_path / "nodejs.xml"
    config = tmp_path / "config.toml"
    config.write_text('[newsletter]\nlookback_days = 0\n[[feeds]]\nurl = "nodejs.xml"\n')
    codes = []
    for snapshot in snapshots:
        shutil.copyfile(snapshot, feed)
        result = CliRunner().invoke(app, ["build", "-c", str(config)])
        codes.append(result.exit_code)
    assert codes == [Exit.WRITTEN, Exit.NOTHING_NEW, Exit.NOTHING_NEW]
