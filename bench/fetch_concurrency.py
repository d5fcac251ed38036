"""How much the Fetcher's concurrency buys: 20 feeds behind 100 ms of server latency.

Run by hand from the repository root: `python -m bench.fetch_concurrency`. Loopback
has one host name, so 20 servers on 20 ports stand in for 20 hosts (the per-host limit
keys on the port too). Prints the wall time of each run against 20 x 100 ms done one
after another.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from digest.collect.fetcher import Fetcher
from digest.config import FetchSettings
from digest.models import Fetched

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>bench</title></channel></rss>"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64


def start_server(latency: float) -> _Server:
    """A loopback feed server that waits `latency` seconds before each answer."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(latency)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(FEED)))
            self.end_headers()
            self.wfile.write(FEED)

        def log_message(self, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


async def fetch_urls(urls: list[str], settings: FetchSettings) -> float:
    """Fetch every URL with one Fetcher; return the wall time in seconds."""
    start = time.perf_counter()
    async with Fetcher(settings) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
    elapsed = time.perf_counter() - start
    assert all(isinstance(r, Fetched) and r.content == FEED for r in results)
    return elapsed


def best_of(repeat: int, urls: list[str], settings: FetchSettings) -> float:
    return min(asyncio.run(fetch_urls(urls, settings)) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; best is shown")
    args = parser.parse_args()
    n, latency = args.feeds, args.latency

    servers = [start_server(latency) for _ in range(n)]
    try:
        ports = [s.server_address[1] for s in servers]
        many_hosts = [f"http://127.0.0.1:{port}/feed.xml" for port in ports]
        one_host = [f"http://127.0.0.1:{ports[0]}/feed/{i}.xml" for i in range(n)]
        default = FetchSettings()
        serial = n * latency
        cases = [
            (f"{n} hosts, concurrency={default.concurrency}", many_hosts, default),
            (f"{n} hosts, concurrency={n}", many_hosts, FetchSettings(concurrency=n)),
            (f"1 host, per_host={default.per_host}", one_host, default),
            (f"{n} hosts, concurrency=1 (serial)", many_hosts, FetchSettings(concurrency=1)),
        ]
        print(f"{n} feeds, {latency * 1000:.0f} ms server latency, best of {args.repeat} runs")
        print(f"{'serial estimate':40s} {serial:6.2f} s")
        for label, urls, settings in cases:
            wall = best_of(args.repeat, urls, settings)
            print(f"{label:40s} {wall:6.2f} s  ({serial / wall:4.1f}x vs serial estimate)")
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()
