"""Correcting a mention's label in a real browser, with the keyboard only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect

from hubbub.accounts.tests.factories import Cast
from hubbub.intelligence.models import LabelCorrection
from hubbub.intelligence.tests.factories import scored_mention
from hubbub.listening.tests.factories import MentionFactory, QueryFactory
from hubbub.testing import RunningServer
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_shell_browser import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tab_to(page: Any, name: str, *, limit: int = 40) -> None:
    """Press Tab until the focused element's accessible text is `name`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def correct(page: Any, task: str, typed: str, *, shot: str = "") -> None:
    """From the focused "Correct" of a task: open it, type-ahead a label, Tab to Save, Enter."""
    expect(page.locator("summary:focus")).to_have_text(f"Correct the {task}")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label(f"{task.capitalize()} of this mention")).to_be_focused()
    page.keyboard.type(typed)
    page.keyboard.press("Tab")
    expect(page.locator("button:focus")).to_have_text("Save")
    if shot:
        screenshot(page, shot)
    page.keyboard.press("Enter")


def test_an_agent_corrects_the_labels_with_the_keyboard(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast, axe_source: str
) -> None:
    cast = committed_cast
    mention = scored_mention(
        workspace=cast.brightwave,
        author_name="Tom Reyes",
        author_handle="tom.example",
        text="Third time this week the Brightwave router drops every call. Is anyone listening?",
        sentiment=("neutral", 0.55),
        intent=("question", 0.65),
        followers=2300,
        copies=2,
    )
    mention.queries.add(QueryFactory(workspace=cast.brightwave, name="Brightwave"))
    for minutes in (5, 9):
        MentionFactory(
            workspace=cast.brightwave,
            text=f"RT @tom.example: {mention.text}",
            duplicate_of=mention,
            posted_at=mention.posted_at + dt.timedelta(minutes=minutes),
        )
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, live_hubbub, cast.cara)
    page.goto(live_hubbub.url + f"/listening/mentions/{mention.pk}/")
    triage = page.locator("#triage-panel")
    why = page.get_by_role("region", name="Why is this high?")
    priority = triage.locator(".priority")
    expect(why).to_contain_text("Question")
    expect(triage).to_contain_text("Labelled by sentiment-linear-1")
    expect(priority).to_have_text("P49")
    screenshot(page, "label-correction-before")

    # Tab to the intent's "Correct"; type-ahead "co" picks Complaint.
    page.locator("main").focus()
    tab_to(page, "Correct the intent")
    correct(page, "intent", "co", shot="label-correction-open")
    expect(triage).to_contain_text("Intent corrected to complaint.")
    expect(triage).to_contain_text("Corrected by Cara")
    expect(triage).to_contain_text("Labelled question by intent-stacked-1")
    expect(why).not_to_contain_text("Question")
    expect(why).to_contain_text("Complaint (corrected by Cara)")
    expect(why).to_contain_text("Spreading (2 copies)")
    expect(priority).to_have_text("P54")

    # Focus comes back to the control just used; Shift+Tab reaches the sentiment's.
    expect(page.locator("summary:focus")).to_have_text("Correct the intent")
    page.keyboard.press("Shift+Tab")
    correct(page, "sentiment", "neg")
    expect(triage).to_contain_text("Sentiment corrected to negative.")
    expect(why).to_contain_text("Negative (corrected by Cara)")
    expect(priority).to_have_text("P79")
    expect(why.locator("li").first).to_contain_text("+25")
    assert sorted(LabelCorrection.objects.values_list("task", "label_after")) == [
        ("intent", "complaint"),
        ("sentiment", "negative"),
    ]
    page.locator("#triage-panel").scroll_into_view_if_needed()
    screenshot(page, "label-correction")
    assert serious_violations(page, axe_source) == []
    context.close()
