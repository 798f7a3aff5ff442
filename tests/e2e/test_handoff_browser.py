"""Closing the loop in a real browser: a complaint handed to Billing, worked there, and ended well.

One journey, as the issue tells it: a public complaint → the agent moves it
to private → hands it to Billing (and to someone outside Hubbub by email) →
a Billing member and the email-link recipient post progress, which reaches
the agent live → the customer's status page shows it without the internal
notes → the agent resolves and follows up in public with the survey → the
customer rates the service → their later thank-you is linked to the case.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from hubbub.accounts.models import AgentProfile, Status, User
from hubbub.accounts.tests.factories import Cast
from hubbub.care import handoffs
from hubbub.care.models import (
    Conversation,
    Handoff,
    MessageKind,
    PraiseCapture,
    Survey,
)
from hubbub.care.tests.factories import START, arrives
from hubbub.core import clock
from hubbub.crm.models import Advocacy, Contact
from hubbub.testing import RunningServer
from tests.e2e.conftest import screenshot
from tests.e2e.test_inbox_browser import deliver_queued, sandbox
from tests.e2e.test_shell_browser import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD_FIELD = "#id_password"


def signed_in_page(browser: Any, server: RunningServer, user: User, *, lands_on: str) -> Any:
    from hubbub.accounts.tests.factories import PASSWORD

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(server.url + "/login/")
    page.fill("#id_username", user.email)
    page.fill(PASSWORD_FIELD, PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{lands_on}")
    return page


def anonymous_page(browser: Any, *, width: int = 420) -> Any:
    # axe runs as an injected script, which our CSP would block: bypassed for the audit only.
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    context.set_default_timeout(10_000)
    return context.new_page()


def local(link: str, server: RunningServer) -> str:
    """A link Hubbub wrote for its public address, pointed at the test server."""
    return server.url + "/" + link.split("://", 1)[1].split("/", 1)[1]


def test_a_complaint_is_handed_off_worked_shown_resolved_rated_and_thanked_for(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast, axe_source: str
) -> None:
    cast = committed_cast
    AgentProfile.objects.filter(user=cast.cara).update(status=Status.ONLINE)
    sandbox(cast, "x")  # stands in for X: public replies; private through the case link
    complaint = arrives(
        cast,
        "tom.example",
        0,
        platform="x",
        text="@brightwave charged me twice for November. Unbelievable.",
        author_name="Tom Reyes",
        team=cast.care,
        sentiment="negative",
        intent="complaint",
    )
    conversation_url = live_hubbub.url + f"/inbox/conversations/{complaint.pk}/"

    # Bill, of Billing, has his (empty) queue open.
    bill = signed_in_page(browser, live_hubbub, cast.bill, lands_on="/handoffs/")
    expect(bill.locator("body")).to_have_attribute("data-stream", "open")
    expect(bill.locator("#handoff-list")).to_contain_text("Nothing waits for your department")

    # Cara moves the complaint to private: the public reply carries the case link.
    agent = signed_in_page(browser, live_hubbub, cast.cara, lands_on="/inbox/")
    agent.goto(conversation_url)
    expect(agent.locator("body")).to_have_attribute("data-stream", "open")
    agent.keyboard.press("m")
    case_link = agent.locator("#move-public").input_value().split("here: ", 1)[1].strip()
    agent.get_by_role("button", name="Move to private").click()
    expect(agent.locator(".entry-activity").last).to_contain_text("private case page")
    deliver_queued()

    # She hands the problem to Billing, and emails it to the payments partner too.
    agent.get_by_text("Hand the problem to a department").click()
    agent.select_option("#handoff-department", label="Billing")
    agent.fill("#handoff-what", "Tom was charged twice for November (order 1182).")
    agent.fill("#handoff-needs", "A refund of the second charge.")
    agent.fill("#handoff-email", "payments@partner.example")
    agent.get_by_role("button", name="Hand off", exact=True).click()
    expect(agent.locator("#handoff-title")).to_have_text("With Billing")
    expect(agent.locator(".conversation-subline")).to_contain_text("with Billing")
    agent.locator("main").focus()
    agent.keyboard.press("n")
    agent.keyboard.type("INTERNAL NOTE: Tom also called the phone team twice.")
    agent.keyboard.press("Control+Enter")
    expect(agent.locator(".entry-note").last).to_contain_text("INTERNAL NOTE")
    handoff = Handoff.objects.get(conversation=complaint)
    assert handoff.owner == cast.cara

    # It arrives in Bill's queue live; he posts progress, and Cara sees it live.
    expect(bill.locator(".conversation-row")).to_have_count(1)
    bill.locator(".conversation-open").first.click()
    expect(bill.locator("#brief-title")).to_be_visible()
    expect(bill.locator(".timeline")).to_have_count(0)  # the brief, not the conversation
    bill.fill("#progress-text", "INTERNAL: found it, ledger row 88213 was duplicated.")
    bill.get_by_role("button", name="Post progress").click()
    expect(bill.locator(".flash")).to_contain_text("The owner sees it now")
    expect(agent.locator(".handoff-update")).to_contain_text("ledger row 88213")
    screenshot(bill, "handoff-department")

    # The payments partner works it through the emailed link, no account.
    partner = anonymous_page(browser, width=800)
    partner.goto(local(handoffs.link_for(Handoff.objects.get(pk=handoff.pk)), live_hubbub))
    expect(partner.locator("h1")).to_contain_text("needs Billing's help")
    partner.fill("#progress-name", "Priya")
    partner.fill("#progress-text", "Refund of £34 sent, reference RF-77.")
    partner.check("input[name=resolves]")
    partner.get_by_role("button", name="Post progress").click()
    expect(partner.locator(".flash")).to_contain_text("Posted")
    screenshot(partner, "handoff-email-link")
    expect(agent.locator(".handoff-update").last).to_contain_text("RF-77")
    assert serious_violations(partner, axe_source) == []

    # Cara tells Tom, in her words, on his status page.
    agent.reload()
    agent.fill(
        "#status-update-text", "Billing has refunded the second charge; it shows within 3 days."
    )
    agent.get_by_role("button", name="Publish update").click()
    expect(agent.locator(".status-updates")).to_contain_text("refunded the second charge")
    screenshot(agent, "conversation-handoff")

    customer = anonymous_page(browser)
    customer.goto(local(case_link, live_hubbub))
    expect(customer.locator(".case-stages")).to_contain_text("With Billing")
    expect(customer.locator(".case-stage-current")).to_contain_text("Fix in progress")
    expect(customer.locator(".case-updates")).to_contain_text("refunded the second charge")
    page_text = customer.locator("body").inner_text()
    assert "INTERNAL" not in page_text  # neither the note nor the department's words
    assert "RF-77" not in page_text
    assert "order 1182" not in page_text
    screenshot(customer, "status-page")
    assert serious_violations(customer, axe_source) == []

    # Cara resolves with a public follow-up carrying the survey.
    agent.reload()
    agent.locator("main").focus()
    agent.keyboard.press("e")
    dialog = agent.locator("#resolve-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Follow up in public on X")
    dialog.get_by_label("Follow up in public on X").check()
    screenshot(agent, "resolve-dialog")
    dialog.get_by_role("button", name="Resolve").click()
    expect(agent.locator(".flash")).to_contain_text("Resolved.")
    follow_up = Conversation.objects.get(pk=complaint.pk).messages.get(kind=MessageKind.FOLLOW_UP)
    assert "/survey/" in follow_up.body
    deliver_queued()

    # Tom answers the survey from the link in the follow-up, without an account.
    survey_link = next(word for word in follow_up.body.split() if "/survey/" in word)
    customer.goto(local(survey_link, live_hubbub))
    customer.get_by_label("5", exact=False).first.check()
    customer.fill("textarea[name=comment]", "Quick and honest, thank you.")
    customer.get_by_role("button", name="Send").click()
    expect(customer.locator("body")).to_contain_text("Thank you")
    screenshot(customer, "survey-answered")
    survey = Survey.objects.get(conversation=complaint)
    assert survey.score == 5
    assert survey.agent == cast.cara

    # Later Tom thanks the brand in public: the post is linked to the case.
    minutes_since_start = (clock.now() - START).total_seconds() / 60
    arrives(
        cast,
        "tom.example",
        minutes_since_start + 5,
        platform="x",
        text="Shout out to @brightwave, refund sorted in a day. Great service!",
        author_name="Tom Reyes",
        team=cast.care,
        sentiment="positive",
        intent="praise",
    )
    capture = PraiseCapture.objects.get()
    assert capture.conversation_id == complaint.pk
    agent.goto(conversation_url)
    expect(agent.locator(".conversation-subline")).to_contain_text("Praise captured")
    contact = Contact.objects.get(pk=Conversation.objects.get(pk=complaint.pk).contact_id)
    assert contact.advocacy == Advocacy.CANDIDATE
    screenshot(agent, "conversation-praise-captured")
    for opened in (agent, bill, partner, customer):
        opened.context.close()
