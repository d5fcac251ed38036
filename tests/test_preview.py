"""`digest preview`, the web version and the feed: a real server on loopback, real files."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import feedparser
import lxml.html
import pytest

from digest.config import Config, load_config
from digest.issues import codec
from digest.issues.preview import Preview, make_server
from digest.issues.publish import publish
from tests.helpers import LEAD_TITLE, NOW, make_issue

CONFIG_TOML = """\
[newsletter]
title = "The Insider"
url = "https://example.com/insider/"
unsubscribe = "mailto:leave@example.com"

[[feeds]]
url = "feed.xml"
"""


@pytest.fixture
def site(tmp_path: Path) -> tuple[Config, Path]:
    """A config.toml and an output folder holding two published issues."""
    (tmp_path / "config.toml").write_text(CONFIG_TOML, encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    output = tmp_path / "output"
    older = replace(make_issue(), id="2026-11-19", generated_at=NOW.replace(day=19))
    publish(older, config, output)
    publish(make_issue(), config, output)
    return config, output


@pytest.fixture
def server(site: tuple[Config, Path]) -> Iterator[tuple[str, Preview]]:
    config, output = site
    preview = Preview(output, config, watch=True)
    httpd = make_server(preview, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}", preview
    httpd.shutdown()
    httpd.server_close()


def get(address: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET `path` exactly as written (no client-side normalisation of "..")."""
    host, port = address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("GET", path, skip_host=False, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


# ── what publish writes beside the four contract files ──────────────────────


def test_issue_folder_has_a_web_version(site: tuple[Config, Path]) -> None:
    _, output = site
    folder = output / "2026-11-26"
    assert {p.name for p in folder.iterdir()} >= {
        "email.html", "email.txt", "message.eml", "issue.json", "web.html",
    }  # fmt: skip
    page = (folder / "web.html").read_text(encoding="utf-8")
    doc = lxml.html.fromstring(page)
    assert doc.get("lang") == "en"
    assert doc.find(".//h2").text_content() == LEAD_TITLE
    assert "Corey Lewis" in doc.text_content() and "<table" not in page  # a plain page
    assert "Issue 2" in doc.text_content()  # the second issue in this folder
    assert "<script" not in page


def test_archive_lists_titles_dates_and_first_story(site: tuple[Config, Path]) -> None:
    _, output = site
    doc = lxml.html.fromstring((output / "index.html").read_text(encoding="utf-8"))
    hrefs = [a.get("href") for a in doc.iter("a")]
    assert hrefs.index("2026-11-26/web.html") < hrefs.index("2026-11-19/web.html")
    text = " ".join(doc.text_content().split())
    assert "Thursday, 26 November 2026 · 3 stories" in text
    assert f"{LEAD_TITLE} — Renault has been considering" in text


def test_atom_feed_of_issues(site: tuple[Config, Path]) -> None:
    _, output = site
    parsed = feedparser.parse((output / "feed.xml").read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.feed.title == "The Insider"
    assert [e.link for e in parsed.entries] == [
        "https://example.com/insider/2026-11-26/web.html",
        "https://example.com/insider/2026-11-19/web.html",
    ]
    assert parsed.entries[0].title == "The Insider, 26 November 2026 · Thursday, 26 November 2026"
    assert parsed.entries[0].summary.startswith(LEAD_TITLE)
    assert parsed.entries[0].updated.startswith("2026-11-26T07:00:00")


def test_issue_json_reads_back_into_the_same_issue() -> None:
    issue = make_issue()
    assert codec.loads(codec.dumps(issue)) == (issue, None)


# ── the preview server ───────────────────────────────────────────────────────


def test_archive_links_open_the_preview_pages(server: tuple[str, Preview]) -> None:
    address, _ = server
    status, headers, body = get(address, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    doc = lxml.html.fromstring(body)
    hrefs = [a.get("href") for a in doc.iter("a")]
    assert "2026-11-26/" in hrefs and "2026-11-19/" in hrefs
    assert b"/__digest/version" in body  # watching: the page reloads itself


def test_issue_page_has_width_toggle_and_tabs(server: tuple[str, Preview]) -> None:
    address, _ = server
    status, headers, _ = get(address, "/2026-11-26")
    assert status == 301 and headers["location"] == "/2026-11-26/"
    status, _, body = get(address, "/2026-11-26/")
    doc = lxml.html.fromstring(body)
    assert doc.get_element_by_id("frame").get("src") == "email.html"
    assert doc.get_element_by_id("phone").get("data-width") == "375"
    assert doc.get_element_by_id("desktop").get("data-width") == "600"
    assert doc.get_element_by_id("tab-text").get("href") == "email.txt"
    assert doc.get_element_by_id("tab-json").get("href") == "issue.json"
    _, _, body = get(address, "/2026-11-26/?view=web")
    assert lxml.html.fromstring(body).get_element_by_id("frame").get("src") == "web.html"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/2026-11-26/email.txt", "text/plain; charset=utf-8"),
        ("/2026-11-26/issue.json", "application/json; charset=utf-8"),
        ("/2026-11-26/email.html", "text/html; charset=utf-8"),
        ("/feed.xml", "application/xml"),
    ],
)
def test_issue_files_are_served(server: tuple[str, Preview], path: str, content_type: str) -> None:
    address, preview = server
    status, headers, body = get(address, path)
    assert status == 200 and headers["content-type"] == content_type
    assert body == (preview.root / path.lstrip("/")).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/../config.toml",
        "/2026-11-26/../../config.toml",
        "/%2e%2e/config.toml",
        "/..%2fconfig.toml",
        "/2026-11-26/%2e%2e%2f%2e%2e%2fconfig.toml",
        "/%00",
        "/..\\config.toml",
    ],
)
def test_refuses_paths_outside_output(server: tuple[str, Preview], path: str) -> None:
    address, _ = server
    status, _, body = get(address, path)
    assert status in (403, 404), status
    assert b"[newsletter]" not in body


def test_refuses_a_symlink_out_of_output(server: tuple[str, Preview], tmp_path: Path) -> None:
    address, preview = server
    (preview.root / "escape").symlink_to(tmp_path / "config.toml")
    status, _, body = get(address, "/escape")
    assert status == 403 and b"[newsletter]" not in body


def test_missing_file_is_404(server: tuple[str, Preview]) -> None:
    assert get(server[0], "/2026-11-26/nope.html")[0] == 404


def test_rebuild_after_a_template_change(site: tuple[Config, Path]) -> None:
    config, output = site
    preview = Preview(output, config, watch=True)
    templates = config.base_dir / "templates" / "partials"
    templates.mkdir(parents=True)
    footer = "<mj-section><mj-column><mj-text>Edited footer</mj-text></mj-column></mj-section>\n"
    (templates / "footer.mjml.j2").write_text(footer, encoding="utf-8")
    images_before = sorted(p.name for p in (output / "2026-11-26").iterdir())
    preview.rebuild(lambda: load_config(config.base_dir / "config.toml"))
    assert preview.version == 1 and preview.error == ""
    for issue_id in ("2026-11-26", "2026-11-19"):
        assert "Edited footer" in (output / issue_id / "email.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in (output / "2026-11-26").iterdir()) == images_before

    (templates / "footer.mjml.j2").write_text("{% if %}\n", encoding="utf-8")
    preview.rebuild(lambda: load_config(config.base_dir / "config.toml"))
    assert preview.version == 2
    assert "footer.mjml.j2, line 1" in preview.error
    assert "Edited footer" in (output / "2026-11-26" / "email.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_cli_preview_watches_and_serves_on_loopback(site: tuple[Config, Path]) -> None:
    """The real command in a subprocess: binds 127.0.0.1, re-renders on a config change."""
    config, output = site
    config_path = config.base_dir / "config.toml"
    digest = Path(sys.executable).with_name("digest")
    process = subprocess.Popen(
        [str(digest), "preview", "--config", str(config_path), "--port", "0", "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=config.base_dir,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line, (line, process.stderr and process.stderr.read())
        address = line.split("http://")[1].split("/")[0]
        assert get(address, "/")[0] == 200
        version = json.loads(get(address, "/__digest/version")[2])["version"]
        text = config_path.read_text(encoding="utf-8").replace("The Insider", "The Outsider")
        config_path.write_text(text, encoding="utf-8")
        deadline = time.monotonic() + 60
        while json.loads(get(address, "/__digest/version")[2])["version"] == version:
            assert time.monotonic() < deadline, "no rebuild within 60 s"
            time.sleep(0.2)
        assert "The Outsider" in (output / "2026-11-26" / "email.html").read_text()
        with pytest.raises(OSError):  # not on the machine's other addresses
            other = socket.gethostbyname(socket.gethostname())
            if other.startswith("127."):
                raise OSError("no other address to try")
            socket.create_connection((other, int(address.split(":")[1])), timeout=2)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def test_preview_refuses_a_bad_port(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        digest = Path(sys.executable).with_name("digest")
        result = subprocess.run(
            [str(digest), "preview", "-o", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    finally:
        busy.close()
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
