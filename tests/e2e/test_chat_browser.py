"""The web chat on the brand's own site: a visitor and an agent talk live, in two browsers.

The brand's page is served by a separate little web server on another
origin (http://localhost:<port>, while Hubbub is http://127.0.0.1:<port>),
with the one script tag; the widget talks to Hubbub across origins. An
agent signed in to Hubbub in another browser context sees the chat arrive
in the inbox and answers it; the visitor sees the answer, with the agent's
name, without reloading. When nobody is online the widget says so and
takes an email address, which the agent can then answer by.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from hubbub.accounts.models import Status
from hubbub.accounts.tests.factories import Cast
from hubbub.care.models import CHAT, Conversation
from hubbub.cli.serve import free_port
from hubbub.connectors.models import ChatWidget
from hubbub.testing import RunningServer
from tests.e2e.conftest import screenshot
from tests.e2e.test_inbox_browser import agent_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEY = "e2ewidgetkey42"


class BrandSite:
    """A plain web server for the brand's page, on its own origin."""

    def __init__(self, hubbub_url: str) -> None:
        page = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<title>Brightwave — Fibre for everyone</title>"
            "<style>body{font:16px Georgia,serif;margin:3rem;color:#222}"
            "div{color:red!important}</style></head><body>"
            "<h1>Brightwave Fibre</h1><p>Plans from 29 €/month.</p>"
            f"<script src='{hubbub_url}/static/hubbub/chat-widget.js' data-widget='{KEY}' defer>"
            "</script></body></html>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def brand_site(live_hubbub: RunningServer) -> Iterator[BrandSite]:
    site = BrandSite(live_hubbub.url)
    yield site
    site.stop()


def chat_widget(cast: Cast, site: BrandSite) -> ChatWidget:
    return ChatWidget.objects.create(
        workspace=cast.brightwave,
        name="Website",
        key=KEY,
        allowed_origins=[site.origin],
        team=cast.care,
        greeting="Hi! Ask us anything about your line.",
        identity_secret="e2e-secret",
    )


def visitor_page(browser: Any, site: BrandSite) -> Any:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(site.origin + "/")
    return page


def test_a_visitor_on_the_brands_site_chats_live_with_an_agent(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast, brand_site: BrandSite
) -> None:
    cast = committed_cast
    chat_widget(cast, brand_site)
    cast.cara.profile.status = Status.ONLINE
    cast.cara.profile.save()
    agent = agent_page(browser, live_hubbub, cast.cara)
    agent.goto(live_hubbub.url + "/inbox/?view=all")
    expect(agent.locator("body")).to_have_attribute("data-stream", "open")

    visitor = visitor_page(browser, brand_site)
    visitor.get_by_role("button", name="Chat with us").click()
    panel = visitor.get_by_role("dialog", name="Chat with us")
    expect(panel).to_contain_text("online")
    box = panel.get_by_role("textbox", name="Message")
    expect(box).to_be_focused()
    box.fill("Hi, my fibre drops every evening around 8pm. Can you check?")
    box.press("Enter")
    expect(panel.get_by_role("log")).to_contain_text("drops every evening")

    # The chat arrives in Cara's inbox without a reload.
    row = agent.locator(".conversation-row", has_text="drops every evening")
    expect(row).to_be_visible(timeout=15_000)
    row.locator("a").first.click()
    expect(agent.get_by_role("tab", name="Reply by chat")).to_be_visible()
    agent.locator("#chat-body").fill("Hi! I can see the drops on your line. A fix is on its way.")
    agent.get_by_role("button", name="Send", exact=True).click()
    expect(agent.locator(".timeline")).to_contain_text("A fix is on its way.")

    # The visitor sees the answer live, with Cara's name.
    log = panel.get_by_role("log")
    expect(log).to_contain_text("A fix is on its way.", timeout=15_000)
    expect(log).to_contain_text("Cara")
    screenshot(visitor, "chat-widget-visitor")
    screenshot(agent, "chat-widget-agent")

    conversation = Conversation.objects.get(platform=CHAT)
    assert conversation.team_id == cast.care.pk
    assert conversation.messages.count() == 2


def test_when_nobody_is_online_the_widget_says_so_and_takes_an_email_address(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast, brand_site: BrandSite
) -> None:
    cast = committed_cast
    chat_widget(cast, brand_site)

    visitor = visitor_page(browser, brand_site)
    visitor.get_by_role("button", name="Chat with us").click()
    panel = visitor.get_by_role("dialog", name="Chat with us")
    expect(panel).to_contain_text("No one is online right now")
    panel.get_by_role("textbox", name="Message").fill("Please call me about my bill.")
    panel.get_by_role("textbox", name="Message").press("Enter")
    panel.get_by_role("textbox", name="Your email").fill("ana@example.test")
    panel.get_by_role("button", name="Save").click()
    expect(panel).to_contain_text("ana@example.test")
    screenshot(visitor, "chat-widget-offline")

    conversation = Conversation.objects.get(platform=CHAT)
    assert conversation.contact is not None
    assert conversation.contact.email == "ana@example.test"
