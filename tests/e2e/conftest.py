"""Browser fixtures: Playwright driving Debian's Chromium (no browser download)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubbub.accounts.models import User
from hubbub.accounts.tests.factories import PASSWORD
from hubbub.testing import ARTIFACTS, CHROMIUM, REPO, RunningServer, missing_component

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """Close every page a test opened before its fixtures empty the database.

    A test that fails half-way leaves its pages open; their live streams and
    presence reports would keep the server busy while the tables are emptied.
    """
    browser = getattr(item, "funcargs", {}).get("browser")
    if browser is not None:
        for opened in list(browser.contexts):
            opened.close()
    yield


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing_component(f"Chromium at {CHROMIUM} (run scripts/install-test-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 820})
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        missing_component(f"axe-core at {AXE} (run scripts/install-test-deps.sh)")
    return AXE.read_text()


def sign_in(page: Any, server: RunningServer, user: User) -> None:
    page.goto(server.url + "/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inbox/")


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
