"""The Starlette app behind `digest serve`: the archive, and the reader's own pages.

GET / (the archive), /<issue-id>/ (an issue's web version) and /feed.xml
serve what `digest build` wrote. /subscribe, /confirm/<token>,
/unsubscribe/<token> and /preferences/<token> change the list: every change
is a POST, and every GET of a link only shows a button, so a mail scanner
following links changes nothing. A token is the reader's proof; no cookie
or login is needed but the subscribe form's CSRF cookie.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.config import Config
from digest.errors import ExpiredTokenError, SubscriberError
from digest.mail import subscribers
from digest.mail.confirm import send_confirmation, send_welcome
from digest.mail.subscribers import ACTIVE, PENDING, UNSUBSCRIBED
from digest.mail.variants import sources
from digest.models import Subscriber
from digest.serve import forms
from digest.serve.pages import Pages, respond
from digest.store import State

logger = logging.getLogger(__name__)
T = TypeVar("T")

_ISSUE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ASSET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class ReaderApp:
    """The routes; the state file is used from one thread of its own (see `db`)."""

    def __init__(self, config: Config, secret: bytes, clock: Callable[[], float]) -> None:
        self.config, self.secret, self.clock = config, secret, clock
        self.output = config.output_dir
        self.pages = Pages(config)
        self._state: State | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-state")
        self._files: dict[Path, tuple[int, bytes]] = {}
        self._sources: tuple[float, list[str]] = (0.0, [])
        # One answer, byte for byte, whoever the address belongs to.
        self.check_inbox = self.pages.render(
            "message",
            "Check your inbox",
            message="If that address can be subscribed, a mail with a confirmation link is on"
            " its way. Nothing else will arrive until you press the button it leads to.",
            link="",
            link_text="",
        )

    async def db(self, work: Callable[[State], T]) -> T:
        """Run `work` on the state file in its own thread: a commit waits for fsync (100 ms
        on a busy disk), and the event loop must keep serving everyone else meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._with_state, work)

    def _with_state(self, work: Callable[[State], T]) -> T:
        if self._state is None:  # opened in the thread that will use it (sqlite3's rule)
            self._state = State(self.config.state_target)
        return work(self._state)

    @asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        await self.db(lambda state: None)  # the state file opens (and migrates) before serving
        try:
            yield
        finally:
            await self.db(lambda state: state.close())
            self._state = None

    def routes(self) -> list[Route]:
        return [
            Route("/", self.archive),
            Route("/index.html", self.archive),
            Route("/feed.xml", self.feed),
            Route("/subscribe", self.subscribe, methods=["GET", "POST"]),
            Route("/confirm/{token}", self.confirm, methods=["GET", "POST"]),
            Route("/unsubscribe/{token}", self.unsubscribe, methods=["GET", "POST"]),
            Route("/preferences/{token}", self.preferences, methods=["GET", "POST"]),
            Route("/{issue}/", self.issue),
            Route("/{issue}/{name}", self.issue),
            Route("/{issue}/images/{name}", self.image),
        ]

    # Published files ---------------------------------------------------------------

    def _file(self, path: Path) -> bytes:
        """A file of output/, kept in memory until it changes on disk."""
        try:
            mtime = path.stat().st_mtime_ns
            cached = self._files.get(path)
            if cached is None or cached[0] != mtime:
                cached = (mtime, path.read_bytes())
                if len(self._files) > 512:
                    self._files.clear()
                self._files[path] = cached
            return cached[1]
        except OSError:
            raise HTTPException(404) from None

    async def archive(self, request: Request) -> Response:
        return respond(self._file(self.output / "index.html"), cache="public, max-age=60")

    async def feed(self, request: Request) -> Response:
        body = self._file(self.output / "feed.xml")
        return respond(body, media="application/atom+xml", cache="public, max-age=300")

    async def issue(self, request: Request) -> Response:
        issue = request.path_params["issue"]
        name = request.path_params.get("name", "web.html")
        if not _ISSUE_ID.fullmatch(issue) or name not in ("web.html", "email.html"):
            raise HTTPException(404)
        folder = self.output / issue
        if name == "web.html" and not (folder / name).is_file():
            name = "email.html"  # issues built before web versions existed
        return respond(self._file(folder / name), cache="public, max-age=300")

    async def image(self, request: Request) -> Response:
        issue, name = request.path_params["issue"], request.path_params["name"]
        if not _ISSUE_ID.fullmatch(issue) or not _ASSET.fullmatch(name):
            raise HTTPException(404)
        media = {"png": "image/png", "gif": "image/gif", "webp": "image/webp"}
        kind = media.get(name.rpartition(".")[2].lower(), "image/jpeg")
        body = self._file(self.output / issue / "images" / name)
        return respond(body, media=kind, cache="public, max-age=86400")

    # Subscribing ---------------------------------------------------------------------

    def offered(self) -> list[str]:
        """The sources readers can pick, read again at most once a minute."""
        at, found = self._sources
        if self.clock() - at > 60:
            found = sources(self.config, self.output)
            self._sources = (self.clock(), found)
        return found

    def _form_page(self, nonce: str, error: str = "", **values: Any) -> str:
        return self.pages.render(
            "subscribe",
            "Subscribe",
            csrf=forms.csrf_token(self.secret, nonce, self.clock()),
            error=error,
            email=values.get("email", ""),
            name=values.get("name", ""),
            sources=self.offered(),
            chosen=values.get("chosen", ()),
            cadence=values.get("cadence", "issue"),
        )

    async def subscribe(self, request: Request) -> Response:
        nonce = request.cookies.get(forms.CSRF_COOKIE)
        if request.method == "GET":
            if nonce is None or len(nonce) > 64:
                nonce = forms.new_nonce()
            response = respond(self._form_page(nonce).encode())
            self._set_nonce(response, nonce)  # again: the cookie lives as long as the form
            return response
        client = request.client.host if request.client else "unknown"
        per_ip = self.config.server.subscribe_per_ip
        if not await self.db(lambda state: state.hit("subscribe ip", client, per_ip, 3600)):
            page = self.pages.render(
                "message",
                "Too many requests",
                message="Too many sign-ups came from your network. Please try again in an hour.",
                link="",
                link_text="",
            )
            return respond(page.encode(), 429, extra={"Retry-After": "3600"})
        values = await forms.read_form(request)
        form = forms.subscribe_form(values, self.offered())
        if not forms.csrf_ok(self.secret, nonce, form.csrf, self.clock()):
            nonce = forms.new_nonce()
            page = self._form_page(
                nonce, "This form had expired. Please send it again.", email=form.email
            )
            response = respond(page.encode(), 400)
            self._set_nonce(response, nonce)
            return response
        if form.trapped:
            logger.info("subscribe: honeypot filled; nothing done")
            return respond(self.check_inbox.encode())
        try:
            subscriber, mail = await self.db(
                lambda state: subscribers.request(state, form.email, form.name, form.preferences)
            )
        except SubscriberError:
            page = self._form_page(
                nonce or forms.new_nonce(),
                "That does not look like an email address.",
                email=form.email,
                name=form.name,
                chosen=form.preferences.sources,
                cadence=form.preferences.cadence,
            )
            return respond(page.encode(), 400)
        task = None
        per_address = self.config.server.subscribe_per_address
        address = subscriber.email.lower()
        if mail and await self.db(
            lambda state: state.hit("confirm mail", address, per_address, 86_400)
        ):
            token = subscribers.confirm_token(
                self.secret, subscriber, self.clock(), self.config.server.confirm_hours
            )
            link = self.pages.url(f"confirm/{token}")
            task = BackgroundTask(send_confirmation, self.config, subscriber, link)
        return respond(self.check_inbox.encode(), background=task)

    def _set_nonce(self, response: Response, nonce: str) -> None:
        response.set_cookie(
            forms.CSRF_COOKIE,
            nonce,
            max_age=forms.CSRF_MAX_AGE,
            path=urlsplit(self.pages.url("subscribe")).path,  # under base_url's own path
            secure=self.config.server.base_url.startswith("https:"),
            httponly=True,
            samesite="strict",
        )

    async def confirm(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            now = self.clock()
            subscriber = await self.db(
                lambda state: subscribers.check_confirm_token(state, self.secret, token, now)
            )
        except ExpiredTokenError:
            return self._message(
                410,
                "This link has expired",
                "Confirmation links work for a limited time. Subscribe again to get a new one.",
                link=self.pages.url("subscribe"),
                link_text="Subscribe again",
            )
        except SubscriberError:
            return self._invalid()
        if request.method == "GET":
            page = self.pages.render(
                "button",
                "Confirm your subscription",
                message=f"Press the button to start receiving {self.config.newsletter.title}.",
                action=self.pages.url(f"confirm/{token}"),
                button="Confirm my subscription",
                preferences_url="",
            )
            return respond(page.encode())
        await forms.read_form(request)  # read and drop the body
        await self.db(lambda state: subscribers.confirm(state, subscriber))
        task = None
        if self.config.server.welcome:
            task = BackgroundTask(send_welcome, self.config, subscriber.id)
        return self._message(
            200,
            "You are subscribed",
            "Thank you for confirming. Every mail has a link to change what you get or to leave.",
            link=self._reader_url("preferences", subscriber),
            link_text="Choose your sources and how often",
            background=task,
        )

    # The reader's own pages -------------------------------------------------------

    async def _reader(self, token: str) -> Subscriber | None:
        def check(state: State) -> Subscriber | None:
            try:
                return subscribers.check_token(state, self.secret, token)
            except SubscriberError:
                return None

        return await self.db(check)

    def _reader_url(self, page: str, subscriber: Subscriber) -> str:
        return self.pages.url(
            f"{page}/{subscribers.make_token(self.secret, subscriber.id, subscriber.email)}"
        )

    async def unsubscribe(self, request: Request) -> Response:
        subscriber = await self._reader(request.path_params["token"])
        if subscriber is None:
            return self._invalid()
        if request.method == "GET":
            page = self.pages.render(
                "button",
                "Unsubscribe",
                message=f"Press the button and {subscriber.email} will get no more mail from"
                f" {self.config.newsletter.title}.",
                action=self._reader_url("unsubscribe", subscriber),
                button="Unsubscribe",
                preferences_url=self._reader_url("preferences", subscriber),
            )
            return respond(page.encode())
        values = await forms.read_form(request, strict=False)
        one_click = values.get("List-Unsubscribe") == ["One-Click"]
        cause = "one-click unsubscribe (RFC 8058)" if one_click else "unsubscribed on the web"

        def leave(state: State) -> None:
            with state.transaction():
                current = state.subscriber(subscriber.id)
                if current is not None and current.status in (ACTIVE, PENDING):
                    state.set_status(subscriber.id, UNSUBSCRIBED, cause)

        await self.db(leave)
        logger.info("subscriber #%d: %s", subscriber.id, cause)
        return self._message(
            200,
            "You are unsubscribed",
            f"{subscriber.email} will get no more mail from {self.config.newsletter.title}.",
        )

    async def preferences(self, request: Request) -> Response:
        subscriber = await self._reader(request.path_params["token"])
        if subscriber is None:
            return self._invalid()
        saved = False
        if request.method == "POST":
            values = await forms.read_form(request)
            chosen = forms.choices(values, self.offered())
            name = " ".join(forms.field(values, "name").split())[:100]
            number = subscriber.id

            def save(state: State) -> Subscriber | None:
                state.update_subscriber(number, name, chosen.to_json())
                return state.subscriber(number)

            subscriber = await self.db(save) or subscriber
            saved = True
        page = self.pages.render(
            "preferences",
            "Your preferences",
            saved=saved,
            email=subscriber.email,
            name=subscriber.name,
            action=self._reader_url("preferences", subscriber),
            unsubscribe_url=self._reader_url("unsubscribe", subscriber),
            sources=self.offered(),
            chosen=subscriber.preferences.sources,
            cadence=subscriber.preferences.cadence,
        )
        return respond(page.encode())

    def _invalid(self) -> Response:
        return self._message(
            404,
            "This link is not valid",
            "It may have been cut short by your mail program, or it was used already.",
            link=self.pages.url("subscribe"),
            link_text="Go to the subscribe page",
        )

    def _message(
        self,
        status: int,
        heading: str,
        message: str,
        link: str = "",
        link_text: str = "",
        background: BackgroundTask | None = None,
    ) -> Response:
        page = self.pages.render(
            "message", heading, message=message, link=link, link_text=link_text
        )
        return respond(page.encode(), status, background=background)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        heading = "Not found" if status == 404 else "Not allowed"
        return self._message(status, heading, "There is nothing at this address.")


def create_app(config: Config, *, clock: Callable[[], float] = time.time) -> Starlette:
    """The ASGI app for `config` (ConfigError when the token secret is not set)."""
    reader = ReaderApp(config, subscribers.token_secret(config), clock)
    app = Starlette(
        routes=reader.routes(),
        lifespan=reader.lifespan,
        exception_handlers={404: reader.not_found, 405: reader.not_found, 413: reader.not_found},
    )
    app.state.reader = reader
    return app
