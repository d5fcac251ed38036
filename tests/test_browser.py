"""What a reader sees, in headless Chromium (Debian's `chromium`, driven by Playwright).

Screenshots land in tests/artifacts/ (git-ignored) for a person to look at.
Timeouts are generous and nothing is timed: the machine may be slow and busy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.config import load_config
from digest.issues.preview import Preview, Watcher, make_server, watched_files
from digest.render.email import render_issue
from tests.helpers import BROWSER_WAIT as WAIT
from tests.helpers import CHROMIUM, big_issue, launch_chromium, make_config

pytestmark = pytest.mark.slow  # a real Chromium per test

ARTIFACTS = Path(__file__).parent / "artifacts"


playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)

# Reads each visible text element's colour and the background behind it (the first
# opaque one among its ancestors), and returns the pairs with their WCAG contrast.
CONTRAST_JS = """() => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!own || !box.width || style.visibility === "hidden" || style.opacity === "0") continue;
    if (el.closest('[style*="display:none"]')) continue;  // the hidden preheader
    const fg = rgb(style.color).slice(0, 3), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    out.push({text: el.textContent.trim().slice(0, 40), ratio: (hi + 0.05) / (lo + 0.05)});
  }
  return out;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def emails(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo issue (built by the real command) and a 40-story issue."""
    root = tmp_path_factory.mktemp("emails")
    digest = Path(sys.executable).with_name("digest")
    subprocess.run(
        [str(digest), "build", "--demo", "--output", str(root / "demo")],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=root,
    )
    (demo,) = (root / "demo").glob("*/email.html")
    big = root / "forty" / "email.html"
    big.parent.mkdir()
    big.write_text(render_issue(big_issue(40), make_config(root)).html, encoding="utf-8")
    return {"demo": demo, "forty": big}


def page_for(browser: Any, width: int, scheme: str = "light") -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page.set_default_timeout(WAIT)
    # Nothing leaves the machine: remote images (the 40-story issue's) are refused.
    page.route("http*://**", lambda route: route.abort())
    return page


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", [375, 600])
@pytest.mark.parametrize("which", ["demo", "forty"])
def test_no_horizontal_scroll(
    browser: Any, emails: dict[str, Path], which: str, width: int
) -> None:
    page = page_for(browser, width)
    page.goto(emails[which].as_uri(), wait_until="load")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shoot(page, f"{which}-{width}")
    page.close()


def test_images_alt_and_links(browser: Any, emails: dict[str, Path]) -> None:
    page = page_for(browser, 600)
    page.goto(emails["demo"].as_uri(), wait_until="load")
    images = page.evaluate(
        "[...document.images].map(i => ({alt: i.alt, w: i.getAttribute('width'),"
        " h: i.getAttribute('height'), loaded: i.complete && i.naturalWidth > 0,"
        " ratio: i.naturalHeight / i.naturalWidth}))"
    )
    assert len(images) >= 10
    for image in images:
        assert image["alt"].strip() and image["w"], image
        assert image["loaded"], image  # the demo's pictures sit beside the issue
        if image["h"]:  # a height only where the picture's proportions are known: the real ones
            assert abs(int(image["h"]) / int(image["w"]) - image["ratio"]) < 0.02, image
    hrefs = page.evaluate("[...document.links].map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith(("https://", "http://", "mailto:")) for h in hrefs), hrefs
    assert any(h.startswith("mailto:") for h in hrefs)  # the unsubscribe link
    assert page.evaluate("document.documentElement.lang") == "en"
    page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast(browser: Any, emails: dict[str, Path], scheme: str) -> None:
    page = page_for(browser, 600, scheme)
    page.goto(emails["demo"].as_uri(), wait_until="load")
    pairs = page.evaluate(CONTRAST_JS)
    assert len(pairs) > 50
    poor = [p for p in pairs if p["ratio"] < 4.5]
    assert not poor, poor[:5]
    if scheme == "dark":  # the dark palette really applies
        body = page.evaluate("getComputedStyle(document.querySelector('.card')).backgroundColor")
        assert body == "rgb(28, 28, 30)"
    shoot(page, f"demo-600-{scheme}")
    page.close()


@pytest.fixture
def preview_site(tmp_path: Path, emails: dict[str, Path]) -> Iterator[tuple[str, Path]]:
    """The built demo issue under a config with its own templates, served with --watch."""
    shutil.copy(Path(__file__).parent.parent / "digest" / "demo" / "config.toml", tmp_path)
    shutil.copytree(emails["demo"].parent.parent, tmp_path / "output")
    config_path = tmp_path / "config.toml"
    config = load_config(config_path)
    (tmp_path / "templates").mkdir()
    state = Preview(tmp_path / "output", config, watch=True)
    httpd = make_server(state, "127.0.0.1", 0)
    watcher = Watcher(
        lambda: watched_files(config_path, load_config(config_path)),
        lambda: state.rebuild(lambda: load_config(config_path)),
        interval=0.2,
    )
    watcher.start()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", tmp_path
    watcher.stop()
    httpd.shutdown()
    httpd.server_close()


def test_preview_toggle_archive_and_live_reload(
    browser: Any, preview_site: tuple[str, Path]
) -> None:
    url, root = preview_site
    page = page_for(browser, 1000)
    page.unroute("http*://**")
    page.route("https://**", lambda route: route.abort())
    page.goto(url)
    page.click("ol.issues a")  # the archive's link opens the issue's preview page
    page.wait_for_url("**/20*/")
    frame = page.locator("#frame")
    assert frame.evaluate("f => f.getBoundingClientRect().width") == 600
    page.click("#phone")
    assert frame.evaluate("f => f.getBoundingClientRect().width") == 375
    assert page.get_attribute("#phone", "aria-pressed") == "true"
    inner = page.frame_locator("#frame")
    assert inner.locator("body").evaluate("b => b.ownerDocument.documentElement.scrollWidth") <= 375
    shoot(page, "preview-phone")
    page.click("#desktop")
    assert frame.evaluate("f => f.getBoundingClientRect().width") == 600

    # Editing a template re-renders the issue and the open page reloads itself.
    partial = root / "templates" / "partials" / "footer.mjml.j2"
    partial.parent.mkdir(parents=True)
    partial.write_text(
        "<mj-section><mj-column><mj-text>Edited while previewing</mj-text>"
        "</mj-column></mj-section>\n",
        encoding="utf-8",
    )
    inner.get_by_text("Edited while previewing").wait_for(timeout=WAIT)
    shoot(page, "preview-reloaded")

    page.click("#tab-text")
    assert "Motoring Insider" in page.locator("body").inner_text()
    page.go_back()
    page.click("#tab-json")
    assert page.evaluate("JSON.parse(document.body.innerText).stories.length") == 10
    page.close()
