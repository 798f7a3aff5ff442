"""The Listening page in a real browser: search as you type, live updates, a mention's page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from hubbub.accounts.tests.factories import Cast
from hubbub.care import services
from hubbub.core.events import publish
from hubbub.listening.events import MentionsArrived
from hubbub.listening.tests.factories import MentionFactory, QueryFactory
from hubbub.testing import RunningServer
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_shell_browser import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_searching_mentions_and_opening_one(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast, axe_source: str
) -> None:
    cast = committed_cast
    now = timezone.now()
    outages = QueryFactory(workspace=cast.brightwave, name="Outages")
    root = MentionFactory(
        workspace=cast.brightwave,
        external_id="thread-1",
        author_name="Maya Okafor",
        author_handle="maya.example",
        text="Is Brightwave down for anyone else? The café wifi is dead.",
        posted_at=now - dt.timedelta(hours=3),
        sentiment="negative",
        intent="question",
        priority=41,
    )
    mention = MentionFactory(
        workspace=cast.brightwave,
        author_name="Tom Reyes",
        author_handle="tom.example",
        text="Same here: Brightwave broadband has been down since 9am. Refund please.",
        url="https://bsky.example/post/2",
        thread_root_external_id="thread-1",
        reply_to_external_id="thread-1",
        posted_at=now - dt.timedelta(hours=2),
        sentiment="negative",
        intent="complaint",
        priority=78,
        priority_reasons=[
            {"factor": "negative", "points": 22, "label": "Strongly negative"},
            {"factor": "intent", "points": 18, "label": "A complaint"},
            {"factor": "reach", "points": 9.5, "label": "Author reaches 4,100 people"},
        ],
    )
    MentionFactory(
        workspace=cast.brightwave,
        text="Same here: Brightwave broadband has been down since 9am. Refund please.",
        duplicate_of=mention,
        posted_at=now - dt.timedelta(hours=1),
    )
    MentionFactory(
        workspace=cast.brightwave,
        text="Loving the new Brightwave router, setup took two minutes.",
        posted_at=now - dt.timedelta(minutes=30),
        sentiment="positive",
        intent="praise",
    )
    for each in (root, mention):
        each.queries.add(outages)

    # axe is an injected script, which the content security policy would block.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, live_hubbub, cast.lee)
    page.goto(live_hubbub.url + "/listening/")
    page.wait_for_selector("body[data-stream=open]")
    mentions = page.locator("#mention-list")
    expect(mentions).to_contain_text("Loving the new Brightwave router")

    page.keyboard.press("/")
    expect(page.locator("#id_q")).to_be_focused()
    page.keyboard.type("CAFE wi")  # any case, no accent, the last word a prefix
    expect(mentions).not_to_contain_text("Loving the new Brightwave router")
    expect(mentions).to_contain_text("The café wifi is dead.")
    page.fill("#id_q", "broadband refu")
    page.select_option("#id_since", "24h")
    expect(page).to_have_url(re.compile(r"q=broadband(%20|\+)refu.*since=24h"))
    expect(mentions.locator("li.mention")).to_have_count(2)

    # A new post that fits the search appears on its own; one that does not, does not.
    late = MentionFactory(
        workspace=cast.brightwave, text="Broadband down, I want a refund", posted_at=now
    )
    publish(MentionsArrived(mention_ids=[late.pk], count=1), workspace_id=cast.brightwave.pk)
    expect(mentions.locator("li.mention")).to_have_count(3)
    screenshot(page, "listening-search")
    assert serious_violations(page, axe_source) == []

    page.fill("#id_q", "zebra crossing")
    expect(mentions).to_contain_text("No mentions match “zebra crossing” with these filters.")
    screenshot(page, "listening-search-empty")
    page.get_by_role("link", name="Clear search and filters").click()
    expect(page.locator("#id_q")).to_have_value("")

    page.locator(f"#mention-list a[href='/listening/mentions/{mention.pk}/']").click()
    page.wait_for_url(f"**/listening/mentions/{mention.pk}/")
    expect(page.get_by_role("heading", name="Mention by Tom Reyes")).to_be_visible()
    original = page.get_by_role("link", name=re.compile("Open on Bluesky"))
    expect(original).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(page.locator("[aria-current=true]")).to_contain_text("This mention")
    expect(page.locator(".reasons")).to_contain_text("Strongly negative")
    screenshot(page, "mention-detail")
    assert serious_violations(page, axe_source) == []

    # Every control is reachable by Tab, with a visible focus ring.
    page.locator("main").focus()
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        if not page.evaluate("document.activeElement.closest('main a, main button, main input')"):
            break
        reached.append(
            page.evaluate(
                """() => [document.activeElement.getAttribute("href"),
                          getComputedStyle(document.activeElement).outlineStyle]"""
            )
        )
    hrefs = [href for href, _ in reached]
    assert "https://bsky.example/post/2" in hrefs
    assert "/listening/" in hrefs
    assert f"/listening/mentions/{root.pk}/" in hrefs
    assert all(style != "none" for _, style in reached), reached

    page.keyboard.press("u")
    page.wait_for_url("**/listening/")

    # From a mention to a conversation, with the keyboard: `o` opens it.
    page.goto(live_hubbub.url + f"/listening/mentions/{mention.pk}/")
    page.keyboard.press("o")
    page.wait_for_url("**/inbox/conversations/*/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Same here: Brightwave")
    expect(page.locator("main .timeline .entry-inbound")).to_have_count(1)
    screenshot(page, "conversation")
    assert serious_violations(page, axe_source) == []
    page.keyboard.press("u")
    page.wait_for_url("**/inbox/")
    expect(page.locator(".conversation-row")).to_have_count(1)
    expect(page.locator(".conversation-row")).to_contain_text("Tom Reyes")
    # Another agent opens a conversation for Maya: it appears here without a reload.
    services.open_conversation(actor=cast.ada, mention_id=root.pk)
    expect(page.locator(".conversation-row")).to_have_count(2)
    expect(page.locator(".conversation-row").first).to_contain_text("Tom Reyes")  # P78 first
    screenshot(page, "inbox-conversations")
    assert serious_violations(page, axe_source) == []
    context.close()
