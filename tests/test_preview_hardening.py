"""`digest preview` against what a web page in the same browser could try, and big files."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.issues.localhost import BACKLOG, loopback_host
from digest.issues.preview import Preview, make_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    output = tmp_path / "output"
    (output / "2026-11-26").mkdir(parents=True)
    (output / "2026-11-26" / "email.txt").write_text("Hello, reader.\n")
    httpd = make_server(Preview(output, None, watch=False, idle_timeout=0.5), "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], output
    httpd.shutdown()
    httpd.server_close()


def fetch(port: int, path: str, host: str | None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("GET", path, skip_host=True)
    if host is not None:
        connection.putheader("Host", host)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("localhost", True), ("localhost:{port}", True), ("127.0.0.1:{port}", True),
        ("[::1]:{port}", True), ("preview.localhost:{port}", True), ("192.168.1.20:{port}", True),
        ("attacker.example:{port}", False), ("attacker.example", False),
        ("localhost.attacker.example", False), ("127.0.0.1.nip.io:{port}", False), ("", False),
    ],
)  # fmt: skip
def test_only_localhost_names_are_served(served: tuple[int, Path], host: str, ok: bool) -> None:
    port, _ = served
    status, body = fetch(port, "/2026-11-26/email.txt", host.format(port=port))
    if ok:
        assert (status, body) == (200, b"Hello, reader.\n")
    else:
        assert status == 421 and b"Hello" not in body


def test_loopback_host_rules() -> None:
    assert loopback_host(None)  # HTTP/1.0 without a Host: no browser sends that
    assert not loopback_host("[::1")
    assert loopback_host("LOCALHOST.:80")


def test_an_idle_connection_is_closed(served: tuple[int, Path]) -> None:
    port, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
        started = time.monotonic()
        idle.sendall(b"GET /2026-11-26/email.txt HTTP/1.1\r\n")  # and then nothing more
        assert idle.recv(1024) == b""  # the server hung up
        assert time.monotonic() - started < 5
    status, _ = fetch(port, "/2026-11-26/email.txt", "localhost")
    assert status == 200  # and still serves others


def test_big_files_are_streamed_not_read_whole(served: tuple[int, Path]) -> None:
    port, output = served
    size = 64 * 1024 * 1024
    with (output / "2026-11-26" / "big.bin").open("wb") as f:
        f.truncate(size)  # sparse: no disk spent
    tracemalloc.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/2026-11-26/big.bin")
        response = connection.getresponse()
        assert response.status == 200 and int(response.headers["Content-Length"]) == size
        received = 0
        while chunk := response.read(1024 * 1024):
            received += len(chunk)
        connection.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == size
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while serving a 64 MB file"


def test_many_connections_at_once_are_all_served(served: tuple[int, Path]) -> None:
    port, _ = served
    assert BACKLOG >= 128
    results: list[int] = []

    def one() -> None:
        results.append(fetch(port, "/2026-11-26/email.txt", "localhost")[0])

    threads = [threading.Thread(target=one) for _ in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [200] * 60
