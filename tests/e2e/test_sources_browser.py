"""Settings › Sources in a real browser: an admin adds a feed, tests it, and pauses it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from hubbub.accounts.tests.factories import Cast
from hubbub.connectors.rss.tests.fake import FakeFeeds, Feed, forum_entries, running_feeds
from hubbub.listening.models import Source, SourceStatus
from hubbub.testing import RunningServer, start_server, stop_server
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_shell_browser import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def local_fetching_hubbub(
    django_db_setup: None, django_db_blocker: object
) -> Iterator[RunningServer]:
    """A server allowed to fetch from loopback, where the test's feed server runs."""
    server = start_server(name="sources", extra_env={"HUBBUB_SAFE_HTTP_ALLOW": "127.0.0.1"})
    yield server
    stop_server(server)


@pytest.fixture
def feeds() -> Iterator[FakeFeeds]:
    with running_feeds() as fake:
        fake.feeds["/latest.rss"] = Feed("rss", "Brightwave Community – Latest", forum_entries(4))
        yield fake


def test_an_admin_adds_a_feed_tests_it_and_pauses_it(
    browser: Any,
    local_fetching_hubbub: RunningServer,
    committed_cast: Cast,
    feeds: FakeFeeds,
    axe_source: str,
) -> None:
    server = local_fetching_hubbub
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, server, committed_cast.ada)
    page.goto(server.url + "/settings/sources/")
    expect(page.get_by_text("No sources yet.")).to_be_visible()
    page.get_by_role("link", name="RSS / Atom").click()
    page.fill("#source-name", "Community forum")

    # A private address is refused at once, with the field named; nothing is saved.
    page.fill("#source-url", "http://10.0.0.5/feed.xml")
    page.get_by_role("button", name="Save and start listening").click()
    expect(page.locator(".field-invalid .error")).to_contain_text("private address")
    assert not Source.objects.exists()

    # The feed as typed is tried before saving.
    page.fill("#source-url", feeds.at("/latest.rss"))
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#source-check")).to_contain_text(
        "Feed “Brightwave Community – Latest” with 4 entries"
    )
    page.get_by_role("button", name="Save and start listening").click()
    expect(page.get_by_role("heading", name="Status")).to_be_visible()
    source = Source.objects.get(name="Community forum")
    assert source.settings["url"] == feeds.at("/latest.rss")
    expect(page.locator(".facts")).to_contain_text("Listening")
    assert serious_violations(page, axe_source) == []
    screenshot(page, "source-detail")

    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".facts")).to_contain_text("Paused")
    source.refresh_from_db()
    assert source.status == SourceStatus.PAUSED
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".facts")).to_contain_text("Listening")

    page.goto(server.url + "/settings/sources/")
    expect(page.locator(".sources-table")).to_contain_text("Community forum")
    screenshot(page, "sources")
    context.close()


def test_an_agent_sees_the_sources_but_cannot_add_one(
    browser: Any, local_fetching_hubbub: RunningServer, committed_cast: Cast
) -> None:
    Source.objects.create(
        workspace=committed_cast.brightwave, name="Forum", kind="rss", settings={"url": "x"}
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, local_fetching_hubbub, committed_cast.cara)
    page.goto(local_fetching_hubbub.url + "/settings/sources/")
    expect(page.locator(".sources-table")).to_contain_text("Forum")
    expect(page.get_by_role("heading", name="Add a source")).to_have_count(0)
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    context.close()
