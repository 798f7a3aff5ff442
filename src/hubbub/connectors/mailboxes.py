"""Mailboxes: the addresses customers write to, as an admin sets them up.

Passwords are stored encrypted and never shown again; a changed server
needs its password typed again, so that a saved secret is only ever sent
to the server it was saved for. "Test connection" signs in to both the
IMAP and the SMTP server and says what it found, without saving anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from django.db import IntegrityError, transaction

from hubbub.accounts import permissions
from hubbub.accounts.models import Team, User
from hubbub.connectors.email import imap, smtp
from hubbub.connectors.email.network import MailConnectionError, MailSecurity, check_mail_host
from hubbub.connectors.models import Mailbox
from hubbub.connectors.selectors import access_mailbox
from hubbub.core.errors import Conflict, ValidationFailed

ADDRESS = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$")
HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class MailboxInput:
    name: str
    address: str
    brand_name: str
    team_id: int | None
    imap_host: str
    imap_port: int
    imap_security: str
    imap_username: str
    imap_password: str  # "" keeps the saved one
    imap_folder: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_username: str
    smtp_password: str  # "" keeps the saved one
    personal_senders: bool = True


def _check(given: MailboxInput, *, workspace_id: int) -> None:
    if not given.name.strip():
        raise ValidationFailed("Give the mailbox a name.", field="name")
    if not ADDRESS.match(given.address.strip()):
        raise ValidationFailed("Type the address customers write to.", field="address")
    if not given.brand_name.strip():
        raise ValidationFailed('Say how the brand signs ("Acme").', field="brand_name")
    for prefix in ("imap", "smtp"):
        host = getattr(given, f"{prefix}_host").strip()
        port = getattr(given, f"{prefix}_port")
        if not HOST.match(host):
            raise ValidationFailed("Type the server's host name.", field=f"{prefix}_host")
        if not 0 < port < 65536:
            raise ValidationFailed("A port is a number from 1 to 65535.", field=f"{prefix}_port")
        if getattr(given, f"{prefix}_security") not in MailSecurity.__members__.values():
            raise ValidationFailed(
                "Choose how to secure the connection.", field=f"{prefix}_security"
            )
    if not given.imap_username.strip():
        raise ValidationFailed("Type the IMAP user name.", field="imap_username")
    if (
        given.team_id is not None
        and not Team.objects.filter(pk=given.team_id, workspace_id=workspace_id).exists()
    ):
        raise ValidationFailed("Choose a team of this workspace.", field="team")


def _merged(given: MailboxInput, stored: Mailbox | None) -> MailboxInput:
    """Empty password fields keep the saved passwords, unless their server changed."""
    if stored is None:
        return given
    imap_moved = (given.imap_host.strip().lower(), given.imap_port) != (
        stored.imap_host.lower(),
        stored.imap_port,
    )
    smtp_moved = (given.smtp_host.strip().lower(), given.smtp_port) != (
        stored.smtp_host.lower(),
        stored.smtp_port,
    )
    if imap_moved and stored.imap_password and not given.imap_password:
        raise ValidationFailed(
            "The IMAP server changed: type its password again, so that it only goes "
            "where you mean it to.",
            field="imap_password",
        )
    if smtp_moved and stored.smtp_password and not given.smtp_password:
        raise ValidationFailed(
            "The SMTP server changed: type its password again, so that it only goes "
            "where you mean it to.",
            field="smtp_password",
        )
    return replace(
        given,
        imap_password=given.imap_password or stored.imap_password,
        smtp_password=given.smtp_password or stored.smtp_password,
    )


@transaction.atomic
def save_mailbox(*, actor: User, given: MailboxInput, mailbox_id: int | None = None) -> Mailbox:
    permissions.check_can_manage_sources(actor)
    stored = access_mailbox(user=actor, mailbox_id=mailbox_id) if mailbox_id else None
    _check(given, workspace_id=actor.workspace_id)  # type: ignore[arg-type]
    complete = _merged(given, stored)
    mailbox = stored or Mailbox(workspace_id=actor.workspace_id)  # type: ignore[misc]
    mailbox.name = complete.name.strip()[:80]
    mailbox.address = complete.address.strip().lower()
    mailbox.brand_name = complete.brand_name.strip()[:80]
    mailbox.team_id = complete.team_id
    mailbox.imap_host = complete.imap_host.strip()
    mailbox.imap_port = complete.imap_port
    mailbox.imap_security = complete.imap_security
    mailbox.imap_username = complete.imap_username.strip()
    mailbox.imap_password = complete.imap_password
    mailbox.imap_folder = complete.imap_folder.strip() or "INBOX"
    mailbox.smtp_host = complete.smtp_host.strip()
    mailbox.smtp_port = complete.smtp_port
    mailbox.smtp_security = complete.smtp_security
    mailbox.smtp_username = complete.smtp_username.strip()
    mailbox.smtp_password = complete.smtp_password
    mailbox.personal_senders = complete.personal_senders
    try:
        with transaction.atomic():
            mailbox.save()
    except IntegrityError as error:
        raise Conflict(
            f"{mailbox.address} is set up already.", code="mailbox_exists", field="address"
        ) from error
    return mailbox


def check_mailbox(*, actor: User, given: MailboxInput, mailbox_id: int | None = None) -> str:
    """Sign in to both servers as typed (saved passwords fill empty fields); say what was found."""
    permissions.check_can_manage_sources(actor)
    stored = access_mailbox(user=actor, mailbox_id=mailbox_id) if mailbox_id else None
    _check(given, workspace_id=actor.workspace_id)  # type: ignore[arg-type]
    complete = _merged(given, stored)
    try:
        check_mail_host(complete.imap_host, complete.imap_port)
        status = imap.check_login(
            imap.ImapSettings(
                host=complete.imap_host,
                port=complete.imap_port,
                security=MailSecurity(complete.imap_security),
                username=complete.imap_username,
                password=complete.imap_password,
                folder=complete.imap_folder or "INBOX",
            )
        )
        smtp.check_login(
            smtp.SmtpSettings(
                host=complete.smtp_host,
                port=complete.smtp_port,
                security=MailSecurity(complete.smtp_security),
                username=complete.smtp_username,
                password=complete.smtp_password,
            )
        )
    except (imap.ImapError, smtp.SmtpError, MailConnectionError) as error:
        raise ValidationFailed(error.message, code="mailbox_check_failed") from error
    return (
        f"Signed in to both servers. {complete.imap_folder or 'INBOX'} holds "
        f"{status.exists} mail{'s' if status.exists != 1 else ''}."
    )


@transaction.atomic
def set_mailbox_enabled(*, actor: User, mailbox_id: int, enabled: bool) -> Mailbox:
    permissions.check_can_manage_sources(actor)
    mailbox = access_mailbox(user=actor, mailbox_id=mailbox_id)
    mailbox.enabled = enabled
    mailbox.save(update_fields=["enabled", "updated_at"])
    return mailbox


@transaction.atomic
def delete_mailbox(*, actor: User, mailbox_id: int) -> None:
    permissions.check_can_manage_sources(actor)
    access_mailbox(user=actor, mailbox_id=mailbox_id).delete()
