"""Render an Issue: Jinja2 templates → MJML → HTML with CSS inlined, plus a text part.

Templates are looked up in the user's `templates/` folder first, then in the
default theme; `default/<name>` always reaches the default theme, so an
override can extend the original block by block. Dates and fixed words follow
`[newsletter] language` (digest/render/i18n.py); colours, fonts and the logo come
from `[theme]`; the HTML is kept under the size budget (digest/render/budget.py).
"""

from __future__ import annotations

import functools
import logging
import re
import textwrap
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jinja2

from digest.config import Config, ThemeSettings
from digest.errors import RenderError
from digest.models import Comment, Issue, RenderedIssue, Story
from digest.render.budget import fit
from digest.render.i18n import Words, aware
from digest.render.inline import inline_css, mjml_to_html
from digest.render.theme import ThemeContext, contrast, theme_context

__all__ = ["inline_css", "mjml_to_html"]  # re-exported: the render stage's two compilers

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class CommentContext(TypedDict):
    author: str
    paragraphs: list[str]  # the text split at blank lines
    url: str  # http(s) or ""
    published: datetime | None
    by_author: bool  # the story's author or the discussion's submitter


class StoryContext(TypedDict):
    index: int  # position in the issue; 0 is the lead story
    lead: bool
    title: str
    url: str  # http(s) or "", with the UTM parameters when configured
    source: str
    author: str | None
    published: datetime | None
    image: str  # http(s) or ""
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


def safe_url(value: object, *extra_schemes: str) -> str:
    """Return `value` when it is an absolute http(s) URL (or an extra scheme), else ""."""
    if not isinstance(value, str):
        return ""
    url = value.strip().replace(" ", "%20")
    if not url or _CONTROL.search(url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme in ("http", "https") and parts.netloc:
        return url
    if parts.scheme in extra_schemes and (parts.path or parts.netloc):
        return url
    return ""


def with_utm(url: str, theme: ThemeSettings, issue_id: str) -> str:
    """Return `url` carrying the configured utm_* parameters (replacing any it had)."""
    if not url or not theme.utm_source:
        return url
    parts = urlsplit(url)
    tags = {
        "utm_source": theme.utm_source,
        "utm_medium": theme.utm_medium,
        "utm_campaign": theme.utm_campaign or issue_id,
    }
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in tags]
    query += [(k, v) for k, v in tags.items() if v]
    return urlunsplit(parts._replace(query=urlencode(query)))


_ENGLISH = Words("en")


def longdate(value: datetime) -> str:
    """Return "Thursday, 26 November 2026" (the filter follows the newsletter's language)."""
    return _ENGLISH.longdate(value)


def shortdate(value: datetime | None) -> str:
    """Return "26 Nov 2026", or "" for no date."""
    return _ENGLISH.shortdate(value)


def isodate(value: datetime) -> str:
    """Return "2026-11-26"."""
    return value.date().isoformat()


def reldate(value: datetime | None, now: datetime) -> str:
    """Return "just now", "12 minutes ago", "3 days ago", or a date when older than a month."""
    return _ENGLISH.reldate(value, now)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines())


def _underline(title: str, char: str) -> str:
    """Return the title wrapped at 72 columns, underlined as long as its longest line."""
    lines = _wrap(title, 72).splitlines() or [""]
    return "\n".join([*lines, char * max(len(line) for line in lines)])


def _wrap(text: str, width: int = 72) -> str:
    return textwrap.fill(" ".join(text.split()), width, break_long_words=False)


class LinkRefs:
    """Numbers the links of the text part: `{{ ref(url) }}` → "[3]", listed at the end."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> str:
        if url not in self.urls:
            self.urls.append(url)
        return f"[{self.urls.index(url) + 1}]"


def default_theme_dir() -> Path:
    """Return the default theme: inside the installed package, else in the repository."""
    package = Path(__file__).resolve().parent.parent
    candidates = (
        package / "templates" / "default",
        package.parent / "templates" / "default",
    )
    for candidate in candidates:
        if (candidate / "digest.mjml.j2").is_file():
            return candidate
    raise RenderError(
        f"default theme not found (looked in {', '.join(map(str, candidates))}); reinstall digest"
    )


def template_search_path(config: Config) -> list[Path]:
    """Return the folders searched for templates, the user's overrides first."""
    user = config.templates_dir
    return ([user] if user.is_dir() else []) + [default_theme_dir()]


def _autoescape(name: str | None) -> bool:
    # Escape everything except the plain-text templates: a new kind of file is safe by default.
    return not (name or "").endswith(".txt.j2")


def make_environment(config: Config) -> jinja2.Environment:
    """Return a Jinja environment over the search path, with the theme's filters."""
    return _environment(tuple(template_search_path(config)), config.newsletter.language)


@functools.lru_cache(maxsize=16)
def _environment(path: tuple[Path, ...], language: str) -> jinja2.Environment:
    # Cached: compiling the templates is most of a small render. auto_reload (on by default)
    # still picks up an edited template, which `digest preview --watch` relies on.
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(p) for p in path]
    loaders.append(jinja2.PrefixLoader({"default": jinja2.FileSystemLoader(path[-1])}))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,
    )
    words = Words(language)
    env.filters.update(
        safe_url=safe_url,
        reldate=words.reldate,
        longdate=words.longdate,
        shortdate=words.shortdate,
        isodate=isodate,
        quote=_quote,
        wrap=_wrap,
        underline=_underline,
    )
    return env


def _comments_label(shown: int, total: int | None, t: Words) -> str:
    if total is not None and total > shown and shown:
        return t("comments_some", shown=shown, total=total)
    count = max(shown, total or 0)
    return t.plural("comments", count) if count else ""


def _comment_context(comment: Comment) -> CommentContext:
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", comment.text)]
    return CommentContext(
        author=comment.author,
        paragraphs=[p for p in paragraphs if p],
        url=safe_url(comment.url),
        published=comment.published,
        by_author=comment.by_author,
    )


def _story_context(
    index: int, story: Story, config: Config, issue_id: str, t: Words
) -> StoryContext:
    return StoryContext(
        index=index,
        lead=index == 0,
        title=story.title,
        url=with_utm(safe_url(story.url), config.theme, issue_id),
        source=story.source,
        author=story.author,
        published=story.published,
        image=safe_url(story.image),
        summary=list(story.summary),
        comment_count=story.comment_count,
        comments=[_comment_context(c) for c in story.comments],
        comments_label=_comments_label(len(story.comments), story.comment_count, t),
        comments_url=safe_url(story.comments_url) or safe_url(story.url),
    )


def web_url(config: Config, issue_id: str) -> str:
    """Return the public address of an issue's web version, or "" without [newsletter] url."""
    base = safe_url(config.newsletter.url)
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
        newsletter_url=safe_url(settings.url),
        view_url=web_url(config, issue.id),
        unsubscribe=safe_url(config.unsubscribe_url, "mailto"),
        postal_address=settings.postal_address,
        date=issue.generated_at,
        now=issue.generated_at,
        stories=[_story_context(i, s, config, issue.id, t) for i, s in enumerate(issue.stories)],
        story_count=len(issue.stories),
        more_stories=more_stories,
        theme=theme_context(config.theme, safe_url(config.theme.logo_url)),
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


def render_issue(issue: Issue, config: Config, number: int | None = None) -> RenderedIssue:
    """Return the issue's subject, HTML body (CSS inlined, within budget) and text part."""
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
    env = make_environment(config)
    return _render(env, "web.html.j2", issue_context(issue, config, number), config)


def render_archive(issues: Sequence[ArchiveEntry], config: Config) -> str:
    """Return `output/index.html`: every issue, newest first."""
    env = make_environment(config)
    entries = sorted(issues, key=lambda e: aware(e.generated_at), reverse=True)
    context = {
        "title": config.newsletter.title,
        "description": config.newsletter.description,
        "language": config.newsletter.language or "en",
        "newsletter_url": safe_url(config.newsletter.url),
        "issues": entries,
        "theme": theme_context(config.theme, safe_url(config.theme.logo_url)),
        "t": Words(config.newsletter.language),
    }
    return _render(env, "archive.html.j2", context, config)
