"""Standard Webhooks signatures, checked against the specification's own example."""

from __future__ import annotations

import datetime as dt

import pytest

from hubbub.connectors import webhooks

# The example of standardwebhooks.com's specification (and its reference libraries' tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SPEC_NOW = dt.datetime.fromtimestamp(SPEC_TIMESTAMP, tz=dt.UTC)


def headers(signature: str = SPEC_SIGNATURE, timestamp: int = SPEC_TIMESTAMP) -> dict[str, str]:
    return {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_signing_gives_the_specifications_signature() -> None:
    signed = webhooks.sign(
        SPEC_SECRET, webhook_id=SPEC_ID, timestamp=SPEC_TIMESTAMP, body=SPEC_BODY
    )

    assert signed == SPEC_SIGNATURE


def test_a_delivery_signed_with_the_secret_is_accepted_and_its_id_returned() -> None:
    assert webhooks.verify(SPEC_SECRET, headers(), SPEC_BODY, now=SPEC_NOW) == SPEC_ID


def test_one_good_signature_among_several_is_enough_while_a_secret_rotates() -> None:
    rotating = f"v1,Zm9yZ2Vk {SPEC_SIGNATURE}"

    assert webhooks.verify(SPEC_SECRET, headers(rotating), SPEC_BODY, now=SPEC_NOW) == SPEC_ID


@pytest.mark.parametrize(
    ("changed", "code"),
    [
        ({"body": b'{"test": 2432232315}'}, "bad_signature"),
        ({"signature": "v1,Zm9yZ2Vk"}, "bad_signature"),
        ({"signature": SPEC_SIGNATURE.replace("v1", "v2")}, "bad_signature"),
        ({"secret": webhooks.new_secret()}, "bad_signature"),
        ({"signature": ""}, "unsigned"),
    ],
)
def test_a_forged_or_altered_delivery_is_refused(changed: dict[str, object], code: str) -> None:
    body = changed.get("body", SPEC_BODY)
    secret = changed.get("secret", SPEC_SECRET)
    signature = changed.get("signature", SPEC_SIGNATURE)

    with pytest.raises(webhooks.WebhookRejected) as refused:
        webhooks.verify(str(secret), headers(str(signature)), body, now=SPEC_NOW)  # type: ignore[arg-type]

    assert refused.value.code == code


def test_a_delivery_older_or_newer_than_five_minutes_is_refused_as_a_replay() -> None:
    for offset in (dt.timedelta(minutes=5, seconds=1), -dt.timedelta(minutes=5, seconds=1)):
        with pytest.raises(webhooks.WebhookRejected) as refused:
            webhooks.verify(SPEC_SECRET, headers(), SPEC_BODY, now=SPEC_NOW + offset)
        assert refused.value.code == "stale"
    assert webhooks.verify(
        SPEC_SECRET, headers(), SPEC_BODY, now=SPEC_NOW + dt.timedelta(minutes=4)
    )


def test_new_secrets_are_distinct_and_sign_what_they_verify() -> None:
    first, second = webhooks.new_secret(), webhooks.new_secret()
    signature = webhooks.sign(first, webhook_id="m1", timestamp=SPEC_TIMESTAMP, body=b"{}")

    assert first != second
    assert first.startswith("whsec_")
    assert (
        webhooks.verify(
            first,
            {
                "webhook-id": "m1",
                "webhook-timestamp": str(SPEC_TIMESTAMP),
                "webhook-signature": signature,
            },
            b"{}",
            now=SPEC_NOW,
        )
        == "m1"
    )
