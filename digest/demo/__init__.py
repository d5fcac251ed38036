"""The bundled demo newsroom: three small car-news sites served without a network.

`digest build --demo` runs the real pipeline against these files so that a
first-time user sees a complete issue (feeds, an excerpt-only feed whose
pages must be extracted, comment threads, images) before configuring
anything. The sites live under the reserved `.example` domain, so even a
misrouted request could never reach a real host.

URL to file mapping, relative to `SITE_DIR`::

    https://demo.digest.example/<path>      -> site/<path>
    https://demo.digest.example/<path>/     -> site/<path>/index.html, else site/<path>/index.xml
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

DEMO_HOST = "demo.digest.example"
SITE_DIR = Path(__file__).resolve().parent / "site"
CONFIG_PATH = Path(__file__).resolve().parent / "config.toml"

_INDEX_FILES = ("index.html", "index.xml")
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".png": "image/png",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


def demo_transport() -> httpx.MockTransport:
    """Return an httpx transport answering requests for the demo host from `SITE_DIR`.

    It stands in for the network at the lowest layer, so the collector's own
    code (redirect handling, size caps, conditional GET, parsing) runs exactly
    as it does against a real server.
    """
    return httpx.MockTransport(_handle)


def demo_image_files() -> dict[str, Path]:
    """Return each demo image URL with its file, so an issue can ship its images."""
    images = SITE_DIR / "images"
    return {f"https://{DEMO_HOST}/images/{p.name}": p for p in sorted(images.glob("*.png"))}


def _handle(request: httpx.Request) -> httpx.Response:
    if request.url.host != DEMO_HOST or request.method not in ("GET", "HEAD"):
        return _not_found(request)
    path = _resolve(request.url.path)
    if path is None:
        if _is_directory(request.url.path):
            # Like a real web server: a folder asked for without its slash is
            # redirected, so relative links inside index pages keep working.
            location = request.url.copy_with(path=request.url.path + "/", query=None)
            return httpx.Response(301, headers={"Location": str(location)}, request=request)
        return _not_found(request)
    content = path.read_bytes()
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Content-Type": _content_type(path, content)}
    tags = _if_none_match(request)
    if etag in tags or "*" in tags:
        return httpx.Response(304, headers={"ETag": etag}, request=request)
    body = b"" if request.method == "HEAD" else content
    headers["Content-Length"] = str(len(content))
    return httpx.Response(200, headers=headers, content=body, request=request)


def _safe_parts(url_path: str) -> tuple[str, ...] | None:
    """Split a URL path into file-name parts, or None if any part could escape the site."""
    parts = tuple(p for p in url_path.split("/") if p)
    for part in parts:
        if part in (".", "..") or "\\" in part or "\x00" in part or part.startswith("."):
            return None
    return parts


def _resolve(url_path: str) -> Path | None:
    """Return the file a URL path names, or None when there is none (or it is unsafe)."""
    parts = _safe_parts(url_path)
    if parts is None:
        return None
    target = SITE_DIR.joinpath(*parts)
    if url_path.endswith("/") or not parts:
        candidates = [target / name for name in _INDEX_FILES]
    else:
        candidates = [target]
    root = SITE_DIR.resolve()
    for candidate in candidates:
        # A symlink inside the site must not lead outside it either.
        if candidate.is_file() and candidate.resolve().is_relative_to(root):
            return candidate
    return None


def _is_directory(url_path: str) -> bool:
    parts = _safe_parts(url_path)
    if not parts or url_path.endswith("/"):
        return False
    return SITE_DIR.joinpath(*parts).is_dir()


def _content_type(path: Path, content: bytes) -> str:
    if path.suffix == ".xml":
        # Feeds are told apart by their root element, as a server's config would.
        head = content[:1024]
        if b"<rss" in head:
            return "application/rss+xml; charset=utf-8"
        if b"<feed" in head:
            return "application/atom+xml; charset=utf-8"
        return "application/xml; charset=utf-8"
    return _CONTENT_TYPES.get(path.suffix, "application/octet-stream")


def _if_none_match(request: httpx.Request) -> set[str]:
    """Return the entity tags of an If-None-Match header, weak ones compared as strong."""
    header = request.headers.get("If-None-Match", "")
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _not_found(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        404,
        headers={"Content-Type": "text/plain; charset=utf-8"},
        content=f"not found: {request.url}".encode(),
        request=request,
    )


__all__ = ["CONFIG_PATH", "DEMO_HOST", "SITE_DIR", "demo_image_files", "demo_transport"]
