"""The reader pages, rendered by the theme's Jinja environment (templates/default/pages/).

They share the web version's stylesheet and the newsletter's name, colours
and footer, so an overridden theme restyles the app as well.
"""

from __future__ import annotations

from typing import Any, TypedDict

import jinja2
from starlette.background import BackgroundTask
from starlette.responses import Response

from digest.config import Config
from digest.errors import RenderError
from digest.render.environment import make_environment, output_url
from digest.render.i18n import Words
from digest.render.theme import ThemeContext, theme_context

HTML = "text/html; charset=utf-8"
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src * data:;"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a token in the address must not leak to other sites
}


class PageContext(TypedDict):
    title: str  # the newsletter's name
    description: str
    language: str
    postal_address: str
    root: str  # the app's own address, ending in "/" ("/" when base_url is unset)
    theme: ThemeContext
    t: Words


class Pages:
    """Renders `pages/<name>.html.j2` with the shared context plus the page's own values."""

    def __init__(self, config: Config) -> None:
        self.config = config
        settings = config.newsletter
        root = config.server.base_url.rstrip("/") + "/" if config.server.base_url else "/"
        self.base = PageContext(
            title=settings.title,
            description=settings.description,
            language=config.newsletter.fixed_language,
            postal_address=settings.postal_address,
            root=root,
            theme=theme_context(config.theme, output_url(config.theme.logo_url)),
            t=Words(config.newsletter.fixed_language),
        )
        self.env = make_environment(config)

    def render(self, name: str, heading: str, /, **values: Any) -> str:
        context = {**self.base, "heading": heading, **values}
        try:
            return self.env.get_template(f"pages/{name}.html.j2").render(context)
        except jinja2.TemplateError as e:  # an overridden page is user code: say which
            raise RenderError(f"pages/{name}.html.j2: {e.message or type(e).__name__}") from e

    def url(self, path: str) -> str:
        """An absolute link when base_url is set (mails, forms), else a root-relative one."""
        return self.base["root"] + path.lstrip("/")


def respond(
    body: bytes,
    status: int = 200,
    *,
    media: str = HTML,
    cache: str = "no-store",
    extra: dict[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> Response:
    headers = {**_HEADERS, "Cache-Control": cache, **(extra or {})}
    return Response(body, status, headers=headers, media_type=media, background=background)
