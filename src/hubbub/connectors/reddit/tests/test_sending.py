"""Replies and private messages: the form Reddit expects, its refusals, and no double posts."""

from __future__ import annotations

import pytest

from hubbub.connectors.outbound import Delivered, Outgoing, SendError, Visibility
from hubbub.connectors.reddit import connector
from hubbub.connectors.reddit.tests.fake import USERNAME, FakeReddit, customer_texts
from hubbub.connectors.reddit.tests.support import account

pytestmark = pytest.mark.django_db

ANSWER = "So sorry about the outage, Maya. Could you tell us which street you are on? – Cara"


def customer_comment(reddit: FakeReddit) -> str:
    thread = reddit.add_submission(customer_texts()[40], author="maya_k")
    return reddit.add_comment(customer_texts()[41], parent=thread, author="maya_k")


def reply(parent: str, text: str = ANSWER, key: str = "hubbub-message-7") -> Outgoing:
    return Outgoing(
        text=text,
        visibility=Visibility.PUBLIC,
        recipient_handle="maya_k",
        in_reply_to=parent,
        idempotency_key=key,
    )


def message(to: str = "u/maya_k", key: str = "hubbub-message-8") -> Outgoing:
    return Outgoing(
        text=ANSWER, visibility=Visibility.DIRECT, recipient_handle=to, idempotency_key=key
    )


def test_a_reply_posts_thing_id_text_and_api_type_as_the_signed_in_app(
    reddit: FakeReddit,
) -> None:
    parent = customer_comment(reddit)
    delivered = connector.send(account(reddit), reply(parent))
    (request,) = reddit.requests_to("/api/comment")
    assert request.method == "POST"
    assert request.form == {"api_type": "json", "thing_id": parent, "text": ANSWER}
    assert request.headers["Authorization"] == "bearer 1-fakeBearerToken0001"
    assert request.headers["User-Agent"] == f"python:hubbub:0.1 (by /u/{USERNAME})"
    (posted,) = reddit.brand_comments()
    assert posted["parent_id"] == parent
    assert delivered == Delivered(
        external_id=posted["name"], url="https://www.reddit.com" + posted["permalink"]
    )


def test_the_signature_keeps_its_own_line_in_reddit_markdown(reddit: FakeReddit) -> None:
    parent = customer_comment(reddit)
    connector.send(account(reddit), reply(parent, text="Sorry, Maya.\n\nWhich street?\n– Cara"))
    (request,) = reddit.requests_to("/api/comment")
    # Markdown joins lines that do not end in two spaces; paragraphs stay paragraphs.
    assert request.form["text"] == "Sorry, Maya.\n\nWhich street?  \n– Cara"


@pytest.mark.parametrize(
    ("wording", "seconds"),
    [
        (
            "Looks like you've been doing that a lot. "
            "Take a break for 9 minutes before trying again.",
            540.0,
        ),
        ("You're doing that too much. Try again in 59 seconds.", 59.0),
        ("you are doing that too much. try again in 1 minute.", 60.0),
    ],
)
def test_reddit_s_ratelimit_refusal_is_transient_with_the_wait_it_names(
    reddit: FakeReddit, wording: str, seconds: float
) -> None:
    parent = customer_comment(reddit)
    reddit.fail_next(
        "/api/comment", 200, {"json": {"errors": [["RATELIMIT", wording, "ratelimit"]]}}
    )
    with pytest.raises(SendError) as caught:
        connector.send(account(reddit), reply(parent))
    assert caught.value.transient
    assert caught.value.retry_after_seconds == seconds
    assert reddit.brand_comments() == []


def test_a_retry_after_a_lost_answer_finds_the_posted_comment_instead_of_posting_again(
    reddit: FakeReddit,
) -> None:
    parent = customer_comment(reddit)
    reddit.add_comment(ANSWER, parent=reddit.add_submission(customer_texts()[50]), author=USERNAME)
    reddit.lose_next_response("/api/comment")
    with pytest.raises(SendError) as caught:
        connector.send(account(reddit), reply(parent))
    assert caught.value.transient  # the job will be retried
    again = connector.send(account(reddit), reply(parent))
    posted = [c for c in reddit.brand_comments() if c["parent_id"] == parent]
    assert len(posted) == 1
    assert again.external_id == posted[0]["name"]
    assert len(reddit.requests_to("/api/comment")) == 1
    (looked,) = reddit.requests_to(f"/user/{USERNAME}/comments")
    assert looked.query["sort"] == "new"


def test_a_retry_of_a_delivered_reply_returns_it_without_calling_reddit(
    reddit: FakeReddit,
) -> None:
    parent = customer_comment(reddit)
    first = connector.send(account(reddit), reply(parent))
    calls = len(reddit.received)
    assert connector.send(account(reddit), reply(parent)) == first
    assert len(reddit.received) == calls


def test_a_retry_after_a_failure_before_posting_posts_once(reddit: FakeReddit) -> None:
    parent = customer_comment(reddit)
    reddit.fail_next("/api/comment", 503, b"<html><body>upstream connect error</body></html>")
    with pytest.raises(SendError):
        connector.send(account(reddit), reply(parent))
    delivered = connector.send(account(reddit), reply(parent))
    (posted,) = reddit.brand_comments()
    assert delivered.external_id == posted["name"]


def test_two_messages_with_the_same_text_are_two_comments(reddit: FakeReddit) -> None:
    parent = customer_comment(reddit)
    connector.send(account(reddit), reply(parent, text="Thank you!", key="hubbub-message-1"))
    connector.send(account(reddit), reply(parent, text="Thank you!", key="hubbub-message-2"))
    assert len(reddit.brand_comments()) == 2


def test_an_expired_token_during_a_send_is_renewed_and_the_reply_posted_once(
    reddit: FakeReddit,
) -> None:
    parent = customer_comment(reddit)
    connector.send(account(reddit), reply(parent, key="hubbub-message-1"))
    reddit.expire_tokens()
    connector.send(account(reddit), reply(parent, text="One more thing.", key="hubbub-message-2"))
    assert len(reddit.brand_comments()) == 2
    assert len(reddit.requests_to("/api/v1/access_token")) == 2


@pytest.mark.parametrize(
    ("code", "wording", "says"),
    [
        ("TOO_OLD", "that's a piece of history now; it's too late to reply to it", "archived"),
        ("THREAD_LOCKED", "Comments are locked.", "locked"),
        ("DELETED_COMMENT", "that comment has been deleted", "deleted"),
        (
            "SUBMIT_VALIDATION_BODY_BLACKLISTED_STRING",
            "Your comment contains a banned word",
            "banned",
        ),
    ],
)
def test_refusals_are_permanent_and_say_why(
    reddit: FakeReddit, code: str, wording: str, says: str
) -> None:
    parent = customer_comment(reddit)
    reddit.fail_next("/api/comment", 200, {"json": {"errors": [[code, wording, "parent"]]}})
    with pytest.raises(SendError, match=says) as caught:
        connector.send(account(reddit), reply(parent))
    assert not caught.value.transient
    assert code in caught.value.message


def test_a_reply_needs_the_fullname_of_what_it_answers(reddit: FakeReddit) -> None:
    with pytest.raises(SendError, match="fullname") as caught:
        connector.send(account(reddit), reply("109998877"))
    assert not caught.value.transient
    assert reddit.received == []


def test_a_reply_longer_than_reddit_takes_is_refused_before_sending(reddit: FakeReddit) -> None:
    parent = customer_comment(reddit)
    with pytest.raises(SendError, match="10,000"):
        connector.send(account(reddit), reply(parent, text="x" * 10_001))
    assert reddit.requests_to("/api/comment") == []


def test_a_secret_that_is_not_the_four_values_is_a_permanent_error(reddit: FakeReddit) -> None:
    broken = account(reddit).__class__(
        platform="reddit", transport="live", handle="u/x", base_url=reddit.url, secret="token"
    )
    with pytest.raises(SendError, match="JSON object") as caught:
        connector.send(broken, reply("t1_abc"))
    assert not caught.value.transient


def test_a_private_message_is_composed_to_the_customer(reddit: FakeReddit) -> None:
    reddit.add_user("maya_k")
    delivered = connector.send(account(reddit), message())
    (request,) = reddit.requests_to("/api/compose")
    assert request.form == {
        "api_type": "json",
        "to": "maya_k",
        "subject": "About your post",
        "text": ANSWER,
    }
    (sent,) = reddit.sent_messages
    assert delivered == Delivered(
        external_id=sent["name"], url=f"https://www.reddit.com/message/messages/{sent['id']}"
    )


@pytest.mark.parametrize(
    ("code", "wording", "says"),
    [
        (
            "RESTRICTED_TO_PM",
            "User doesn't accept direct messages. Try sending a chat request instead.",
            "u/maya_k accepts private messages only as chat requests",
        ),
        (
            "NOT_WHITELISTED_BY_USER_MESSAGE",
            "You can't send a message to that user.",
            "u/maya_k accepts private messages only from people they trust",
        ),
    ],
)
def test_private_message_refusals_say_what_the_customer_accepts(
    reddit: FakeReddit, code: str, wording: str, says: str
) -> None:
    reddit.add_user("maya_k")
    reddit.pm_refusals["maya_k"] = (code, wording)
    with pytest.raises(SendError, match=says) as caught:
        connector.send(account(reddit), message())
    assert not caught.value.transient
    assert caught.value.code == code.lower()
    assert reddit.sent_messages == []


def test_a_private_message_to_nobody_says_the_user_does_not_exist(reddit: FakeReddit) -> None:
    with pytest.raises(SendError, match="u/ghost_user does not exist") as caught:
        connector.send(account(reddit), message(to="ghost_user"))
    assert not caught.value.transient


def test_a_retried_private_message_is_not_sent_twice(reddit: FakeReddit) -> None:
    reddit.add_user("maya_k")
    reddit.lose_next_response("/api/compose")
    with pytest.raises(SendError):
        connector.send(account(reddit), message())
    again = connector.send(account(reddit), message())
    (sent,) = reddit.sent_messages
    assert again.external_id == sent["name"]
    assert len(reddit.requests_to("/api/compose")) == 1
