"""A reader in headless Chromium: subscribe with the form, confirm, choose, unsubscribe.

The app runs in uvicorn on loopback and aiosmtpd catches the confirmation
mail; the browser's only proxy is a dead port, so nothing but loopback answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.store import State
from tests.helpers import BROWSER_WAIT as WAIT
from tests.helpers import CHROMIUM, launch_chromium
from tests.readers import (
    Catcher,
    Running,
    confirm_link,
)

ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = pytest.mark.usefixtures("reader_secret")


playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)", allow_module_level=True)


@pytest.fixture
def page() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        browser = launch_chromium(p)
        tab = browser.new_page(viewport={"width": 600, "height": 900})
        tab.set_default_timeout(WAIT)
        yield tab
        browser.close()


def status(site: Running, address: str) -> tuple[str, tuple[str, ...], str]:
    with State(site.config.state_target) as state:
        found = state.subscriber(address)
        assert found is not None
        return found.status, found.preferences.sources, found.preferences.cadence


def shoot(tab: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"serve-{name}.png"), full_page=True)


@pytest.mark.slow
def test_a_reader_subscribes_confirms_chooses_and_leaves(
    site: Running, smtp: tuple[Catcher, int], page: Any
) -> None:
    reader = "cleo@example.org"
    page.goto(f"{site.url}/subscribe")
    trap = page.locator("#website").bounding_box()  # the honeypot is out of people's sight
    assert trap is not None and trap["x"] + trap["width"] <= 0
    page.fill("#email", reader)
    page.fill("#name", "Cléo")
    page.check("input[name=sources][value='Road Notes']")
    shoot(page, "subscribe")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your inbox")
    assert status(site, reader) == ("pending", ("Road Notes",), "issue")

    link = confirm_link(smtp[0].wait_for(reader)[0].message)
    page.goto(link)
    assert status(site, reader)[0] == "pending"  # opening the link changed nothing
    shoot(page, "confirm")
    page.click("text=Confirm my subscription")
    page.wait_for_selector("text=You are subscribed")
    assert status(site, reader)[0] == "active"

    page.click("text=Choose your sources and how often")
    page.wait_for_selector("text=Your preferences")
    page.check("input[name=cadence][value=weekly]")
    page.check("input[name=sources][value='Auto Wire']")
    page.click("text=Save")
    page.wait_for_selector("text=Saved.")
    # Both sources ticked means everything, so sources added later reach the reader too.
    assert status(site, reader) == ("active", (), "weekly")

    page.click("text=Unsubscribe")
    page.wait_for_selector("button:has-text('Unsubscribe')")
    assert status(site, reader)[0] == "active"
    shoot(page, "unsubscribe")
    page.click("button:has-text('Unsubscribe')")
    page.wait_for_selector("text=You are unsubscribed")
    assert status(site, reader)[0] == "unsubscribed"
