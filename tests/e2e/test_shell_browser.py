"""The app shell in a real browser: sign-in, keyboard, phone size, accessibility, live presence."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from hubbub.accounts.tests.factories import Cast
from hubbub.testing import RunningServer
from tests.e2e.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_signs_in_and_gets_around_by_keyboard(
    page: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    page.goto(live_hubbub.url + "/inbox/")
    assert "/login/" in page.url
    screenshot(page, "login")
    sign_in(page, live_hubbub, committed_cast.cara)
    assert page.get_by_role("heading", name="Inbox").is_visible()
    screenshot(page, "inbox")

    page.keyboard.press("g")
    page.keyboard.press("s")
    page.wait_for_url("**/settings/profile/")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    assert dialog.is_visible()
    assert "Go to Listening" in dialog.inner_text()
    screenshot(page, "shortcuts")
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    page.keyboard.press("g")
    page.keyboard.press("l")
    page.wait_for_url("**/listening/")


def test_typing_in_a_field_does_not_trigger_shortcuts(
    page: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    sign_in(page, live_hubbub, committed_cast.cara)
    page.goto(live_hubbub.url + "/settings/profile/")
    page.fill("#id_display_name", "")
    page.type("#id_display_name", "gig ?")
    assert page.url.endswith("/settings/profile/")
    assert page.input_value("#id_display_name") == "gig ?"


def test_on_a_phone_the_navigation_opens_from_the_menu_button(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    sign_in(page, live_hubbub, committed_cast.lee)
    nav_link = page.get_by_role("link", name="Contacts")
    assert not nav_link.is_visible() or nav_link.bounding_box()["x"] < 0
    screenshot(page, "phone-inbox")
    page.get_by_role("button", name="Menu").click()
    page.wait_for_timeout(300)  # the slide-in transition
    assert nav_link.bounding_box()["x"] >= 0
    screenshot(page, "phone-menu-open")
    page.goto(live_hubbub.url + "/settings/people/")
    screenshot(page, "phone-people")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    context.close()


def test_presence_changes_show_up_live_in_another_tab(
    context: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    cast = committed_cast
    watcher = context.new_page()
    sign_in(watcher, live_hubbub, cast.ada)
    watcher.goto(live_hubbub.url + "/settings/people/")
    watcher.wait_for_selector("body[data-stream=open]")
    row = watcher.locator(f"tr[data-member='{cast.ada.pk}'] [data-status]")
    assert row.inner_text() == "Offline"

    other_tab = context.new_page()
    other_tab.goto(live_hubbub.url + "/inbox/")
    other_tab.select_option("#status-select", "away")

    expect(row).to_have_text("Away")  # swapped in by htmx on the live event, no reload
    expect(watcher.locator("#status-select")).to_have_value("away")
    screenshot(watcher, "people-live")


SHELL_PAGES = [
    "/inbox/",
    "/listening/",
    "/listening/queries/",
    "/listening/queries/new/",
    "/listening/routing/",
    "/settings/profile/",
    "/settings/people/",
    "/settings/people/invite/",
    "/settings/teams/",
    "/settings/tokens/",
    "/settings/pipeline/",
    "/settings/sources/",
    "/settings/sources/new/mastodon/",
    "/settings/channels/",
    "/settings/channels/new/mastodon/",
]


def serious_violations(page: Any, axe_source: str) -> list[str]:
    page.add_script_tag(content=axe_source)
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {json.dumps([n['target'] for n in v['nodes']])}"
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def test_shell_pages_have_no_serious_accessibility_violations(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast, axe_source: str
) -> None:
    # axe runs as an injected script, which our CSP would block: bypass it for the audit only.
    context = browser.new_context(viewport={"width": 1280, "height": 820}, bypass_csp=True)
    page = context.new_page()
    page.goto(live_hubbub.url + "/login/")
    problems = {"/login/": serious_violations(page, axe_source)}
    sign_in(page, live_hubbub, committed_cast.ada)
    for path in [*SHELL_PAGES, f"/settings/teams/{committed_cast.care.pk}/"]:
        page.goto(live_hubbub.url + path)
        problems[path] = serious_violations(page, axe_source)
        screenshot(page, "page" + path.strip("/").replace("/", "-"))
    context.close()
    assert {path: found for path, found in problems.items() if found} == {}


def test_the_pages_run_under_the_content_security_policy_without_violations(
    page: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    sign_in(page, live_hubbub, committed_cast.ada)
    for path in SHELL_PAGES:
        page.goto(live_hubbub.url + path)
    assert blocked == []


def test_the_query_editor_checks_as_you_type(
    page: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    sign_in(page, live_hubbub, committed_cast.lee)
    page.goto(live_hubbub.url + "/listening/queries/new/")
    page.fill("#id_name", "Outages")
    editor = page.locator("#id_expression")
    editor.fill('"brightwave broadband" AND (outage OR down')
    expect(page.locator("#query-check")).to_contain_text("never closed")
    screenshot(page, "query-editor-error")
    editor.fill('"Brightwave broadband" AND (outage OR down) NOT test')
    expect(page.locator("#query-check")).to_contain_text("Valid.")
    expect(page.locator("#query-check")).to_contain_text(
        '"brightwave broadband" AND (outage OR down) AND NOT test'
    )
    screenshot(page, "query-editor-valid")
    page.click("text=Save query")
    page.wait_for_url("**/listening/queries/")
    expect(page.locator("table.table")).to_contain_text("Outages")
    screenshot(page, "queries")
