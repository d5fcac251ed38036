"""A build against 20 healthy feeds, one hostile feed and ten faulty endpoints, on loopback.

Run from the repository root:  python -m bench.build_faults

Prints the wall time of `digest build`, each feed's status, the size of
email.html, whether anything hostile got through, and what an immediate
rebuild did (every unchanged feed should answer 304, no story repeated).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from testkit.newsroom import article_page, comment_rss, make_story, rss
from testkit.safety import unsafe_parts

NOW = datetime.now(UTC)
NOT_MODIFIED: set[str] = set()  # feed paths answered with 304
HOSTILE_BODY = (
    '<p onclick="alert(1)">Dealers <a href="javascript:alert(2)">said</a> the recall covers'
    " many trucks built at two plants last year.</p><script>alert(3)</script>"
    '<iframe src="https://evil.example/"></iframe><form action="https://evil.example/">'
    "<input></form><img src=x onerror=alert(4)><p>{{ 7*7 }} is not evaluated in the email"
    " or anywhere else at all.</p>"
)


def _documents(port: int) -> dict[str, tuple[int, dict[str, str], bytes]]:
    """path -> (status, headers, body) for every healthy and hostile document."""
    base = f"http://127.0.0.1:{port}"
    docs: dict[str, tuple[int, dict[str, str], bytes]] = {}
    for n in range(21):
        site = f"{base}/site{n}"
        stories = [make_story(n * 3 + i, now=NOW, hours_ago=n + i + 1) for i in range(3)]
        for story in stories:
            story.slug = f"site{n}-{story.slug}"
            if n == 20:
                story.raw_html = HOSTILE_BODY
                story.title = "<script>alert(5)</script>Hostile title"
            docs[f"/site{n}/{story.slug}/"] = (200, {"Content-Type": "text/html"},
                                               article_page(story).encode())  # fmt: skip
            docs[f"/site{n}/{story.slug}/feed/"] = (
                200, {"Content-Type": "application/rss+xml"}, comment_rss(site, story).encode()
            )  # fmt: skip
        body = rss(site, f"Site {n}", stories).encode()
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        docs[f"/site{n}/feed"] = (200, {"Content-Type": "application/rss+xml", "ETag": etag}, body)
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "x" * 50_000 + '">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<rss><channel><title>&b;</title></channel></rss>"
    )
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<rss><channel><title>&x;</title><item><title>&x;</title></item></channel></rss>"
    )
    xml = {"Content-Type": "application/rss+xml"}
    docs.update(
        {
            "/fault/500": (500, {}, b"internal error"),
            "/fault/429": (429, {}, b"slow down"),
            "/fault/404": (404, {}, b"not here"),
            "/fault/html": (200, {"Content-Type": "text/html"}, b"<!doctype html><p>Hi</p>"),
            "/fault/random": (200, xml, hashlib.sha512(b"x").digest() * 2000),
            "/fault/bomb": (200, xml, bomb.encode()),
            "/fault/xxe": (200, xml, xxe.encode()),
            "/fault/loop": (302, {"Location": "/fault/loop"}, b""),
            "/fault/empty": (200, xml, b""),
        }
    )
    return docs


def _huge() -> Iterator[bytes]:
    chunk = b"<item><title>x</title></item>" * 2000
    for _ in range(300_000_000 // len(chunk)):
        yield chunk


def serve() -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    docs = _documents(port)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/fault/huge":
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.end_headers()
                try:
                    for chunk in _huge():
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            status, headers, body = docs.get(self.path, (404, {}, b"no such path"))
            etag = headers.get("ETag")
            if etag and self.headers.get("If-None-Match") == etag:
                status, body = 304, b""
                NOT_MODIFIED.add(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server.RequestHandlerClass = Handler
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


def main() -> None:
    server, port = serve()
    healthy = [f"http://127.0.0.1:{port}/site{n}/feed" for n in range(20)]
    hostile = f"http://127.0.0.1:{port}/site20/feed"
    names = ("500", "429", "404", "html", "random", "bomb", "xxe", "loop", "empty", "huge")
    faults = [f"http://127.0.0.1:{port}/fault/{name}" for name in names]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = ['[newsletter]\ntitle = "Bench"\nmax_stories = 10\nlookback_days = 0\n']
        lines += [f'[[feeds]]\nurl = "{url}"\n' for url in [*healthy, hostile, *faults]]
        lines.append("[fetch]\ntimeout = 10\n")
        (folder / "config.toml").write_text("\n".join(lines))
        env = {**os.environ, "DIGEST_STATE": str(folder / "state.sqlite")}
        runs = []
        for label in ("first build", "rebuild"):
            started = time.monotonic()
            command = [sys.executable, "-m", "digest", "build", "-c", str(folder / "config.toml")]
            result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
            runs.append((label, result.returncode, time.monotonic() - started))
        issues = sorted(p for p in (folder / "output").iterdir() if p.is_dir())
        records = [json.loads((p / "issue.json").read_text()) for p in issues]
        html = (issues[0] / "email.html").read_text()
    server.shutdown()
    statuses = {f["url"]: (f["status"], f["error"]) for f in records[0]["feeds"]}
    print(f"{'run':<14}{'exit':>6}{'seconds':>10}")
    for label, code, seconds in runs:
        print(f"{label:<14}{code:>6}{seconds:>10.1f}")
    print(f"\nhealthy feeds ok: {sum(statuses[u][0] == 'ok' for u in healthy)}/{len(healthy)}")
    print(f"hostile feed: {statuses[hostile][0]}")
    print(f"faulty feeds reported as error: {sum(statuses[u][0] == 'error' for u in faults)}/10")
    for url in faults:
        print(f"  {url.rsplit('/', 1)[1]:<8} {statuses[url][0]:<6} {statuses[url][1]}")
    print(f"stories: {len(records[0]['stories'])}")
    print(f"email.html: {len(html.encode()) / 1024:.1f} KB (Gmail clips at 102 KB)")
    print(f"hostile markup in email.html: {unsafe_parts(html) or 'none'}")
    print(f"rebuild: {len(NOT_MODIFIED)}/21 feeds answered 304")
    if len(records) == 1:
        print("rebuild: nothing new, no issue written")
    else:
        # Stories left out by max_stories stay candidates: the rebuild takes the next ones.
        first, second = ({s["url"] for s in r["stories"]} for r in records[:2])
        repeated = len(first & second)
        print(f"rebuild: {len(second)} further stories from the backlog, {repeated} repeated")


if __name__ == "__main__":
    main()
