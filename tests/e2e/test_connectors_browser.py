"""From a customer's post on a platform to the brand's answer there, end to end.

For each platform Hubbub can write to (Bluesky, Mastodon, Reddit): a customer
posts on the platform's local server (the connector tests' fake, speaking its
wire format, with real customer texts from the shared TWCS sample); a real
`hubbub listen` process reads it through the source, and the pipeline files it
as a conversation of the Care team; Cara answers in the browser; a real
`hubbub worker --batch` delivers the reply, which must reach the local server
threaded under the customer's post and signed. The customer writes back, Cara
moves the conversation to private, and the server receives the direct message
and the short public invitation, threaded under the customer's latest post.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from playwright.sync_api import expect

from hubbub.accounts.tests.factories import Cast
from hubbub.care.models import Conversation, DeliveryState, Message, MessageKind
from hubbub.care.tests.factories import arrives
from hubbub.connectors.bluesky.tests import fake as bluesky_fake
from hubbub.connectors.mastodon.tests import fake as mastodon_fake
from hubbub.connectors.models import ChannelAccount, Transport
from hubbub.connectors.reddit.tests import fake as reddit_fake
from hubbub.listening import services as listening
from hubbub.listening.models import QueryKind, Source, SourceKind
from hubbub.testing import RunningServer, run_hubbub, start_hubbub
from tests.e2e.conftest import screenshot
from tests.e2e.test_inbox_browser import agent_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The local servers listen on loopback, which the SSRF guard refuses unless allowed.
ALLOW = {"HUBBUB_SAFE_HTTP_ALLOW": "127.0.0.1"}
# The brand's name, and how customers address it on Mastodon and Bluesky.
BRAND_QUERY = "brightwave OR @brightwave OR @brightwave.bsky.social"
SIGNATURE = "– Cara"
# Long enough for a listener to start, read at its 5-second pace and file a post.
WAIT_SECONDS = 45.0
# A customer's tweet that starts by addressing a company: "@CoxHelp Been looking…".
ADDRESSED = re.compile(r"^@[A-Za-z][A-Za-z0-9_]*\s+(?!@)")

T = TypeVar("T")


def readdressed(texts: list[str], to: str, count: int = 2) -> list[str]:
    """Real customer posts to a company, addressed to the brand instead (`to` first)."""
    chosen = [
        ADDRESSED.sub(f"{to} ", html.unescape(text), count=1)
        for text in texts
        if ADDRESSED.match(text) and "http" not in text and len(text) < 200
    ][:count]
    assert len(chosen) == count, "the shared TWCS sample has too few such posts"
    return chosen


# --- the workspace ----------------------------------------------------------------------


def brightwave_listens(
    cast: Cast, kind: SourceKind, *, settings: dict[str, Any], credentials: dict[str, str]
) -> Source:
    """A brand query owned by Care (so its mentions are routed there) and a source reading
    the platform every 5 seconds, the shortest interval a source may have."""
    listening.save_query(
        actor=cast.lee,
        name="Brightwave",
        kind=QueryKind.BRAND,
        expression=BRAND_QUERY,
        owner_team_id=cast.care.pk,
    )
    return Source.objects.create(
        workspace=cast.brightwave,
        name=f"{kind.label} (local)",
        kind=kind,
        settings={**settings, "poll_seconds": 5},
        credentials=json.dumps(credentials),
    )


def brand_account(
    cast: Cast, platform: str, *, name: str, handle: str, base_url: str, secret: str
) -> ChannelAccount:
    return ChannelAccount.objects.create(
        workspace=cast.brightwave,
        platform=platform,
        transport=Transport.LIVE,
        name=name,
        handle=handle,
        base_url=base_url,
        secret=secret,
    )


# --- the processes ----------------------------------------------------------------------


@contextmanager
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[subprocess.Popen[bytes]]:
    """A real `hubbub listen`, allowed to reach the local servers; always stopped."""
    for name, value in ALLOW.items():
        monkeypatch.setenv(name, value)  # the child's environment is copied from ours
    process = start_hubbub("listen", "--idle", "0.1")
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def eventually(what: str, probe: Callable[[], T | None], process: subprocess.Popen[bytes]) -> T:
    """Poll the database until `probe` finds something, while the listener runs."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = probe()
        if found:
            return found
        assert process.poll() is None, f"the listener exited before {what}"
        assert time.monotonic() < deadline, f"{what} did not happen in time"
        time.sleep(0.2)


def conversation_of(cast: Cast, external_id: str, process: subprocess.Popen[bytes]) -> Conversation:
    """The conversation the listener's pipeline filed the post with this id into."""
    return eventually(
        f"a conversation for {external_id}",
        lambda: Conversation.objects.filter(
            workspace=cast.brightwave, mention_links__mention__external_id=external_id
        ).first(),
        process,
    )


def deliver() -> None:
    """What a worker does with the queued messages: a real `hubbub worker --batch`."""
    done = run_hubbub("worker", "--batch", extra_env=ALLOW)
    assert done.returncode == 0, done.stderr[-3000:]


def outbound(conversation: Conversation) -> list[Message]:
    """The brand's replies and private messages on the conversation, oldest first."""
    kinds = [MessageKind.REPLY, MessageKind.PRIVATE]
    return list(Message.objects.filter(conversation=conversation, kind__in=kinds).order_by("pk"))


# --- in the browser ---------------------------------------------------------------------


def open_from_the_inbox(page: Any, server: RunningServer, conversation: Conversation) -> None:
    page.goto(server.url + "/inbox/")
    row = page.locator(".conversation-row", has_text=conversation.customer_name)
    expect(row).to_have_count(1)
    row.locator("a").first.click()
    page.wait_for_url(f"**/inbox/conversations/{conversation.pk}/")
    expect(page.locator("body")).to_have_attribute("data-stream", "open")


def reply(page: Any, text: str, *, platform: str) -> None:
    """Type a public reply and send it with Ctrl+Enter; it shows at once as queued."""
    expect(page.locator("#pane-reply .composer-label")).to_contain_text(
        f"Public reply on {platform.capitalize()}"
    )
    page.keyboard.press("r")
    expect(page.locator("#reply-body")).to_be_focused()
    page.keyboard.type(text)
    page.keyboard.press("Control+Enter")
    expect(page.locator(".entry-reply")).to_contain_text(text)
    expect(page.locator("#reply-body")).to_have_value("")


def shows_as_sent(page: Any, entry: str, platform: str) -> None:
    """The timeline says the message went out, with a link to it on the platform."""
    delivery = page.locator(f"{entry} .delivery").last
    expect(delivery).to_contain_text("Sent")
    expect(delivery.get_by_role("link", name=f"view on {platform}")).to_be_visible()


def sees_the_customer_s_new_post(page: Any) -> None:
    """The open conversation shows the customer's second post (after a reload: the page does
    not refresh itself when the pipeline files a post into it; see the test at the end)."""
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-stream", "open")
    expect(page.locator(".entry-inbound")).to_have_count(2)


def move_to_private(page: Any) -> tuple[str, str]:
    """Key `m`, then Move to private; the invitation and the direct message as offered."""
    page.keyboard.press("m")
    public = page.locator("#move-public")
    expect(public).to_be_focused()
    invitation, private = public.input_value(), page.locator("#move-private").input_value()
    assert "I've sent you a direct message" in invitation
    assert "Cara here" in private
    page.get_by_role("button", name="Move to private").click()
    expect(page.locator(".entry-activity").last).to_contain_text(
        "moved the conversation to a direct message"
    )
    return invitation, private


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def signed(text: str) -> str:
    return f"{text}\n{SIGNATURE}"


def signed_in_markdown(text: str) -> str:
    """Reddit's Markdown keeps a line break only after two spaces."""
    return f"{text}  \n{SIGNATURE}"


# --- Bluesky ----------------------------------------------------------------------------


def test_bluesky_a_customer_s_post_is_answered_in_its_thread_and_taken_to_a_direct_message(
    browser: Any,
    live_hubbub: RunningServer,
    committed_cast: Cast,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cast = committed_cast
    first_text, second_text = readdressed(
        bluesky_fake.customer_texts("internet", 40), "@" + bluesky_fake.BRAND_HANDLE
    )
    with bluesky_fake.running_bluesky() as bluesky:
        login = {"identifier": bluesky_fake.BRAND_HANDLE, "app_password": bluesky_fake.APP_PASSWORD}
        brightwave_listens(
            cast,
            SourceKind.BLUESKY,
            settings={"mode": "search", "query": "brightwave", "service": bluesky.url},
            credentials=login,
        )
        brand_account(
            cast,
            "bluesky",
            name="@" + bluesky_fake.BRAND_HANDLE,
            handle=bluesky_fake.BRAND_HANDLE,
            base_url=bluesky.url,
            secret=json.dumps(login),
        )
        dana = bluesky.customer(115712, "Dana Whitfield", allow_incoming="all")
        post = bluesky.publish(first_text, dana, at=now())

        with listener(monkeypatch) as listening_process:
            conversation = conversation_of(cast, post["uri"], listening_process)
            assert conversation.team == cast.care
            assert conversation.customer_handle == dana.handle

            page = agent_page(browser, live_hubbub, cast.cara)
            open_from_the_inbox(page, live_hubbub, conversation)
            expect(page.locator(".entry-inbound")).to_contain_text(first_text)
            answer = "So sorry, Dana. I can see an outage on your street; an engineer is on it."
            reply(page, answer, platform="bluesky")
            deliver()

            # The local PDS got one post, threaded under the customer's, and signed.
            (created,) = bluesky.calls_to("com.atproto.repo.createRecord")
            record = created.body["record"]
            customer_post = {"uri": post["uri"], "cid": post["cid"]}
            assert record["reply"] == {"root": customer_post, "parent": customer_post}
            assert record["text"] == signed(answer)
            assert created.body["repo"] == bluesky_fake.BRAND_DID
            shows_as_sent(page, ".entry-reply", "bluesky")
            screenshot(page, "connector-bluesky-replied")

            # Dana answers the brand's reply; the listener adds it to the same conversation.
            (brand_post,) = bluesky.posts_by_brand()
            again = bluesky.publish(
                second_text,
                dana,
                at=now(),
                reply_to=brand_post["uri"],
            )
            assert conversation_of(cast, again["uri"], listening_process) == conversation
            sees_the_customer_s_new_post(page)

            invitation, private = move_to_private(page)
            deliver()

        # The invitation is threaded under Dana's latest post, in the thread she started.
        invited = bluesky.calls_to("com.atproto.repo.createRecord")[1].body["record"]
        assert invited["reply"] == {
            "root": customer_post,
            "parent": {"uri": again["uri"], "cid": again["cid"]},
        }
        assert invited["text"] == signed(invitation)
        # The direct message goes through the chat service, to Dana only.
        (sent,) = bluesky.calls_to("chat.bsky.convo.sendMessage")
        assert sent.headers["atproto-proxy"] == bluesky_fake.CHAT_PROXY
        assert sent.body["message"] == {"text": signed(private)}
        members = bluesky.convos[sent.body["convoId"]]["members"]
        assert members == [bluesky_fake.BRAND_DID, dana.did]
        shows_as_sent(page, ".entry-private", "bluesky")
        screenshot(page, "connector-bluesky-private")
        sent_states = {m.state for m in outbound(conversation)}
        assert sent_states == {DeliveryState.SENT}
        page.context.close()


# --- Mastodon ---------------------------------------------------------------------------


def test_mastodon_a_mention_is_answered_under_its_status_and_taken_to_a_direct_status(
    browser: Any,
    live_hubbub: RunningServer,
    committed_cast: Cast,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cast = committed_cast
    # In the sample's order: "…Outage issue solved", then "…a lot of outages lately".
    second_text, first_text = readdressed(
        mastodon_fake.customer_texts(2000, "outage"), "@" + mastodon_fake.BRAND
    )
    with mastodon_fake.running_mastodon() as mastodon:
        token = {"access_token": mastodon_fake.TOKEN}
        brightwave_listens(
            cast,
            SourceKind.MASTODON,
            settings={"instance": mastodon.url, "mode": "mentions"},
            credentials=token,
        )
        brand_account(
            cast,
            "mastodon",
            name=f"@{mastodon_fake.BRAND}@{mastodon_fake.HOST}",
            handle=mastodon_fake.BRAND,
            base_url=mastodon.url,
            secret=mastodon_fake.TOKEN,
        )
        # Tom is on another server; his status reached the brand's by federation.
        status = mastodon.publish(
            mastodon.status(
                first_text,
                user="tom",
                domain="mastodon.example",
                display_name="Tom Reyes",
                created_at=now(),
            ),
            mention=True,
        )
        tom = "tom@mastodon.example"

        with listener(monkeypatch) as listening_process:
            conversation = conversation_of(cast, status["uri"], listening_process)
            assert conversation.team == cast.care
            assert conversation.customer_handle == tom

            page = agent_page(browser, live_hubbub, cast.cara)
            open_from_the_inbox(page, live_hubbub, conversation)
            expect(page.locator(".entry-inbound")).to_contain_text(first_text)
            answer = "Sorry, Tom: there is an outage in your area. Engineers are on it tonight."
            reply(page, answer, platform="mastodon")
            deliver()

            # One status, under Tom's by the brand server's own id for it, addressed to him.
            (posted,) = mastodon.posted()
            (sent_reply,) = outbound(conversation)
            assert posted.body["in_reply_to_id"] == status["id"]
            assert posted.body.get("visibility", "public") == "public"
            assert posted.body["status"] == f"@{tom} {signed(answer)}"
            assert posted.headers["Idempotency-Key"] == f"hubbub-message-{sent_reply.pk}"
            shows_as_sent(page, ".entry-reply", "mastodon")
            screenshot(page, "connector-mastodon-replied")

            # Tom answers the brand's status; the listener adds it to the same conversation.
            (brand_status,) = mastodon.statuses.values()
            again = mastodon.publish(
                mastodon.status(
                    second_text,
                    user="tom",
                    domain="mastodon.example",
                    display_name="Tom Reyes",
                    created_at=now(),
                    in_reply_to=brand_status,
                ),
                mention=True,
            )
            assert conversation_of(cast, again["uri"], listening_process) == conversation
            sees_the_customer_s_new_post(page)

            invitation, private = move_to_private(page)
            deliver()

        later = mastodon.posted()[1:]
        by_visibility = {request.body.get("visibility", "public"): request for request in later}
        assert sorted(by_visibility) == ["direct", "public"]
        # The invitation is threaded under Tom's latest status…
        invited = by_visibility["public"]
        assert invited.body["in_reply_to_id"] == again["id"]
        assert invited.body["status"] == f"@{tom} {signed(invitation)}"
        # …and the direct message is a direct status that mentions him, so only he sees it.
        direct = by_visibility["direct"]
        assert direct.body["status"] == f"@{tom} {signed(private)}"
        keys = {request.headers["Idempotency-Key"] for request in later}
        assert keys == {f"hubbub-message-{m.pk}" for m in outbound(conversation)[1:]}
        shows_as_sent(page, ".entry-private", "mastodon")
        screenshot(page, "connector-mastodon-private")
        assert {m.state for m in outbound(conversation)} == {DeliveryState.SENT}
        page.context.close()


# --- Reddit -----------------------------------------------------------------------------


def test_reddit_a_post_found_by_search_gets_a_comment_and_a_private_message(
    browser: Any,
    live_hubbub: RunningServer,
    committed_cast: Cast,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cast = committed_cast
    refunds = [text for text in reddit_fake.customer_texts() if "refund" in text.lower()]
    first_text, second_text = readdressed(refunds, "Brightwave")
    with reddit_fake.running_reddit() as reddit:
        app = {
            "client_id": reddit_fake.CLIENT_ID,
            "client_secret": reddit_fake.CLIENT_SECRET,
            "username": reddit_fake.USERNAME,
            "password": reddit_fake.PASSWORD,
        }
        brightwave_listens(
            cast,
            SourceKind.REDDIT,
            settings={
                "mode": "search",
                "query": "brightwave",
                "api_base": reddit.url,
                "auth_base": reddit.url,
            },
            credentials=app,
        )
        brand_account(
            cast,
            "reddit",
            name=f"u/{reddit_fake.USERNAME}",
            handle=reddit_fake.USERNAME,
            base_url=reddit.url,
            # The sign-in server is part of the account's secret (reddit.com by default).
            secret=json.dumps({**app, "auth_base": reddit.url}),
        )
        reddit.add_user("maya_k")
        post = reddit.add_submission(first_text, author="maya_k", created=time.time())

        with listener(monkeypatch) as listening_process:
            conversation = conversation_of(cast, post, listening_process)
            assert conversation.team == cast.care
            assert conversation.customer_handle == "maya_k"

            page = agent_page(browser, live_hubbub, cast.cara)
            open_from_the_inbox(page, live_hubbub, conversation)
            expect(page.locator(".entry-inbound")).to_contain_text(first_text)
            answer = "Sorry about the wait, Maya. The refund of the delivery charge is on its way."
            reply(page, answer, platform="reddit")
            deliver()

            # One comment, on Maya's post (its fullname), asking for JSON errors.
            (comment,) = reddit.requests_to("/api/comment", "POST")
            assert comment.form["thing_id"] == post
            assert comment.form["api_type"] == "json"
            assert comment.form["text"] == signed_in_markdown(answer)
            (brand_comment,) = reddit.brand_comments()
            assert brand_comment["parent_id"] == post
            shows_as_sent(page, ".entry-reply", "reddit")
            screenshot(page, "connector-reddit-replied")

            # Maya posts again; the search finds it and it joins her conversation.
            again = reddit.add_submission(second_text, author="maya_k", created=time.time())
            assert conversation_of(cast, again, listening_process) == conversation
            sees_the_customer_s_new_post(page)

            invitation, private = move_to_private(page)
            deliver()

        invited = reddit.requests_to("/api/comment", "POST")[1]
        assert invited.form["thing_id"] == again
        assert invited.form["text"] == signed_in_markdown(invitation)
        (message,) = reddit.requests_to("/api/compose", "POST")
        assert message.form["to"] == "maya_k"
        assert message.form["api_type"] == "json"
        assert message.form["text"] == signed_in_markdown(private)
        assert [sent["dest"] for sent in reddit.sent_messages] == ["maya_k"]
        shows_as_sent(page, ".entry-private", "reddit")
        screenshot(page, "connector-reddit-private")
        assert {m.state for m in outbound(conversation)} == {DeliveryState.SENT}
        page.context.close()


# --- the open conversation page ---------------------------------------------------------


def test_a_customer_s_next_post_shows_on_the_open_conversation_without_a_reload(
    browser: Any, live_hubbub: RunningServer, committed_cast: Cast
) -> None:
    cast = committed_cast
    first_text, second_text = readdressed(
        bluesky_fake.customer_texts("internet", 40), "@" + bluesky_fake.BRAND_HANDLE
    )
    customer = "customer115712.bsky.social"
    conversation = arrives(
        cast, customer, 0, text=first_text, author_name="Dana Whitfield", team=cast.care
    )
    page = agent_page(browser, live_hubbub, cast.cara)
    page.goto(live_hubbub.url + f"/inbox/conversations/{conversation.pk}/")
    expect(page.locator("body")).to_have_attribute("data-stream", "open")
    expect(page.locator(".entry-inbound")).to_have_count(1)

    # The pipeline files Dana's next post into her open conversation (as `hubbub listen`
    # does, through the same service and the same live event).
    again = arrives(
        cast, customer, 5, text=second_text, author_name="Dana Whitfield", team=cast.care
    )
    assert again.pk == conversation.pk
    expect(page.locator(".entry-inbound")).to_have_count(2)
    expect(page.locator(".entry-inbound").last).to_contain_text(second_text)
    page.context.close()
