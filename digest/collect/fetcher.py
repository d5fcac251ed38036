"""Fetch bytes over HTTP (or from disk) for one build: politely, concurrently, within limits.

Feeds, pages and comment threads come from servers we do not control, so every
fetch is bounded in time (the whole request, body included) and in size
(decoded bytes, so a gzip bomb is cut off early), and every failure becomes a
one-line `FetchError` that costs only that URL.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import socket
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

import digest
from digest.collect.policy import FetchPolicy, FoundIn, Guard, peer_address
from digest.config import FetchSettings
from digest.errors import FetchError
from digest.models import Fetched, Validators

logger = logging.getLogger(__name__)

USER_AGENT = (
    f"digest/{digest.__version__} "
    "(+https://github.com/digest-newsletter/digest; newsletter digest generator)"
)
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.8"
# httpx decodes br only when a brotli binding is importable: never advertise what we can't read.
ACCEPT_ENCODING = (
    "gzip, deflate, br"
    if any(importlib.util.find_spec(m) for m in ("brotli", "brotlicffi"))
    else "gzip, deflate"
)
_HTTP2 = importlib.util.find_spec("h2") is not None
RETRY_AFTER_CAP = 10.0
"""Longest Retry-After (seconds) honoured before the single retry of a 429 or 503."""
_RETRY_STATUSES = frozenset({429, 503})


class Fetcher:
    """Async HTTP client shared by every fetch of one build."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.base_dir = base_dir if base_dir is not None else Path.cwd()
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._guard: Guard | None = None
        self._tls: ssl.SSLContext | None = None
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[tuple[str, str, int | None], asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        # One TLS context (loading the CA bundle takes a while) for every client of the build.
        self._tls = httpx.create_ssl_context() if self._transport is None else None
        self._client = self._new_client(self._transport)
        # ── fetch policy hook: URLs found in content go through guarded clients.
        # A transport given by the caller (the offline demo) has no network to guard.
        if self._transport is None:
            policy = FetchPolicy.from_settings(self.settings.allow_private)
            self._guard = Guard(policy, self._new_client, http2=_HTTP2, tls=self._tls)
        return self

    def _new_client(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            # HTTP/2 where the server offers it (ALPN, so https only): one connection per
            # host carries every request to it. Idle connections are kept for reuse.
            http2=_HTTP2,
            limits=httpx.Limits(
                max_connections=self.settings.concurrency,
                max_keepalive_connections=self.settings.concurrency,
                keepalive_expiry=30.0,
            ),
            follow_redirects=True,
            max_redirects=self.settings.max_redirects,
            timeout=httpx.Timeout(self.settings.timeout),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
            transport=transport,
            verify=self._tls if self._tls is not None else True,
        )

    async def __aexit__(self, *exc: object) -> None:
        if self._guard is not None:
            await self._guard.aclose()
            self._guard = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(
        self,
        url: str,
        validators: Validators | None = None,
        *,
        accept: str = FEED_ACCEPT,
        allow_local: bool = True,
        found_in: FoundIn | None = None,
    ) -> Fetched:
        """Fetch one URL (http/https, file:// or a local path relative to base_dir).

        Raises FetchError with a short readable reason. Pass `allow_local=False`
        for URLs found in feed content, so a hostile feed cannot read local files,
        and `found_in` (the document that carried the URL) so the fetch policy
        applies: RefusedError when it points at a private address.
        """
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError as e:
            raise FetchError(f"invalid URL: {e}") from e
        if scheme in ("http", "https"):
            return await self._fetch_http(url, validators or Validators(), accept, found_in)
        if scheme == "file" or len(scheme) <= 1:  # "" or a Windows drive letter: a path
            if not allow_local:
                raise FetchError("local files are not allowed here")
            return await asyncio.to_thread(self._read_file, url, self._local_path(url))
        raise FetchError(f"unsupported URL scheme {scheme!r}")

    async def _fetch_http(
        self, url: str, validators: Validators, accept: str, found_in: FoundIn | None = None
    ) -> Fetched:
        if self._client is None:
            raise RuntimeError("use the Fetcher inside 'async with Fetcher(...)'")
        client = self._client
        if found_in is not None and self._guard is not None:
            client = self._guard.client(found_in)
        headers = {"Accept": accept}
        if etag := _header_safe(validators.etag):
            headers["If-None-Match"] = etag
        if last_modified := _header_safe(validators.last_modified):
            headers["If-Modified-Since"] = last_modified
        # The host slot is held across the Retry-After wait (the host asked us to back off);
        # the global slot is not, so other hosts proceed meanwhile.
        async with self._host_semaphore(url):
            first = await self._attempt(client, url, headers, validators, retried=False)
            if isinstance(first, Fetched):
                return first
            logger.debug("%s: asked to retry, waiting %.1f s", url, first)
            await asyncio.sleep(first)
            result = await self._attempt(client, url, headers, validators, retried=True)
            assert isinstance(result, Fetched)  # a second attempt never asks to retry
            return result

    def _host_semaphore(self, url: str) -> asyncio.Semaphore:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as e:
            raise FetchError(f"invalid URL: {e}") from e
        key = (parsed.scheme, parsed.host, parsed.port)
        return self._hosts.setdefault(key, asyncio.Semaphore(self.settings.per_host))

    async def _attempt(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: dict[str, str],
        validators: Validators,
        *,
        retried: bool,
    ) -> Fetched | float:
        """Make one request, body included, within the time limit; a float means retry after it."""
        limit = self.settings.timeout
        logger.debug("GET %s%s", url, " (retry)" if retried else "")
        try:
            async with (
                self._slots,
                asyncio.timeout(limit),
                client.stream("GET", url, headers=headers) as response,
            ):
                return await self._read(url, response, validators, retried=retried)
        except (TimeoutError, httpx.TimeoutException) as e:
            raise FetchError(f"timed out after {float(limit)} s") from e
        except httpx.TooManyRedirects as e:
            raise FetchError(f"too many redirects (more than {self.settings.max_redirects})") from e
        except (httpx.HTTPError, httpx.InvalidURL) as e:
            raise FetchError(_describe(e)) from e

    async def _read(
        self, url: str, response: httpx.Response, old: Validators, *, retried: bool
    ) -> Fetched | float:
        status = response.status_code
        final_url = str(response.url)
        peer = peer_address(response)  # before the body: the server may close after it
        content_type = response.headers.get("Content-Type")
        if status == 304:
            logger.debug("%s: not modified", url)
            new = _validators(response)
            validators = Validators(
                etag=new.etag or old.etag, last_modified=new.last_modified or old.last_modified
            )
            return Fetched(url, final_url, b"", content_type, validators, True, peer)
        if status in _RETRY_STATUSES and not retried:
            delay = _retry_after(response.headers.get("Retry-After"))
            if delay is not None:
                return delay
        if not response.is_success:
            phrase = httpx.codes.get_reason_phrase(status)
            again = " (after one retry)" if retried and status in _RETRY_STATUSES else ""
            raise FetchError(f"HTTP {status} {phrase}".rstrip() + again)
        content = await self._read_capped(response)
        if not content:
            raise FetchError("empty response body")
        logger.debug("%s: HTTP %d, %d bytes from %s", url, status, len(content), final_url)
        return Fetched(
            url,
            final_url,
            content,
            content_type,
            _validators(response),
            False,
            peer,
        )

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """Read the body, stopping as soon as raw or decoded bytes pass max_bytes."""
        cap = self.settings.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(f"response larger than {_size(cap)}")
        chunks: list[bytes] = []
        decoded = 0
        # aiter_bytes() yields decoded bytes, so a small gzip bomb is caught as it inflates.
        async for chunk in response.aiter_bytes():
            decoded += len(chunk)
            if decoded > cap or response.num_bytes_downloaded > cap:
                raise FetchError(f"response larger than {_size(cap)}")
            chunks.append(chunk)
        return b"".join(chunks)

    def _local_path(self, url: str) -> Path:
        if url.lower().startswith("file:"):
            parts = urlsplit(url)
            if parts.netloc not in ("", "localhost"):
                raise FetchError(f"file URL on another host ({parts.netloc}) is not supported")
            path = Path(url2pathname(parts.path))
        else:
            path = Path(url).expanduser()
        return (self.base_dir / path).resolve()

    def _read_file(self, url: str, path: Path) -> Fetched:
        """Read a regular file with the same size cap as HTTP (run in a worker thread)."""
        cap = self.settings.max_bytes
        try:
            if path.is_dir():
                raise FetchError(f"is a directory: {path}")
            if not path.exists():
                raise FetchError(f"no such file: {path}")
            if not path.is_file():  # FIFOs and devices could block or never end
                raise FetchError(f"not a regular file: {path}")
            if path.stat().st_size > cap:
                raise FetchError(f"file larger than {_size(cap)}: {path}")
            with path.open("rb") as f:
                content = f.read(cap + 1)  # the file may have grown since stat()
        except OSError as e:
            raise FetchError(f"cannot read {path}: {e.strerror or e}") from e
        if len(content) > cap:
            raise FetchError(f"file larger than {_size(cap)}: {path}")
        if not content:
            raise FetchError(f"empty file: {path}")
        return Fetched(url, str(path), content)


def _validators(response: httpx.Response) -> Validators:
    return Validators(
        etag=_header_safe(response.headers.get("ETag")),
        last_modified=_header_safe(response.headers.get("Last-Modified")),
    )


def _header_safe(value: str | None) -> str | None:
    """Keep a validator only if it can be sent back: httpx refuses non-ASCII header values."""
    if value and value.isascii() and value.isprintable():
        return value
    return None


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta or HTTP date), capped; None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def _describe(e: Exception) -> str:
    """A one-line reason for a transport failure, naming the cause a reader can act on."""
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "cannot resolve host name"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause.reason or cause}"
        cause = cause.__cause__ or cause.__context__
    text = " ".join(str(e).split())[:200] or type(e).__name__
    if isinstance(e, httpx.UnsupportedProtocol):
        return "redirected to an unsupported URL scheme"
    if isinstance(e, httpx.ConnectError):
        return f"cannot connect: {text}"
    if isinstance(e, httpx.DecodingError):
        return f"cannot decode response body: {text}"
    if isinstance(e, httpx.RemoteProtocolError):
        return f"bad response from server: {text}"
    if isinstance(e, httpx.ReadError | httpx.WriteError):
        return f"connection lost: {text}"
    if isinstance(e, httpx.InvalidURL):
        return f"invalid URL: {text}"
    return text


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.1f} kB"
    return f"{n} bytes"
