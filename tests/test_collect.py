"""collect.Fetcher against real HTTP servers on 127.0.0.1.

Well-behaved responses come from pytest-httpserver; misbehaving servers
(trickling, endless, lying about their length, slow and counted) are stdlib
`http.server` handlers run in threads. Nothing patches httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from digest.collect import fetcher as collect
from digest.collect.fetcher import (
    ACCEPT_ENCODING,
    FEED_ACCEPT,
    PAGE_ACCEPT,
    USER_AGENT,
    Fetcher,
)
from digest.config import FetchSettings
from digest.errors import FetchError
from digest.models import Fetched, Validators

FAST = {"timeout": 2.0, "max_bytes": 1_000_000, "max_redirects": 5}
RSS = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"


def fetch(
    url: str,
    validators: Validators | None = None,
    *,
    base_dir: Path | None = None,
    allow_local: bool = True,
    accept: str = FEED_ACCEPT,
    guard: float = 15.0,
    **settings: Any,
) -> Fetched:
    """Fetch one URL with test-sized limits; `guard` fails a hang instead of waiting for it."""

    async def go() -> Fetched:
        fetch_settings = FetchSettings(**{**FAST, **settings})
        async with Fetcher(fetch_settings, base_dir=base_dir) as fetcher:
            job = fetcher.fetch(url, validators, accept=accept, allow_local=allow_local)
            return await asyncio.wait_for(job, guard)

    return asyncio.run(go())


# --- stdlib servers for the misbehaving cases ------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64


class RawServers:
    """Starts threaded stdlib servers whose GET handler is a plain function."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._servers: list[_Server] = []

    def start(self, handle: Callable[[BaseHTTPRequestHandler], None]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def close(self) -> None:
        self.stop.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def raw() -> Iterator[RawServers]:
    servers = RawServers()
    yield servers
    servers.close()


def reply(h: BaseHTTPRequestHandler, body: bytes = RSS, status: int = 200, **headers: str) -> None:
    h.send_response(status)
    h.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        h.send_header(name.replace("_", "-"), value)
    h.end_headers()
    h.wfile.write(body)


# --- success, headers and validators ---------------------------------------------------


def test_sends_honest_headers_and_returns_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(RSS, content_type="application/rss+xml")
    got = fetch(httpserver.url_for("/feed"))
    assert got.content == RSS
    assert got.content_type == "application/rss+xml"
    assert not got.not_modified
    request = httpserver.log[0][0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["User-Agent"].startswith("digest/")
    assert request.headers["Accept"] == FEED_ACCEPT
    assert request.headers["Accept-Encoding"] == ACCEPT_ENCODING
    assert "gzip" in ACCEPT_ENCODING and "zstd" not in ACCEPT_ENCODING


def test_pages_pass_their_own_accept(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/page").respond_with_data("<p>hi</p>", content_type="text/html")
    fetch(httpserver.url_for("/page"), accept=PAGE_ACCEPT)
    assert httpserver.log[0][0].headers["Accept"] == PAGE_ACCEPT


def test_etag_round_trip_gives_304(httpserver: HTTPServer) -> None:
    url = httpserver.url_for("/feed")
    httpserver.expect_oneshot_request("/feed").respond_with_data(RSS, headers={"ETag": '"v1"'})
    httpserver.expect_request("/feed", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304
    )
    first = fetch(url)
    assert first.validators == Validators(etag='"v1"')
    assert "If-None-Match" not in httpserver.log[0][0].headers

    second = fetch(url, first.validators)
    assert httpserver.log[1][0].headers["If-None-Match"] == '"v1"'
    assert second.not_modified
    assert second.content == b""
    assert second.validators == Validators(etag='"v1"')


def test_last_modified_round_trip(httpserver: HTTPServer) -> None:
    stamp = "Wed, 25 Nov 2026 07:00:00 GMT"
    url = httpserver.url_for("/feed")
    httpserver.expect_oneshot_request("/feed").respond_with_data(
        RSS, headers={"Last-Modified": stamp}
    )
    httpserver.expect_request("/feed", headers={"If-Modified-Since": stamp}).respond_with_data(
        "", status=304
    )
    first = fetch(url)
    assert first.validators == Validators(last_modified=stamp)
    second = fetch(url, first.validators)
    assert httpserver.log[1][0].headers["If-Modified-Since"] == stamp
    assert second.not_modified
    assert second.validators == Validators(last_modified=stamp)


def test_304_with_new_etag_updates_validators(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data("", status=304, headers={"ETag": '"v2"'})
    old = Validators(etag='"v1"', last_modified="Wed, 25 Nov 2026 07:00:00 GMT")
    got = fetch(httpserver.url_for("/feed"), old)
    assert got.not_modified
    assert got.validators == Validators(etag='"v2"', last_modified=old.last_modified)


def test_unsendable_validator_is_dropped_not_fatal(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(RSS)
    got = fetch(httpserver.url_for("/feed"), Validators(etag='"caf\u00e9"'))
    assert got.content == RSS
    assert "If-None-Match" not in httpserver.log[0][0].headers


def test_gzip_body_is_decoded(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        gzip.compress(RSS), headers={"Content-Encoding": "gzip"}
    )
    assert fetch(httpserver.url_for("/feed")).content == RSS


# --- HTTP errors, retries, redirects ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [(404, "HTTP 404 Not Found"), (410, "HTTP 410 Gone"), (500, "HTTP 500 Internal Server Error")],
)
def test_http_error_status(httpserver: HTTPServer, status: int, reason: str) -> None:
    httpserver.expect_request("/feed").respond_with_data("nope", status=status)
    with pytest.raises(FetchError) as info:
        fetch(httpserver.url_for("/feed"))
    assert str(info.value) == reason


def test_429_with_retry_after_is_retried_once(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/feed").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_request("/feed").respond_with_data(RSS)
    start = time.monotonic()
    assert fetch(httpserver.url_for("/feed")).content == RSS
    assert time.monotonic() - start >= 0.9  # it did wait as asked
    assert len(httpserver.log) == 2


def test_503_twice_is_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data(
        "busy", status=503, headers={"Retry-After": "1"}
    )
    with pytest.raises(FetchError, match=r"^HTTP 503 Service Unavailable \(after one retry\)$"):
        fetch(httpserver.url_for("/feed"))
    assert len(httpserver.log) == 2


def test_503_without_retry_after_is_not_retried(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data("busy", status=503)
    with pytest.raises(FetchError, match=r"^HTTP 503 Service Unavailable$"):
        fetch(httpserver.url_for("/feed"))
    assert len(httpserver.log) == 1


def test_retry_after_as_http_date(httpserver: HTTPServer) -> None:
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=1), usegmt=True)
    httpserver.expect_oneshot_request("/feed").respond_with_data(
        "", status=429, headers={"Retry-After": past}
    )
    httpserver.expect_request("/feed").respond_with_data(RSS)
    assert fetch(httpserver.url_for("/feed")).content == RSS
    assert len(httpserver.log) == 2


def test_retry_after_is_capped(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collect, "RETRY_AFTER_CAP", 0.2)
    httpserver.expect_oneshot_request("/feed").respond_with_data(
        "", status=503, headers={"Retry-After": "3600"}
    )
    httpserver.expect_request("/feed").respond_with_data(RSS)
    assert fetch(httpserver.url_for("/feed"), guard=10).content == RSS


def test_redirect_gives_final_url(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/new"}
    )
    httpserver.expect_request("/new").respond_with_data(RSS)
    got = fetch(httpserver.url_for("/old"))
    assert got.url == httpserver.url_for("/old")
    assert got.final_url == httpserver.url_for("/new")
    assert got.content == RSS


def test_redirect_loop_is_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"}
    )
    with pytest.raises(FetchError, match=r"^too many redirects \(more than 2\)$"):
        fetch(httpserver.url_for("/loop"), max_redirects=2)
    assert len(httpserver.log) == 3


def test_redirect_to_a_local_file_is_refused(httpserver: HTTPServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    httpserver.expect_request("/feed").respond_with_data(
        "", status=302, headers={"Location": secret.as_uri()}
    )
    with pytest.raises(FetchError, match="unsupported URL scheme"):
        fetch(httpserver.url_for("/feed"))


def test_empty_body_is_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed").respond_with_data("")
    with pytest.raises(FetchError, match=r"^empty response body$"):
        fetch(httpserver.url_for("/feed"))


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match=r"^connection refused$") as info:
        fetch(f"http://127.0.0.1:{port}/feed")
    assert info.value.__cause__ is not None


# --- time and size limits --------------------------------------------------------------


def test_trickling_server_times_out(raw: RawServers) -> None:
    def trickle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.end_headers()
        deadline = time.monotonic() + 10  # ends on its own, so a missing limit fails, not hangs
        while time.monotonic() < deadline and not raw.stop.is_set():
            h.wfile.write(b"<")
            raw.stop.wait(0.5)

    start = time.monotonic()
    with pytest.raises(FetchError, match=r"^timed out after 1.0 s$"):
        fetch(raw.start(trickle) + "/feed", timeout=1.0)
    assert time.monotonic() - start < 1.0 + 2


def test_endless_body_is_cut_off(raw: RawServers) -> None:
    sent = [0]
    done = threading.Event()

    def endless(h: BaseHTTPRequestHandler) -> None:
        try:
            h.send_response(200)
            h.end_headers()  # no Content-Length: the body ends when the server closes
            chunk = b"x" * 65536
            while sent[0] < 300_000_000 and not raw.stop.is_set():
                h.wfile.write(chunk)
                sent[0] += len(chunk)
        finally:
            done.set()

    with pytest.raises(FetchError, match=r"^response larger than 1.0 MB$"):
        fetch(raw.start(endless) + "/feed")
    assert done.wait(5)
    assert sent[0] < 50_000_000  # stopped reading; the rest is only socket buffers


def test_declared_length_over_the_cap_is_rejected_before_reading(raw: RawServers) -> None:
    def liar(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100000000")
        h.end_headers()
        h.wfile.write(b"<rss>")
        raw.stop.wait(10)  # never sends the rest: reading it would time out instead

    with pytest.raises(FetchError, match=r"^response larger than 1.0 MB$"):
        fetch(raw.start(liar) + "/feed")


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """50 MB of zeros, gzipped to about 50 kB, built without holding the 50 MB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1_000_000)
    parts = [packer.compress(zeros) for _ in range(50)]
    return b"".join([*parts, packer.flush()])


def test_gzip_bomb_is_cut_off_by_decoded_size(httpserver: HTTPServer, gzip_bomb: bytes) -> None:
    assert len(gzip_bomb) < 1_000_000  # the raw size alone would pass the cap
    httpserver.expect_request("/feed").respond_with_data(
        gzip_bomb, headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(FetchError, match=r"^response larger than 1.0 MB$"):
        fetch(httpserver.url_for("/feed"))


# --- concurrency -----------------------------------------------------------------------


class InFlight:
    """Counts requests being handled at once, and the most seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


def slow_server(raw: RawServers, *counters: InFlight) -> str:
    def handle(h: BaseHTTPRequestHandler) -> None:
        with contextlib.ExitStack() as stack:
            for counter in counters:
                stack.enter_context(counter)
            time.sleep(0.3)
        reply(h)  # after leaving the count, so a client reusing its slot is never overcounted

    return raw.start(handle)


def fetch_many(urls: list[str], **settings: Any) -> dict[str, Fetched | FetchError]:
    """Fetch distinct URLs concurrently, each failure returned as a value."""
    config = FetchSettings(**{**FAST, "timeout": 10.0, **settings})

    async def one(fetcher: Fetcher, url: str) -> Fetched | FetchError:
        try:
            return await fetcher.fetch(url)
        except FetchError as e:
            return e

    async def run() -> dict[str, Fetched | FetchError]:
        unique = list(dict.fromkeys(urls))
        async with Fetcher(config) as fetcher:
            results = await asyncio.gather(*(one(fetcher, u) for u in unique))
        return dict(zip(unique, results, strict=True))

    return asyncio.run(run())


def test_one_host_gets_at_most_per_host_requests(raw: RawServers) -> None:
    host = InFlight()
    base = slow_server(raw, host)
    results = fetch_many([f"{base}/feed/{i}" for i in range(8)], concurrency=8, per_host=2)
    assert all(isinstance(r, Fetched) for r in results.values())
    assert host.peak == 2


def test_many_hosts_run_concurrently_within_the_global_limit(raw: RawServers) -> None:
    everywhere = InFlight()
    hosts = [InFlight() for _ in range(4)]
    bases = [slow_server(raw, everywhere, host) for host in hosts]
    urls = [f"{base}/feed/{i}" for base in bases for i in range(5)]
    results = fetch_many(urls, concurrency=6, per_host=2)
    assert len(results) == 20
    assert all(isinstance(r, Fetched) for r in results.values())
    assert 3 <= everywhere.peak <= 6  # more than one host at once, never past the limit
    assert all(host.peak <= 2 for host in hosts)


def test_fetch_all_returns_failures_as_values(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ok").respond_with_data(RSS)
    httpserver.expect_request("/gone").respond_with_data("", status=410)
    ok, gone = httpserver.url_for("/ok"), httpserver.url_for("/gone")
    results = fetch_many([ok, gone, ok])
    assert list(results) == [ok, gone]
    assert isinstance(results[ok], Fetched)
    assert str(results[gone]) == "HTTP 410 Gone"
    assert len(httpserver.log) == 2  # the duplicate was fetched once


def test_fetcher_must_be_entered() -> None:
    fetcher = Fetcher(FetchSettings())
    with pytest.raises(RuntimeError, match="async with"):
        asyncio.run(fetcher.fetch("http://127.0.0.1:9/feed"))


# --- local files and schemes -----------------------------------------------------------


def test_local_path_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "local.xml").write_bytes(RSS)
    got = fetch("feeds/local.xml", base_dir=tmp_path)
    assert got.content == RSS
    assert got.final_url == str((tmp_path / "feeds" / "local.xml").resolve())
    assert got.content_type is None


def test_file_url(tmp_path: Path) -> None:
    path = tmp_path / "feed with space.xml"
    path.write_bytes(RSS)
    got = fetch(path.as_uri())
    assert got.content == RSS
    assert got.final_url == str(path.resolve())


@pytest.mark.parametrize(
    ("name", "reason"),
    [("missing.xml", "no such file: "), (".", "is a directory: "), ("big.xml", "file larger than")],
)
def test_local_file_errors(tmp_path: Path, name: str, reason: str) -> None:
    (tmp_path / "big.xml").write_bytes(b"x" * 2000)
    with pytest.raises(FetchError, match=f"^{reason}"):
        fetch(name, base_dir=tmp_path, max_bytes=1000)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_device_is_refused() -> None:
    with pytest.raises(FetchError, match=r"^not a regular file: /dev/zero$"):
        fetch("/dev/zero")


def test_local_files_can_be_forbidden(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_bytes(RSS)
    for url in ("feed.xml", (tmp_path / "feed.xml").as_uri()):
        with pytest.raises(FetchError, match="local files are not allowed"):
            fetch(url, base_dir=tmp_path, allow_local=False)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/feed.xml", "javascript:alert(1)", "data:text/xml,<rss/>"]
)
def test_unsupported_scheme(url: str) -> None:
    scheme = url.split(":")[0]
    with pytest.raises(FetchError, match=f"^unsupported URL scheme '{scheme}'$"):
        fetch(url)
