"""Reading a stranger's email safely: the specification of `parse_email`.

The samples in samples/ are hand-written after real mail from Gmail,
Outlook, Postfix and mailing-list software; messages that only one test
needs are built in the test with the stdlib (see mails.py). What it makes
of HTML is specified in test_html, of attachments in test_attachments.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubbub.connectors.email import attachments, html, mime
from hubbub.connectors.email.mime import (
    Address,
    Limits,
    ParsedEmail,
    normalize_subject,
    parse_email,
)
from hubbub.connectors.email.tests.mails import (
    SAMPLE_NAMES,
    SAMPLES,
    attachment_named,
    loading_attributes,
    mail,
    raw_mail,
    sample,
)

# --- Threading headers ---------------------------------------------------------


def test_a_gmail_reply_gives_its_ids_without_brackets_in_order() -> None:
    parsed = sample("gmail_alternative.eml")

    assert parsed.message_id == "CAJ7x=Rk4+Yq2nM8ZP0qEw1d9Xh_LbGqVt-3sOaKyQ@mail.gmail.com"
    assert parsed.in_reply_to == "20240311.171202.ticket-4411@acme.test"
    assert parsed.references == (
        "CAF=first+id@mail.gmail.com",
        "20240311.171202.ticket-4411@acme.test",
    )


def test_references_are_deduplicated_in_their_order() -> None:
    parsed = parse_email(raw_mail("References: <a@x> <b@x>\n <a@x>\t<c@x>\nFrom: c@example.com"))

    assert parsed.references == ("a@x", "b@x", "c@x")


def test_in_reply_to_ignores_what_old_clients_write_after_the_id() -> None:
    parsed = parse_email(raw_mail("In-Reply-To: <p1@x> (Bob's message of Monday)"))

    assert parsed.in_reply_to == "p1@x"


def test_a_missing_message_id_is_empty_so_the_caller_can_make_one() -> None:
    parsed = parse_email(raw_mail("From: someone@example.com\nSubject: hi"))

    assert parsed.message_id == ""
    assert parsed.in_reply_to == ""
    assert parsed.references == ()


def test_a_message_id_without_brackets_is_still_read() -> None:
    assert parse_email(raw_mail("Message-ID: bare-id@example.com")).message_id == (
        "bare-id@example.com"
    )


def test_a_very_long_reference_chain_keeps_its_first_and_latest_ids() -> None:
    ids = " ".join(f"<id{n}@x>" for n in range(300))

    parsed = parse_email(raw_mail(f"References: {ids}"))

    assert len(parsed.references) == 100
    assert parsed.references[0] == "id0@x"
    assert parsed.references[-1] == "id299@x"


# --- Subject, people, date ------------------------------------------------------


def test_the_subject_is_decoded_from_rfc_2047() -> None:
    assert sample("gmail_alternative.eml").subject == "Re: Your order #18842 – delivery date"
    assert sample("latin1.eml").subject == "Problème de livraison à Lyon"


def test_the_subject_has_its_whitespace_collapsed_and_is_capped() -> None:
    parsed = parse_email(raw_mail("Subject: too \t  many\n   spaces " + "x" * 400))

    assert parsed.subject.startswith("too many spaces x")
    assert len(parsed.subject) == 300


def test_the_sender_address_is_lowercased_and_the_name_decoded() -> None:
    assert sample("gmail_alternative.eml").sender == Address(
        name="María López", address="maria.lopez@gmail.com"
    )


@pytest.mark.parametrize(
    "from_header",
    ["Broken <not-an-address>", "Broken <a@b@c.example>", "Broken <user@[192.0.2.1]>"],
)
def test_an_invalid_sender_address_is_empty_but_the_name_is_kept(from_header: str) -> None:
    parsed = parse_email(raw_mail(f"From: {from_header}"))

    assert parsed.sender == Address(name="Broken", address="")


def test_a_mail_without_from_has_an_empty_sender() -> None:
    assert sample("malformed.eml").sender == Address(name="", address="")


def test_reply_to_to_and_cc_are_read() -> None:
    parsed = parse_email(
        raw_mail(
            "From: a@example.com\n"
            "Reply-To: Orders <Orders@Example.com>\n"
            "To: Support <support@acme.test>, sales@acme.test\n"
            "Cc: =?utf-8?q?Zo=C3=AB?= <zoe@example.org>"
        )
    )

    assert parsed.reply_to == Address(name="Orders", address="orders@example.com")
    assert parsed.to == (
        Address(name="Support", address="support@acme.test"),
        Address(name="", address="sales@acme.test"),
    )
    assert parsed.cc == (Address(name="Zoë", address="zoe@example.org"),)


def test_reply_to_is_none_when_absent() -> None:
    assert sample("latin1.eml").reply_to is None


def test_delivered_to_collects_every_address_the_mail_reached_us_by() -> None:
    parsed = parse_email(
        raw_mail(
            "From: a@example.com\n"
            "To: Support <Support+C7F3A9@acme.test>\n"
            "Cc: other@example.com\n"
            "Delivered-To: inbox@acme.test\n"
            "Delivered-To: support+c7f3a9@acme.test\n"
            "X-Original-To: help@acme.test"
        )
    )

    assert parsed.delivered_to == (
        "support+c7f3a9@acme.test",
        "other@example.com",
        "inbox@acme.test",
        "help@acme.test",
    )


def test_the_date_is_aware_utc() -> None:
    assert sample("gmail_alternative.eml").date == datetime(2024, 3, 12, 9, 14, 43, tzinfo=UTC)


def test_a_date_in_an_unknown_zone_is_read_as_utc() -> None:
    parsed = parse_email(raw_mail("Date: Mon, 1 Jan 2024 10:00:00 -0000"))

    assert parsed.date == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", ["Someday, 99 Foo 20XX 25:61:00 +9999", "", "yesterday"])
def test_an_unreadable_date_is_none(value: str) -> None:
    assert parse_email(raw_mail(f"Date: {value}")).date is None


def test_size_is_the_length_of_the_raw_bytes() -> None:
    raw = (SAMPLES / "attachments.eml").read_bytes()

    assert parse_email(raw).size == len(raw)


# --- Text -------------------------------------------------------------------------


def test_the_plain_text_part_is_preferred_over_the_html() -> None:
    parsed = sample("gmail_alternative.eml")

    assert parsed.text.startswith("Hi Dana,\n\nThe parcel still hasn’t arrived.")
    assert "<div" not in parsed.text


def test_without_a_plain_part_the_text_comes_from_the_html() -> None:
    parsed = parse_email(
        mail(
            text=None,
            html="<div>Hi&nbsp;there &amp; welcome</div><p>Second<br>line</p><ul><li>one</li>"
            "<li>two</li></ul><script>alert(1)</script><style>p{}</style>",
        )
    )

    assert parsed.text == "Hi there & welcome\n\nSecond\nline\n\none\ntwo"


def test_iso_8859_1_text_is_decoded() -> None:
    assert "Le colis n'est toujours pas arrivé à Lyon." in sample("latin1.eml").text


def test_base64_and_quoted_printable_bodies_are_decoded() -> None:
    parsed = sample("base64_qp.eml")

    assert (
        parsed.text
        == "Olá, não recebi a fatura da encomenda 18843.\nPodem enviá-la?\n\nObrigada,\nAna"
    )
    assert "Podem enviá-la?" in parsed.html


def test_an_unknown_charset_is_read_as_utf8_and_recorded() -> None:
    parsed = sample("unknown_charset.eml")

    assert "Qapla’!" in parsed.text
    assert "unknown charset x-klingon, read as UTF-8" in parsed.problems


def test_bytes_that_are_not_utf8_fall_back_to_windows_1252_with_replacements() -> None:
    raw = b"Content-Type: text/plain; charset=x-klingon\n\ncaf\xe9 \x81 na\xefve\n"

    parsed = parse_email(raw)

    assert parsed.text == "café \ufffd naïve\n"
    assert parsed.problems == ("unknown charset x-klingon, read as Windows-1252 with replacements",)


def test_text_that_lies_about_its_charset_is_recorded() -> None:
    raw = "Content-Type: text/plain; charset=us-ascii\n\nGrüße\n".encode()

    parsed = parse_email(raw)

    assert parsed.text == "Grüße\n"
    assert parsed.problems == ("text declared as us-ascii was not valid us-ascii, read as UTF-8",)


@pytest.mark.parametrize("charset", ["zlib", "base64", "rot13", "hex"])
def test_a_codec_that_is_not_a_charset_is_treated_as_unknown(charset: str) -> None:
    raw = f"Content-Type: text/plain; charset={charset}\n\nplain words\n".encode()

    parsed = parse_email(raw)

    assert parsed.text == "plain words\n"
    assert f"unknown charset {charset}, read as UTF-8" in parsed.problems


def test_undeclared_utf8_is_everyday_mail_and_not_a_problem() -> None:
    parsed = parse_email("Subject: x\n\nGrüße\n".encode())

    assert parsed.text == "Grüße\n"
    assert parsed.problems == ()


def test_control_characters_are_removed_from_the_text() -> None:
    parsed = parse_email(b"Subject: x\n\nline\x1b[31m one\x00\r\nline\x07 two\n")

    assert parsed.text == "line[31m one\nline two\n"


def test_long_text_is_cut_with_a_record_of_it() -> None:
    parsed = parse_email(mail(text="word " * 1000), limits=Limits(max_text_chars=100))

    assert len(parsed.text) == 100
    assert "the text was cut at 100 characters" in parsed.problems


# --- Automatic mail ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-replied", "automatic message (Auto-Submitted: auto-replied)"),
        ("Auto-Submitted: auto-generated", "automatic message (Auto-Submitted: auto-generated)"),
        ("Precedence: bulk", "bulk mail (Precedence: bulk)"),
        ("Precedence: junk", "bulk mail (Precedence: junk)"),
        ("Precedence: auto_reply", "bulk mail (Precedence: auto_reply)"),
        ("Precedence: list", "mailing list"),
        ("X-Autoreply: yes", "automatic reply (X-Autoreply)"),
        ("X-Autorespond: vacation", "automatic reply (X-Autorespond)"),
        (
            "X-Auto-Response-Suppress: All",
            "the sender asked for no automatic replies (X-Auto-Response-Suppress)",
        ),
        (
            "X-Auto-Response-Suppress: DR, OOF",
            "the sender asked for no automatic replies (X-Auto-Response-Suppress)",
        ),
        ("List-Id: Users <users.lists.example.org>", "mailing list"),
        ("List-Unsubscribe: <mailto:leave@lists.example.org>", "mailing list"),
        ("Return-Path: <>", "sent with an empty return path (an automatic message or bounce)"),
    ],
)
def test_automatic_mail_says_why_it_must_not_be_answered(header: str, reason: str) -> None:
    parsed = parse_email(raw_mail(f"From: a@example.com\n{header}"))

    assert parsed.auto_reply == reason
    assert not parsed.is_bounce


@pytest.mark.parametrize(
    "header",
    ["Auto-Submitted: no", "Precedence: normal", "X-Auto-Response-Suppress: DR, RN, NRN"],
)
def test_a_mail_a_person_wrote_may_be_answered(header: str) -> None:
    assert parse_email(raw_mail(f"From: a@example.com\n{header}")).auto_reply == ""


@pytest.mark.parametrize(
    "sender",
    ["MAILER-DAEMON@mx.example.com", "Mail Delivery System <Mailer-Daemon@mx.example.com>",
     "postmaster@example.com", "MAILER-DAEMON"],
)  # fmt: skip
def test_mail_from_a_mailer_daemon_is_a_bounce(sender: str) -> None:
    parsed = parse_email(raw_mail(f"From: {sender}"))

    assert parsed.is_bounce
    assert parsed.auto_reply.startswith("delivery failure report (bounce) from ")


def test_a_delivery_status_report_is_a_bounce_naming_the_original_message() -> None:
    parsed = sample("dsn_bounce.eml")

    assert parsed.is_bounce
    assert parsed.auto_reply == "delivery failure report (bounce)"
    assert parsed.bounced_message_id == "171066960112.4411.9876543210@acme.test"
    assert "Recipient address rejected" in parsed.text
    assert [a.declared_type for a in parsed.attachments] == [
        "message/delivery-status",
        "message/rfc822",
    ]
    original = attachment_named(parsed, "attachment.eml")
    assert b"Message-ID: <171066960112.4411.9876543210@acme.test>" in original.content


def test_a_bounce_with_only_the_original_headers_names_the_original_message() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example.com\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n"
        b"--r\nContent-Type: text/plain\n\nDelivery failed.\n"
        b"--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
        b"Final-Recipient: rfc822; x@example.net\nAction: failed\nStatus: 5.1.1\n"
        b"--r\nContent-Type: text/rfc822-headers\n\n"
        b"From: support@acme.test\nMessage-ID: <original-7@acme.test>\nSubject: Re: x\n"
        b"--r--\n"
    )

    parsed = parse_email(raw)

    assert parsed.is_bounce
    assert parsed.bounced_message_id == "original-7@acme.test"


def test_an_ordinary_mail_with_an_attached_message_is_not_a_bounce() -> None:
    forwarded = raw_mail("From: x@example.com\nMessage-ID: <fwd@example.com>", "original\n")
    raw = (
        b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nsee below\n"
        b"--b\nContent-Type: message/rfc822\n\n" + forwarded + b"\n--b--\n"
    )

    parsed = parse_email(raw)

    assert not parsed.is_bounce
    assert parsed.bounced_message_id == ""
    assert parsed.attachments[0].filename == "attachment.eml"


def test_an_out_of_office_reply_is_automatic() -> None:
    parsed = sample("out_of_office.eml")

    assert parsed.auto_reply == "automatic message (Auto-Submitted: auto-replied)"
    assert not parsed.is_bounce


def test_a_mailing_list_mail_is_automatic() -> None:
    assert sample("mailing_list.eml").auto_reply == "mailing list"


def test_a_customers_mail_is_not_automatic() -> None:
    parsed = sample("gmail_alternative.eml")

    assert parsed.auto_reply == ""
    assert not parsed.is_bounce
    assert parsed.bounced_message_id == ""


# --- Broken and hostile structure ------------------------------------------------------------


def test_malformed_mime_is_read_as_far_as_it_goes() -> None:
    parsed = sample("malformed.eml")

    assert parsed.text == "Hello, I need help!"
    assert parsed.html == "<p>unterminated <b>bold </b></p>"
    assert parsed.message_id == ""
    assert parsed.references == ("a@b",)
    assert parsed.to == (Address(name="", address="support@acme.test"),)
    assert parsed.date is None
    assert "MIME structure defect: close boundary not found" in parsed.problems
    (attachment,) = parsed.attachments
    assert attachment.filename == "ab[31mgnp.exe"
    assert attachment.rejected == "executable file type"


def test_control_characters_in_headers_are_removed() -> None:
    assert sample("malformed.eml").subject == "broken=ZZ header with bell"


def test_a_header_line_without_a_colon_ends_the_headers_and_is_recorded() -> None:
    parsed = sample("malformed_headers.eml")

    assert parsed.sender == Address(name="Kim", address="kim@example.com")
    assert parsed.text.startswith("this header line has no colon at all\n")
    assert "MIME structure defect: missing header body separator" in parsed.problems


def test_a_multipart_without_a_boundary_is_read_as_text() -> None:
    parsed = parse_email(b"Content-Type: multipart/mixed\n\njust some words\n")

    assert parsed.text == "just some words\n"
    assert "a multipart/mixed part without a usable boundary was read as text" in parsed.problems


def test_parts_beyond_the_limit_are_not_read() -> None:
    parts = "".join(f"--b\nContent-Type: text/plain\n\npart {n}\n" for n in range(50))
    raw = f"Content-Type: multipart/mixed; boundary=b\n\n{parts}--b--\n".encode()

    parsed = parse_email(raw, limits=Limits(max_parts=10))

    assert parsed.text.count("part ") == 9
    assert "more than 10 MIME parts; the rest was not read" in parsed.problems


def test_parts_nested_too_deep_are_not_read() -> None:
    depth = 15
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{n}"\n\n--b{n}\n' for n in range(depth)
    )
    closing = "".join(f"\n--b{n}--\n" for n in reversed(range(depth)))
    raw = (opening + "Content-Type: text/plain\n\ndeep text" + closing).encode()

    parsed = parse_email(raw)

    assert "deep text" not in parsed.text
    assert "MIME parts nested deeper than 10 levels were not read" in parsed.problems


def test_thousands_of_nested_multiparts_do_not_break_the_parser() -> None:
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{n}"\n\n--b{n}\n' for n in range(3000)
    )
    raw = ("From: a@example.com\n" + opening + "Content-Type: text/plain\n\nhi\n").encode()

    parsed = parse_email(raw)

    assert parsed.sender.address == "a@example.com"
    assert any(p.startswith("MIME structure could not be read") for p in parsed.problems)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_sample_is_read_without_falling_back_to_raw_text(name: str) -> None:
    parsed = sample(name)

    assert not any(p.startswith("the message could not be read") for p in parsed.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_any_bytes_at_all_give_a_parsed_email(raw: bytes) -> None:
    assert isinstance(parse_email(raw), ParsedEmail)


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    raw = bytearray((SAMPLES / draw(st.sampled_from(SAMPLE_NAMES))).read_bytes())
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        position = draw(st.integers(min_value=0, max_value=len(raw)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip" and position < len(raw):
            raw[position] = draw(st.integers(min_value=0, max_value=255))
        elif action == "insert":
            raw[position:position] = draw(
                st.sampled_from([b"\n", b"\r\n", b":", b"<", b">", b"=?", b"?=", b"--", b'"', b";"])
                | st.binary(max_size=20)
            )
        elif action == "delete":
            del raw[position : position + draw(st.integers(min_value=1, max_value=40))]
        else:
            del raw[position:]
    return bytes(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_samples())
def test_mutated_samples_give_a_parsed_email(raw: bytes) -> None:
    parsed = parse_email(raw)

    assert isinstance(parsed, ParsedEmail)
    assert not any(p.startswith("the message could not be read") for p in parsed.problems)
    assert loading_attributes(parsed.html) == []
    assert "<script" not in parsed.html.lower()


# --- Subjects for threading -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "normalized"),
    [
        ("Re: Your order", "your order"),
        ("RE: re: Fwd: Your order", "your order"),
        ("AW: SV: Fw: Your order", "your order"),
        ("RE[2]: Your order", "your order"),
        ("Re(3): Your order", "your order"),
        ("[acme-users] Re: [acme-users] Your  order", "your order"),
        ("Your order", "your order"),
        ("Re: Re:", ""),
        ("Regarding: not a prefix", "regarding: not a prefix"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
    ],
)
def test_normalize_subject_strips_reply_prefixes_and_list_tags(
    subject: str, normalized: str
) -> None:
    assert normalize_subject(subject) == normalized


# --- What other code imports ------------------------------------------------------------------


def test_mime_still_offers_what_was_moved_into_html_and_attachments() -> None:
    # care.mail reaches these through the mime module; the split must not break it.
    assert mime.html_with_remote is html.html_with_remote
    assert mime.MIB is attachments.MIB
    assert set(mime.__all__) >= {
        "parse_email",
        "html_with_remote",
        "normalize_subject",
        "Limits",
        "Address",
        "ParsedAttachment",
        "ParsedEmail",
        "MIB",
    }
