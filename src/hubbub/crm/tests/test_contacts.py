"""Contacts: one person behind every identity they use, found the same way by every channel."""

from __future__ import annotations

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.crm import services as crm
from hubbub.crm.models import Contact, Identity

pytestmark = pytest.mark.django_db


def test_an_identity_seen_twice_is_one_contact(cast: Cast) -> None:
    first = crm.contact_for(
        workspace_id=cast.brightwave.pk, seen=crm.Seen("bluesky", "ana.bsky.social", "Ana")
    )
    again = crm.contact_for(
        workspace_id=cast.brightwave.pk, seen=crm.Seen("bluesky", "ana.bsky.social")
    )

    assert again.pk == first.pk
    assert first.name == "Ana"
    assert Identity.objects.filter(contact=first).count() == 1


def test_email_addresses_are_one_identity_whatever_their_case(cast: Cast) -> None:
    lower = crm.contact_for(
        workspace_id=cast.brightwave.pk, seen=crm.Seen("email", "Ana@Example.com")
    )
    upper = crm.contact_for(
        workspace_id=cast.brightwave.pk, seen=crm.Seen("email", "ana@example.COM")
    )

    assert upper.pk == lower.pk
    assert lower.email == "ana@example.com"


def test_the_same_handle_in_another_workspace_is_another_person(cast: Cast) -> None:
    here = crm.contact_for(workspace_id=cast.brightwave.pk, seen=crm.Seen("email", "a@x.test"))
    there = crm.contact_for(workspace_id=cast.elsewhere.pk, seen=crm.Seen("email", "a@x.test"))

    assert here.pk != there.pk


def test_a_batch_finds_known_contacts_and_creates_the_rest_in_a_few_queries(
    cast: Cast, django_assert_max_num_queries: object
) -> None:
    known = crm.contact_for(workspace_id=cast.brightwave.pk, seen=crm.Seen("mastodon", "@k@m.x"))
    seen = [crm.Seen("mastodon", "@k@m.x"), *(crm.Seen("bluesky", f"p{i}.test") for i in range(30))]

    with django_assert_max_num_queries(6):  # type: ignore[operator]
        found = crm.contacts_for(cast.brightwave.pk, seen)

    assert found[("mastodon", "@k@m.x")] == known.pk
    assert len(found) == 31
    assert len(set(found.values())) == 31


def test_linking_an_identity_of_someone_else_merges_them_into_the_older_contact(
    cast: Cast,
) -> None:
    social = crm.contact_for(
        workspace_id=cast.brightwave.pk, seen=crm.Seen("bluesky", "ana.test", "Ana")
    )
    mail = crm.contact_for(workspace_id=cast.brightwave.pk, seen=crm.Seen("email", "ana@x.test"))

    merged = crm.link_identity(contact=social, seen=crm.Seen("email", "ana@x.test"))

    assert merged.pk == social.pk
    assert set(Identity.objects.filter(contact=social).values_list("platform", flat=True)) == {
        "bluesky",
        "email",
    }
    assert Contact.objects.get(pk=mail.pk).merged_into_id == social.pk
    # Whoever asks for the email identity now finds the surviving contact.
    found = crm.contact_for(workspace_id=cast.brightwave.pk, seen=crm.Seen("email", "ana@x.test"))
    assert found.pk == social.pk
    assert found.email == "ana@x.test"
