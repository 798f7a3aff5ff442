"""Replies threaded with strong refs, facets in bytes, one post per message however often it
is retried, direct messages through the chat proxy, and profiles."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from django.test import override_settings

from hubbub.connectors.base import ConnectorError, SourceConfig
from hubbub.connectors.bluesky import connector
from hubbub.connectors.bluesky.tests.fake import (
    APP_PASSWORD,
    BRAND_DID,
    BRAND_HANDLE,
    CHAT_PROXY,
    FakeBluesky,
    customer_texts,
    running_bluesky,
)
from hubbub.connectors.outbound import Account, Outgoing, SendError, Visibility

pytestmark = pytest.mark.django_db

CREATE_RECORD = "com.atproto.repo.createRecord"
SEND_MESSAGE = "chat.bsky.convo.sendMessage"
AT = dt.datetime(2026, 11, 23, 8, 15, tzinfo=dt.UTC)


@pytest.fixture
def bluesky() -> Iterator[FakeBluesky]:
    with running_bluesky() as fake, override_settings(HUBBUB_SAFE_HTTP_ALLOW=["127.0.0.0/8"]):
        yield fake


def account(fake: FakeBluesky, **secret: str) -> Account:
    return Account(
        platform="bluesky",
        transport="live",
        handle=BRAND_HANDLE,
        base_url=fake.url,
        secret=json.dumps({"identifier": BRAND_HANDLE, "app_password": APP_PASSWORD, **secret}),
    )


def reply(text: str, in_reply_to: str, key: str = "hubbub-message-7") -> Outgoing:
    return Outgoing(
        text=text,
        visibility=Visibility.PUBLIC,
        recipient_handle="customer115712.bsky.social",
        in_reply_to=in_reply_to,
        idempotency_key=key,
    )


def direct(text: str, recipient: str, key: str = "hubbub-message-9") -> Outgoing:
    return Outgoing(
        text=text, visibility=Visibility.DIRECT, recipient_handle=recipient, idempotency_key=key
    )


def test_a_reply_to_a_top_level_post_has_it_as_root_and_parent(bluesky: FakeBluesky) -> None:
    customer = bluesky.customer(115712)
    post = bluesky.publish(customer_texts("@sprintcare", 1)[0], customer, at=AT, langs=("en",))
    delivered = connector.send(account(bluesky), reply("So sorry, Dana. We're on it.", post["uri"]))

    (created,) = bluesky.calls_to(CREATE_RECORD)
    assert created.body["repo"] == BRAND_DID
    assert created.body["collection"] == "app.bsky.feed.post"
    record = created.body["record"]
    strong_ref = {"uri": post["uri"], "cid": post["cid"]}
    assert record["reply"] == {"root": strong_ref, "parent": strong_ref}
    assert record["$type"] == "app.bsky.feed.post"
    assert record["langs"] == ["en"]
    assert record["createdAt"].endswith("Z")
    rkey = created.body["rkey"]
    assert delivered.external_id == f"at://{BRAND_DID}/app.bsky.feed.post/{rkey}"
    assert delivered.url == f"https://bsky.app/profile/{BRAND_HANDLE}/post/{rkey}"


def test_a_reply_to_a_reply_keeps_the_thread_s_root(bluesky: FakeBluesky) -> None:
    first, second = customer_texts("@sprintcare", 2)
    customer = bluesky.customer(115712)
    top = bluesky.publish(first, customer, at=AT)
    brand = bluesky.publish(
        "Could you tell us your area?", bluesky.brand, at=AT, reply_to=top["uri"]
    )
    answer = bluesky.publish(second, customer, at=AT, reply_to=brand["uri"], langs=("fr", "en"))

    connector.send(account(bluesky), reply("Merci, on regarde.", answer["uri"]))

    record = bluesky.calls_to(CREATE_RECORD)[0].body["record"]
    assert record["reply"]["root"] == {"uri": top["uri"], "cid": top["cid"]}
    assert record["reply"]["parent"] == {"uri": answer["uri"], "cid": answer["cid"]}
    assert record["langs"] == ["fr"]


def test_links_and_mentions_get_facets_with_utf8_byte_offsets(bluesky: FakeBluesky) -> None:
    customer = bluesky.customer(115712, "Zoë")
    post = bluesky.publish("@brightwave.bsky.social où est ma commande?", customer, at=AT)
    text = "Désolé 😩 @customer115712.bsky.social, suivez https://brightwave.test/suivi/7 🙏"
    connector.send(account(bluesky), reply(text, post["uri"]))

    record = bluesky.calls_to(CREATE_RECORD)[0].body["record"]
    encoded = text.encode("utf-8")
    spans = {
        facet["features"][0]["$type"]: encoded[
            facet["index"]["byteStart"] : facet["index"]["byteEnd"]
        ].decode("utf-8")
        for facet in record["facets"]
    }
    assert spans == {
        "app.bsky.richtext.facet#mention": "@customer115712.bsky.social",
        "app.bsky.richtext.facet#link": "https://brightwave.test/suivi/7",
    }
    mention = record["facets"][0]
    assert mention["features"][0]["did"] == customer.did
    assert mention["index"] == {"byteStart": 14, "byteEnd": 14 + len("@customer115712.bsky.social")}


def test_a_retried_reply_is_posted_once(bluesky: FakeBluesky) -> None:
    post = bluesky.publish(customer_texts("@sprintcare", 1)[0], bluesky.customer(115712), at=AT)
    first = connector.send(account(bluesky), reply("We've reset your line.", post["uri"]))
    again = connector.send(account(bluesky), reply("We've reset your line.", post["uri"]))
    assert again == first
    assert len(bluesky.posts_by_brand()) == 1
    creates = bluesky.calls_to(CREATE_RECORD)
    assert creates[0].body["rkey"] == creates[1].body["rkey"]
    # The second createRecord collided; the record under that key is the delivery.
    assert len(bluesky.calls_to("com.atproto.repo.getRecord")) == 1


def test_another_message_to_the_same_post_is_a_second_reply(bluesky: FakeBluesky) -> None:
    post = bluesky.publish(customer_texts("@sprintcare", 1)[0], bluesky.customer(115712), at=AT)
    connector.send(account(bluesky), reply("Checking now.", post["uri"], key="hubbub-message-7"))
    connector.send(account(bluesky), reply("Fixed!", post["uri"], key="hubbub-message-8"))
    assert len(bluesky.posts_by_brand()) == 2


def test_a_reply_to_a_deleted_post_fails_for_good(bluesky: FakeBluesky) -> None:
    gone = f"at://{bluesky.customer(1).did}/app.bsky.feed.post/3lbcd2xyzab2k"
    with pytest.raises(SendError, match="no longer shows the post") as failed:
        connector.send(account(bluesky), reply("Hello?", gone))
    assert not failed.value.transient
    assert bluesky.calls_to(CREATE_RECORD) == []


def test_a_refused_record_is_a_permanent_error(bluesky: FakeBluesky) -> None:
    post = bluesky.publish("my router", bluesky.customer(2), at=AT)
    with pytest.raises(ConnectorError, match="300 graphemes") as failed:
        connector.send(account(bluesky), reply("x" * 301, post["uri"]))
    assert not failed.value.transient


def test_a_secret_that_is_not_the_json_credentials_asks_for_them_again(
    bluesky: FakeBluesky,
) -> None:
    broken = Account("bluesky", "live", BRAND_HANDLE, bluesky.url, "just-a-password")
    with pytest.raises(ConnectorError, match="handle and an app password") as failed:
        connector.send(broken, reply("hi", "at://did:plc:x/app.bsky.feed.post/3k"))
    assert not failed.value.transient


def test_a_direct_message_goes_through_the_chat_proxy(bluesky: FakeBluesky) -> None:
    customer = bluesky.customer(115712, allow_incoming="all")
    delivered = connector.send(
        account(bluesky), direct("Could you send us your order number?", "@" + customer.handle)
    )
    (convo_call,) = bluesky.calls_to("chat.bsky.convo.getConvoForMembers")
    assert convo_call.headers["atproto-proxy"] == CHAT_PROXY
    assert convo_call.params["members"] == [customer.did]
    (sent,) = bluesky.calls_to(SEND_MESSAGE)
    assert sent.headers["atproto-proxy"] == CHAT_PROXY
    assert sent.body["message"] == {"text": "Could you send us your order number?"}
    convo_id = sent.body["convoId"]
    assert delivered.external_id == bluesky.convos[convo_id]["messages"][0]["id"]
    assert delivered.url == f"https://bsky.app/messages/{convo_id}"


def test_a_retried_direct_message_is_sent_once(bluesky: FakeBluesky) -> None:
    customer = bluesky.customer(115712, allow_incoming="all")
    first = connector.send(account(bluesky), direct("Your refund is on its way.", customer.handle))
    again = connector.send(account(bluesky), direct("Your refund is on its way.", customer.handle))
    assert again == first
    assert len(bluesky.calls_to(SEND_MESSAGE)) == 1


def test_the_same_words_after_the_customer_wrote_back_are_a_new_message(
    bluesky: FakeBluesky,
) -> None:
    customer = bluesky.customer(115712, allow_incoming="all")
    first = connector.send(account(bluesky), direct("Thanks!", customer.handle, key="m-1"))
    convo_id = first.url.rsplit("/", 1)[1]
    bluesky.customer_writes(convo_id, customer.did, customer_texts("@sprintcare", 1)[0])
    second = connector.send(account(bluesky), direct("Thanks!", customer.handle, key="m-2"))
    assert second.external_id != first.external_id
    assert len(bluesky.calls_to(SEND_MESSAGE)) == 2


@pytest.mark.parametrize(
    ("allow_incoming", "reason"),
    [
        ("none", "does not accept direct messages"),
        ("following", "accepts direct messages only from accounts they follow"),
    ],
)
def test_a_customer_who_does_not_take_messages_from_the_brand_is_a_clear_permanent_failure(
    bluesky: FakeBluesky, allow_incoming: str, reason: str
) -> None:
    customer = bluesky.customer(115712, allow_incoming=allow_incoming)
    with pytest.raises(SendError, match=reason) as failed:
        connector.send(account(bluesky), direct("Hello", customer.handle))
    assert not failed.value.transient
    assert f"@{customer.handle}" in failed.value.message
    assert bluesky.calls_to(SEND_MESSAGE) == []


def test_an_unknown_recipient_is_a_permanent_failure(bluesky: FakeBluesky) -> None:
    with pytest.raises(SendError, match=r"does not know @ghost\.bsky\.social") as failed:
        connector.send(account(bluesky), direct("Hello", "ghost.bsky.social"))
    assert not failed.value.transient


def test_an_app_password_without_message_access_says_so(bluesky: FakeBluesky) -> None:
    bluesky.dm_scope = False
    customer = bluesky.customer(115712, allow_incoming="all")
    with pytest.raises(ConnectorError, match="access to direct messages") as failed:
        connector.send(account(bluesky), direct("Hello", customer.handle))
    assert not failed.value.transient
    # A new session would have the same scope: it is not tried.
    assert len(bluesky.calls_to("com.atproto.server.refreshSession")) == 0


def config(fake: FakeBluesky) -> SourceConfig:
    return SourceConfig(
        source_id=1,
        workspace_id=1,
        kind="bluesky",
        settings={"service": fake.url, "mode": "mentions"},
        credentials={"identifier": BRAND_HANDLE, "app_password": APP_PASSWORD},
        cursor="",
    )


def test_a_profile_has_the_counts_and_the_verification(bluesky: FakeBluesky) -> None:
    bluesky.customer(
        115712,
        "<b>Dana</b> 🛰️",
        description="Night owl. Fibre customer since 2019.",
        followers=1873,
        follows=402,
        posts=9120,
        verified=True,
    )
    profile = connector.fetch_profile(config(bluesky), "@customer115712.bsky.social")
    assert profile.handle == "customer115712.bsky.social"
    assert profile.name == "<b>Dana</b> 🛰️"
    assert (profile.followers, profile.following, profile.posts) == (1873, 402, 9120)
    assert profile.verified is True
    assert profile.description == "Night owl. Fibre customer since 2019."
    assert profile.created_at == dt.datetime(2023, 5, 2, 18, 4, 11, tzinfo=dt.UTC)


def test_profiles_come_in_batches_and_unknown_ones_are_left_out(bluesky: FakeBluesky) -> None:
    handles = [bluesky.customer(n).handle for n in range(30)]
    profiles = connector.fetch_profiles(config(bluesky), [*handles, "ghost.bsky.social"])
    assert [profile.handle for profile in profiles] == handles
    assert len(bluesky.calls_to("app.bsky.actor.getProfiles")) == 2


def test_an_unknown_profile_is_a_permanent_error(bluesky: FakeBluesky) -> None:
    with pytest.raises(ConnectorError, match="Profile not found") as failed:
        connector.fetch_profile(config(bluesky), "ghost.bsky.social")
    assert not failed.value.transient
