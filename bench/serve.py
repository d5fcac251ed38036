"""`digest serve` under load: mixed reader pages at a fixed rate, latency percentiles.

    python bench/serve.py                      # 200 requests/s for 20 s
    python bench/serve.py --rate 400 --seconds 30

The server is the real command (`digest serve`, uvicorn, one process) in a
subprocess on 127.0.0.5; this process is the load generator: an open-loop
asyncio client on raw streams (64 keep-alive connections) that starts each
request on schedule whether or not earlier ones have answered, and times it
from its scheduled start (so a stalled server shows in the figures instead
of slowing the generator). The mix: archive 25 %, an issue's web version
25 %, feed 10 %, subscribe form 15 %, unsubscribe page 10 %, preferences
page 10 %, preferences saved (a write to the state file) 5 %.
Target: 200 requests/s with p99 under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from digest.config import load_config
from digest.issues.publish import publish
from digest.mail.subscribers import make_token
from digest.models import Issue, Story
from digest.store import State
from testkit.net import free_port

SECRET = "bench-serve-secret-0123456789"
HOST = "127.0.0.5"


def newsletter(folder: Path, port: int, readers: int) -> tuple[Path, list[str], list[str]]:
    """A config, five published issues and `readers` subscribers; (config, issue ids, tokens)."""
    path = folder / "config.toml"
    path.write_text(
        f"""
[newsletter]
title = "Bench Insider"
from = "Bench <news@example.com>"

[[feeds]]
url = "feed.xml"
title = "Auto Wire"

[server]
base_url = "http://{HOST}:{port}"
subscribe_per_ip = 1000000
""",
        encoding="utf-8",
    )
    config = load_config(path)
    now = datetime.now(UTC)
    ids = []
    for day in range(5):
        stories = tuple(
            Story(
                title=f"Story {n} of day {day}",
                url=f"https://example.com/{day}/{n}",
                source="Auto Wire" if n % 2 else "Road Notes",
                author="Zoë",
                published=now,
                image=None,
                summary=("A first sentence of some length here.", "A second one, longer still."),
                comment_count=n,
            )
            for n in range(10)
        )
        issue_id = (now - timedelta(days=day)).date().isoformat()
        issue = Issue(issue_id, "Bench Insider", now - timedelta(days=day), stories, ())
        publish(issue, config, config.output_dir)
        ids.append(issue_id)
    tokens = []
    with State(config.state_target) as state, state.transaction():
        for n in range(readers):
            email = f"reader{n:05d}@example.org"
            number = state.insert_subscriber(email, "", "active")
            tokens.append(make_token(SECRET.encode(), number, email))
    return path, ids, tokens


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    base: str, rate: float, seconds: float, ids: list[str], tokens: list[str], pid: int
) -> None:
    rng = random.Random(7)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    host, port = base.removeprefix("http://").split(":")

    def pick() -> bytes:
        roll = rng.random()
        token = rng.choice(tokens)
        if roll < 0.25:
            path = "/"
        elif roll < 0.50:
            path = f"/{rng.choice(ids)}/"
        elif roll < 0.60:
            path = "/feed.xml"
        elif roll < 0.75:
            path = "/subscribe"
        elif roll < 0.85:
            path = f"/unsubscribe/{token}"
        elif roll < 0.95:
            path = f"/preferences/{token}"
        else:
            body = f"cadence={rng.choice(['issue', 'weekly'])}"
            return (
                f"POST /preferences/{token} HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}"
            ).encode()
        return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()

    # A small HTTP/1.1 client on raw streams: httpx's pool costs more CPU per
    # request than the server does, and on two shared cores that would be measured.
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while (job := await queue.get()) is not None:
            at, request = job
            try:
                writer.write(request)
                status = (await reader.readuntil(b"\r\n")).split(b" ")[1]
                headers = await reader.readuntil(b"\r\n\r\n")
                length = int(headers.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                if status != b"200":
                    errors[status.decode()] = errors.get(status.decode(), 0) + 1
            except (OSError, asyncio.IncompleteReadError, IndexError, ValueError) as e:
                errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, int(port))
            latencies.append(time.perf_counter() - at)
        writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(64)]
    for _ in range(100):  # warm up: templates compiled, files cached, connections open
        await queue.put((time.perf_counter(), pick()))
    while not queue.empty():
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    latencies.clear()
    cpu_before = cpu_seconds(pid)
    start = time.perf_counter()
    total = int(rate * seconds)
    for n in range(total):
        at = start + n / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((at, pick()))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(pid) - cpu_before
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    print(f"requests:      {len(latencies)} in {elapsed:.1f} s ({len(latencies) / elapsed:.0f}/s)")
    print(f"latency ms:    p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}"
          f"  max {latencies[-1] * 1000:.1f}")  # fmt: skip
    print(f"errors:        {sum(errors.values())} {errors or ''}")
    per = cpu / max(1, len(latencies)) * 1000
    print(f"server CPU:    {per:.2f} ms a request; {cpu / elapsed:.0%} of one core at this rate"
          f" (about {1000 / per:.0f} requests/s per core)")  # fmt: skip
    met = pct(99) < 100 and not errors and len(latencies) / elapsed >= rate * 0.97
    print(f"target (p99 < 100 ms at {rate:.0f}/s): {'met' if met else 'MISSED'}"
          f" (p99 at {pct(99):.0f}% of the bound)")  # fmt: skip
    print(f"load average:  {' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work on the box)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--readers", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "DIGEST_STATE": str(folder / "state.sqlite")}
        env["DIGEST_UNSUBSCRIBE_SECRET"] = SECRET
        os.environ.update(env)
        port = free_port(HOST)
        config, ids, tokens = newsletter(folder, port, args.readers)
        digest = Path(sys.executable).with_name("digest")
        server = subprocess.Popen(
            [str(digest), "serve", "-c", str(config), "--host", HOST, "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            base = f"http://{HOST}:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(base + "/", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("digest serve did not start") from None
                    time.sleep(0.2)
            print(f"cores: {os.cpu_count()}; server: digest serve (uvicorn, 1 process) at {base}")
            asyncio.run(load(base, args.rate, args.seconds, ids, tokens, server.pid))
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
