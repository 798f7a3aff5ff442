"""What the conversation page offers depends on what the customer's platform allows:
answering from Hubbub or on the platform, reading the customer's profile there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.tests.factories import Cast
from hubbub.care import outbound, services
from hubbub.care.models import Conversation
from hubbub.care.tests.factories import arrives
from hubbub.connectors.hackernews.tests.fake import FakeAlgolia, running_algolia
from hubbub.listening.models import Mention, Source, SourceKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def algolia(settings: object) -> Iterator[FakeAlgolia]:
    settings.HUBBUB_SAFE_HTTP_ALLOW = ["127.0.0.0/8"]  # type: ignore[attr-defined]
    with running_algolia() as fake:
        yield fake


def hacker_news_thread(cast: Cast) -> Conversation:
    return arrives(
        cast,
        "maria_k",
        0,
        platform="hackernews",
        external_id="40211234",
        url="https://news.ycombinator.com/item?id=40211234",
        text="Brightwave's router firmware bricked mine overnight",
        team=cast.care,
    )


def mentions_of(conversation: Conversation) -> list[Mention]:
    return list(Mention.objects.filter(conversation_link__conversation=conversation))


def test_a_platform_without_a_write_api_offers_to_answer_there(cast: Cast) -> None:
    conversation = hacker_news_thread(cast)
    composer = outbound.composer_for(
        user=cast.cara, conversation=conversation, mentions=mentions_of(conversation)
    )
    assert composer.account_name == ""
    assert composer.answer_on_platform_label == "Open on Hacker News"
    assert composer.answer_on_platform_url == "https://news.ycombinator.com/item?id=40211234"
    client = Client()
    client.force_login(cast.cara)
    page = client.get(reverse("care:conversation", args=[conversation.pk])).content.decode()
    assert "Open on Hacker News ↗" in page
    assert 'href="https://news.ycombinator.com/item?id=40211234"' in page


def test_a_link_that_is_not_a_web_address_is_never_offered(cast: Cast) -> None:
    conversation = hacker_news_thread(cast)
    Mention.objects.filter(conversation_link__conversation=conversation).update(
        url="javascript:alert(1)"
    )
    composer = outbound.composer_for(
        user=cast.cara, conversation=conversation, mentions=mentions_of(conversation)
    )
    assert composer.answer_on_platform_url == ""


def test_the_customers_profile_is_read_with_the_workspaces_source(
    cast: Cast, algolia: FakeAlgolia
) -> None:
    Source.objects.create(
        workspace=cast.brightwave,
        name="HN",
        kind=SourceKind.HACKERNEWS,
        settings={"query": "brightwave", "base_url": algolia.url},
    )
    algolia.users["maria_k"] = {
        "username": "maria_k",
        "about": "Support lead",
        "karma": 4521,
        "created_at": "2012-03-04T05:06:07.000Z",
        "created_at_i": 1330837567,
        "objectID": "maria_k",
    }
    conversation = hacker_news_thread(cast)
    client = Client()
    client.force_login(cast.cara)
    response = client.post(reverse("care:act", args=[conversation.pk, "profile"]))
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.customer_profile["extra"] == {"karma": 4521}
    assert conversation.customer_profile["created_at"] == "2012-03-04T05:06:07+00:00"
    page = client.get(reverse("care:conversation", args=[conversation.pk])).content.decode()
    assert "4521" in page
    assert "2012-03-04" in page


def test_a_profile_the_platform_cannot_give_is_said_plainly(
    cast: Cast, algolia: FakeAlgolia
) -> None:
    Source.objects.create(
        workspace=cast.brightwave,
        name="HN",
        kind=SourceKind.HACKERNEWS,
        settings={"query": "brightwave", "base_url": algolia.url},
    )
    conversation = hacker_news_thread(cast)
    with pytest.raises(services.ProfileUnavailable):
        services.refresh_customer_profile(actor=cast.cara, conversation_id=conversation.pk)
    conversation.refresh_from_db()
    assert conversation.customer_profile == {}


def test_another_team_cannot_read_a_profile_through_a_conversation_it_cannot_see(
    cast: Cast,
) -> None:
    from hubbub.core.errors import NotFound

    conversation = hacker_news_thread(cast)
    with pytest.raises(NotFound):
        services.refresh_customer_profile(actor=cast.nico, conversation_id=conversation.pk)
