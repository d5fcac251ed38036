"""The template environment: where templates are looked up, and the filters themes use.

The user's `templates/` folder is searched first, then the default theme;
`default/<name>` always reaches the default theme, so an override can extend
the original block by block. Filters only format: every URL a template
prints has passed `output_url`.
"""

from __future__ import annotations

import functools
import re
import textwrap
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from digest.config import Config, ThemeSettings
from digest.errors import RenderError
from digest.render.i18n import Words

_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def output_url(value: object, *extra_schemes: str) -> str:
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


def isodate(value: datetime) -> str:
    """Return "2026-11-26"."""
    return value.date().isoformat()


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
    """Return a sandboxed Jinja environment over the search path, with the theme's filters.

    Themes are someone else's code: the sandbox keeps them from reaching Python
    internals (and through them the environment, files or processes), and the
    context holds plain values only, never the config or its secrets.
    """
    return _environment(tuple(template_search_path(config)), config.newsletter.language)


@functools.lru_cache(maxsize=16)
def _environment(path: tuple[Path, ...], language: str) -> jinja2.Environment:
    # Cached: compiling the templates is most of a small render. auto_reload (on by default)
    # still picks up an edited template, which `digest preview --watch` relies on.
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(p) for p in path]
    loaders.append(jinja2.PrefixLoader({"default": jinja2.FileSystemLoader(path[-1])}))
    env = SandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,
        extensions=["jinja2.ext.i18n"],
    )
    words = Words(language)
    # {{ _("Read more →") }} and {% trans %} read the same catalog as t().
    env.install_gettext_translations(words.translations, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        safe_url=output_url,  # the filter keeps its name: themes use it
        reldate=words.reldate,
        longdate=words.longdate,
        shortdate=words.shortdate,
        isodate=isodate,
        quote=_quote,
        wrap=_wrap,
        underline=_underline,
    )
    return env
