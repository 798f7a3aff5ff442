"""Reading a mailbox over IMAP, against a real Dovecot: UID sync, IDLE, limits and errors."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from hubbub.cli.serve import free_port
from hubbub.connectors.email.imap import ImapError, ImapSettings, check_login, open_mailbox
from hubbub.connectors.email.network import MailSecurity
from hubbub.connectors.email.testing import Dovecot, trusting


def mail(number: int, *, body: str = "Hello") -> bytes:
    return (
        f"From: Cara <cara@customer.test>\r\n"
        f"To: support@hubbub.test\r\n"
        f"Subject: Order {number}\r\n"
        f"Message-ID: <order-{number}@customer.test>\r\n"
        f"\r\n"
        f"{body} {number}\r\n"
    ).encode()


def append_soon(dovecot: Dovecot, account: ImapSettings, raw: bytes) -> threading.Thread:
    """Append `raw` from another thread shortly, as a mail arriving during a wait would."""
    timer = threading.Timer(0.2, dovecot.append, args=(account, raw))
    timer.start()
    return timer


# Incremental sync by UID.


def test_new_mail_comes_in_uid_order_and_the_cursor_never_gives_a_message_twice(
    dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    uids = [dovecot.append(mail_account, mail(number)) for number in (1, 2, 3)]

    with open_mailbox(mail_account) as mailbox:
        first = mailbox.fetch_new(0)
        cursor = first[-1].uid
        # `UID FETCH n:*` matches the last message even when its UID is below n.
        nothing = mailbox.fetch_new(cursor)
        later_uid = dovecot.append(mail_account, mail(4))
        later = mailbox.fetch_new(cursor)

    assert [fetched.uid for fetched in first] == uids
    assert [fetched.raw for fetched in first] == [mail(1), mail(2), mail(3)]
    assert all(fetched.size == len(fetched.raw) for fetched in first)
    assert all(fetched.internaldate is not None for fetched in first)
    assert nothing == []
    assert [(fetched.uid, fetched.raw) for fetched in later] == [(later_uid, mail(4))]


def test_a_batch_holds_at_most_limit_messages_oldest_first(
    dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    uids = [dovecot.append(mail_account, mail(number)) for number in (1, 2, 3)]

    with open_mailbox(mail_account) as mailbox:
        batch = mailbox.fetch_new(0, limit=2)
        rest = mailbox.fetch_new(batch[-1].uid, limit=2)

    assert [fetched.uid for fetched in batch] == uids[:2]
    assert [fetched.uid for fetched in rest] == uids[2:]


def test_reading_mail_leaves_it_unread_for_the_people_who_share_the_mailbox(
    dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    uid = dovecot.append(mail_account, mail(1))

    with open_mailbox(mail_account) as mailbox:
        assert len(mailbox.fetch_new(0)) == 1

    assert b"\\Seen" not in dovecot.flags(mail_account, uid)


def test_uidvalidity_is_reported_and_stays_the_same_from_one_session_to_the_next(
    dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    dovecot.append(mail_account, mail(1))
    with open_mailbox(mail_account) as mailbox:
        first = mailbox.status
    dovecot.append(mail_account, mail(2))
    with open_mailbox(mail_account) as mailbox:
        second = mailbox.status

    assert first.uidvalidity > 0
    assert second.uidvalidity == first.uidvalidity
    assert (first.exists, second.exists) == (1, 2)
    assert second.uidnext == first.uidnext + 1


def test_several_accounts_and_folders_are_read_side_by_side(dovecot: Dovecot) -> None:
    sales = dovecot.add_user()
    support = replace(dovecot.add_user(), folder="Support")
    dovecot.append(sales, mail(1))
    dovecot.append(support, mail(2))
    dovecot.append(support.username, mail(3))  # The same user's INBOX: not the folder read.

    with open_mailbox(sales) as sales_box, open_mailbox(support) as support_box:
        sales_mail = sales_box.fetch_new(0)
        support_mail = support_box.fetch_new(0)

    assert [fetched.raw for fetched in sales_mail] == [mail(1)]
    assert [fetched.raw for fetched in support_mail] == [mail(2)]


def test_mail_that_is_not_well_formed_comes_back_as_the_bytes_stored(
    dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    garbage = b"Subject: =?bogus?Q?\xff\xfe?=\r\nno colon here\r\n\r\n\xc3\x28 \x80\x81\r\n"
    dovecot.append(mail_account, garbage)

    with open_mailbox(mail_account) as mailbox:
        [fetched] = mailbox.fetch_new(0)

    assert fetched.raw == garbage


def test_a_message_over_the_size_limit_is_marked_too_large_and_not_read(
    dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    small = dovecot.append(mail_account, mail(1))
    large = dovecot.append(mail_account, mail(2, body="x" * 5000))
    after = dovecot.append(mail_account, mail(3))

    with open_mailbox(mail_account) as mailbox:
        fetched = mailbox.fetch_new(0, max_bytes=1000)

    assert [(item.uid, item.too_large) for item in fetched] == [
        (small, False),
        (large, True),
        (after, False),
    ]
    assert fetched[1].raw == b""
    assert fetched[1].size == len(mail(2, body="x" * 5000))


# Waiting for new mail.


def test_idle_returns_true_when_mail_arrives_and_the_mail_is_then_fetched(
    dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    with open_mailbox(mail_account) as mailbox:
        assert mailbox.fetch_new(0) == []
        arrival = append_soon(dovecot, mail_account, mail(1))
        arrived = mailbox.wait_for_new(10)
        arrival.join()
        fetched = mailbox.fetch_new(0)

    assert arrived
    assert [item.raw for item in fetched] == [mail(1)]


def test_idle_returns_false_when_nothing_arrives(mail_account: ImapSettings) -> None:
    with open_mailbox(mail_account) as mailbox:
        assert not mailbox.wait_for_new(0.5)
        # The session is still good for the next round.
        assert mailbox.fetch_new(0) == []


def test_without_idle_the_wait_asks_the_server_at_its_end(dovecot: Dovecot) -> None:
    account = dovecot.add_user(idle=False)
    with open_mailbox(account) as mailbox:
        quiet = mailbox.wait_for_new(0.3)
        arrival = append_soon(dovecot, account, mail(1))
        arrival.join()
        arrived = mailbox.wait_for_new(0.3)
        fetched = mailbox.fetch_new(0)

    assert not quiet
    assert arrived
    assert [item.raw for item in fetched] == [mail(1)]


def test_a_session_the_server_ends_during_the_wait_is_a_transient_error(
    dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    with open_mailbox(mail_account) as mailbox:
        kick = threading.Timer(0.2, dovecot.kick, args=(mail_account.username,))
        kick.start()
        with pytest.raises(ImapError) as ended:
            mailbox.wait_for_new(10)
        kick.join()

    assert ended.value.transient
    assert ended.value.code == "connection_lost"


# Settings and errors.


def test_check_login_reports_what_the_folder_holds(
    dovecot: Dovecot, mail_account: ImapSettings
) -> None:
    dovecot.append(mail_account, mail(1))

    status = check_login(mail_account)

    assert status.exists == 1
    assert status.uidnext == 2


def test_a_wrong_password_is_a_permanent_error_that_does_not_repeat_the_password(
    mail_account: ImapSettings,
) -> None:
    wrong = replace(mail_account, password="not-" + mail_account.password)

    with pytest.raises(ImapError) as refused:
        check_login(wrong)

    assert refused.value.message == "The mail server refused the user name or password."
    assert refused.value.code == "authentication_failed"
    assert not refused.value.transient
    for text in (str(refused.value), repr(refused.value), repr(wrong)):
        assert mail_account.password not in text


def test_a_server_that_does_not_answer_on_the_port_is_a_transient_error(
    mail_account: ImapSettings,
) -> None:
    with pytest.raises(ImapError) as failed:
        check_login(replace(mail_account, port=free_port()), timeout=5)

    assert failed.value.transient
    assert failed.value.code == "unreachable"


def test_a_folder_that_does_not_exist_is_a_permanent_error(mail_account: ImapSettings) -> None:
    with pytest.raises(ImapError) as missing:
        check_login(replace(mail_account, folder="Nowhere"))

    assert missing.value.code == "no_such_folder"
    assert not missing.value.transient
    assert "'Nowhere'" in missing.value.message


def test_a_server_on_a_private_address_is_refused_unless_allowed(
    mail_account: ImapSettings,
) -> None:
    with pytest.raises(ImapError) as refused:
        check_login(replace(mail_account, allow_hosts=()))

    assert refused.value.code == "blocked_address"
    assert not refused.value.transient


@pytest.mark.parametrize("security", [MailSecurity.TLS, MailSecurity.STARTTLS])
def test_tls_and_starttls_check_the_certificate_for_the_host_name(
    security: MailSecurity,
    dovecot: Dovecot,
    mail_account: ImapSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = dovecot.settings_for(mail_account.username, security=security)

    with pytest.raises(ImapError) as untrusted:
        check_login(settings)
    trusting(monkeypatch, dovecot.certificate)
    status = check_login(settings)

    assert untrusted.value.code == "tls_failed"
    assert not untrusted.value.transient
    assert status.exists == 0
