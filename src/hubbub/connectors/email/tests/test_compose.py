"""An agent's reply as an email: the specification of `compose_reply`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from hubbub.connectors.email.compose import compose_reply, new_message_id, render_html
from hubbub.connectors.email.mime import Address, parse_email

CUSTOMER = Address(name="María López", address="maria.lopez@gmail.com")
SENT_AT = datetime(2024, 3, 12, 11, 30, tzinfo=UTC)


def reply(**overrides: Any) -> EmailMessage:
    arguments: dict[str, Any] = {
        "sender_name": "Dana at Acme",
        "sender_address": "dana@acme.test",
        "reply_to": "support+c7f3a9@acme.test",
        "to": CUSTOMER,
        "subject": "Your order #18842",
        "body_text": "Hi María,\n\nyour parcel is on its way.\n\n-- \nDana\nAcme support",
        "message_id_domain": "acme.test",
        "in_reply_to": "CAJ7x=customer@mail.gmail.com",
        "references": ("first@acme.test", "CAJ7x=customer@mail.gmail.com"),
        "date": SENT_AT,
    }
    arguments.update(overrides)
    return compose_reply(**arguments)


def sent(message: EmailMessage) -> EmailMessage:
    """The message as the customer's server receives it."""
    received = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(received, EmailMessage)
    return received


def part_of(message: EmailMessage, content_type: str) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == content_type)
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_a_reply_threads_under_the_customers_message() -> None:
    message = sent(reply())

    assert message["In-Reply-To"] == "<CAJ7x=customer@mail.gmail.com>"
    assert message["References"] == "<first@acme.test> <CAJ7x=customer@mail.gmail.com>"


def test_the_parent_is_added_to_the_references_when_the_caller_left_it_out() -> None:
    message = sent(reply(references=("first@acme.test",)))

    assert message["References"] == "<first@acme.test> <CAJ7x=customer@mail.gmail.com>"


def test_the_parent_is_always_the_last_reference() -> None:
    message = sent(reply(in_reply_to="p@x", references=("a@x", "p@x", "b@x", "a@x")))

    assert message["References"] == "<a@x> <b@x> <p@x>"


def test_ids_given_with_brackets_are_not_bracketed_twice() -> None:
    message = sent(reply(in_reply_to="<p@x>", references=("<a@x>", "<p@x>")))

    assert message["In-Reply-To"] == "<p@x>"
    assert message["References"] == "<a@x> <p@x>"


def test_a_long_thread_keeps_its_first_id_and_the_last_nine() -> None:
    chain = tuple(f"m{n}@x" for n in range(30))

    message = sent(reply(in_reply_to="m29@x", references=chain))

    ids = message["References"].split()
    assert ids == ["<m0@x>", *(f"<m{n}@x>" for n in range(21, 30))]


def test_a_first_mail_has_no_threading_headers() -> None:
    message = sent(reply(in_reply_to="", references=()))

    assert "In-Reply-To" not in message
    assert "References" not in message


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Your order", "Re: Your order"),
        ("Re: Your order", "Re: Your order"),
        ("RE: Your order", "RE: Your order"),
        ("re:Your order", "re:Your order"),
        ("Fwd: Your order", "Re: Fwd: Your order"),
        ("  Your\n order  ", "Re: Your order"),
    ],
)
def test_the_subject_gets_re_once(subject: str, expected: str) -> None:
    assert sent(reply(subject=subject))["Subject"] == expected


def test_from_to_and_reply_to_name_the_people() -> None:
    message = sent(reply())

    assert message["From"] == "Dana at Acme <dana@acme.test>"
    assert message["To"] == "María López <maria.lopez@gmail.com>"
    assert message["Reply-To"] == "support+c7f3a9@acme.test"


def test_a_customer_at_an_internationalised_domain_is_written_in_punycode() -> None:
    message = sent(reply(to=Address(name="Jörg", address="joerg@münchen.example")))

    assert message["To"].addresses[0].addr_spec == "joerg@xn--mnchen-3ya.example"


def test_a_non_ascii_local_part_is_refused_as_it_would_need_smtputf8() -> None:
    with pytest.raises(ValueError, match="not an email address"):
        reply(to=Address(name="Jörg", address="jörg@example.com"))


def test_reply_to_is_left_out_when_not_given() -> None:
    assert "Reply-To" not in sent(reply(reply_to=""))


def test_the_date_is_given_in_utc() -> None:
    berlin = timezone(timedelta(hours=1))

    message = sent(reply(date=datetime(2024, 3, 12, 12, 30, tzinfo=berlin)))

    assert message["Date"] == "Tue, 12 Mar 2024 11:30:00 +0000"
    assert message["Date"].datetime == SENT_AT


def test_without_a_date_the_reply_is_dated_now() -> None:
    message = sent(reply(date=None))

    assert message["Date"].datetime.tzinfo is not None
    assert message["Date"].datetime.year >= 2024


def test_a_given_message_id_is_kept_so_a_retry_sends_the_same_mail() -> None:
    first = sent(reply(message_id="stable-1@acme.test"))
    retry = sent(reply(message_id="<stable-1@acme.test>"))

    assert first["Message-ID"] == retry["Message-ID"] == "<stable-1@acme.test>"


def test_without_a_message_id_one_is_made_at_the_given_domain() -> None:
    message = sent(reply(message_id=None))

    assert message["Message-ID"].startswith("<")
    assert message["Message-ID"].endswith("@acme.test>")


def test_new_message_ids_are_unique_and_bare() -> None:
    ids = {new_message_id("acme.test") for _ in range(100)}

    assert len(ids) == 100
    for message_id in ids:
        assert message_id.endswith("@acme.test")
        assert "<" not in message_id
        assert ">" not in message_id


def test_the_reply_is_text_and_html_alternatives_in_utf8() -> None:
    message = sent(reply())

    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in message.iter_parts())
    assert part_of(message, "text/plain") == (
        "Hi María,\n\nyour parcel is on its way.\n\n-- \nDana\nAcme support\n"
    )
    assert message["MIME-Version"] == "1.0"


def test_the_html_escapes_the_text_and_keeps_its_paragraphs_and_lines() -> None:
    body = render_html("Hi <b>Bob</b> & co,\n\nline one\nline two\n\n\n\nlast")

    assert "<p>Hi &lt;b&gt;Bob&lt;/b&gt; &amp; co,</p>" in body
    assert "<p>line one<br>\nline two</p>" in body
    assert "<p>last</p>" in body


def test_only_http_and_https_links_become_clickable() -> None:
    body = render_html(
        "Track it at https://acme.test/track?id=1&x=2. Or http://acme.test/help, "
        "not javascript:alert(1) or ftp://files.acme.test/x"
    )

    assert (
        '<a href="https://acme.test/track?id=1&amp;x=2" rel="noopener noreferrer">'
        "https://acme.test/track?id=1&amp;x=2</a>."
    ) in body
    assert '<a href="http://acme.test/help" rel="noopener noreferrer">' in body
    assert body.count("<a ") == 2
    assert "javascript:alert(1)" in body  # as text only


def test_a_link_cannot_break_out_of_its_attribute() -> None:
    body = render_html('see https://acme.test/"onmouseover="alert(1)')

    assert 'href="https://acme.test/"' in body
    assert "onmouseover=" in body  # left as escaped text
    assert '"onmouseover' not in body.split("</a>")[0]


def test_the_signature_is_muted() -> None:
    html = part_of(sent(reply()), "text/html")

    assert '<p style="color:#6b7280;font-size:0.9em">Dana<br>\nAcme support</p>' in html
    assert "<p>your parcel is on its way.</p>" in html


def test_a_reply_written_by_a_person_is_not_marked_automatic() -> None:
    assert "Auto-Submitted" not in sent(reply())


def test_extra_headers_are_carried() -> None:
    message = sent(reply(extra_headers={"X-Hubbub-Conversation": "123"}))

    assert message["X-Hubbub-Conversation"] == "123"


def test_a_line_break_in_a_name_cannot_add_a_header() -> None:
    attacker = Address(name="Bob\r\nBcc: x@evil.example", address="bob@example.com")

    message = reply(to=attacker, sender_name="Dana\nBcc: y@evil.example")
    received = sent(message)

    assert "Bcc" not in received
    assert received["To"].addresses[0].addr_spec == "bob@example.com"
    assert received["To"].addresses[0].display_name == "Bob Bcc: x@evil.example"
    assert b"\nBcc:" not in message.as_bytes()


def test_a_line_break_in_the_subject_or_an_extra_header_cannot_add_a_header() -> None:
    message = reply(
        subject="Order\r\nBcc: x@evil.example",
        extra_headers={"X-Hubbub-Conversation": "1\r\nBcc: y@evil.example"},
    )
    received = sent(message)

    assert "Bcc" not in received
    assert received["Subject"] == "Re: Order Bcc: x@evil.example"
    assert received["X-Hubbub-Conversation"] == "1 Bcc: y@evil.example"


@pytest.mark.parametrize(
    "overrides",
    [
        {"to": Address(name="Bob", address="bob@example.com\r\nBcc: x@evil.example")},
        {"to": Address(name="Bob", address="not an address")},
        {"sender_address": "dana@acme.test\nBcc: x@evil.example"},
        {"reply_to": "support@acme.test>\r\nBcc: x@evil.example"},
        {"in_reply_to": "p@x>\r\nBcc: <x@evil.example"},
        {"references": ("a@x\nBcc: x@evil.example",)},
        {"message_id": "m@x\r\nBcc: x@evil.example"},
        {"message_id": None, "message_id_domain": "acme.test\nBcc: x@evil.example"},
        {"extra_headers": {"X-Bad\r\nBcc": "x@evil.example"}},
        {"extra_headers": {"Bcc": "x@evil.example"}},
        {"extra_headers": {"From": "ceo@acme.test"}},
    ],
)
def test_addresses_ids_and_header_names_that_could_inject_headers_are_refused(
    overrides: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match="not a"):
        reply(**overrides)


def test_a_reply_parsed_back_threads_and_reads_the_same() -> None:
    message = reply()

    parsed = parse_email(message.as_bytes())

    assert parsed.in_reply_to == "CAJ7x=customer@mail.gmail.com"
    assert parsed.references == ("first@acme.test", "CAJ7x=customer@mail.gmail.com")
    assert parsed.subject == "Re: Your order #18842"
    assert parsed.sender == Address(name="Dana at Acme", address="dana@acme.test")
    assert parsed.to == (CUSTOMER,)
    assert parsed.reply_to == Address(name="", address="support+c7f3a9@acme.test")
    assert parsed.message_id == message["Message-ID"].strip("<>")
    assert parsed.date == SENT_AT
    assert parsed.text == "Hi María,\n\nyour parcel is on its way.\n\n-- \nDana\nAcme support\n"
    assert "<p>your parcel is on its way.</p>" in parsed.html
    assert parsed.auto_reply == ""
    assert parsed.problems == ()


def test_non_ascii_names_and_subjects_survive_the_round_trip() -> None:
    message = reply(sender_name="Dana Øberg – Acme", subject="Grüße ☃ from Köln")

    parsed = parse_email(message.as_bytes())

    assert parsed.sender.name == "Dana Øberg – Acme"
    assert parsed.subject == "Re: Grüße ☃ from Köln"
