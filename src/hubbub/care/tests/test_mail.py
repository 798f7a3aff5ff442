"""Email end to end: a real Dovecot holds the mail, a real SMTP server takes the answers.

The customer writes; the mailbox is read over IMAP and the mail filed into
a conversation. The agent answers from their own address; the mail goes
out over SMTP with the headers that thread it, and is read back over IMAP
as the customer's mail client would. The customer's reply joins the same
conversation.
"""

from __future__ import annotations

import email
import time
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.tests.factories import Cast
from hubbub.care import mail, outbound
from hubbub.care.models import (
    EMAIL,
    Attachment,
    Conversation,
    DeliveryState,
    Message,
    MessageKind,
)
from hubbub.connectors.email import imap, mime, sync
from hubbub.connectors.email.imap import ImapSettings
from hubbub.connectors.email.testing import Dovecot, SmtpSink
from hubbub.connectors.models import InboundEmail, InboundEmailState, Mailbox

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def mailbox(
    cast: Cast,
    mail_account: ImapSettings,
    dovecot: Dovecot,
    smtp_server: SmtpSink,
    settings: Any,
) -> Mailbox:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.1"]  # the test servers are on loopback
    return support_mailbox(cast, mail_account, dovecot, smtp_server)


def support_mailbox(
    cast: Cast, account: ImapSettings, dovecot: Dovecot, smtp_server: SmtpSink
) -> Mailbox:
    """Brightwave's support address, read from the test Dovecot, sending to the test SMTP."""
    return Mailbox.objects.create(
        workspace=cast.brightwave,
        name="Support",
        address="support@brightwave.test",
        brand_name="Brightwave",
        team=cast.care,
        imap_host="127.0.0.1",
        imap_port=dovecot.imap_port,
        imap_security="none",
        imap_username=account.username,
        imap_password=account.password,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="none",
    )


def customer_mail(
    body: str,
    *,
    subject: str = "My order 1182 never arrived",
    sender: str = "Ana Ruiz <ana@example.test>",
    in_reply_to: str = "",
    html: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "Brightwave Support <support@brightwave.test>"
    message["Subject"] = subject
    message_id = make_msgid(domain="example.test")
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = f"<{in_reply_to}>"
        message["References"] = f"<{in_reply_to}>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    return message.as_bytes(), message_id.strip("<>")


def read_mailbox(mailbox: Mailbox) -> None:
    """What the listener does when IDLE says there is mail: sync, then file."""
    with imap.open_mailbox(sync.imap_settings(mailbox)) as box:
        while sync.sync_once(box, mailbox.pk).more:
            pass
    mail.file_pending()


def answered_by_email(
    cast: Cast, mailbox: Mailbox, dovecot: Dovecot, account: ImapSettings, *, sender: str, body: str
) -> tuple[Conversation, Message]:
    """A customer writes in; Cara answers by email and the job sends it."""
    dovecot.append(account, customer_mail("Hi", sender=sender)[0])
    read_mailbox(mailbox)
    conversation = Conversation.objects.get(platform=EMAIL)
    reply = outbound.send_direct(
        actor=cast.cara, conversation_id=conversation.pk, body=body, channel=EMAIL
    )
    outbound.deliver(message_id=reply.pk)
    return conversation, reply


def test_a_customers_mail_is_read_from_the_mailbox_and_opens_a_conversation(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings, cast: Cast
) -> None:
    raw, message_id = customer_mail(
        "Hello,\n\nMy order 1182 never arrived. Can you help?\n\nAna",
        html=(
            "<p>Hello,</p><p>My order <b>1182</b> never arrived.</p><script>alert(1)</script>"
            '<img src="https://tracker.example/open.gif" width="1" height="1">'
        ),
    )
    dovecot.append(mail_account, raw)

    read_mailbox(mailbox)

    message = Message.objects.get(platform=EMAIL, kind=MessageKind.CUSTOMER)
    conversation = message.conversation
    assert conversation.platform == EMAIL
    assert conversation.customer_handle == "ana@example.test"
    assert conversation.customer_name == "Ana Ruiz"
    assert conversation.team_id == cast.care.pk
    assert conversation.subject == "My order 1182 never arrived"
    assert message.external_id == message_id
    assert "never arrived" in message.body
    # Sanitised, and the tracking pixel does not load until an agent says so.
    assert "<script" not in message.html
    assert "<b>1182</b>" in message.html
    assert ' src="https://tracker.example' not in message.html
    assert message.details["remote_hosts"] == ["tracker.example"]
    stored = InboundEmail.objects.get(mailbox=mailbox)
    assert stored.state == InboundEmailState.DELIVERED
    assert stored.filed_as_id == message.pk
    assert Mailbox.objects.get(pk=mailbox.pk).last_uid == stored.uid


def test_reading_again_stores_and_files_nothing_twice(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    raw, _ = customer_mail("first")
    dovecot.append(mail_account, raw)
    read_mailbox(mailbox)
    # The cursor is lost (the server's UIDVALIDITY changed): it starts again from the first UID.
    Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=1, last_uid=0)
    read_mailbox(mailbox)
    # The same mail again under a new UID (copied back, or delivered twice).
    dovecot.append(mail_account, raw)
    read_mailbox(mailbox)

    assert Message.objects.filter(kind=MessageKind.CUSTOMER).count() == 1
    states = sorted(InboundEmail.objects.values_list("state", "note"))
    assert states == [
        (InboundEmailState.DELIVERED, ""),
        (InboundEmailState.IGNORED, "A copy of a mail already filed"),
    ]


def test_the_agents_reply_goes_out_from_their_own_address_threaded_and_is_read_back(
    mailbox: Mailbox,
    dovecot: Dovecot,
    mail_account: ImapSettings,
    smtp_server: SmtpSink,
    cast: Cast,
) -> None:
    customer = dovecot.add_user("ana@example.test")
    raw, customer_id = customer_mail("Where is my order?")
    dovecot.append(mail_account, raw)
    read_mailbox(mailbox)
    conversation = Conversation.objects.get(platform=EMAIL)

    reply = outbound.send_direct(
        actor=cast.cara,
        conversation_id=conversation.pk,
        body="Hi Ana, it left our warehouse today: you will have it on Friday.",
        channel=EMAIL,
    )
    outbound.deliver(message_id=reply.pk)

    reply.refresh_from_db()
    assert reply.state == DeliveryState.SENT
    [sent] = smtp_server.messages()
    assert sent.rcpt_tos == ("ana@example.test",)
    assert dovecot.deliver(sent) == ["ana@example.test"]
    with imap.open_mailbox(customer) as box:
        [fetched] = box.fetch_new(0)
    received = email.message_from_bytes(fetched.raw, policy=email.policy.default)
    assert received["From"] == "Cara at Brightwave <cara@brightwave.test>"
    assert received["Reply-To"] == "support@brightwave.test"
    assert received["In-Reply-To"] == f"<{customer_id}>"
    assert f"<{customer_id}>" in received["References"]
    assert received["Message-ID"] == f"<{reply.external_id}>"
    assert received["Subject"].startswith("Re: My order 1182 never arrived")
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(preferencelist=("plain",))
    assert text is not None
    assert "you will have it on Friday" in text.get_content()
    assert "– Cara" in text.get_content()
    assert received.get_body(preferencelist=("html",)) is not None

    # Ana answers from her mail client: her reply joins the same conversation.
    answer, _ = customer_mail(
        "Thanks! Friday is fine.",
        subject=f"Re: {received['Subject']}",
        in_reply_to=reply.external_id,
    )
    dovecot.append(mail_account, answer)
    read_mailbox(mailbox)

    assert Conversation.objects.filter(platform=EMAIL).count() == 1
    assert conversation.messages.filter(kind=MessageKind.CUSTOMER).count() == 2


def test_a_mail_that_names_the_case_in_its_subject_joins_that_case(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings, cast: Cast
) -> None:
    dovecot.append(mail_account, customer_mail("First", sender="ana@example.test")[0])
    read_mailbox(mailbox)
    conversation = Conversation.objects.get(platform=EMAIL)
    token = mail.case_token(conversation)

    # From another address (her work mail), with no threading headers.
    dovecot.append(
        mail_account,
        customer_mail(
            f"More details [#{token}]", subject=f"Order [#{token}]", sender="ana@work.test"
        )[0],
    )
    read_mailbox(mailbox)

    assert Conversation.objects.filter(platform=EMAIL).count() == 1
    assert conversation.messages.filter(kind=MessageKind.CUSTOMER).count() == 2
    # Anyone who saw the subject could copy the token: the mail joins the case, flagged,
    # and the work address becomes Ana's only when an agent merges it.
    from_work = conversation.messages.get(details__from="ana@work.test")
    assert from_work.details["unknown_sender"] is True
    assert conversation.contact is not None
    assert set(conversation.contact.identities.values_list("handle", flat=True)) == {
        "ana@example.test"
    }


def test_a_forged_case_token_threads_nothing(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    dovecot.append(mail_account, customer_mail("First", sender="ana@example.test")[0])
    read_mailbox(mailbox)
    conversation = Conversation.objects.get(platform=EMAIL)

    forged = f"c{conversation.pk}-000000000000"
    dovecot.append(
        mail_account,
        customer_mail("Let me in", subject=f"[#{forged}]", sender="mallory@evil.test")[0],
    )
    read_mailbox(mailbox)

    assert Conversation.objects.filter(platform=EMAIL).count() == 2


def test_auto_replies_and_mailing_lists_are_kept_and_never_filed_or_answered(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    dovecot.append(
        mail_account,
        customer_mail("I am out of office", headers={"Auto-Submitted": "auto-replied"})[0],
    )
    dovecot.append(
        mail_account,
        customer_mail("Weekly news", headers={"Precedence": "bulk", "List-Id": "<news.x.test>"})[0],
    )

    read_mailbox(mailbox)

    assert Message.objects.count() == 0
    notes = list(InboundEmail.objects.values_list("state", "note"))
    assert len(notes) == 2
    assert all(state == InboundEmailState.IGNORED and note for state, note in notes)


def test_a_bounce_of_our_reply_marks_it_failed(
    mailbox: Mailbox,
    dovecot: Dovecot,
    mail_account: ImapSettings,
    smtp_server: SmtpSink,
    cast: Cast,
) -> None:
    conversation, reply = answered_by_email(
        cast, mailbox, dovecot, mail_account, sender="ana@example.test", body="Hello Ana"
    )
    [sent] = smtp_server.messages()

    original = email.message_from_bytes(sent.content, policy=email.policy.default)
    headers = "".join(f"{name}: {value}\r\n" for name, value in original.items())
    # A delivery status notification as Postfix writes one (RFC 3464).
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n"
        "To: support@brightwave.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.example.test>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.test\r\n\r\n"
        "Final-Recipient: rfc822; ana@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{headers}"
        "--B--\r\n"
    ).encode()
    dovecot.append(mail_account, raw)
    read_mailbox(mailbox)

    reply.refresh_from_db()
    assert reply.state == DeliveryState.FAILED
    assert "bounced" in reply.last_error
    assert conversation.messages.filter(kind=MessageKind.CUSTOMER).count() == 1


def test_attachments_are_kept_as_downloads_and_dangerous_ones_are_refused(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings, cast: Cast, client: Client
) -> None:
    message = EmailMessage()
    message["From"] = "Ana <ana@example.test>"
    message["To"] = "support@brightwave.test"
    message["Subject"] = "Photos of the damage"
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content("See attached.")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="box.png")
    message.add_attachment(
        b"MZ\x90\x00" + b"\x00" * 200, maintype="application", subtype="pdf", filename="invoice.pdf"
    )
    dovecot.append(mail_account, message.as_bytes())

    read_mailbox(mailbox)

    files = {a.filename: a for a in Attachment.objects.all()}
    assert files["box.png"].content_type == "image/png"
    assert files["box.png"].rejected == ""
    assert bytes(files["box.png"].data) == PNG
    assert files["invoice.pdf"].rejected != ""
    assert bytes(files["invoice.pdf"].data) == b""
    client.force_login(cast.cara)
    download = client.get(f"/inbox/attachments/{files['box.png'].pk}?download=1")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Type"] == "application/octet-stream"
    assert download["X-Content-Type-Options"] == "nosniff"
    client.force_login(cast.otto)  # another workspace
    assert client.get(f"/inbox/attachments/{files['box.png'].pk}").status_code == 404


def test_the_conversation_page_shows_the_mail_safely_and_loads_images_only_when_asked(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings, cast: Cast, client: Client
) -> None:
    raw, _ = customer_mail(
        "Order late",
        html='<p>Order <i>late</i></p><img src="https://cdn.shop.example/logo.png" alt="logo">',
    )
    dovecot.append(mail_account, raw)
    read_mailbox(mailbox)
    conversation = Conversation.objects.get(platform=EMAIL)
    message = conversation.messages.get()
    client.force_login(cast.cara)

    page = client.get(f"/inbox/conversations/{conversation.pk}/")
    trusted = client.get(f"/inbox/conversations/{conversation.pk}/?remote={message.pk}")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Order <i>late</i>" in html
    assert ' src="https://cdn.shop.example/logo.png"' not in html
    assert "Load images from cdn.shop.example" in html
    assert "https://cdn.shop.example" not in page["Content-Security-Policy"]
    assert 'src="https://cdn.shop.example/logo.png"' in trusted.content.decode()
    assert "img-src 'self' https://cdn.shop.example" in trusted["Content-Security-Policy"]
    # The agent answers where the customer wrote: by email, from their own name.
    assert "Email to ana@example.test" in html
    assert "Cara at Brightwave &lt;cara@brightwave.test&gt;" in html


def test_a_malformed_mail_is_filed_with_what_can_be_read(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    raw = (
        b"From: Ana <ana@example.test>\r\nTo: support@brightwave.test\r\n"
        b"Subject: =?x-klingon?q?broken?=\r\nMessage-ID: <m1@example.test>\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
        b"Content-Type: text/plain; charset=x-klingon\r\n\r\nHello \xff\xfe there\r\n--b1\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"!!!not base64!!!"
    )
    dovecot.append(mail_account, raw)

    read_mailbox(mailbox)

    message = Message.objects.get(kind=MessageKind.CUSTOMER)
    assert "Hello" in message.body
    assert message.details["problems"]
    assert InboundEmail.objects.get().state == InboundEmailState.DELIVERED


def test_every_byte_the_server_handed_over_stays_even_if_filing_fails(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(mail_account, customer_mail("Hello")[0])

    def broken(raw: bytes) -> mime.ParsedEmail:
        raise RuntimeError("a bug in filing")

    monkeypatch.setattr(mime, "parse_email", broken)
    read_mailbox(mailbox)
    stored = InboundEmail.objects.get()
    assert stored.state == InboundEmailState.FAILED
    assert "a bug in filing" in stored.note
    assert b"Hello" in bytes(stored.raw)

    monkeypatch.undo()
    mail.file_pending()

    assert InboundEmail.objects.get().state == InboundEmailState.DELIVERED
    assert Message.objects.filter(kind=MessageKind.CUSTOMER).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_listener_files_a_new_mail_as_soon_as_the_server_announces_it(
    committed_cast: Cast,
    dovecot: Dovecot,
    mail_account: ImapSettings,
    smtp_server: SmtpSink,
    settings: Any,
) -> None:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.1"]
    mailbox = support_mailbox(committed_cast, mail_account, dovecot, smtp_server)
    followers: sync.Followers = {}

    def file_stored(mailbox_id: int) -> None:
        mail.file_pending(mailbox_id=mailbox_id)

    sync.scan_mailboxes(followers, on_stored=file_stored)
    try:
        assert list(followers) == [mailbox.pk]
        dovecot.append(mail_account, customer_mail("Is anyone there?")[0])
        deadline = time.monotonic() + 30
        while not Message.objects.filter(kind=MessageKind.CUSTOMER).exists():
            assert time.monotonic() < deadline, "the mail was not filed within 30 s"
            time.sleep(0.05)
        # Turned off: the scan stops its reader.
        Mailbox.objects.filter(pk=mailbox.pk).update(enabled=False)
        sync.scan_mailboxes(followers, on_stored=file_stored)
        followers[mailbox.pk][0].join(timeout=30)
        assert not followers[mailbox.pk][0].is_alive()
    finally:
        sync.stop_mailboxes(followers)
    assert Message.objects.get(kind=MessageKind.CUSTOMER).body.startswith("Is anyone there?")


def test_a_mail_with_a_30_mb_attachment_is_filed_with_the_file_refused_and_its_reason(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    message = EmailMessage()
    message["From"] = "Ana <ana@example.test>"
    message["To"] = "support@brightwave.test"
    message["Subject"] = "The video of the fault"
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content("The router reboots every ten minutes; video attached.")
    message.add_attachment(
        b"\x00\x00\x00\x18ftypmp42" + b"\x17" * (30 * 1024 * 1024),
        maintype="video",
        subtype="mp4",
        filename="fault.mp4",
    )
    dovecot.append(mail_account, message.as_bytes())

    read_mailbox(mailbox)

    filed = Message.objects.get(kind=MessageKind.CUSTOMER)
    assert "reboots every ten minutes" in filed.body
    video = Attachment.objects.get(message=filed)
    assert video.filename == "fault.mp4"
    assert "10 MB" in video.rejected
    assert bytes(video.data) == b""
    assert InboundEmail.objects.get().size > 30 * 1024 * 1024  # the mail itself is kept whole


def test_a_stranger_copying_a_threads_headers_is_filed_there_flagged_and_redirects_nothing(
    mailbox: Mailbox,
    dovecot: Dovecot,
    mail_account: ImapSettings,
    smtp_server: SmtpSink,
    cast: Cast,
) -> None:
    conversation, reply = answered_by_email(
        cast,
        mailbox,
        dovecot,
        mail_account,
        sender="Vic <vic@example.test>",
        body="Your code is 991",
    )

    # Eve was forwarded the brand's mail: she answers it with its headers.
    forged, _ = customer_mail(
        "Please send future mail here", sender="Eve <eve@evil.test>", in_reply_to=reply.external_id
    )
    dovecot.append(mail_account, forged)
    read_mailbox(mailbox)

    eves = conversation.messages.get(details__from="eve@evil.test")
    assert eves.details["unknown_sender"] is True
    conversation.refresh_from_db()
    assert conversation.contact is not None
    assert conversation.contact.email == "vic@example.test"
    assert mail.recipient_of(conversation) == "vic@example.test"
    assert not conversation.contact.identities.filter(handle="eve@evil.test").exists()


def test_loading_remote_images_keeps_the_mails_own_inline_images(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    message = EmailMessage()
    message["From"] = "Ana <ana@example.test>"
    message["To"] = "support@brightwave.test"
    message["Subject"] = "Logo"
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content("See below")
    message.add_alternative(
        '<p><img src="cid:box@x"> and <img src="https://cdn.shop.example/a.png"></p>',
        subtype="html",
    )
    message.get_payload()[1].add_related(  # type: ignore[union-attr,index]
        PNG, maintype="image", subtype="png", cid="<box@x>"
    )
    dovecot.append(mail_account, message.as_bytes())
    read_mailbox(mailbox)
    filed = Message.objects.select_related("conversation").get(kind=MessageKind.CUSTOMER)
    inline = Attachment.objects.get(message=filed)

    for remote in (False, True):
        shown = mail.display_html(filed, remote=remote)
        assert f'src="/inbox/attachments/{inline.pk}"' in shown
        assert (' src="https://cdn.shop.example/a.png"' in shown) is remote


def test_the_same_mail_filed_through_a_second_mailbox_is_a_copy_not_a_second_message(
    cast: Cast,
) -> None:
    from hubbub.care import inbound
    from hubbub.care.tests.factories import START

    def arrives() -> inbound.Received:
        return inbound.receive(
            inbound.CustomerMessage(
                workspace_id=cast.brightwave.pk,
                channel=EMAIL,
                handle="ana@example.test",
                name="Ana",
                body="To support and sales at once",
                received_at=START,
                external_id="m-1@example.test",
            )
        )

    first, second = arrives(), arrives()

    assert not first.duplicate
    assert second.duplicate
    assert second.message.pk == first.message.pk
    assert Message.objects.filter(kind=MessageKind.CUSTOMER).count() == 1


def test_the_case_page_never_shows_what_came_by_email(
    mailbox: Mailbox, dovecot: Dovecot, mail_account: ImapSettings, cast: Cast, client: Client
) -> None:
    from hubbub.care import case_links

    dovecot.append(mail_account, customer_mail("My account password is hunter2")[0])
    read_mailbox(mailbox)
    conversation = Conversation.objects.get(platform=EMAIL)

    url = reverse("care:case", args=[case_links.token_for(conversation)])
    client.post(url, {"body": "Written on the case page"})  # this browser holds the thread
    page = client.get(url).content.decode()

    assert "Written on the case page" in page
    assert "hunter2" not in page
