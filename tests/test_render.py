"""The render stage: templates → MJML → HTML with CSS inlined, plus the text part."""

from __future__ import annotations

import csv
import logging
import os
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest

from digest.config import Config, ThemeSettings
from digest.errors import RenderError
from digest.models import RenderedIssue
from digest.render.email import (
    ArchiveEntry,
    issue_context,
    mjml_to_html,
    render_archive,
    render_issue,
)
from digest.render.environment import (
    default_theme_dir,
    make_environment,
    output_url,
    template_search_path,
)
from digest.render.i18n import Words
from tests.helpers import (
    HOSTILE,
    LEAD_TITLE,
    NOW,
    SECOND_TITLE,
    big_issue,
    make_config,
    make_issue,
    write_override,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def rendered(config: Config) -> RenderedIssue:
    return render_issue(make_issue(), config)


def visible_text(html: str) -> str:
    return " ".join(lxml.html.fromstring(html).text_content().split())


def links(html: str) -> list[str]:
    doc = lxml.html.fromstring(html)
    return [
        v
        for el in doc.iter()
        if isinstance(el.tag, str)
        for k, v in el.items()
        if k in ("href", "src")
    ]


def conditional_comments(html: str) -> list[str]:
    return [c for c in re.findall(r"<!--.*?-->", html, re.S) if "[if" in c or "endif]" in c]


# ── what the reader sees ─────────────────────────────────────────────────────


def test_html_has_masthead_stories_conversation_and_footer(rendered: RenderedIssue) -> None:
    text = visible_text(rendered.html)
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert "The Insider" in text
    assert "Thursday, 26 November 2026" in text
    for story in make_issue().stories:
        assert " ".join(story.title.split()) in text
        for sentence in story.summary:
            assert sentence in text
    assert "The Truth About Cars · by Matt Posky · 25 Nov 2026" in text
    assert "Join the conversation · 2 of 19 comments" in text
    assert "Join the conversation · 4 comments" in text  # count known, none shown
    assert "Corey Lewis · 2 hours ago" in text and "Bkojote · 3 days ago" in text
    assert "Where would you service them?" in text
    assert "Read comment" in text and "Read more →" in text
    assert "You are receiving The Insider because you subscribed." in text
    assert "1 Example Street" in text and "Detroit, MI 48201" in text
    assert "Sent by digest" in text
    assert 'href="https://example.com/unsubscribe?list=insider&amp;u=42"' in rendered.html


def test_css_is_inlined(rendered: RenderedIssue) -> None:
    doc = lxml.html.fromstring(rendered.html)
    title = doc.find_class("title")[0]
    assert "font-weight:700" in title.get("style")
    comment = doc.find_class("comment-body")[0]
    assert "border-left:3px solid #b3001b" in comment.get("style")
    assert "color:#1a1a1a" in title.find("a").get("style")
    assert "<link" not in rendered.html and "@import" not in rendered.html  # no remote fonts
    # mjml's reset stays in <head> instead of bloating every table cell.
    assert rendered.html.count("mso-table-lspace") == 1


def test_media_queries_and_conditional_comments_survive_premailer(config: Config) -> None:
    env = make_environment(config)
    compiled = mjml_to_html(
        env.get_template("digest.mjml.j2").render(issue_context(make_issue(), config))
    )
    html = render_issue(make_issue(), config).html
    assert "@media only screen and (max-width: 480px)" in html
    assert ".story img.thumb { float: none !important;" in html
    before, after = conditional_comments(compiled), conditional_comments(html)
    assert len(before) > 10
    assert after == before  # every one, byte for byte
    assert "<!--[if mso]>" in html and "<o:OfficeDocumentSettings>" in html


def test_images_lead_full_width_others_beside_headline_none_when_missing(
    rendered: RenderedIssue,
) -> None:
    doc = lxml.html.fromstring(rendered.html)
    images = [img for img in doc.iter("img")]
    assert [img.get("src") for img in images] == ["http://cdn.example.com/alpine.jpg"]  # http kept
    assert images[0].get("alt") == LEAD_TITLE
    # Its proportions are unknown: a width and no made-up height, so no empty box when blocked.
    assert (images[0].get("width"), images[0].get("height")) == ("600", None)
    assert "height:auto" in images[0].get("style").replace(" ", "")  # real proportions win


def test_every_image_has_alt_and_width(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    config = replace(config, theme=ThemeSettings(logo_url="https://example.com/logo.png"))
    base = make_issue().stories[0]
    issue = replace(
        make_issue(),
        stories=tuple(
            replace(base, title=f"Story {i}", image=f"https://cdn.example.com/{i}.jpg")
            for i in range(4)
        ),
    )
    images = list(lxml.html.fromstring(render_issue(issue, config).html).iter("img"))
    assert len(images) == 5  # the logo, the lead picture, three thumbnails
    for img in images:
        assert img.get("alt", "").strip(), lxml.html.tostring(img)
        assert img.get("width", "").isdigit()
    assert images[0].get("height") == "50"  # the logo's size is configured
    assert images[0].get("src") == "https://example.com/logo.png"
    assert images[0].get("alt") == "The Insider"


def test_preheader_and_title(rendered: RenderedIssue) -> None:
    doc = lxml.html.fromstring(rendered.html)
    assert doc.find(".//title").text == "The Insider · Thursday, 26 November 2026"
    preview = doc.xpath("//body/div[contains(@style, 'display:none')]")[0]
    assert " ".join(preview.text_content().split()) == f"{LEAD_TITLE} — and 2 more stories"


@pytest.mark.parametrize(
    ("titles", "subject"),
    [
        ((LEAD_TITLE,), f"The Insider: {LEAD_TITLE}"),
        ((LEAD_TITLE, "b", "c"), f"The Insider: {LEAD_TITLE} and 2 more"),
        (("Two\r\nlines\nBcc: x@example.com",), "The Insider: Two lines Bcc: x@example.com"),
        ((), "The Insider"),
    ],
)
def test_subject(config: Config, titles: tuple[str, ...], subject: str) -> None:
    base = make_issue().stories[1]
    issue = replace(make_issue(), stories=tuple(replace(base, title=t) for t in titles))
    assert render_issue(issue, config).subject == subject


def test_text_part(rendered: RenderedIssue) -> None:
    text = rendered.text
    assert text.startswith("The Insider\nThursday, 26 November 2026\n")
    assert f"{LEAD_TITLE}\n{'=' * len(LEAD_TITLE)}\n" in text
    assert f"{SECOND_TITLE}\n{'-' * len(SECOND_TITLE)}\n" in text
    refs = dict(re.findall(r"^\[(\d+)\] (\S+)$", text, re.M))

    def target(label: str) -> str:
        match = re.search(rf"^>? ?{re.escape(label)} \[(\d+)\]$", text, re.M)
        assert match, label
        return str(refs[match.group(1)])

    assert target("Read more →") == (
        "https://www.example.com/2026/11/renault-alpine?utm_source=feed&x=1"
    )
    assert target("Join the conversation · 2 of 19 comments") == (
        "https://www.example.com/2026/11/renault-alpine#comments"
    )
    assert "> Corey Lewis, 2 hours ago:\n> Infiniti dealers are the sensible place.\n>\n" in text
    assert target("Read comment") == "https://www.example.com/2026/11/renault-alpine#comment-1"
    assert target("Unsubscribe") == "https://example.com/unsubscribe?list=insider&u=42"
    assert target("View in browser") == "https://example.com/insider/2026-11-26/web.html"
    assert "\nLinks\n[1] https://" in text and list(refs) == [str(i + 1) for i in range(len(refs))]
    assert "&#" not in text and "&lt;" not in text  # no HTML escaping in the text part


def test_footer_without_unsubscribe_or_address(tmp_path: Path) -> None:
    rendered = render_issue(make_issue(), make_config(tmp_path, unsubscribe="", postal_address=""))
    assert "You are receiving The Insider because you subscribed." in visible_text(rendered.html)
    assert "Unsubscribe" not in rendered.html and "Unsubscribe" not in rendered.text
    assert "Example Street" not in rendered.html


def test_mailto_unsubscribe_is_a_link(tmp_path: Path) -> None:
    config = make_config(tmp_path, unsubscribe="mailto:insider@example.com?subject=unsubscribe")
    assert "mailto:insider@example.com?subject=unsubscribe" in links(
        render_issue(make_issue(), config).html
    )


def test_html_stays_under_gmail_clipping_for_ten_stories(config: Config) -> None:
    html = render_issue(big_issue(10, title=LEAD_TITLE + " ({})"), config).html
    assert len(html.encode()) < 102_000, len(html.encode())


# ── untrusted text ───────────────────────────────────────────────────────────


def test_hostile_text_is_escaped_and_never_evaluated(rendered: RenderedIssue) -> None:
    html = rendered.html
    assert "<script" not in html
    assert "<img src=x" not in html and "<svg" not in html
    doc = lxml.html.fromstring(html)
    attributes = {k for el in doc.iter() if isinstance(el.tag, str) for k in el.attrib}
    assert not {a for a in attributes if a.startswith("on")}
    assert not [img for img in doc.iter("img") if img.get("src") == "x"]
    text = visible_text(html)
    assert " ".join(HOSTILE.split()) in text  # shown as text, once escaped, not twice
    assert "{% include 'base.mjml.j2' %}" in text
    assert "49" not in html and "49" not in rendered.text and "49" not in rendered.subject
    # The text part is plain text: nothing to escape (only wrapped at 72 columns).
    assert " ".join(HOSTILE.split()) in " ".join(rendered.text.split())


def test_only_http_urls_become_links(rendered: RenderedIssue) -> None:
    found = links(rendered.html)
    assert found and all(re.match(r"https?://", url) for url in found), found
    assert not re.search(r"javascript:|vbscript:|data:", rendered.html, re.I)
    assert "javascript:" not in rendered.text.lower() and "vbscript:" not in rendered.text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a?b=1&c=2", "https://example.com/a?b=1&c=2"),
        ("http://example.com", "http://example.com"),
        ("  HTTPS://Example.com/x  ", "HTTPS://Example.com/x"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("javascript:alert(1)", ""),
        (" JaVaScRiPt:alert(1)", ""),
        ("java\tscript:alert(1)", ""),
        ("data:text/html,<script>alert(1)</script>", ""),
        ("vbscript:msgbox(1)", ""),
        ("//evil.example.com/x", ""),
        ("/relative/path", ""),
        ("https:no-host", ""),
        ("mailto:a@example.com", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_output_url(url: str | None, expected: str) -> None:
    assert output_url(url) == expected


def test_output_url_extra_scheme() -> None:
    assert output_url("mailto:a@example.com", "mailto") == "mailto:a@example.com"
    assert output_url("javascript:x", "mailto") == ""


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=-5), "just now"),
        (timedelta(minutes=12), "12 minutes ago"),
        (timedelta(hours=2, minutes=10), "2 hours ago"),
        (timedelta(days=1, hours=3), "1 day ago"),
        (timedelta(days=3), "3 days ago"),
        (timedelta(days=45), "12 Oct 2026"),
    ],
)
def test_reldate(delta: timedelta, expected: str) -> None:
    reldate = Words("en").reldate
    assert reldate(NOW - delta, NOW) == expected
    assert reldate((NOW - delta).replace(tzinfo=None), NOW) == expected  # naive means UTC


# ── themes and overrides ─────────────────────────────────────────────────────


def test_search_path_user_folder_first(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    assert template_search_path(config) == [default_theme_dir()]
    (tmp_path / "templates").mkdir()
    assert template_search_path(config) == [tmp_path / "templates", default_theme_dir()]
    assert (default_theme_dir() / "partials" / "story.mjml.j2").is_file()


def test_user_partial_overrides_the_default(tmp_path: Path) -> None:
    write_override(
        tmp_path,
        "partials/story.mjml.j2",
        "<mj-text>Custom story: {{ story.title }} {{ story.url|safe_url }}</mj-text>\n",
    )
    rendered = render_issue(make_issue(), make_config(tmp_path))
    text = visible_text(rendered.html)
    assert f"Custom story: {LEAD_TITLE}" in text
    assert "Join the conversation" not in text  # the default partial was not used
    assert "You are receiving The Insider" in text  # the rest of the theme was
    assert "<script" not in rendered.html  # overrides are autoescaped too


def test_override_extends_the_default_block_by_block(tmp_path: Path) -> None:
    write_override(
        tmp_path,
        "digest.mjml.j2",
        '{% extends "default/digest.mjml.j2" %}\n'
        "{% block footer %}\n"
        "<mj-section><mj-column><mj-text>Sponsored by nobody</mj-text></mj-column></mj-section>\n"
        "{{ super() }}\n"
        "{% endblock %}\n",
    )
    text = visible_text(render_issue(make_issue(), make_config(tmp_path)).html)
    assert "Sponsored by nobody" in text
    assert "You are receiving The Insider" in text and LEAD_TITLE in text


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    write_override(tmp_path, "partials/story.mjml.j2", "<mj-text>\n{{ story.title }}\n{% if %}\n")
    with pytest.raises(RenderError, match=r"templates/partials/story\.mjml\.j2, line 3: "):
        render_issue(make_issue(), make_config(tmp_path))


def test_undefined_variable_names_file_and_line(tmp_path: Path) -> None:
    write_override(
        tmp_path, "partials/story.mjml.j2", "<mj-text>\n\n{{ story.subtitle }}</mj-text>\n"
    )
    with pytest.raises(RenderError, match=r"story\.mjml\.j2, line 3: .*subtitle"):
        render_issue(make_issue(), make_config(tmp_path))


def test_python_error_in_a_template_names_file_and_line(tmp_path: Path) -> None:
    write_override(tmp_path, "partials/comment.mjml.j2", "{{ comment.author|longdate }}\n")
    with pytest.raises(RenderError, match=r"comment\.mjml\.j2, line 1: \w+Error: "):
        render_issue(make_issue(), make_config(tmp_path))


def test_invalid_mjml_is_a_render_error(tmp_path: Path) -> None:
    write_override(tmp_path, "partials/story.mjml.j2", "<mj-text>unclosed\n")
    with pytest.raises(RenderError, match="invalid MJML"):
        render_issue(make_issue(), make_config(tmp_path))


def test_missing_template_is_a_render_error(tmp_path: Path) -> None:
    write_override(tmp_path, "digest.mjml.j2", '{% include "partials/nope.mjml.j2" %}\n')
    with pytest.raises(RenderError, match=r"template not found: partials/nope\.mjml\.j2"):
        render_issue(make_issue(), make_config(tmp_path))


# ── archive ──────────────────────────────────────────────────────────────────


def test_archive_lists_issues_newest_first(config: Config) -> None:
    older = replace(make_issue(), id="2026-11-19", generated_at=NOW - timedelta(days=7))
    entries = [ArchiveEntry.from_issue(older), ArchiveEntry.from_issue(make_issue())]
    entries.append(
        ArchiveEntry("2026-11-27", HOSTILE, NOW + timedelta(days=1), 0, None, page="email.html")
    )
    html = render_archive(entries, config)
    assert html.startswith("<!DOCTYPE html>")
    doc = lxml.html.fromstring(html)
    hrefs = [a.get("href") for a in doc.iter("a")]
    assert hrefs == [
        "https://example.com/insider",
        "2026-11-27/email.html",
        "2026-11-26/web.html",
        "2026-11-19/web.html",
        "feed.xml",
    ]
    text = visible_text(html)
    assert "Thursday, 26 November 2026 · 3 stories" in text
    assert f"{LEAD_TITLE} — Renault has been considering" in text  # the first story
    assert LEAD_TITLE in text and "<script" not in html


# ── golden files ─────────────────────────────────────────────────────────────


@pytest.mark.parametrize("part", ["html", "text"])
def test_matches_snapshot(part: str) -> None:
    """Regenerate with DIGEST_UPDATE_SNAPSHOTS=1 and review the diff."""
    config = make_config(Path("/nonexistent-config-dir"))
    rendered = render_issue(make_issue(), config)
    actual = rendered.html if part == "html" else rendered.text
    path = SNAPSHOTS / ("issue.html" if part == "html" else "issue.txt")
    if os.environ.get("DIGEST_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with DIGEST_UPDATE_SNAPSHOTS=1"
    assert actual == path.read_text(encoding="utf-8")


# ── languages, links, theme ──────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("language", "date", "words"),
    [
        (
            "en",
            "Thursday, 26 November 2026",
            ["Read more →", "Join the conversation", "2 hours ago"],
        ),
        ("en-US", "Thursday, November 26, 2026", ["Read more →", "2 of 19 comments"]),
        ("fr", "jeudi 26 novembre 2026", ["Lire la suite →", "il y a 2 heures", "Se désabonner"]),
        ("de", "Donnerstag, 26. November 2026", ["Weiterlesen →", "vor 2 Stunden", "Abbestellen"]),
        ("es", "jueves, 26 de noviembre de 2026", ["Seguir leyendo →", "hace 2 horas"]),
    ],
)
def test_dates_and_fixed_words_follow_the_language(
    tmp_path: Path, language: str, date: str, words: list[str]
) -> None:
    rendered = render_issue(make_issue(), make_config(tmp_path, language=language))
    text = visible_text(rendered.html)
    assert f'lang="{language}"' in rendered.html
    for part in (text, " ".join(rendered.text.split())):
        assert date in part
        for word in words:
            assert word in part, (word, language)


def test_unknown_language_falls_back_to_english(tmp_path: Path) -> None:
    text = visible_text(render_issue(make_issue(), make_config(tmp_path, language="xx")).html)
    assert "Read more →" in text and "26 November 2026" in text


def test_utm_parameters_on_story_links_only(tmp_path: Path) -> None:
    theme = ThemeSettings(utm_source="insider", utm_campaign="")
    rendered = render_issue(make_issue(), replace(make_config(tmp_path), theme=theme))
    found = links(rendered.html)
    lead = "https://www.example.com/2026/11/renault-alpine?x=1&utm_source=insider"
    assert f"{lead}&utm_medium=email&utm_campaign=2026-11-26" in found  # feed's utm_* replaced
    assert (
        "https://www.example.com/junkyard-van?utm_source=insider&utm_medium=email&utm_campaign=2026-11-26"
        in found
    )
    comments = [u for u in found if "#comment" in u]
    assert comments and not [u for u in comments if "utm_" in u]
    assert "https://example.com/unsubscribe?list=insider&u=42" in found  # untouched
    assert "utm_source=insider" in rendered.text


def test_no_utm_parameters_by_default(rendered: RenderedIssue) -> None:
    assert "utm_source=insider" not in rendered.html and "utm_medium" not in rendered.html


def test_brand_colours_fonts_and_footer_from_config(tmp_path: Path) -> None:
    theme = ThemeSettings(
        brand_color="#0b5394",
        text_color="#222222",
        background_color="#eef3f8",
        serif_font="Charter, 'Bitstream Charter', serif",
        footer_text="You get this because you joined the Insider club.",
    )
    rendered = render_issue(make_issue(), replace(make_config(tmp_path), theme=theme))
    html = rendered.html
    assert "#0b5394" in html and "#b3001b" not in html
    assert "font-family:Charter, 'Bitstream Charter', serif" in html.replace("&#39;", "'")
    assert "You get this because you joined the Insider club." in visible_text(html)
    assert "You get this because you joined the Insider club." in rendered.text
    assert "because you subscribed" not in html
    assert rendered.warnings == ()


def test_a_low_contrast_brand_colour_is_a_warning(tmp_path: Path) -> None:
    config = replace(make_config(tmp_path), theme=ThemeSettings(brand_color="#ffcc00"))
    assert any("contrast" in w for w in render_issue(make_issue(), config).warnings)


def test_issue_number_in_masthead_and_text(config: Config) -> None:
    rendered = render_issue(make_issue(), config, number=12)
    assert "Thursday, 26 November 2026 · Issue 12" in visible_text(rendered.html)
    assert "Thursday, 26 November 2026 · Issue 12" in rendered.text


# ── size budget ──────────────────────────────────────────────────────────────


def test_forty_stories_fit_the_budget_with_the_footer(config: Config) -> None:
    rendered = render_issue(big_issue(40), config)
    size = len(rendered.html.encode())
    assert 80_000 < size <= 90_000, size  # fills the budget without passing it
    text = visible_text(rendered.html)
    assert "Unsubscribe" in text and "1 Example Street" in text
    assert 'href="https://example.com/unsubscribe?list=insider&amp;u=42"' in rendered.html
    assert "Story number 0" in text and "Story number 39" not in text
    assert "more stories →" in text  # says so, linking to the web version
    (note,) = rendered.warnings
    assert re.search(r"over the 90 KB size budget .*left out the comments of \d+ stories", note)
    assert "and the last" in note
    # The text part tells the same story as the HTML it goes with.
    assert "Story number 39" not in rendered.text


def test_comments_go_before_stories_from_the_tail(config: Config) -> None:
    issue = big_issue(16)
    full = len(render_issue(issue, replace(config, theme=ThemeSettings(size_budget_kb=999))).html)
    budget = full // 1000 - 4  # a few KB short: some comments must go, no story
    rendered = render_issue(issue, replace(config, theme=ThemeSettings(size_budget_kb=budget)))
    assert len(rendered.html.encode()) <= budget * 1000
    doc = lxml.html.fromstring(rendered.html)
    assert len(doc.find_class("title")) == 16  # every headline stayed
    quoted = len(doc.find_class("comment-body"))
    assert 0 < quoted < 48
    text = visible_text(rendered.html)
    lead_part = text.split("Story number 1")[0]
    assert "A Regular Commenter" in lead_part  # the lead keeps its comments
    assert "left out the comments of" in rendered.warnings[0]
    assert "the last" not in rendered.warnings[0]


def test_an_issue_within_budget_is_untouched(rendered: RenderedIssue) -> None:
    assert rendered.warnings == ()


# ── inlining keeps what email needs ──────────────────────────────────────────


def test_inlining_keeps_dark_mode_and_outlook_selectors(rendered: RenderedIssue) -> None:
    head = rendered.html.split("<body")[0]
    assert "@media (prefers-color-scheme: dark)" in head
    assert "[data-ogsc] .card div" in head and "[data-ogsb] .card" in head
    assert '<meta name="color-scheme" content="light dark">' in head
    dark = head.split("@media (prefers-color-scheme: dark)")[1]
    assert dark.count("!important") >= 8  # inline styles only yield to !important


def test_cssutils_stays_quiet(config: Config, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        render_issue(make_issue(), config)
    assert not [r for r in caplog.records if r.name.startswith("cssutils")]


# ── text part ────────────────────────────────────────────────────────────────


def test_text_part_wraps_at_72_columns(config: Config) -> None:
    text = render_issue(big_issue(3), config).text
    long = [line for line in text.splitlines() if len(line) > 72]
    assert all(re.search(r"https?://\S{40,}", line) for line in long), long  # only long URLs
    assert "Story number 0\n==============\n" in text
    assert "Story number 1\n--------------\n" in text
    assert "\n> A Regular Commenter, 3 hours ago:\n> the quick brown fox" in text


# ── what features the email relies on (caniemail data) ───────────────────────

# Properties some major client ignores, each harmless when dropped:
COSMETIC = {
    "border-radius": "square button corners in Outlook",
    "cursor": "pointer cursor on the button",
    "max-height": "hides the preheader; mso-hide does it in Outlook",
    "opacity": "hides the preheader; mso-hide does it in Outlook",
    "overflow": "hides the preheader; mso-hide does it in Outlook",
    "word-spacing": "MJML's body reset",
}
CLIENTS = ("gmail.desktop-webmail", "gmail.android", "outlook.windows", "outlook.outlook-com")


def test_no_layout_depends_on_css_gmail_or_outlook_drop(corpus: Path, config: Config) -> None:
    matrix = corpus / "email" / "caniemail-latest-matrix.csv"
    if not matrix.is_file():
        pytest.skip(f"{matrix} not found")
    with matrix.open(encoding="utf-8") as f:
        support = {row["feature"]: row for row in csv.DictReader(f)}
    html = render_issue(big_issue(4), config).html
    doc = lxml.html.fromstring(html)
    used = {
        declaration.split(":")[0].strip().lower()
        for el in doc.iter()
        if isinstance(el.tag, str) and el.get("style")
        for declaration in el.get("style").split(";")
        if ":" in declaration
    }
    assert {"width", "padding", "font-size", "background-color"} <= used
    unsupported = {
        prop
        for prop in used
        if f"css-{prop}" in support
        and any(support[f"css-{prop}"][c].startswith("n") for c in CLIENTS)
    }
    assert unsupported <= set(COSMETIC), unsupported - set(COSMETIC)
    # What some major client drops is not used at all (the email is tables and inline CSS).
    detectors = {
        "css-display-flex": r"display:\s*flex",
        "css-display-grid": r"display:\s*grid",
        "css-position": r"position:\s*(absolute|fixed|relative)",
        "css-background-image": r"background-image|background:[^;\"]*url\(",
        "html-link": r"<link\b",
        "html-svg": r"<svg\b",
        "image-svg": r"\.svg\b",
        "image-webp": r"\.webp\b",
        "html-form": r"<form\b",
    }
    dropped = [f for f in detectors if any(support[f][c].startswith("n") for c in CLIENTS)]
    assert {"css-display-flex", "html-link"} <= set(dropped)  # the data says what it should
    for feature in dropped:
        assert not re.search(detectors[feature], html), feature
