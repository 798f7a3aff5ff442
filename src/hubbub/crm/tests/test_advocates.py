"""Advocates: customers who thanked the brand are offered; a person decides."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.tests.factories import Cast
from hubbub.care import services as care
from hubbub.care.models import Conversation
from hubbub.care.tests.factories import START, emailed, posted
from hubbub.core.errors import Forbidden, NotFound, ValidationFailed
from hubbub.crm import selectors
from hubbub.crm import services as crm
from hubbub.crm.models import Advocacy, Contact

pytestmark = pytest.mark.django_db

CONTACTS = reverse("web:contacts")


def contact(cast: Cast, handle: str, *, workspace_id: int | None = None, name: str = "") -> Contact:
    return crm.contact_for(
        workspace_id=workspace_id or cast.brightwave.pk, seen=crm.Seen("bluesky", handle, name)
    )


def thanked(cast: Cast, handle: str, text: str, name: str = "") -> Conversation:
    """The customer's case was resolved, then they thanked the brand in public (captured)."""
    first = posted(cast, handle, 0, author_name=name, team=cast.care)
    care.thread_mentions(mention_ids=[first.pk])
    case = Conversation.objects.get(mention_links__mention=first)
    care.change_status(actor=cast.cara, conversation_id=case.pk, status="resolved")
    Conversation.objects.filter(pk=case.pk).update(resolved_at=START)
    thanks = posted(
        cast,
        handle,
        2 * 24 * 60,
        author_name=name,
        team=cast.care,
        sentiment="positive",
        intent="praise",
        text=text,
        url=f"https://bsky.app/profile/{handle}/post/1",
    )
    care.thread_mentions(mention_ids=[thanks.pk])
    return case


class TestOffering:
    def test_a_customer_nobody_considered_becomes_a_candidate(self, cast: Cast) -> None:
        ana = contact(cast, "ana.example")

        assert crm.offer_as_advocate(contact_id=ana.pk)

        ana.refresh_from_db()
        assert ana.advocacy == Advocacy.CANDIDATE
        assert ana.advocacy_changed_at is not None

    @pytest.mark.parametrize("decided", [Advocacy.ADVOCATE, Advocacy.DISMISSED])
    def test_a_decision_already_taken_stands(self, cast: Cast, decided: Advocacy) -> None:
        ana = contact(cast, "ana.example")
        crm.decide_advocacy(actor=cast.cara, contact_id=ana.pk, advocacy=decided)

        assert not crm.offer_as_advocate(contact_id=ana.pk)

        ana.refresh_from_db()
        assert ana.advocacy == decided


class TestDeciding:
    def test_an_agent_makes_a_candidate_an_advocate(self, cast: Cast) -> None:
        ana = contact(cast, "ana.example")
        crm.offer_as_advocate(contact_id=ana.pk)

        decided = crm.decide_advocacy(
            actor=cast.cara, contact_id=ana.pk, advocacy=Advocacy.ADVOCATE
        )

        assert decided.advocacy == Advocacy.ADVOCATE
        assert Contact.objects.get(pk=ana.pk).advocacy == Advocacy.ADVOCATE

    def test_read_only_members_cannot_decide(self, cast: Cast) -> None:
        ana = contact(cast, "ana.example")
        crm.offer_as_advocate(contact_id=ana.pk)

        with pytest.raises(Forbidden):
            crm.decide_advocacy(actor=cast.rita, contact_id=ana.pk, advocacy=Advocacy.ADVOCATE)

        assert Contact.objects.get(pk=ana.pk).advocacy == Advocacy.CANDIDATE

    def test_a_contact_of_another_workspace_is_not_found(self, cast: Cast) -> None:
        ana = contact(cast, "ana.example")

        with pytest.raises(NotFound):
            crm.decide_advocacy(actor=cast.otto, contact_id=ana.pk, advocacy=Advocacy.ADVOCATE)

    def test_only_advocate_or_dismissed_can_be_decided(self, cast: Cast) -> None:
        ana = contact(cast, "ana.example")

        with pytest.raises(ValidationFailed):
            crm.decide_advocacy(actor=cast.cara, contact_id=ana.pk, advocacy=Advocacy.CANDIDATE)

    def test_merging_contacts_keeps_the_decision(self, cast: Cast) -> None:
        older = contact(cast, "ana.example")
        newer = contact(cast, "ana.other")
        crm.decide_advocacy(actor=cast.cara, contact_id=newer.pk, advocacy=Advocacy.ADVOCATE)

        merged = crm.merge_contacts(into=older, other=Contact.objects.get(pk=newer.pk))

        assert Contact.objects.get(pk=merged.pk).advocacy == Advocacy.ADVOCATE


class TestListing:
    def test_candidates_come_with_their_identities_and_captured_thanks(self, cast: Cast) -> None:
        case = thanked(cast, "tom.example", "Thanks Brightwave, fixed in an hour!", name="Tom")

        listed = selectors.advocate_candidates(user=cast.cara)

        (card,) = listed.candidates
        assert card.name == "Tom"
        assert [identity.label for identity in card.identities] == ["@tom.example"]
        assert card.praise is not None
        assert card.praise.text == "Thanks Brightwave, fixed in an hour!"
        assert card.praise.conversation_id == case.pk
        assert card.praise.url == "https://bsky.app/profile/tom.example/post/1"
        assert listed.advocates == []

    def test_only_the_own_workspace_s_candidates_are_listed(self, cast: Cast) -> None:
        ours = contact(cast, "ana.example", name="Ana")
        theirs = contact(cast, "eve.example", workspace_id=cast.elsewhere.pk, name="Eve")
        crm.offer_as_advocate(contact_id=ours.pk)
        crm.offer_as_advocate(contact_id=theirs.pk)

        assert [c.contact_id for c in selectors.advocate_candidates(user=cast.cara).candidates] == [
            ours.pk
        ]
        assert [c.contact_id for c in selectors.advocate_candidates(user=cast.otto).candidates] == [
            theirs.pk
        ]

    def test_the_list_takes_a_fixed_number_of_queries(
        self, cast: Cast, django_assert_max_num_queries: object
    ) -> None:
        for n in range(10):
            thanked(cast, f"c{n}.example", f"Thank you {n}!")

        with django_assert_max_num_queries(4):  # type: ignore[operator]
            listed = selectors.advocate_candidates(user=cast.lee)

        assert len(listed.candidates) == 10
        assert all(card.praise is not None for card in listed.candidates)


class TestPage:
    def test_the_page_lists_candidates_with_escaped_thanks_and_a_link_to_the_case(
        self, cast: Cast
    ) -> None:
        case = thanked(cast, "tom.example", "Thanks <script>alert(1)</script> team!", name="Tom")
        client = Client()
        client.force_login(cast.cara)

        page = client.get(CONTACTS).content.decode()

        assert "Advocate candidates" in page
        assert "Tom" in page
        assert "Thanks &lt;script&gt;alert(1)&lt;/script&gt; team!" in page
        assert "<script>alert(1)" not in page
        assert reverse("care:conversation", args=[case.pk]) in page
        assert "Make advocate" in page
        assert "Not now" in page
        assert "csrfmiddlewaretoken" in page

    def test_a_second_team_sees_the_candidate_but_not_the_thanks_of_a_case_it_cannot_see(
        self, cast: Cast
    ) -> None:
        thanked(cast, "tom.example", "Thanks Care team, you are great!", name="Tom")
        nico = Client()  # Nights: Care's conversations are not his
        nico.force_login(cast.nico)

        page = nico.get(CONTACTS).content.decode()

        assert "Tom" in page
        assert "you are great" not in page

    def test_make_advocate_moves_the_customer_to_the_advocates(self, cast: Cast) -> None:
        case = thanked(cast, "tom.example", "Thanks!", name="Tom")
        client = Client()
        client.force_login(cast.cara)

        response = client.post(
            CONTACTS, {"contact": case.contact_id, "advocacy": "advocate"}, follow=True
        )

        assert response.status_code == 200
        assert "Tom is an advocate now." in response.content.decode()
        assert Contact.objects.get(pk=case.contact_id).advocacy == Advocacy.ADVOCATE
        listed = selectors.advocate_candidates(user=cast.cara)
        assert [card.contact_id for card in listed.advocates] == [case.contact_id]
        assert listed.candidates == []

    def test_not_now_takes_the_candidate_off_the_list(self, cast: Cast) -> None:
        case = thanked(cast, "tom.example", "Thanks!", name="Tom")
        client = Client()
        client.force_login(cast.cara)

        client.post(CONTACTS, {"contact": case.contact_id, "advocacy": "dismissed"})

        assert Contact.objects.get(pk=case.contact_id).advocacy == Advocacy.DISMISSED
        assert "No candidates yet" in client.get(CONTACTS).content.decode()

    def test_read_only_members_see_the_list_without_buttons_and_cannot_decide(
        self, cast: Cast
    ) -> None:
        case = thanked(cast, "tom.example", "Thanks!", name="Tom")
        client = Client()
        client.force_login(cast.rita)

        page = client.get(CONTACTS).content.decode()
        response = client.post(
            CONTACTS, {"contact": case.contact_id, "advocacy": "advocate"}, follow=True
        )

        assert "Tom" in page
        assert "Make advocate" not in page
        assert "Only agents, leads and admins" in response.content.decode()
        assert Contact.objects.get(pk=case.contact_id).advocacy == Advocacy.CANDIDATE

    def test_a_contact_of_another_workspace_cannot_be_decided_from_the_page(
        self, cast: Cast
    ) -> None:
        case = thanked(cast, "tom.example", "Thanks!", name="Tom")
        client = Client()
        client.force_login(cast.otto)

        response = client.post(CONTACTS, {"contact": case.contact_id, "advocacy": "advocate"})

        assert response.status_code == 404
        assert Contact.objects.get(pk=case.contact_id).advocacy == Advocacy.CANDIDATE

    def test_an_empty_page_says_where_candidates_come_from(self, cast: Cast) -> None:
        client = Client()
        client.force_login(cast.cara)

        page = client.get(CONTACTS).content.decode()

        assert "No candidates yet" in page
        assert "No advocates yet" in page


def test_thanks_by_email_are_listed_with_the_case_they_thank_for(cast: Cast) -> None:
    case = emailed(cast, "ana@example.com", "My router keeps dropping the line.").conversation
    care.change_status(actor=cast.cara, conversation_id=case.pk, status="resolved")
    Conversation.objects.filter(pk=case.pk).update(resolved_at=START - dt.timedelta(days=2))
    emailed(cast, "ana@example.com", "Thanks so much, it works perfectly now!")

    (card,) = selectors.advocate_candidates(user=cast.cara).candidates

    assert card.praise is not None
    assert card.praise.text == "Thanks so much, it works perfectly now!"
    assert card.praise.conversation_id == case.pk
    assert card.praise.url == ""
