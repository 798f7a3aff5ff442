"""Reading a mailbox: UID-based incremental sync, then IDLE until the server has more.

A batch of mails and the mailbox's cursor (UIDVALIDITY, last UID) are
written in one transaction: a mail the server handed over is stored before
the cursor passes it, and a restart resumes where the last commit left
off. When the server's UIDVALIDITY changes, the cursor starts again from
the first UID; filing recognises copies by their Message-ID.

What happens to a stored mail (filing it into a conversation) is the
caller's: `run` calls `on_stored(mailbox_id)` after each batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections, transaction

from hubbub.connectors.email import imap
from hubbub.connectors.email.network import MailSecurity
from hubbub.connectors.models import InboundEmail, InboundEmailState, Mailbox
from hubbub.core import clock

logger = logging.getLogger(__name__)

BATCH = 50
# A mail up to this size is taken in whole (its text filed, attachments over their own
# limit refused with the reason); a larger one is recorded and left on the server.
MAX_MAIL_BYTES = 50 * 1024 * 1024
# What one batch may hold in memory (and in one transaction), whatever waits.
MAX_BATCH_BYTES = 64 * 1024 * 1024
# IDLE in short spells (a DONE and a new IDLE each time): a stop or a changed setting
# is noticed within one.
IDLE_SECONDS = 10.0
FIRST_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 15 * 60.0


def imap_settings(mailbox: Mailbox) -> imap.ImapSettings:
    return imap.ImapSettings(
        host=mailbox.imap_host,
        port=mailbox.imap_port,
        security=MailSecurity(mailbox.imap_security),
        username=mailbox.imap_username,
        password=mailbox.imap_password,
        folder=mailbox.imap_folder or "INBOX",
    )


@dataclass(frozen=True, slots=True)
class Stored:
    mails: int
    too_large: int
    more: bool  # something came: fetch again at once


def sync_once(box: imap.ImapMailbox, mailbox_id: int, *, limit: int = BATCH) -> Stored:
    """Fetch what is new since the cursor and store it with the moved cursor."""
    status = box.status
    cursor = Mailbox.objects.filter(pk=mailbox_id).values("uidvalidity", "last_uid").first()
    if cursor is None:
        return Stored(0, 0, more=False)
    after = cursor["last_uid"] if cursor["uidvalidity"] == status.uidvalidity else 0
    fetched = box.fetch_new(
        after, limit=limit, max_bytes=MAX_MAIL_BYTES, max_total_bytes=MAX_BATCH_BYTES
    )
    store(mailbox_id, uidvalidity=status.uidvalidity, fetched=fetched)
    return Stored(
        mails=len(fetched),
        too_large=sum(1 for mail in fetched if mail.too_large),
        # A batch may stop early (its bytes): ask again until one comes back empty.
        more=bool(fetched),
    )


@transaction.atomic
def store(mailbox_id: int, *, uidvalidity: int, fetched: list[imap.FetchedMail]) -> None:
    """The mails and the cursor past them, in one transaction."""
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox_id)
    if mailbox.uidvalidity != uidvalidity:
        if mailbox.uidvalidity is not None:
            logger.warning("mailbox %s: UIDVALIDITY changed; reading it again", mailbox_id)
        mailbox.uidvalidity = uidvalidity
        mailbox.last_uid = 0
    InboundEmail.objects.bulk_create(
        [_row(mailbox, uidvalidity, mail) for mail in fetched],
        ignore_conflicts=True,  # stored by an earlier run that died before its cursor moved
    )
    if fetched:
        mailbox.last_uid = max(mailbox.last_uid, *(mail.uid for mail in fetched))
    mailbox.last_sync_at = clock.now()
    mailbox.last_error = ""
    mailbox.failures = 0
    mailbox.save(
        update_fields=[
            "uidvalidity",
            "last_uid",
            "last_sync_at",
            "last_error",
            "failures",
            "updated_at",
        ]
    )


def _row(mailbox: Mailbox, uidvalidity: int, mail: imap.FetchedMail) -> InboundEmail:
    row = InboundEmail(
        workspace_id=mailbox.workspace_id,
        mailbox=mailbox,
        uidvalidity=uidvalidity,
        uid=mail.uid,
        raw=mail.raw,
        size=mail.size,
        server_received_at=mail.internaldate,
    )
    if mail.too_large:
        # Recorded, not lost: the mail stays on the server for someone to read there.
        row.state = InboundEmailState.IGNORED
        row.note = f"Too large to take in ({mail.size // (1024 * 1024)} MB); left on the server"
        row.processed_at = clock.now()
    return row


@transaction.atomic
def record_failure(mailbox_id: int, error: str) -> float:
    """Note what went wrong on the mailbox; the seconds to wait before trying again."""
    mailbox = Mailbox.objects.select_for_update().filter(pk=mailbox_id).first()
    if mailbox is None:
        return MAX_BACKOFF_SECONDS
    mailbox.failures = min(mailbox.failures + 1, 30)
    mailbox.last_error = error[:500]
    mailbox.save(update_fields=["failures", "last_error", "updated_at"])
    return min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2.0 ** (mailbox.failures - 1))


def _fingerprint(mailbox: Mailbox | None) -> tuple[object, ...] | None:
    """What, when it changes, means the connection must be made again."""
    if mailbox is None or not mailbox.enabled or mailbox.sandbox:
        return None
    return (
        mailbox.imap_host,
        mailbox.imap_port,
        mailbox.imap_security,
        mailbox.imap_username,
        mailbox.imap_password,
        mailbox.imap_folder,
    )


def run(
    mailbox_id: int,
    *,
    stop: threading.Event,
    on_stored: Callable[[int], object] = lambda _: None,
    idle_seconds: float = IDLE_SECONDS,
) -> None:
    """Keep one mailbox read until `stop` is set or the mailbox is turned off or removed."""
    while not stop.is_set():
        close_old_connections()
        mailbox = Mailbox.objects.filter(pk=mailbox_id).first()
        seen = _fingerprint(mailbox)
        if mailbox is None or seen is None:
            return
        try:
            with imap.open_mailbox(imap_settings(mailbox)) as box:
                while not stop.is_set():
                    stored = sync_once(box, mailbox_id)
                    if stored.mails:
                        on_stored(mailbox_id)
                    if stored.more:
                        continue
                    box.wait_for_new(idle_seconds)
                    if _fingerprint(Mailbox.objects.filter(pk=mailbox_id).first()) != seen:
                        break  # settings changed or turned off: connect again, or stop
        except imap.ImapError as error:
            delay = record_failure(mailbox_id, error.message)
            logger.warning("mailbox %s: %s; again in %.0f s", mailbox_id, error.message, delay)
            stop.wait(delay)
        except Exception:
            logger.exception("mailbox %s: unexpected failure", mailbox_id)
            stop.wait(record_failure(mailbox_id, "Unexpected error; see the server log."))


Followers = dict[int, tuple[threading.Thread, threading.Event]]


def scan_mailboxes(followers: Followers, *, on_stored: Callable[[int], object]) -> None:
    """One reader thread per enabled mailbox: started when one appears, stopped when it goes.

    Two listeners reading one mailbox store nothing twice (one row per UID).
    """
    enabled = set(Mailbox.objects.filter(enabled=True, sandbox=False).values_list("pk", flat=True))
    for mailbox_id in enabled | set(followers):
        running = followers.get(mailbox_id)
        alive = running is not None and running[0].is_alive()
        if mailbox_id in enabled and not alive:
            mailbox_stop = threading.Event()
            thread = threading.Thread(
                target=run,
                args=(mailbox_id,),
                kwargs={"stop": mailbox_stop, "on_stored": on_stored},
                name=f"mailbox-{mailbox_id}",
                daemon=True,
            )
            followers[mailbox_id] = (thread, mailbox_stop)
            thread.start()
        elif mailbox_id not in enabled and running is not None:
            running[1].set()
            if not alive:
                del followers[mailbox_id]


def stop_mailboxes(followers: Followers) -> None:
    for _, mailbox_stop in followers.values():
        mailbox_stop.set()
    for thread, _ in followers.values():
        thread.join(timeout=5)
