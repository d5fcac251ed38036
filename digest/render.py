"""Render an Issue: Jinja2 templates → MJML → HTML with CSS inlined, plus a text part.

Templates are looked up in the user's `templates/` folder first, then in the
default theme; `default/<name>` always reaches the default theme, so an
override can extend the original block by block.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

import jinja2
import mjml
from premailer import Premailer

from digest.config import Config
from digest.errors import RenderError
from digest.models import Comment, Issue, RenderedIssue, Story

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class CommentContext(TypedDict):
    author: str
    paragraphs: list[str]  # the text split at blank lines
    url: str  # http(s) or ""
    published: datetime | None


class StoryContext(TypedDict):
    index: int  # position in the issue; 0 is the lead story
    lead: bool
    title: str
    url: str  # http(s) or ""
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
    newsletter_url: str  # http(s) or ""
    unsubscribe: str  # http(s), mailto: or ""
    postal_address: str
    date: datetime  # when the issue was generated
    now: datetime  # reference for relative dates ("2 h ago"): the same instant
    stories: list[StoryContext]
    story_count: int


@dataclass(frozen=True)
class ArchiveEntry:
    """One line of the archive page `output/index.html`."""

    id: str
    title: str
    generated_at: datetime
    story_count: int
    first_story: str | None

    @classmethod
    def from_issue(cls, issue: Issue) -> ArchiveEntry:
        first = issue.stories[0].title if issue.stories else None
        return cls(issue.id, issue.title, issue.generated_at, len(issue.stories), first)


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


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def longdate(value: datetime) -> str:
    """Return "Thursday, 26 November 2026" (English: Python never sets LC_TIME itself)."""
    return f"{value:%A}, {value.day} {value:%B} {value.year}"


def shortdate(value: datetime | None) -> str:
    """Return "26 Nov 2026", or "" for no date."""
    return f"{value.day} {value:%b} {value.year}" if value else ""


def isodate(value: datetime) -> str:
    """Return "2026-11-26"."""
    return value.date().isoformat()


def reldate(value: datetime | None, now: datetime) -> str:
    """Return "just now", "12 min ago", "2 h ago", "3 days ago", or a date when older."""
    if value is None:
        return ""
    seconds = (_aware(now) - _aware(value)).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    if days < 31:
        return "1 day ago" if days == 1 else f"{days} days ago"
    return shortdate(value)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines())


def default_theme_dir() -> Path:
    """Return the default theme: inside the installed package, else in the repository."""
    here = Path(__file__).resolve().parent
    candidates = (here / "templates" / "default", here.parent / "templates" / "default")
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
    path = template_search_path(config)
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(p) for p in path]
    loaders.append(jinja2.PrefixLoader({"default": jinja2.FileSystemLoader(path[-1])}))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        safe_url=safe_url,
        reldate=reldate,
        longdate=longdate,
        shortdate=shortdate,
        isodate=isodate,
        quote=_quote,
    )
    return env


def _comments_label(shown: int, total: int | None) -> str:
    if total is not None and total > shown and shown:
        return f"{shown} of {total} comments"
    count = max(shown, total or 0)
    if not count:
        return ""
    return "1 comment" if count == 1 else f"{count} comments"


def _comment_context(comment: Comment) -> CommentContext:
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", comment.text)]
    return CommentContext(
        author=comment.author,
        paragraphs=[p for p in paragraphs if p],
        url=safe_url(comment.url),
        published=comment.published,
    )


def _story_context(index: int, story: Story) -> StoryContext:
    return StoryContext(
        index=index,
        lead=index == 0,
        title=story.title,
        url=safe_url(story.url),
        source=story.source,
        author=story.author,
        published=story.published,
        image=safe_url(story.image),
        summary=list(story.summary),
        comment_count=story.comment_count,
        comments=[_comment_context(c) for c in story.comments],
        comments_label=_comments_label(len(story.comments), story.comment_count),
        comments_url=safe_url(story.comments_url) or safe_url(story.url),
    )


def issue_context(issue: Issue, config: Config) -> IssueContext:
    """Return what the templates see: plain values, every URL already checked."""
    settings = config.newsletter
    return IssueContext(
        id=issue.id,
        issue_title=issue.title,
        title=settings.title or issue.title,
        description=settings.description,
        language=settings.language or "en",
        newsletter_url=safe_url(settings.url),
        unsubscribe=safe_url(settings.unsubscribe, "mailto"),
        postal_address=settings.postal_address,
        date=issue.generated_at,
        now=issue.generated_at,
        stories=[_story_context(i, s) for i, s in enumerate(issue.stories)],
        story_count=len(issue.stories),
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


def _tidy_head(match: re.Match[str]) -> str:
    return re.sub(r">\s+<", ">\n<", match.group(0))


def mjml_to_html(source: str) -> str:
    """Compile MJML to HTML, without remote fonts."""
    # mrml rejects whitespace between <mj-head> children unless it starts with a newline.
    source = re.sub(r"<mj-head>.*?</mj-head>", _tidy_head, source, count=1, flags=re.S)
    try:
        return str(mjml.mjml2html(source, fonts={}))
    except ValueError as e:
        where = ""
        position = re.search(r"position (\d+)", str(e))
        if position:  # a byte offset into the templated MJML
            before = source.encode()[: int(position.group(1))].decode(errors="replace")
            line = before.count("\n") + 1
            where = f", MJML line {line}: {source.splitlines()[line - 1].strip()[:80]!r}"
        raise RenderError(f"digest.mjml.j2: invalid MJML after templating{where}: {e}") from e


def inline_css(html: str) -> str:
    """Copy the theme's CSS into style attributes, keeping <style> and conditional comments."""
    # premailer keeps the doctype only when it matches lxml's spelling exactly.
    html = re.sub(r"^\s*<!doctype html>", "<!DOCTYPE html>", html, count=1, flags=re.I)
    # mjml's reset rules stay in <head>: inlined into every table cell they add ~20 KB.
    ignored = '<style type="text/css" data-premailer="ignore">'
    html = re.sub(r'<style type="text/css">(?=\s*#outlook a)', ignored, html, count=1)
    premailer = Premailer(
        html,
        keep_style_tags=True,
        strip_important=False,
        remove_classes=False,
        disable_validation=True,
        allow_network=False,
        cssutils_logging_level=logging.CRITICAL,
    )
    return str(premailer.transform())


def render_issue(issue: Issue, config: Config) -> RenderedIssue:
    """Return the issue's subject, HTML body (CSS inlined) and plain-text part."""
    env = make_environment(config)
    context = issue_context(issue, config)
    subject = " ".join(_render(env, "subject.txt.j2", context, config).split())
    source = _render(env, "digest.mjml.j2", context, config)
    html = inline_css(mjml_to_html(source))
    text = _render(env, "digest.txt.j2", context, config).strip() + "\n"
    return RenderedIssue(subject=subject, html=html, text=text)


def render_archive(issues: Sequence[ArchiveEntry], config: Config) -> str:
    """Return `output/index.html`: every issue, newest first."""
    env = make_environment(config)
    entries = sorted(issues, key=lambda e: _aware(e.generated_at), reverse=True)
    context = {
        "title": config.newsletter.title,
        "description": config.newsletter.description,
        "language": config.newsletter.language or "en",
        "newsletter_url": safe_url(config.newsletter.url),
        "issues": entries,
    }
    return _render(env, "archive.html.j2", context, config)
