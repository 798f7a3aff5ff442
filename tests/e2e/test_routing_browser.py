"""Routing rules in a real browser: a lead adds and orders rules; an agent only reads them."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from hubbub.accounts.tests.factories import Cast
from hubbub.listening.tests.factories import QueryFactory
from hubbub.testing import RunningServer
from tests.e2e.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_rule(page: Any, name: str, team: str, **conditions: str) -> None:
    page.fill("#id_name", name)
    page.select_option("#id_team", label=team)
    for field, value in conditions.items():
        if field == "lang":
            page.fill("#id_lang", value)
        else:
            page.select_option(f"#id_{field}", label=value)
    page.click("text=Add rule")
    page.wait_for_url("**/listening/routing/")


def test_a_lead_adds_and_orders_rules_and_an_agent_reads_them(
    browser: Any, page: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    QueryFactory(
        workspace=committed_cast.brightwave, name="Outages", owner_team=committed_cast.care
    )
    sign_in(page, live_hubbub, committed_cast.lee)
    page.goto(live_hubbub.url + "/listening/queries/")
    page.get_by_role("link", name="Routing").click()
    page.wait_for_url("**/listening/routing/")
    expect(page.locator("main")).to_contain_text("No routing rules yet")

    add_rule(page, "German speakers", "Nights", lang="de")
    add_rule(page, "Outage complaints", "Care", query="Outages", intent="Complaint")
    add_rule(page, "Reddit threads", "Billing", platform="Reddit")
    rows = page.locator("table.table tbody tr")
    expect(rows).to_have_count(3)
    page.get_by_role("button", name="Move “Outage complaints” up").click()
    page.wait_for_url("**/listening/routing/#rule-*")
    expect(rows.first).to_contain_text("Outage complaints")
    expect(page.get_by_role("button", name="Move “Outage complaints” up")).to_be_disabled()
    screenshot(page, "routing")

    page.get_by_role("link", name="Edit “German speakers”").click()
    page.fill("#id_lang", "de-AT")
    screenshot(page, "routing-edit")
    page.click("text=Save rule")
    page.wait_for_url("**/listening/routing/")
    expect(page.locator("main")).to_contain_text("de-AT")

    page.get_by_role("link", name="Delete “Reddit threads”").click()
    expect(page.locator("main")).to_contain_text("Delete “Reddit threads”?")
    screenshot(page, "routing-delete")
    page.get_by_role("button", name="Delete rule").click()
    page.wait_for_url("**/listening/routing/")
    expect(rows).to_have_count(2)

    context = browser.new_context(viewport={"width": 1280, "height": 820})
    agent = context.new_page()
    sign_in(agent, live_hubbub, committed_cast.cara)
    agent.goto(live_hubbub.url + "/listening/routing/")
    expect(agent.locator("table.table tbody tr")).to_have_count(2)
    expect(agent.get_by_role("button", name="Move “German speakers” up")).to_have_count(0)
    expect(agent.get_by_text("Add a rule")).to_have_count(0)
    screenshot(agent, "routing-agent")
    context.close()
