"""One language per email: the catalogs, feed dates in other languages, and whole builds."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from html import escape, unescape
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.pofile import read_po
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from digest.cli import Exit, app
from digest.collect.dates import parse_date
from digest.render.environment import make_environment
from digest.render.i18n import LOCALE_DIR, MESSAGES, PLURALS, Words
from digest.text.languages import NAMES
from tests.conftest import REPO, ConfigWriter

LANGUAGES = sorted(p.parent.parent.name for p in LOCALE_DIR.glob("*/LC_MESSAGES/digest.po"))
WHEN = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


# ── catalogs ──────────────────────────────────────────────────────────────


def test_every_summarised_language_has_a_catalog() -> None:
    wanted = {"no" if code == "nb" else code for code in NAMES} | {"zh", "ja"}
    have = set(LANGUAGES) | {"no"}
    assert wanted <= have, sorted(wanted - have)
    assert {"en", "fr", "de", "es", "pt", "it", "nl", "zh", "ja", "ru"} <= set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_is_complete_and_keeps_placeholders(language: str) -> None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "digest.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=language)
    english = set(MESSAGES.values()) | {p[0] for p in PLURALS.values()}
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    assert ids == english
    for message in catalog:
        if not message.id:
            continue
        ids_ = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = (
            [message.string] if isinstance(message.string, str) else list(message.string or ())
        )
        assert all(strings), (language, message.id)
        if not isinstance(message.id, str):
            assert len(strings) == catalog.num_plurals, (language, message.id)
        wanted = set(re.findall(r"\{\w+\}", " ".join(ids_)))
        for string in strings:
            assert set(re.findall(r"\{\w+\}", string)) <= wanted, (language, string)


@pytest.mark.parametrize(
    ("language", "count", "expected"),
    [
        ("ru", 1, "1 комментарий"),
        ("ru", 3, "3 комментария"),
        ("ru", 5, "5 комментариев"),
        ("ru", 21, "21 комментарий"),
        ("pl", 22, "22 komentarze"),
        ("cs", 4, "4 komentáře"),
        ("pt-BR", 2, "2 comentários"),
        ("de", 1, "1 Kommentar"),
        ("ja", 7, "7 件のコメント"),
        ("xx", 2, "2 comments"),
    ],
)
def test_plural_forms_follow_the_language(language: str, count: int, expected: str) -> None:
    assert Words(language).plural("comments", count) == expected


# ── dates ─────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        ("Seg, 24 Set 2018 19:22:00 -0300", None, "2018-09-24T22:22:00+00:00"),
        ("Seg, 24 Set 2018 19:22:00 -0300", "pt", "2018-09-24T22:22:00+00:00"),
        ("Sáb, 01 Dez 2018 10:00:00 GMT", "pt-BR", "2018-12-01T10:00:00+00:00"),
        ("Di, 03 Mär 2020 10:00:00 +0100", "de", "2020-03-03T09:00:00+00:00"),
        ("mar., 03 mars 2020 10:00:00 +0100", "fr", "2020-03-03T09:00:00+00:00"),
        ("mar, 03 mar 2020 10:00:00 +0100", "es", "2020-03-03T09:00:00+00:00"),
        ("ven, 13 dic 2019 08:00:00 +0100", "it", "2019-12-13T07:00:00+00:00"),
        ("wo, 4 dec 2019 10:00:00 +0100", "nl", "2019-12-04T09:00:00+00:00"),
        ("вт, 03 мар 2020 10:00:00 +0300", "ru", "2020-03-03T07:00:00+00:00"),
        ("2020年1月10日 14:16", "zh", "2020-01-10T14:16:00+00:00"),
        ("Mon, 30 Bogus 2020 10:00:00 +0000", None, None),
        ("", None, None),
    ],
)
def test_localised_feed_dates(value: str, language: str | None, expected: str | None) -> None:
    when = parse_date(value, (language,))
    assert (when.astimezone(UTC).isoformat() if when else None) == expected


def test_real_portuguese_feed_dates_are_read(corpus: Path) -> None:
    from digest.collect.feeds import parse_feed
    from digest.models import Fetched

    path = corpus / "feeds" / "rssparser-uolNoticias.rss"
    _, entries = parse_feed(Fetched(str(path), str(path), path.read_bytes(), None))
    assert entries and all(e.published is not None for e in entries)
    assert entries[0].published is not None and entries[0].published.year == 2018


# ── whole builds: no English word in another language's email ──────────────


def _local_date(language: str) -> str:
    """The item's date as a feed in `language` writes it (English names nowhere)."""
    if language in ("zh", "ja"):
        return f"{WHEN:%Y}年{WHEN.month}月{WHEN.day}日 {WHEN:%H:%M}"
    locale = Locale.parse(language)
    day = locale.days["format"]["abbreviated"][WHEN.weekday()].rstrip(".")
    month = locale.months["format"]["abbreviated"][WHEN.month].rstrip(".")
    return f"{day}, {WHEN.day} {month} {WHEN.year} {WHEN:%H:%M:%S} +0000"


def _serve(server: HTTPServer, language: str) -> str:
    site = server.url_for("/blog").rstrip("/")
    text = (
        "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. "
        "Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi. "
        "Duis aute irure dolor in reprehenderit in voluptate velit esse cillum.</p>"
        "<p>Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia. "
        "Sed ut perspiciatis unde omnis iste natus error sit voluptatem accusantium.</p>"
    )
    items = "".join(
        f"<item><title>Lorem ipsum {n}</title><link>{site}/post-{n}/</link>"
        f"<pubDate>{_local_date(language)}</pubDate><dc:creator>Jo</dc:creator>"
        f"<wfw:commentRss>{site}/post-{n}/feed/</wfw:commentRss><slash:comments>12</slash:comments>"
        f"<content:encoded><![CDATA[{text}]]></content:encoded></item>"
        for n in (1, 2)
    )
    feed = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:wfw="http://wellformedweb.org/CommentAPI/"'
        ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/">'
        f"<channel><title>Lorem</title><link>{site}/</link><language>{language}</language>"
        f"{items}</channel></rss>"
    )
    server.expect_request("/blog/feed.xml").respond_with_data(feed, content_type="text/xml")
    for n in (1, 2):
        comments = [
            ("Ann", "<p>Nemo enim ipsam voluptatem quia voluptas sit aspernatur aut odit.</p>"),
            (
                "Bea",
                f'<p>In reply to <a href="{site}/post-{n}/#comment-1">Ann</a>.</p>'
                "<blockquote><p>Nemo enim ipsam voluptatem quia voluptas sit.</p></blockquote>"
                "<p>Neque porro quisquam est, qui dolorem ipsum quia dolor sit amet.</p>",
            ),
            ("Cy", "<p>Quis autem vel eum iure reprehenderit qui in ea voluptate velit.</p>"),
        ]
        entries = "".join(
            f"<item><title>By: {a}</title><link>{site}/post-{n}/#comment-{i}</link>"
            f"<dc:creator>{a}</dc:creator><pubDate>{_local_date(language)}</pubDate>"
            f'<guid isPermaLink="false">{site}/?c={n}-{i}</guid>'
            f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
            for i, (a, body) in enumerate(comments, start=1)
        )
        server.expect_request(f"/blog/post-{n}/feed/").respond_with_data(
            '<?xml version="1.0"?><rss version="2.0"'
            ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
            ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>c</title>{entries}</channel></rss>",
            content_type="application/rss+xml",
        )
    return server.url_for("/blog/feed.xml")


def _english_words(language: str) -> list[str]:
    """Every interface phrase as English renders it where `language` says something else."""
    english, local = Words("en"), Words(language)
    values = {"number": 1, "author": "Ann", "title": "Lorem Insider", "name": "digest"}
    phrases = []
    for key in MESSAGES:
        if english(key, **values) != local(key, **values):
            phrases.append(english(key, **values))
    for key in PLURALS:
        for count in (1, 2, 3):
            args = {"count": count, "shown": count, "total": 12}
            if english(key, **args) != local(key, **args):
                phrases.append(english(key, **args))
    days = Locale.parse("en").days["format"]["wide"].values()
    local_days = Locale.parse(local.locale.language).days["format"]["wide"].values()
    phrases += [d for d in days if d not in local_days]
    # Single common words ("author", "Archive") could be anyone's text: phrases only.
    return [p for p in phrases if " " in p.strip() or p.endswith(":")]


def _visible(html: str) -> str:
    html = re.sub(r"(?s)<(style|head)\b.*?</\1>", " ", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_email_has_no_english_interface_words(
    httpserver: HTTPServer, write_config: ConfigWriter, language: str
) -> None:
    config = write_config(
        _serve(httpserver, language),
        newsletter=f'language = "{language}"\nurl = "https://news.example/lorem"',
        full_text="never",
    )
    output = config.parent / "output"
    result = CliRunner().invoke(app, ["build", "--config", str(config), "--output", str(output)])
    assert result.exit_code == Exit.WRITTEN, result.output
    (folder,) = [p for p in output.iterdir() if p.is_dir() and not p.name.startswith(".")]
    record = json.loads((folder / "issue.json").read_text())
    assert [s["published"] for s in record["stories"]] == [WHEN.isoformat()] * 2
    bea = next(c for s in record["stories"] for c in s["comments"] if c["author"] == "Bea")
    assert bea["reply_to"] == "Ann" and bea["quote"]["author"] == "Ann"
    assert "Nemo enim" not in bea["text"]
    message = email.message_from_bytes(
        (folder / "message.eml").read_bytes(), policy=email.policy.default
    )
    parts = {
        "html": _visible((folder / "email.html").read_text()),
        "text": (folder / "email.txt").read_text(),
        "subject": str(message["subject"]),
    }
    local = Words(language)
    assert local("replying_to", author="Ann") in parts["text"]
    assert escape(local("sent_by", name="digest"), quote=False) in parts["html"]
    for phrase in _english_words(language):
        for name, part in parts.items():
            assert phrase not in part, (language, name, phrase)


def test_a_build_prints_nothing_on_stderr(
    httpserver: HTTPServer, write_config: ConfigWriter
) -> None:
    config = write_config(_serve(httpserver, "pt"), newsletter='language = "pt"', full_text="never")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "digest", "build", "--config", str(config),
         "--output", str(config.parent / "output")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == Exit.WRITTEN, done.stdout + done.stderr
    assert done.stderr.strip() == ""  # (the progress bar leaves a bare line break)
    html = next((config.parent / "output").glob("*/email.html")).read_text()
    assert "Continuar lendo" in html and "Read more" not in html


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "Weiterlesen →"), ("ru", "Читать далее →"), ("xx", "Read more →")],
)
def test_themes_can_use_jinja_i18n(tmp_path: Path, language: str, expected: str) -> None:
    from tests.helpers import make_config

    env = make_environment(make_config(tmp_path, language=language))
    assert env.from_string('{{ _("Read more →") }}').render() == expected
    assert env.from_string('{{ _("A theme\'s own words") }}').render() == "A theme's own words"


@pytest.mark.parametrize("language", ["pt", "de", "en"])
def test_auto_speaks_the_language_of_the_stories(
    httpserver: HTTPServer, write_config: ConfigWriter, language: str
) -> None:
    """`language = "auto"`: a Portuguese issue gets Portuguese words, never English ones."""
    config = write_config(
        _serve(httpserver, language), newsletter='language = "auto"', full_text="never"
    )
    output = config.parent / "output"
    result = CliRunner().invoke(app, ["build", "--config", str(config), "--output", str(output)])
    assert result.exit_code == Exit.WRITTEN, result.output
    (folder,) = [p for p in output.iterdir() if p.is_dir() and not p.name.startswith(".")]
    record = json.loads((folder / "issue.json").read_text())
    assert record["language"] == language
    assert {s["language"] for s in record["stories"]} == {language}
    html = _visible((folder / "email.html").read_text())
    assert escape(Words(language)("sent_by", name="digest"), quote=False) in html
    for phrase in _english_words(language) if language != "en" else []:
        assert phrase not in html, phrase
    archive = (output / "index.html").read_text()
    assert '<html lang="en"' in archive or 'lang="en"' in archive
