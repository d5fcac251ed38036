"""Render an Issue: Jinja2 templates → MJML → HTML with CSS inlined, plus a text part.

Templates are looked up in the user's `templates/` folder first, then in the
default theme; `default/<name>` always reaches the default theme, so an
override can extend the original block by block. Dates and fixed words follow
`[newsletter] language` (digest/render/i18n.py); colours, fonts and the logo come
from `[theme]`; the HTML is kept under the size budget (digest/render/budget.py).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict

import jinja2

from digest.config import Config
from digest.errors import RenderError
from digest.models import Issue, RenderedIssue, Story
from digest.render.budget import fit
from digest.render.comment_context import CommentContext, comment_context
from digest.render.environment import (
    LinkRefs,
    make_environment,
    output_url,
    template_search_path,
    with_utm,
)
from digest.render.i18n import Words, aware
from digest.render.inline import inline_css, mjml_to_html
from digest.render.theme import ThemeContext, contrast, theme_context

__all__ = ["inline_css", "mjml_to_html"]  # re-exported: the render stage's two compilers

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x20\x7f]")
LEAD_MIN_WIDTH = 300
"""A picture known to be narrower is shown as a thumbnail, never stretched to the 600 px lead."""


class StoryContext(TypedDict):
    index: int  # position in the issue; 0 is the lead story
    lead: bool
    title: str
    url: str  # http(s) or "", with the UTM parameters when configured
    source: str
    author: str | None
    published: datetime | None
    image: str  # http(s) or ""
    image_alt: str  # the caption or image title; the story's title when there is none
    image_width: int | None  # the rendition's pixel size, when known
    image_height: int | None
    image_small: bool  # known to be under 300 px wide: a thumbnail, never the 600 px lead
    section: str  # `[[feeds]] section`, or ""
    section_start: bool  # the first story of its section: the heading goes above it
    summary: list[str]
    comment_count: int | None
    comments: list[CommentContext]
    comments_label: str  # "3 of 19 comments", "19 comments", or "" when there is no thread
    comments_url: str  # the thread, else the story; http(s) or ""


class IssueContext(TypedDict):
    id: str
    issue_title: str
    title: str  # the newsletter's name: masthead, subject, footer
    description: str
    language: str
    number: int | None  # the issue's number in the archive, when known
    newsletter_url: str  # http(s) or ""
    view_url: str  # the web version of this issue, http(s) or "" (needs [newsletter] url)
    unsubscribe: str  # http(s), mailto: or ""
    postal_address: str
    date: datetime  # when the issue was generated
    now: datetime  # reference for relative dates ("2 hours ago"): the same instant
    stories: list[StoryContext]
    story_count: int
    more_stories: int  # left out of this email by the size budget
    theme: ThemeContext
    t: Words  # the fixed words: {{ t("read_more") }}


@dataclass(frozen=True)
class ArchiveEntry:
    """One line of the archive page `output/index.html`."""

    id: str
    title: str
    generated_at: datetime
    story_count: int
    first_story: str | None
    first_summary: str = ""
    page: str = "web.html"  # issues built before web versions existed link to email.html

    @classmethod
    def from_issue(cls, issue: Issue) -> ArchiveEntry:
        first = issue.stories[0] if issue.stories else None
        return cls(
            issue.id,
            issue.title,
            issue.generated_at,
            len(issue.stories),
            first.title if first else None,
            " ".join(first.summary[:1]) if first else "",
        )


def _comments_label(shown: int, total: int | None, t: Words) -> str:
    if total is not None and total > shown and shown:
        return t("comments_some", shown=shown, total=total)
    count = max(shown, total or 0)
    return t.plural("comments", count) if count else ""


def _story_context(
    index: int, story: Story, config: Config, issue_id: str, t: Words, previous: Story | None
) -> StoryContext:
    picture = story.picture if story.picture and story.picture.url == story.image else None
    width = picture.width if picture else None
    return StoryContext(
        index=index,
        lead=index == 0,
        title=story.title,
        url=with_utm(output_url(story.url), config.theme, issue_id),
        source=story.source,
        author=story.author,
        published=story.published,
        image=output_url(story.image),
        image_alt=(picture.alt if picture else "") or story.title,
        image_width=width,
        image_height=picture.height if picture and width else None,
        image_small=width is not None and width < LEAD_MIN_WIDTH,
        section=story.section,
        section_start=bool(story.section)
        and (previous is None or previous.section != story.section),
        summary=list(story.summary),
        comment_count=story.comment_count,
        comments=[comment_context(c, output_url(c.url)) for c in story.comments],
        comments_label=_comments_label(len(story.comments), story.comment_count, t),
        comments_url=output_url(story.comments_url) or output_url(story.url),
    )


def web_url(config: Config, issue_id: str) -> str:
    """Return the public address of an issue's web version, or "" without [newsletter] url."""
    base = output_url(config.newsletter.url)
    if not base:
        return ""
    return f"{base.rstrip('/')}/{issue_id}/web.html"


def issue_context(
    issue: Issue, config: Config, number: int | None = None, more_stories: int = 0
) -> IssueContext:
    """Return what the templates see: plain values, every URL already checked."""
    settings = config.newsletter
    t = Words(settings.language)
    return IssueContext(
        id=issue.id,
        issue_title=issue.title,
        title=settings.title or issue.title,
        description=settings.description,
        language=settings.language or "en",
        number=number,
        newsletter_url=output_url(settings.url),
        view_url=web_url(config, issue.id),
        unsubscribe=output_url(config.unsubscribe_url, "mailto"),
        postal_address=settings.postal_address,
        date=issue.generated_at,
        now=issue.generated_at,
        stories=[
            _story_context(i, s, config, issue.id, t, issue.stories[i - 1] if i else None)
            for i, s in enumerate(issue.stories)
        ],
        story_count=len(issue.stories),
        more_stories=more_stories,
        theme=theme_context(config.theme, output_url(config.theme.logo_url)),
        t=t,
    )


def _display(filename: str | None, config: Config) -> str:
    if not filename:
        return "<template>"
    path = Path(filename)
    for root in (config.base_dir, Path.cwd()):
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            continue
    return str(path)


def _render(env: jinja2.Environment, name: str, context: Any, config: Config) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as e:
        where = _display(e.filename or e.name, config)
        raise RenderError(f"{where}, line {e.lineno}: {e.message}") from e
    except Exception as e:  # templates are user code: any failure gets its file and line
        # Jinja rewrites the traceback so that template frames carry the file and line.
        frames = [
            (f.f_code.co_filename, line)
            for f, line in traceback.walk_tb(e.__traceback__)
            if "__jinja_exception__" in f.f_globals
        ]
        where = f"{_display(frames[-1][0], config)}, line {frames[-1][1]}" if frames else name
        if isinstance(e, jinja2.TemplateNotFound):
            message = f"template not found: {e.name} (looked in {_search(config)})"
        elif isinstance(e, jinja2.TemplateError):
            message = e.message or type(e).__name__
        else:
            message = f"{type(e).__name__}: {e}"
        raise RenderError(f"{where}: {message}") from e


def _search(config: Config) -> str:
    return ", ".join(str(p) for p in template_search_path(config))


def speaking(issue: Issue, config: Config) -> Config:
    """`config` with the language this issue's own words are in ("auto": its stories')."""
    if config.newsletter.language != "auto":
        return config
    newsletter = replace(config.newsletter, language=issue.language or "en")
    return replace(config, newsletter=newsletter)


def render_issue(issue: Issue, config: Config, number: int | None = None) -> RenderedIssue:
    """Return the issue's subject, HTML body (CSS inlined, within budget) and text part."""
    config = speaking(issue, config)
    env = make_environment(config)
    context = issue_context(issue, config, number)
    subject = " ".join(_render(env, "subject.txt.j2", context, config).split())

    def compiled(version: Issue) -> str:
        more = len(issue.stories) - len(version.stories)
        source = _render(
            env, "digest.mjml.j2", issue_context(version, config, number, more), config
        )
        return mjml_to_html(source)

    fitted = fit(
        issue,
        lambda version: inline_css(compiled(version)),
        config.theme.size_budget_kb * 1000,
        estimate=lambda version: len(compiled(version).encode()),  # inlining is the slow part
    )
    warnings = list(fitted.notes)
    theme = context["theme"]
    if contrast(theme["brand"], "#ffffff") < 4.5 or contrast(theme["text"], "#ffffff") < 4.5:
        warnings.append("[theme] colours read poorly on white (contrast under 4.5:1)")
    text_context = issue_context(
        fitted.issue, config, number, len(issue.stories) - len(fitted.issue.stories)
    )
    text = _render(env, "digest.txt.j2", {**text_context, "ref": LinkRefs()}, config)
    return RenderedIssue(
        subject=subject, html=fitted.html, text=text.strip() + "\n", warnings=tuple(warnings)
    )


def render_web(issue: Issue, config: Config, number: int | None = None) -> str:
    """Return the issue's web version: the whole issue as a plain page (no budget)."""
    config = speaking(issue, config)
    env = make_environment(config)
    return _render(env, "web.html.j2", issue_context(issue, config, number), config)


def render_archive(issues: Sequence[ArchiveEntry], config: Config) -> str:
    """Return `output/index.html`: every issue, newest first."""
    env = make_environment(config)
    entries = sorted(issues, key=lambda e: aware(e.generated_at), reverse=True)
    context = {
        "title": config.newsletter.title,
        "description": config.newsletter.description,
        "language": config.newsletter.fixed_language,
        "newsletter_url": output_url(config.newsletter.url),
        "issues": entries,
        "theme": theme_context(config.theme, output_url(config.theme.logo_url)),
        "t": Words(config.newsletter.fixed_language),
    }
    return _render(env, "archive.html.j2", context, config)
