"""The care inbox in a real browser, with two agents in two browser contexts.

Live arrival, claiming, presence, the refusal of a second public reply to
the same post, the approval round trip, keyboard-only handling, and hostile
customer text that must never run.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from hubbub.accounts.models import AgentProfile, Role, Status, User
from hubbub.accounts.tests.factories import Cast, UserFactory
from hubbub.care import outbound, services
from hubbub.care.models import Conversation, DeliveryState, Message
from hubbub.care.tests.factories import arrives
from hubbub.connectors.models import ChannelAccount, Transport
from hubbub.testing import RunningServer
from tests.e2e.conftest import screenshot, sign_in
from tests.e2e.test_shell_browser import serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def dana(cast: Cast) -> User:
    person: User = UserFactory(
        email="dana@brightwave.test",
        workspace=cast.brightwave,
        role=Role.AGENT,
        teams=[cast.care],
        profile__display_name="Dana",
    )
    AgentProfile.objects.filter(user=person).update(status=Status.ONLINE)
    return person


def sandbox(cast: Cast, platform: str = "bluesky") -> None:
    ChannelAccount.objects.create(
        workspace=cast.brightwave,
        platform=platform,
        transport=Transport.SANDBOX,
        name="@brightwave (sandbox)",
    )


def deliver_queued() -> None:
    """What the worker does with every queued message (the job's own code)."""
    for message_id in Message.objects.filter(state=DeliveryState.QUEUED).values_list(
        "pk", flat=True
    ):
        outbound.deliver(message_id=message_id)


def agent_page(browser: Any, server: RunningServer, user: User, *, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 860})
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, server, user)
    return page


def test_two_agents_see_arrivals_claims_presence_and_the_double_reply_refusal(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    cast = committed_cast
    sandbox(cast)
    second = dana(cast)
    cara = agent_page(browser, live_hubbub, cast.cara)
    other = agent_page(browser, live_hubbub, second)
    for page in (cara, other):
        page.goto(live_hubbub.url + "/inbox/?view=unassigned")
        expect(page.locator("body")).to_have_attribute("data-stream", "open")
        expect(page.locator("main")).to_contain_text("No conversations here")

    # A customer posts: the conversation appears in both inboxes without a reload.
    conversation = arrives(
        cast,
        "tom.example",
        0,
        text="@brightwave my router has been dead since Friday. Third time this month!",
        author_name="Tom Reyes",
        sentiment="negative",
        intent="complaint",
        priority=82.0,
        team=cast.care,
    )
    for page in (cara, other):
        expect(page.locator(".conversation-row")).to_have_count(1)
        expect(page.locator('[data-count="unassigned"]')).to_have_text("1")
    screenshot(cara, "inbox-unassigned")

    # Cara takes it: it leaves Dana's "Unassigned" at once.
    cara.locator(".conversation-row a").click()
    cara.wait_for_url(f"**/inbox/conversations/{conversation.pk}/")
    cara.keyboard.press("t")
    expect(cara.locator(".conversation-subline")).to_contain_text("with Cara")
    expect(other.locator(".conversation-row")).to_have_count(0)
    expect(other.locator('[data-count="unassigned"]')).to_have_text("0")

    # Dana opens it anyway: Cara sees her viewing, then typing.
    other.goto(live_hubbub.url + f"/inbox/conversations/{conversation.pk}/")
    expect(cara.locator("#presence")).to_contain_text("Dana is viewing")
    expect(other.locator(".composer-warning")).to_contain_text("Cara has this conversation")
    other.keyboard.press("r")
    other.keyboard.type("Hi Tom, Dana here, I can help")
    expect(cara.locator("#presence")).to_contain_text("Dana is typing")

    # Cara answers first.
    cara.keyboard.press("r")
    cara.keyboard.type("So sorry, Tom. I'm checking your line now.")
    expect(cara.locator("#reply-counter")).to_have_text("49 / 300")
    cara.keyboard.press("Control+Enter")
    expect(cara.locator(".entry-reply")).to_contain_text("So sorry, Tom.")
    expect(cara.locator("#reply-body")).to_have_value("")
    deliver_queued()
    expect(cara.locator(".entry-reply .delivery")).to_contain_text("Accepted by the sandbox")
    expect(other.locator(".entry-reply")).to_contain_text("So sorry, Tom.")  # live on Dana's page
    screenshot(cara, "conversation-replied")

    # Dana's reply to the same post is refused, and her text is still there.
    other.get_by_role("button", name="Send reply").click()
    expect(other.locator("#composer-feedback")).to_contain_text("Cara has this conversation")
    other.get_by_role("button", name="Send anyway").click()
    expect(other.locator("#composer-feedback")).to_contain_text(
        "Cara has already sent the brand's reply to this post"
    )
    expect(other.locator("#reply-body")).to_have_value("Hi Tom, Dana here, I can help")
    screenshot(other, "conversation-double-reply-refused")
    assert Message.objects.filter(kind="reply").count() == 1
    cara.context.close()
    other.context.close()


def test_an_approval_round_trip_between_agent_and_lead(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    cast = committed_cast
    sandbox(cast)
    AgentProfile.objects.filter(user=cast.cara).update(needs_approval=True)
    conversation = arrives(cast, "tom.example", 0, text="Where is my refund?", team=cast.care)
    cara = agent_page(browser, live_hubbub, cast.cara)
    lead = agent_page(browser, live_hubbub, cast.lee)
    lead.goto(live_hubbub.url + "/inbox/approvals/")
    expect(lead.locator("main")).to_contain_text("Nothing waits for approval")
    expect(lead.locator("body")).to_have_attribute("data-stream", "open")

    cara.goto(live_hubbub.url + f"/inbox/conversations/{conversation.pk}/")
    expect(cara.locator("body")).to_have_attribute("data-stream", "open")
    cara.locator("#reply-body").fill("Refund is on its way")
    cara.get_by_role("button", name="Send reply").click()
    expect(cara.locator(".entry-reply .delivery")).to_contain_text("Waiting for a lead's approval")

    # The lead's queue fills live; the lead edits and approves.
    expect(lead.locator(".approval")).to_have_count(1)
    screenshot(lead, "approvals")
    lead.locator(".approval textarea").fill(
        "Sorry for the wait, Tom: your refund is on its way.\n– Cara"
    )
    lead.get_by_role("button", name="Approve and send").click()
    expect(lead.locator("main")).to_contain_text("Nothing waits for approval")

    # Cara hears it at once, and her message shows the approved text.
    expect(cara.locator(".toast")).to_contain_text("Lee approved and edited your reply")
    expect(cara.locator(".entry-reply")).to_contain_text("Sorry for the wait, Tom")
    expect(cara.locator(".entry-reply .delivery")).to_contain_text("Queued")

    # A second reply, to the customer's next post, is sent back with a comment.
    posted_again = arrives(cast, "tom.example", 5, text="Hello??", team=cast.care)
    assert posted_again.pk == conversation.pk
    cara.reload()
    cara.locator("#reply-body").fill("ok")
    cara.get_by_role("button", name="Send reply").click()
    expect(lead.locator(".approval")).to_have_count(1)
    lead.locator(".approval input[name=comment]").fill("Apologise first, please.")
    lead.get_by_role("button", name="Send back").click()
    expect(cara.locator(".toast").last).to_contain_text("sent your reply back: Apologise first")
    returned = cara.locator(".delivery-returned")
    expect(returned).to_contain_text("Sent back by Lee: “Apologise first, please.”")
    returned.get_by_role("button", name="Edit and send again").click()
    expect(cara.locator("#reply-body")).to_have_value("ok\n– Cara")
    screenshot(cara, "conversation-sent-back")
    cara.context.close()
    lead.context.close()


def test_an_agent_works_a_conversation_with_the_keyboard_only(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast, axe_source: str
) -> None:
    cast = committed_cast
    sandbox(cast)
    for n, (name, text, priority) in enumerate(
        [
            ("Maya", "Love the new app!", 20.0),
            ("Tom", "Router dead, third time this month", 85.0),
            ("Ana", "How do I change my plan?", 50.0),
        ]
    ):
        arrives(
            cast,
            f"{name.lower()}.example",
            n,
            text=text,
            author_name=name,
            priority=priority,
            team=cast.care,
        )
    page = agent_page(browser, live_hubbub, cast.cara)
    page.goto(live_hubbub.url + "/inbox/")
    rows = page.locator(".conversation-row")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Tom")  # most urgent first
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(page.locator(".conversation-row.is-chosen")).to_contain_text("Tom")
    screenshot(page, "inbox-keyboard")
    page.keyboard.press("Enter")
    page.wait_for_url("**/inbox/conversations/*/")
    page.keyboard.press("t")
    expect(page.locator(".conversation-subline")).to_contain_text("with Cara")
    page.keyboard.press("r")
    page.keyboard.type("Sorry Tom, sending an engineer today.")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".entry-reply")).to_contain_text("sending an engineer")
    page.keyboard.press("Escape")  # leave the text box
    page.keyboard.press("n")
    page.keyboard.type("@Lee engineer booked for 14:00")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".entry-note")).to_contain_text("engineer booked")
    page.keyboard.press("Escape")
    assert serious_violations_ok(browser, page, axe_source)
    page.keyboard.press("e")  # the resolve dialog, its Resolve button focused
    expect(page.locator("#resolve-dialog")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator(".conversation-subline")).to_contain_text("Resolved")
    page.keyboard.press("u")
    page.wait_for_url("**/inbox/")
    expect(rows).to_have_count(2)
    conversation = Conversation.objects.get(customer_handle="tom.example")
    assert conversation.status == "resolved"
    assert conversation.assignee == cast.cara
    page.context.close()

    # On a phone-sized screen the same conversation reads in one column.
    phone = agent_page(browser, live_hubbub, cast.cara, width=390)
    phone.goto(live_hubbub.url + f"/inbox/conversations/{conversation.pk}/")
    expect(phone.locator(".timeline")).to_be_visible()
    screenshot(phone, "phone-conversation")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    phone.goto(live_hubbub.url + "/inbox/")
    screenshot(phone, "phone-inbox-views")
    phone.context.close()


def serious_violations_ok(browser: Any, page: Any, axe_source: str) -> bool:
    """axe on the page as the agent sees it now (in a CSP-free context: axe is injected)."""
    audit = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=True)
    audit.add_cookies(page.context.cookies())
    audited = audit.new_page()
    audited.goto(page.url)
    found = serious_violations(audited, axe_source)
    audit.close()
    assert found == []
    return True


XSS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=2">',
    '"><svg onload="window.__pwned=3">',
    "javascript:window.__pwned=4",
    '<a href="javascript:window.__pwned=5">click</a>',
    "{{ 7*7 }} {% now 'Y' %}",
    '<iframe srcdoc="<script>parent.__pwned=6</script>"></iframe>',
]


def test_hostile_names_posts_tags_and_notes_never_run(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    cast = committed_cast
    conversations = [
        arrives(
            cast,
            f"attacker{n}.example",
            n,
            text=f"Brightwave {payload}",
            author_name=payload,
            team=cast.care,
        )
        for n, payload in enumerate(XSS)
    ]
    first = conversations[0]
    services.set_tags(actor=cast.lee, conversation_id=first.pk, names=XSS[:3])
    for payload in XSS:
        services.add_note(actor=cast.lee, conversation_id=first.pk, body=f"@Cara {payload}")
    AgentProfile.objects.filter(user=cast.lee).update(display_name=XSS[1])
    page = agent_page(browser, live_hubbub, cast.cara)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(live_hubbub.url + "/inbox/")
    expect(page.locator(".conversation-row")).to_have_count(len(XSS))
    expect(page.locator(".conversation-row").first).to_contain_text("Brightwave")
    screenshot(page, "inbox-hostile")
    page.goto(live_hubbub.url + f"/inbox/conversations/{first.pk}/")
    expect(page.locator(".entry-note")).to_have_count(len(XSS))
    expect(page.locator(".entry-inbound")).to_contain_text("<script>window.__pwned=1</script>")
    page.goto(live_hubbub.url + "/inbox/?q=" + "%3Cscript%3E")
    assert page.evaluate("window.__pwned") is None
    assert (
        page.evaluate(
            "document.querySelectorAll('main script, main iframe, main svg[onload]').length"
        )
        == 0
    )
    assert dialogs == []
    page.context.close()


def test_moving_to_private_and_the_customer_writing_on_the_case_page(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    cast = committed_cast
    sandbox(cast, "x")  # stands in for X: no direct messages Hubbub can start, so the case link
    conversation = arrives(
        cast,
        "tom.example",
        0,
        platform="x",
        text="Charged twice this month!",
        author_name="Tom Reyes",
        team=cast.care,
    )
    agent = agent_page(browser, live_hubbub, cast.cara)
    agent.goto(live_hubbub.url + f"/inbox/conversations/{conversation.pk}/")
    expect(agent.locator("body")).to_have_attribute("data-stream", "open")
    agent.keyboard.press("m")
    public = agent.locator("#move-public")
    expect(public).to_be_focused()
    link = public.input_value().split("here: ", 1)[1].strip()
    assert "/case/" in link
    agent.get_by_role("button", name="Move to private").click()
    expect(agent.locator(".entry-activity").last).to_contain_text(
        "moved the conversation to the private case page"
    )
    deliver_queued()

    # The customer follows the link: no account, their case, a private thread.
    customer_context = browser.new_context(viewport={"width": 390, "height": 844})
    customer = customer_context.new_page()
    customer.goto(link.replace("http://127.0.0.1:8000", live_hubbub.url))
    expect(customer.locator("h1")).to_contain_text("Your case with Brightwave")
    customer.fill("#case-body", "Account 4411-2, charged on the 3rd and the 4th.")
    customer.get_by_role("button", name="Send privately").click()
    expect(customer.locator(".case-message-mine")).to_contain_text("Account 4411-2")
    screenshot(customer, "case-page")

    # It arrives on the agent's timeline live; the agent answers on the case page.
    expect(agent.locator(".entry-customer")).to_contain_text("Account 4411-2")
    agent.locator("main").focus()
    agent.keyboard.press("p")
    agent.keyboard.type("Thanks Tom, the second charge is refunded today.")
    agent.keyboard.press("Control+Enter")
    expect(agent.locator(".entry-private")).to_contain_text("refunded today")
    customer.reload()
    expect(customer.locator(".case-message").last).to_contain_text("refunded today")
    screenshot(agent, "conversation-private")
    customer_context.close()
    agent.context.close()
