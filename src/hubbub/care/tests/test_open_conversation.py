"""Opening a conversation from a mention: one customer, one active conversation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.tests.factories import Cast
from hubbub.care import selectors, services
from hubbub.care.models import Conversation, ConversationStatus
from hubbub.core.errors import Forbidden, NotFound
from hubbub.core.models import EventRecord
from hubbub.listening.models import Mention
from hubbub.listening.tests.factories import MentionFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def mention(cast: Cast, handle: str, minutes: int, **fields: object) -> Mention:
    values: dict[str, object] = {
        "workspace": cast.brightwave,
        "author_handle": handle,
        "posted_at": START + dt.timedelta(minutes=minutes),
        **fields,
    }
    return MentionFactory(**values)  # type: ignore[no-any-return]


class TestOpenConversation:
    def test_a_mention_opens_a_conversation_with_the_customer_s_recent_mentions(
        self, cast: Cast
    ) -> None:
        earlier = mention(cast, "tom.example", 0, text="router dead again", priority=40.0)
        latest = mention(cast, "tom.example", 30, text="Still down. Refund please.", priority=78.0)
        someone_else = mention(cast, "maya.example", 10)
        opened = services.open_conversation(actor=cast.cara, mention_id=latest.pk)
        conversation = opened.conversation
        assert opened.created
        assert (conversation.status, conversation.customer_handle) == ("open", "tom.example")
        assert conversation.subject == "Still down. Refund please."
        assert conversation.priority == 78.0
        assert conversation.last_activity_at == latest.posted_at
        view = selectors.conversation_view(user=cast.cara, conversation_id=conversation.pk)
        assert view.mentions == [earlier, latest]
        assert someone_else not in view.mentions
        assert EventRecord.objects.filter(kind="conversation_opened").count() == 1

    def test_opening_again_or_from_another_mention_reuses_the_active_conversation(
        self, cast: Cast
    ) -> None:
        first = mention(cast, "tom.example", 0)
        opened = services.open_conversation(actor=cast.cara, mention_id=first.pk)
        assert services.open_conversation(actor=cast.lee, mention_id=first.pk) == type(opened)(
            opened.conversation, created=False
        )
        later = mention(cast, "tom.example", 60, priority=90.0)
        again = services.open_conversation(actor=cast.lee, mention_id=later.pk)
        assert not again.created
        assert again.conversation.pk == opened.conversation.pk
        assert again.conversation.priority == 90.0
        assert Conversation.objects.count() == 1

    def test_a_resolved_conversation_is_not_reopened_by_a_new_mention(self, cast: Cast) -> None:
        first = mention(cast, "tom.example", 0)
        old = services.open_conversation(actor=cast.cara, mention_id=first.pk).conversation
        Conversation.objects.filter(pk=old.pk).update(status=ConversationStatus.RESOLVED)
        new = mention(cast, "tom.example", 600)
        opened = services.open_conversation(actor=cast.cara, mention_id=new.pk)
        assert opened.created
        assert opened.conversation.pk != old.pk

    def test_the_conversation_takes_the_mention_s_team(self, cast: Cast) -> None:
        routed = mention(cast, "tom.example", 0, team=cast.billing)
        conversation = services.open_conversation(actor=cast.lee, mention_id=routed.pk).conversation
        assert conversation.team == cast.billing
        # Cara (care team) sees neither the mention nor the conversation.
        with pytest.raises(NotFound):
            services.open_conversation(actor=cast.cara, mention_id=routed.pk)
        with pytest.raises(NotFound):
            selectors.conversation_view(user=cast.cara, conversation_id=conversation.pk)
        assert conversation not in selectors.inbox(user=cast.cara)
        assert conversation in selectors.inbox(user=cast.bill)

    def test_another_workspace_s_mention_is_not_found(self, cast: Cast) -> None:
        theirs = MentionFactory(workspace=cast.elsewhere)
        with pytest.raises(NotFound):
            services.open_conversation(actor=cast.cara, mention_id=theirs.pk)

    def test_read_only_members_cannot_open_conversations(self, cast: Cast) -> None:
        post = mention(cast, "tom.example", 0)
        with pytest.raises(Forbidden):
            services.open_conversation(actor=cast.rita, mention_id=post.pk)


class TestPages:
    def test_an_agent_opens_a_conversation_from_the_mention_page_and_finds_it_in_the_inbox(
        self, cast: Cast
    ) -> None:
        post = mention(cast, "tom.example", 0, text="Brightwave <b>down</b> again")
        client = Client()
        client.force_login(cast.cara)
        page = client.get(reverse("listening:mention", args=[post.pk]))
        assert b"Open a conversation" in page.content
        opened = client.post(reverse("care:open_from_mention", args=[post.pk]), follow=True)
        assert opened.status_code == 200
        assert b"Conversation opened" in opened.content
        assert b"Brightwave &lt;b&gt;down&lt;/b&gt; again" in opened.content
        assert (
            b"View conversation" in client.get(reverse("listening:mention", args=[post.pk])).content
        )
        inbox = client.get(reverse("web:inbox"))
        assert b"tom.example" in inbox.content
        assert b"Brightwave &lt;b&gt;down&lt;/b&gt; again" in inbox.content

    def test_the_inbox_lists_conversations_without_a_query_per_row(
        self, cast: Cast, django_assert_max_num_queries: object
    ) -> None:
        for n in range(12):
            post = mention(cast, f"customer{n}.example", n)
            services.open_conversation(actor=cast.lee, mention_id=post.pk)
        client = Client()
        client.force_login(cast.lee)
        with django_assert_max_num_queries(17):  # type: ignore[operator]
            page = client.get(reverse("web:inbox"))
        assert page.content.count(b'class="conversation-row"') == 12

    def test_the_empty_inbox_says_where_conversations_come_from(self, cast: Cast) -> None:
        client = Client()
        client.force_login(cast.cara)
        assert b"No conversations here" in client.get(reverse("web:inbox")).content
