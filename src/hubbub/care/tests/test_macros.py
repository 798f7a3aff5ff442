"""Macros: variables filled for each customer, usage counted, unedited mass sending flagged."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from hubbub.accounts.tests.factories import Cast
from hubbub.care import case_links, macros, outbound
from hubbub.care.models import Macro, Notification
from hubbub.care.tests.factories import arrives
from hubbub.connectors.models import ChannelAccount, Transport
from hubbub.core.errors import Forbidden, NotFound, ValidationFailed

pytestmark = pytest.mark.django_db

TEXT = "Hi {customer_name}, so sorry! Follow your case: {case_link} – {agent_name}"


@pytest.fixture
def outage(cast: Cast) -> Macro:
    ChannelAccount.objects.create(
        workspace=cast.brightwave, platform="bluesky", transport=Transport.SANDBOX, name="Sandbox"
    )
    return macros.save_macro(
        actor=cast.lee,
        name="Outage apology",
        body=TEXT,
        team_id=cast.care.pk,
        article_url="https://help.brightwave.example/outages",
    )


def test_variables_are_filled_for_the_customer_and_the_agent(cast: Cast, outage: Macro) -> None:
    conversation = arrives(cast, "tom.example", 0, author_name="Tom Reyes", team=cast.care)
    text = macros.render(outage, conversation=conversation, agent=cast.cara)
    assert text.startswith("Hi Tom, so sorry! Follow your case: http://")
    assert text.endswith(" – Cara")
    link = text.split("case: ")[1].split(" ")[0]
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert case_links.conversation_for(token) == conversation


def test_a_tampered_case_link_leads_nowhere(cast: Cast) -> None:
    conversation = arrives(cast, "tom.example", 0)
    token = case_links.token_for(conversation)
    assert case_links.conversation_for(token[:-2] + "xx") is None
    client = Client()
    page = client.get(reverse("care:case", args=[token]))
    assert page.status_code == 200
    assert b"We are on it" in page.content
    assert client.get(reverse("care:case", args=["not-a-token"])).status_code == 404


def test_unknown_variables_and_bad_links_are_refused(cast: Cast) -> None:
    with pytest.raises(ValidationFailed, match=r"Unknown variable \{refund_amount\}"):
        macros.save_macro(actor=cast.lee, name="x", body="{refund_amount}", team_id=None)
    with pytest.raises(ValidationFailed, match="https://"):
        macros.save_macro(
            actor=cast.lee, name="x", body="hi", team_id=None, article_url="javascript:alert(1)"
        )
    with pytest.raises(Forbidden):
        macros.save_macro(actor=cast.cara, name="x", body="hi", team_id=None)


def test_a_team_s_macros_are_not_offered_on_another_team_s_conversations(
    cast: Cast, outage: Macro
) -> None:
    nights = arrives(cast, "night.example", 0, team=cast.nights)
    assert not macros.usable_macros(user=cast.lee, conversation=nights).exists()
    with pytest.raises(NotFound):
        macros.access_macro(user=cast.nico, macro_id=outage.pk)


def test_sending_counts_the_use_and_flags_the_fifth_unedited_copy_once(
    cast: Cast, outage: Macro
) -> None:
    for n in range(6):
        conversation = arrives(cast, f"c{n}.example", n, author_name=f"Cust{n}", team=cast.care)
        body = macros.render(outage, conversation=conversation, agent=cast.cara)
        if n == 0:
            body = "Personal touch. " + body
        message = outbound.send_reply(
            actor=cast.cara, conversation_id=conversation.pk, body=body, macro_id=outage.pk
        )
        assert message.macro_unedited is (n != 0)
    outage.refresh_from_db()
    assert outage.usage_count == 6
    flags = Notification.objects.filter(user=cast.lee, text__contains="unedited")
    assert [f.text for f in flags] == [
        "Cara sent the macro “Outage apology” unedited to 5 customers today"
    ]


def test_the_composer_gets_the_macro_written_out_as_plain_text(cast: Cast, outage: Macro) -> None:
    conversation = arrives(cast, "tom.example", 0, author_name="<b>Tom</b>", team=cast.care)
    client = Client()
    client.force_login(cast.cara)
    response = client.get(reverse("care:macro_text", args=[conversation.pk, outage.pk]))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().startswith("Hi <b>Tom</b>, so sorry!")
    page = client.get(reverse("care:conversation", args=[conversation.pk]))
    assert b"Insert a macro" in page.content
    outsider = Client()
    outsider.force_login(cast.nico)
    assert (
        outsider.get(reverse("care:macro_text", args=[conversation.pk, outage.pk])).status_code
        == 404
    )
