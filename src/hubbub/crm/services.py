"""Finding and joining contacts: the writes behind "one customer, one history".

Callers run these inside their own transaction (the pipeline's, a mail's,
a chat message's); each function is safe against a concurrent writer
creating the same identity (the unique constraint decides, the loser reads).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from hubbub.accounts import permissions
from hubbub.accounts.models import User
from hubbub.accounts.selectors import workspace_id_of
from hubbub.core import clock
from hubbub.core.errors import NotFound, ValidationFailed
from hubbub.crm.models import Advocacy, Contact, Identity

EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Seen:
    """An identity as a channel saw it: a handle on a platform and the name it showed."""

    platform: str
    handle: str
    name: str = ""


def normalise_handle(platform: str, handle: str) -> str:
    """One spelling per identity: email addresses are case-insensitive in practice."""
    handle = handle.strip()
    return handle.lower() if platform == EMAIL else handle


def contact_for(
    *, workspace_id: int, seen: Seen, verified: bool = False, lock: bool = False
) -> Contact:
    """The contact behind an identity, created with it the first time it is seen.

    `lock`: take the contact's row lock, so that two messages of one customer
    arriving at once are filed one after the other (into one conversation).
    """
    handle = normalise_handle(seen.platform, seen.handle)
    identity = _identity(workspace_id, seen.platform, handle)
    if identity is None:
        try:
            with transaction.atomic():
                contact = Contact.objects.create(
                    workspace_id=workspace_id, name=seen.name, email=_email_of(seen, handle)
                )
                Identity.objects.create(
                    workspace_id=workspace_id,
                    contact=contact,
                    platform=seen.platform,
                    handle=handle,
                    name=seen.name,
                    verified=verified,
                )
        except IntegrityError:
            identity = _identity(workspace_id, seen.platform, handle)
            if identity is None:
                raise
        else:
            return _locked(contact) if lock else contact
    contact = _surviving(identity.contact)
    if verified and not identity.verified:
        Identity.objects.filter(pk=identity.pk).update(verified=True)
    return _locked(contact) if lock else contact


def contacts_for(workspace_id: int, seen: Iterable[Seen]) -> dict[tuple[str, str], int]:
    """Contact ids for many identities of one workspace at once (the pipeline's batches).

    Keys are (platform, handle) as given. A few queries whatever the batch size.
    """
    wanted = {(s.platform, normalise_handle(s.platform, s.handle)): s for s in seen}
    if not wanted:
        return {}
    found = _contact_ids(workspace_id, wanted.keys())
    missing = [key for key in wanted if key not in found]
    if missing:
        contacts = Contact.objects.bulk_create(
            [
                Contact(
                    workspace_id=workspace_id,
                    name=wanted[key].name,
                    email=_email_of(wanted[key], key[1]),
                )
                for key in missing
            ]
        )
        Identity.objects.bulk_create(
            [
                Identity(
                    workspace_id=workspace_id,
                    contact=contact,
                    platform=key[0],
                    handle=key[1],
                    name=wanted[key].name,
                )
                for key, contact in zip(missing, contacts, strict=True)
            ],
            ignore_conflicts=True,  # another worker saw the same customer just now
        )
        found = _contact_ids(workspace_id, wanted.keys())
        # Contacts whose identity lost the race hold nothing: drop them.
        Contact.objects.filter(pk__in=[c.pk for c in contacts], identities__isnull=True).delete()
    return {
        (s.platform, s.handle): found[(s.platform, normalise_handle(s.platform, s.handle))]
        for s in wanted.values()
        if (s.platform, normalise_handle(s.platform, s.handle)) in found
    }


def link_identity(*, contact: Contact, seen: Seen, verified: bool = False) -> Contact:
    """Record that `seen` belongs to `contact`; if it was someone else's, they are one person.

    Returns the surviving contact (the older of the two, so links stay stable).
    """
    handle = normalise_handle(seen.platform, seen.handle)
    identity = _identity(workspace_id=contact.workspace_id, platform=seen.platform, handle=handle)
    if identity is None:
        Identity.objects.create(
            workspace_id=contact.workspace_id,
            contact=contact,
            platform=seen.platform,
            handle=handle,
            name=seen.name,
            verified=verified,
        )
        if seen.platform == EMAIL and not contact.email:
            contact.email = handle
            contact.save(update_fields=["email", "updated_at"])
        return contact
    owner = _surviving(identity.contact)
    if owner.pk == contact.pk:
        return contact
    older, newer = sorted((owner, contact), key=lambda c: c.pk)
    return merge_contacts(into=older, other=newer)


def merge_contacts(*, into: Contact, other: Contact) -> Contact:
    """`other` is the same person as `into`: its identities and conversations move over."""
    # Care and the chat depend on crm, not the reverse.
    from hubbub.care.models import Conversation
    from hubbub.connectors.models import ChatVisitor

    if into.pk == other.pk:
        return into
    Identity.objects.filter(contact=other).update(contact=into)
    Conversation.objects.filter(contact=other).update(contact=into)
    ChatVisitor.objects.filter(contact=other).update(contact=into)
    Contact.objects.filter(merged_into=other).update(merged_into=into)
    other.merged_into = into
    other.save(update_fields=["merged_into", "updated_at"])
    into.name = into.name or other.name
    into.email = into.email or other.email
    if not into.advocacy and other.advocacy:
        # A decision about the person (or their thanks) is kept whichever contact survives.
        into.advocacy, into.advocacy_changed_at = other.advocacy, other.advocacy_changed_at
    into.save(update_fields=["name", "email", "advocacy", "advocacy_changed_at", "updated_at"])
    return into


def remember_email(contact: Contact, address: str) -> None:
    """The address the customer last wrote from (or gave) is where email reaches them."""
    address = normalise_handle(EMAIL, address)
    if address and contact.email != address:
        contact.email = address
        contact.save(update_fields=["email", "updated_at"])


def offer_as_advocate(*, contact_id: int) -> bool:
    """The customer thanked the brand after a resolved case: a person should consider them.

    Only a contact nobody has considered yet becomes a candidate: a decision
    already taken (advocate, or not an advocate) stands. One UPDATE, in the
    caller's transaction. Returns whether the contact became a candidate.
    """
    return bool(
        Contact.objects.filter(pk=contact_id, advocacy=Advocacy.NONE).update(
            advocacy=Advocacy.CANDIDATE, advocacy_changed_at=clock.now()
        )
    )


@transaction.atomic
def decide_advocacy(*, actor: User, contact_id: int, advocacy: str) -> Contact:
    """An agent, lead or admin decides whether a customer is an advocate of the brand.

    Raises Forbidden for other roles, NotFound for a contact of another
    workspace (or one merged away), ValidationFailed for anything but
    "advocate" or "dismissed".
    """
    permissions.check_can_decide_advocacy(actor)
    if advocacy not in (Advocacy.ADVOCATE, Advocacy.DISMISSED):
        raise ValidationFailed("Choose advocate or not an advocate.", field="advocacy")
    contact = (
        Contact.objects.select_for_update()
        .filter(pk=contact_id, workspace_id=workspace_id_of(actor), merged_into__isnull=True)
        .first()
    )
    if contact is None:
        raise NotFound("No such contact.", code="contact_not_found")
    if contact.advocacy != advocacy:
        contact.advocacy = advocacy
        contact.advocacy_changed_at = clock.now()
        contact.save(update_fields=["advocacy", "advocacy_changed_at", "updated_at"])
    return contact


def _identity(workspace_id: int, platform: str, handle: str) -> Identity | None:
    return (
        Identity.objects.select_related("contact")
        .filter(workspace_id=workspace_id, platform=platform, handle=handle)
        .first()
    )


def _contact_ids(workspace_id: int, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    keys = set(keys)
    rows = Identity.objects.filter(
        workspace_id=workspace_id,
        platform__in={k[0] for k in keys},
        handle__in={k[1] for k in keys},
    ).values_list("platform", "handle", "contact_id", "contact__merged_into_id")
    return {
        (platform, handle): merged or contact
        for platform, handle, contact, merged in rows
        if (platform, handle) in keys
    }


def _surviving(contact: Contact) -> Contact:
    """Follow merges to the contact that holds the identities now (a short chain)."""
    seen: set[int] = set()
    while contact.merged_into_id is not None and contact.pk not in seen:
        seen.add(contact.pk)
        contact = Contact.objects.get(pk=contact.merged_into_id)
    return contact


def _locked(contact: Contact) -> Contact:
    return Contact.objects.select_for_update().get(pk=contact.pk)


def _email_of(seen: Seen, handle: str) -> str:
    return handle if seen.platform == EMAIL else ""
