"""Reading contacts: who a customer is across channels, and who speaks for the brand."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from hubbub.accounts.models import User
from hubbub.accounts.selectors import workspace_id_of
from hubbub.crm.models import Advocacy, Contact, Identity

# The advocates page lists the most recent ones; older decisions stay on the contacts.
MAX_ADVOCATES = 200


@dataclass(frozen=True, slots=True)
class Praise:
    """What the customer said when they thanked the brand, and the case it was about."""

    text: str
    url: str  # where they posted it ("" for an email or chat)
    conversation_id: int
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class AdvocateCard:
    contact_id: int
    name: str
    advocacy: Advocacy
    changed_at: dt.datetime | None
    identities: tuple[Identity, ...]
    praise: Praise | None


@dataclass(frozen=True, slots=True)
class Advocates:
    candidates: list[AdvocateCard]
    advocates: list[AdvocateCard]


def identities_of(contact_id: int) -> list[Identity]:
    """A contact's identities, oldest first (the channel they first came through leads)."""
    return list(Identity.objects.filter(contact_id=contact_id).order_by("created_at", "id"))


def advocate_candidates(*, user: User, visible_cases: QuerySet[Any] | None = None) -> Advocates:
    """The user's workspace's advocate candidates and advocates, newest decision first,
    each with their identities and their latest captured thank-you.

    The thanks are read through the contact's conversations (care's tables,
    by relation name): care depends on crm, so crm imports nothing of care.
    A fixed number of queries, whatever the number of contacts.
    `visible_cases`: the ids of the conversations the reader may see (the
    care app's rule); thanks written on any other stay hidden.
    """
    contacts = list(
        Contact.objects.filter(
            workspace_id=workspace_id_of(user),
            advocacy__in=[Advocacy.CANDIDATE, Advocacy.ADVOCATE],
            merged_into__isnull=True,
        )
        .prefetch_related("identities")
        .order_by("-advocacy_changed_at", "-id")[:MAX_ADVOCATES]
    )
    praise = _latest_praise([contact.pk for contact in contacts], visible_cases)
    cards = [
        AdvocateCard(
            contact_id=contact.pk,
            name=str(contact),
            advocacy=Advocacy(contact.advocacy),
            changed_at=contact.advocacy_changed_at,
            identities=tuple(contact.identities.all()),
            praise=praise.get(contact.pk),
        )
        for contact in contacts
    ]
    return Advocates(
        candidates=[card for card in cards if card.advocacy == Advocacy.CANDIDATE],
        advocates=[card for card in cards if card.advocacy == Advocacy.ADVOCATE],
    )


def _latest_praise(
    contact_ids: list[int], visible_cases: QuerySet[Any] | None
) -> dict[int, Praise]:
    """Each contact's latest thanks: a public post (a captured mention) or a direct message."""
    if not contact_ids:
        return {}
    # One filter() per query: the same conversation must be visible and hold the thanks.
    visible = {} if visible_cases is None else {"conversations__in": visible_cases}
    contacts = Contact.objects.filter(pk__in=contact_ids)
    posted = contacts.filter(conversations__praise__isnull=False, **visible).values_list(
        "pk",
        "conversations__id",
        "conversations__praise__captured_at",
        "conversations__praise__mention__text",
        "conversations__praise__mention__url",
    )
    # Thanks by email or chat are kept as the customer's message on the case (care.aftercare).
    written = contacts.filter(conversations__messages__details__praise=True, **visible).values_list(
        "pk",
        "conversations__id",
        "conversations__messages__created_at",
        "conversations__messages__body",
    )
    latest: dict[int, Praise] = {}
    found = [
        *((pk, Praise(text, _link(url), case, at)) for pk, case, at, text, url in posted),
        *((pk, Praise(text, "", case, at)) for pk, case, at, text in written),
    ]
    for pk, praise in found:
        if praise.at is not None and (pk not in latest or praise.at > latest[pk].at):
            latest[pk] = praise
    return latest


def _link(url: str | None) -> str:
    """A post's address as a link: only web addresses (a post's data is the platform's word)."""
    return url if url and url.lower().startswith(("https://", "http://")) else ""
