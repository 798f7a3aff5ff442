"""Correcting a label from the mention page: with htmx, and as a plain form."""

from __future__ import annotations

import pytest
from django.test import Client

from hubbub.accounts.models import User
from hubbub.accounts.tests.factories import Cast
from hubbub.intelligence.models import LabelCorrection
from hubbub.intelligence.tests.factories import scored_mention
from hubbub.listening.models import Mention

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def sign_in(client: Client, user: User) -> None:
    client.force_login(user, backend="hubbub.accounts.backends.AccountBackend")


def page_url(mention: Mention) -> str:
    return f"/listening/mentions/{mention.pk}/"


def correct_url(mention: Mention) -> str:
    return f"/listening/mentions/{mention.pk}/labels/"


class TestMentionPage:
    def test_each_label_says_who_labelled_it_and_offers_a_correction(
        self, client: Client, cast: Cast
    ) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        sign_in(client, cast.cara)
        page = client.get(page_url(mention)).content.decode()
        # Each label names the model that gave it, not the whole chain.
        assert "Labelled by sentiment-linear-1<" in page
        assert "Labelled by intent-stacked-1<" in page
        assert f'action="{correct_url(mention)}"' in page
        assert (
            '<label class="visually-hidden" for="correct-sentiment">Sentiment of this mention'
            in page
        )
        assert 'name="csrfmiddlewaretoken"' in page
        assert '<option value="complaint" selected>Complaint</option>' in page

    def test_read_only_members_see_the_labels_but_no_control(
        self, client: Client, cast: Cast
    ) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        sign_in(client, cast.rita)
        page = client.get(page_url(mention)).content.decode()
        assert "Labelled by sentiment-linear-1<" in page
        assert correct_url(mention) not in page
        assert "label-correct" not in page


class TestCorrectWithHtmx:
    def test_the_triage_panel_comes_back_corrected_and_re_scored(
        self, client: Client, cast: Cast
    ) -> None:
        mention = scored_mention(workspace=cast.brightwave, intent=("complaint", 0.7))
        sign_in(client, cast.cara)
        response = client.post(correct_url(mention), {"task": "intent", "label": "praise"}, **HTMX)
        assert response.status_code == 200
        panel = response.content.decode()
        assert '<aside class="stack" id="triage-panel"' in panel
        assert "<html" not in panel
        assert "Intent corrected to praise." in panel
        assert "Corrected by Cara" in panel
        assert "Labelled complaint by intent-stacked-1" in panel
        assert "Why is this high?" in panel
        assert ">Complaint<" not in panel.split('id="why-title"')[1]
        assert "<summary autofocus>Correct" in panel  # focus stays on the intent's control
        mention.refresh_from_db()
        assert mention.intent == "praise"

    def test_an_unknown_label_is_shown_inline_next_to_its_control(
        self, client: Client, cast: Cast
    ) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        sign_in(client, cast.cara)
        response = client.post(
            correct_url(mention), {"task": "sentiment", "label": "furious"}, **HTMX
        )
        panel = response.content.decode()
        assert response.status_code == 200
        assert '<details class="label-correct" open>' in panel
        assert (
            '<p class="error" role="alert" id="correct-sentiment-error">'
            "Sentiment is one of negative, neutral or positive.</p>"
        ) in panel
        assert 'aria-invalid="true"' in panel
        assert not LabelCorrection.objects.exists()

    def test_an_unknown_task_is_shown_above_the_labels(self, client: Client, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        sign_in(client, cast.cara)
        panel = client.post(
            correct_url(mention), {"task": "urgency", "label": "high"}, **HTMX
        ).content.decode()
        assert '<p class="error" role="alert">Only a mention' in panel

    def test_the_same_label_again_says_so(self, client: Client, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave, sentiment=("negative", 0.8))
        sign_in(client, cast.cara)
        panel = client.post(
            correct_url(mention), {"task": "sentiment", "label": "negative"}, **HTMX
        ).content.decode()
        assert "Sentiment was already negative." in panel
        assert not LabelCorrection.objects.exists()


class TestCorrectWithoutJavaScript:
    def test_a_plain_post_redirects_back_to_the_mention_with_a_message(
        self, client: Client, cast: Cast
    ) -> None:
        mention = scored_mention(workspace=cast.brightwave, sentiment=("negative", 0.8))
        sign_in(client, cast.cara)
        response = client.post(correct_url(mention), {"task": "sentiment", "label": "positive"})
        assert response.status_code == 302
        assert response["Location"] == page_url(mention) + "#triage-title"
        page = client.get(response["Location"]).content.decode()
        assert "Sentiment corrected to positive." in page
        assert "Corrected by Cara" in page
        assert "Labelled negative by sentiment-linear-1" in page

    def test_a_bad_label_comes_back_as_an_error_message(self, client: Client, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        sign_in(client, cast.cara)
        response = client.post(
            correct_url(mention), {"task": "intent", "label": "rant"}, follow=True
        )
        assert "Intent is one of complaint, question, praise, feedback or other." in (
            response.content.decode()
        )
        assert not LabelCorrection.objects.exists()

    def test_without_the_csrf_token_nothing_changes(self, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        client = Client(enforce_csrf_checks=True)
        sign_in(client, cast.cara)
        response = client.post(correct_url(mention), {"task": "intent", "label": "praise"})
        assert response.status_code == 403
        assert not LabelCorrection.objects.exists()


class TestPermission:
    def test_a_read_only_member_is_refused(self, client: Client, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        sign_in(client, cast.rita)
        for extra in ({}, HTMX):
            response = client.post(
                correct_url(mention), {"task": "intent", "label": "praise"}, **extra
            )
            assert response.status_code == 403
        assert not LabelCorrection.objects.exists()

    def test_another_team_s_mention_is_not_found(self, client: Client, cast: Cast) -> None:
        for_nights = scored_mention(workspace=cast.brightwave, team=cast.nights)
        sign_in(client, cast.cara)
        response = client.post(correct_url(for_nights), {"task": "intent", "label": "praise"})
        assert response.status_code == 404
        assert not LabelCorrection.objects.exists()

    def test_only_post(self, client: Client, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        sign_in(client, cast.cara)
        assert client.get(correct_url(mention)).status_code == 405

    def test_signed_out_people_are_sent_to_sign_in(self, client: Client, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        response = client.post(correct_url(mention), {"task": "intent", "label": "praise"})
        assert response.status_code == 302
        assert "/login/" in response["Location"]
