"""`digest preview`: serve `output/` on localhost, with live reload while editing the theme.

Pages: `/` is the archive (its links lead to the preview pages); `/<issue-id>/`
shows the email in a frame that toggles between desktop (600 px) and phone
(375 px) width, with tabs for the web version, the text part and the raw
`issue.json`. Any other path is a file under `output/`, and nothing outside it
is ever served. With `watch`, a change to config.toml or a template re-renders
every issue from its `issue.json` (no feed is fetched, nothing is marked sent)
and the open page reloads itself.
"""

from __future__ import annotations

import html
import json
import logging
import mimetypes
import os
import re
import threading
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from digest.config import Config
from digest.errors import DigestError
from digest.issues.files import read_issues
from digest.issues.publish import WEB_PAGE, issue_files, issue_number, write_archive
from digest.models import Comment, FeedReport, FeedStatus, Issue, Picture, Story
from digest.render.email import template_search_path

logger = logging.getLogger(__name__)

RELOAD_PATH = "/__digest/version"
_ISSUE_ID = re.compile(r"^[\w.-]+$")

# Polls the server's version; reloads the page when a rebuild finished, shows a failed one.
_RELOAD_SCRIPT = """<script>(function () {
  var seen = null;
  function poll() {
    fetch("/__digest/version", {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (seen !== null && s.version !== seen) { location.reload(); return; }
        seen = s.version;
        var box = document.getElementById("digest-error");
        if (box) { box.textContent = s.error || ""; box.hidden = !s.error; }
        setTimeout(poll, 700);
      })
      .catch(function () { setTimeout(poll, 1500); });
  }
  poll();
})();</script>"""
assert RELOAD_PATH in _RELOAD_SCRIPT

_SHELL = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · preview</title>
<style>
  body {{ margin: 0; background: #d9d6d1; font: 14px/1.4 -apple-system, 'Segoe UI', Helvetica,
    Arial, sans-serif; color: #1a1a1a; }}
  nav {{ display: flex; flex-wrap: wrap; gap: 6px; align-items: center; padding: 10px 16px;
    background: #1a1a1a; color: #fff; position: sticky; top: 0; }}
  nav a, nav button {{ color: #fff; background: #3a3a3a; border: 0; border-radius: 3px;
    padding: 6px 10px; font: inherit; text-decoration: none; cursor: pointer; }}
  nav [aria-pressed="true"], nav a[aria-current] {{ background: #b3001b; }}
  nav .spacer {{ flex: 1; }}
  #digest-error {{ margin: 0; padding: 10px 16px; background: #ffe3e3; color: #7a0010;
    white-space: pre-wrap; font-family: ui-monospace, monospace; }}
  iframe {{ display: block; margin: 16px auto; border: 0; background: #fff;
    box-shadow: 0 1px 6px rgba(0,0,0,.25); height: calc(100vh - 90px); }}
</style>
</head>
<body>
<nav>
  <a href="/">← Archive</a>
  <strong style="margin: 0 8px">{title}</strong>
  <button type="button" id="desktop" data-width="600" aria-pressed="true">Desktop 600</button>
  <button type="button" id="phone" data-width="375" aria-pressed="false">Phone 375</button>
  <span class="spacer"></span>
  <a href="?view=email" id="tab-email"{current_email}>Email</a>
  <a href="?view=web" id="tab-web"{current_web}>Web</a>
  <a href="email.txt" id="tab-text">Text part</a>
  <a href="issue.json" id="tab-json">issue.json</a>
</nav>
<p id="digest-error" hidden></p>
<iframe id="frame" title="{title}" src="{page}" style="width: {width}px"></iframe>
<script>
  document.querySelectorAll("button[data-width]").forEach(function (button) {{
    button.addEventListener("click", function () {{
      document.getElementById("frame").style.width = button.dataset.width + "px";
      document.querySelectorAll("button[data-width]").forEach(function (b) {{
        b.setAttribute("aria-pressed", String(b === button));
      }});
    }});
  }});
</script>
{reload}
</body>
</html>
"""


class Preview:
    """The preview's state: where output is, how to rebuild, and a version bumped per rebuild."""

    def __init__(self, output_dir: Path, config: Config | None, watch: bool) -> None:
        self.root = output_dir.resolve()
        self.config = config
        self.watch = watch
        self.version = 0
        self.error = ""
        self.lock = threading.Lock()

    def resolve(self, url_path: str) -> Path | None:
        """Return the file under `root` that a URL path names, or None when it leaves root."""
        relative = unquote(url_path).lstrip("/")
        if "\x00" in relative or "\\" in relative:
            return None
        target = (self.root / relative).resolve()
        if target != self.root and self.root not in target.parents:
            return None
        return target

    def rebuild(self, load: Callable[[], Config] | None = None) -> None:
        """Re-render every issue from its issue.json with the current config and templates."""
        try:
            config = load() if load else self.config
            if config is None:
                return
            self.config = config
            for record in read_issues(self.root):
                issue = issue_from_record(record)
                folder = self.root / issue.id
                # Images copied beside the issue (the demo's) stay where they are.
                local = {u: folder / "images" / Path(urlsplit(u).path).name for u in _images(issue)}
                local = {url: path for url, path in local.items() if path.is_file()}
                number = issue_number(self.root, issue.id)
                files, _, _ = issue_files(issue, config, number, local)
                for name, content in files.items():
                    _replace(folder / name, content)
            write_archive(self.root, config)
            self.error = ""
        except (DigestError, OSError, ValueError, KeyError, TypeError) as e:
            self.error = f"rebuild failed: {e}"
            logger.error("%s", self.error)
        with self.lock:
            self.version += 1


def _replace(path: Path, content: str | bytes) -> None:
    """Write beside `path` and rename over it, so a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(content.encode() if isinstance(content, str) else content)
    os.replace(partial, path)


def _images(issue: Issue) -> list[str]:
    return [s.image for s in issue.stories if s.image]


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _picture(story: dict[str, Any]) -> Picture | None:
    url = story.get("image")
    if not isinstance(url, str) or not url:
        return None
    width, height = story.get("image_width"), story.get("image_height")
    width = width if isinstance(width, int) else None
    height = height if isinstance(height, int) else None
    alt = str(story.get("image_alt") or "")
    # Nothing known beyond the URL: the record was written without a Picture.
    return Picture(url, width, height, alt) if width or height or alt else None


def issue_from_record(record: dict[str, Any]) -> Issue:
    """Return the Issue an `issue.json` record describes (the schema in the README)."""
    stories = tuple(
        Story(
            title=str(s["title"]),
            url=str(s.get("url") or ""),
            source=str(s.get("source") or ""),
            author=s.get("author"),
            published=_when(s.get("published")),
            image=s.get("image"),
            picture=_picture(s),
            section=str(s.get("section") or ""),
            summary=tuple(str(x) for x in s.get("summary") or ()),
            comment_count=s.get("comment_count"),
            comments=tuple(
                Comment(
                    author=str(c.get("author") or ""),
                    text=str(c.get("text") or ""),
                    url=c.get("url"),
                    published=_when(c.get("published")),
                    score=c.get("score"),
                    replies=c.get("replies"),
                    by_author=c.get("by_author") is True,
                )
                for c in s.get("comments") or ()
            ),
            comments_url=s.get("comments_url"),
        )
        for s in record.get("stories") or ()
    )
    feeds = tuple(
        FeedReport(
            url=str(f.get("url")),
            status=FeedStatus(f.get("status", "ok")),
            title=f.get("title"),
            error=f.get("error"),
            items=int(f.get("items") or 0),
        )
        for f in record.get("feeds") or ()
    )
    generated = _when(record.get("generated_at"))
    if generated is None:
        raise ValueError(f"issue {record.get('id')!r} has no generated_at")
    return Issue(str(record["id"]), str(record.get("title", "")), generated, stories, feeds)


def _handler(preview: Preview) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "digest-preview"

        def log_message(self, format: str, *args: Any) -> None:
            logger.info("%s " + format, self.address_string(), *args)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            if path == RELOAD_PATH:
                state = {"version": preview.version, "error": preview.error}
                return self._send(json.dumps(state).encode(), "application/json")
            target = preview.resolve(path)
            if target is None:
                return self.send_error(HTTPStatus.FORBIDDEN, "outside the output folder")
            if path == "/":
                return self._archive(target / "index.html")
            if target.is_dir() and (target / "issue.json").is_file():
                if not path.endswith("/"):
                    return self._redirect(path + "/")
                return self._shell(target, parts.query)
            if not target.is_file():
                return self.send_error(HTTPStatus.NOT_FOUND)
            self._send(target.read_bytes(), _content_type(target))

        def _archive(self, index: Path) -> None:
            if not index.is_file():
                page = "<!DOCTYPE html><title>digest preview</title><p>No issues yet: run "
                page += "<code>digest build</code>.</p>"
            else:
                page = index.read_text(encoding="utf-8")
                # The archive links to each web version; in the preview they open the viewer.
                page = re.sub(r'href="([^"/]+)/(?:web|email)\.html"', r'href="\1/"', page)
            self._send(self._with_reload(page).encode(), "text/html; charset=utf-8")

        def _shell(self, folder: Path, query: str) -> None:
            web = "view=web" in query and (folder / WEB_PAGE).is_file()
            page = _SHELL.format(
                title=html.escape(folder.name),
                page=WEB_PAGE if web else "email.html",
                width=600,
                current_email="" if web else ' aria-current="page"',
                current_web=' aria-current="page"' if web else "",
                reload=_RELOAD_SCRIPT if preview.watch else "",
            )
            self._send(page.encode(), "text/html; charset=utf-8")

        def _with_reload(self, page: str) -> str:
            if not preview.watch:
                return page
            return page.replace("</body>", _RELOAD_SCRIPT + "\n</body>", 1)

        def _redirect(self, location: str) -> None:
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _content_type(path: Path) -> str:
    if path.suffix == ".txt":
        return "text/plain; charset=utf-8"
    if path.suffix == ".json":
        return "application/json; charset=utf-8"
    if path.suffix == ".eml":
        return "text/plain; charset=utf-8"  # shown, not downloaded
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def watched_files(config_path: Path, config: Config) -> list[Path]:
    """Return config.toml and every template file the build would read."""
    files = [config_path]
    for folder in template_search_path(config):
        files += sorted(p for p in folder.rglob("*") if p.is_file())
    return files


class Watcher(threading.Thread):
    """Polls the watched files' modification times and calls `changed` when one moves."""

    def __init__(
        self, files: Callable[[], list[Path]], changed: Callable[[], None], interval: float = 0.4
    ) -> None:
        super().__init__(daemon=True, name="digest-preview-watch")
        self.files, self.changed, self.interval = files, changed, interval
        self.stopped = threading.Event()

    def snapshot(self) -> dict[Path, int]:
        stamps: dict[Path, int] = {}
        for path in self.files():
            try:
                stamps[path] = path.stat().st_mtime_ns
            except OSError:
                stamps[path] = -1
        return stamps

    def run(self) -> None:
        seen = self.snapshot()
        while not self.stopped.wait(self.interval):
            now = self.snapshot()
            if now != seen:
                seen = now
                self.changed()

    def stop(self) -> None:
        self.stopped.set()


def make_server(preview: Preview, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """Return the HTTP server (not yet serving); port 0 picks a free port."""
    server = ThreadingHTTPServer((host, port), _handler(preview))
    server.daemon_threads = True
    return server
