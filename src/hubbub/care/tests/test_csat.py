"""The satisfaction survey: sent once per resolved case, answered once without login, counted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client
from django.urls import reverse

from hubbub.accounts.models import User
from hubbub.accounts.tests.factories import Cast
from hubbub.care import case_links, csat, resolve, services
from hubbub.care.models import Activity, ActivityKind, Conversation, ConversationStatus, Survey
from hubbub.care.tests.factories import arrives
from hubbub.core.errors import Conflict, NotFound, ValidationFailed
from hubbub.core.models import EventRecord

pytestmark = pytest.mark.django_db


def case(cast: Cast, handle: str, *, team: Any = None, platform: str = "bluesky") -> Conversation:
    return arrives(
        cast, handle, 0, platform=platform, author_name="Tom Reyes", team=team or cast.care
    )


def sent(
    cast: Cast,
    handle: str,
    *,
    team: Any = None,
    platform: str = "bluesky",
    agent: User | None = None,
) -> Survey:
    """A case resolved with the survey: the survey the customer receives."""
    return csat.start_survey(case(cast, handle, team=team, platform=platform), agent=agent)


def token_of(survey: Survey) -> str:
    return csat.token_for(survey)


def stored(survey: Survey) -> tuple[int | None, str, bool]:
    survey.refresh_from_db()
    return survey.score, survey.comment, survey.answered_at is not None


class TestSending:
    def test_resolving_sends_one_survey_per_case_even_when_resolved_again(self, cast: Cast) -> None:
        conversation = case(cast, "tom.example")
        first = resolve.resolve_case(actor=cast.cara, conversation_id=conversation.pk)
        assert first.survey is not None
        assert (first.survey.team, first.survey.agent, first.survey.channel) == (
            cast.care,
            cast.cara,
            "bluesky",
        )
        services.change_status(
            actor=cast.cara, conversation_id=conversation.pk, status=ConversationStatus.OPEN
        )
        again = resolve.resolve_case(actor=cast.lee, conversation_id=conversation.pk)

        assert again.survey is not None
        assert again.survey.pk == first.survey.pk
        assert again.survey.agent == cast.cara  # unchanged
        assert Survey.objects.filter(conversation=conversation).count() == 1
        assert (
            Activity.objects.filter(
                conversation=conversation, kind=ActivityKind.SURVEY_SENT
            ).count()
            == 1
        )

    def test_email_and_chat_get_five_inline_choices_and_social_one_line(self, cast: Cast) -> None:
        survey = sent(cast, "tom.example", agent=cast.cara)
        link = csat.link_for(survey)
        assert link == f"{settings.HUBBUB_BASE_URL}/survey/{token_of(survey)}/"

        inline = csat.inline_choices_text(survey).splitlines()
        assert inline[0].startswith("How did we do? Tap a number")
        assert inline[1:] == [f"{score} {link}?score={score}" for score in range(1, 6)]
        assert csat.survey_line(survey) == f"How did we do? {link}"


class TestTheLink:
    def test_a_forged_or_altered_token_finds_nothing(self, cast: Cast) -> None:
        survey = sent(cast, "tom.example")
        other = case(cast, "ann.example")
        token = token_of(survey)
        assert csat.survey_for(token) == survey

        altered = token[:-1] + ("A" if token[-1] != "A" else "B")
        case_link = case_links.token_for(survey.conversation)  # signed, for another purpose
        wrong_case = signing.Signer(salt=csat.SALT).sign_object({"s": survey.pk, "c": other.pk})
        for bad in (altered, case_link, wrong_case, "nonsense", ""):
            with pytest.raises(NotFound):
                csat.survey_for(bad)
            with pytest.raises(NotFound):
                csat.answer_survey(token=bad, score=5)
        assert stored(survey) == (None, "", False)


class TestAnswering:
    def test_the_answer_is_stored_with_its_comment_and_announced(self, cast: Cast) -> None:
        survey = sent(cast, "tom.example", agent=cast.cara)

        answered = csat.answer_survey(token=token_of(survey), score="4", comment="  Quick fix  ")

        assert (answered.score, answered.comment) == (4, "Quick fix")
        assert stored(survey) == (4, "Quick fix", True)
        activity = Activity.objects.get(
            conversation=survey.conversation, kind=ActivityKind.SURVEY_ANSWERED
        )
        assert activity.actor is None
        assert activity.summary.startswith("The customer rated the service 4 out of 5")
        assert EventRecord.objects.filter(
            kind="conversation_changed",
            payload__what="survey",
            payload__conversation_id=survey.conversation_id,
        ).exists()

    def test_a_second_answer_is_refused_and_the_first_stays(self, cast: Cast) -> None:
        survey = sent(cast, "tom.example")
        csat.answer_survey(token=token_of(survey), score=2, comment="Slow")

        with pytest.raises(Conflict, match="You have answered already"):
            csat.answer_survey(token=token_of(survey), score=5, comment="Actually great")

        assert stored(survey) == (2, "Slow", True)
        assert (
            Activity.objects.filter(
                conversation=survey.conversation, kind=ActivityKind.SURVEY_ANSWERED
            ).count()
            == 1
        )

    @pytest.mark.parametrize("score", [0, 6, -1, "0", "6", "x", "", " ", "4.5", "٤", True, None])
    def test_a_score_outside_one_to_five_is_refused_with_nothing_stored(
        self, cast: Cast, score: Any
    ) -> None:
        survey = sent(cast, "tom.example")
        with pytest.raises(ValidationFailed, match="Choose a score from 1 to 5") as refused:
            csat.answer_survey(token=token_of(survey), score=score, comment="hello")
        assert refused.value.field == "score"
        assert stored(survey) == (None, "", False)

    def test_a_comment_over_2000_characters_is_refused_with_nothing_stored(
        self, cast: Cast
    ) -> None:
        survey = sent(cast, "tom.example")
        with pytest.raises(ValidationFailed, match="2,000 characters or fewer") as refused:
            csat.answer_survey(token=token_of(survey), score=5, comment="x" * 2001)
        assert refused.value.field == "comment"
        assert stored(survey) == (None, "", False)
        # Exactly 2,000 fits; surrounding spaces do not count.
        csat.answer_survey(token=token_of(survey), score=5, comment=f"  {'x' * 2000}\n")
        assert stored(survey) == (5, "x" * 2000, True)

    def test_hostile_text_is_kept_as_text_without_control_characters(self, cast: Cast) -> None:
        survey = sent(cast, "tom.example")
        csat.answer_survey(
            token=token_of(survey), score=1, comment="<script>alert(1)</script>\x00\nbad"
        )
        assert stored(survey) == (1, "<script>alert(1)</script>\nbad", True)


class TestSurveyPage:
    def url(self, survey: Survey) -> str:
        return reverse("care:survey", args=[token_of(survey)])

    def test_the_page_shows_brand_case_and_agent_and_a_get_records_nothing(
        self, cast: Cast
    ) -> None:
        survey = sent(cast, "tom.example", agent=cast.cara)
        page = Client().get(self.url(survey) + "?score=4")  # as a mail scanner would

        assert page.status_code == 200
        html = page.content.decode()
        assert "How did we do?" in html
        assert f"Brightwave · case #{survey.conversation_id}" in html
        assert "Cara looked after your case." in html
        assert "<legend>Your rating, from 1 (very poor) to 5 (excellent)</legend>" in html
        assert html.count('type="radio"') == 5
        assert "5 — </span>Excellent" in html
        assert 'value="4" required checked' in html
        assert 'value="5" required checked' not in html
        assert 'maxlength="2000"' in html
        assert stored(survey) == (None, "", False)
        assert not Activity.objects.filter(kind=ActivityKind.SURVEY_ANSWERED).exists()

    def test_the_customer_answers_once_and_a_second_post_is_refused(self, cast: Cast) -> None:
        survey = sent(cast, "tom.example")
        customer = Client()

        answered = customer.post(self.url(survey), {"score": "4", "comment": "Thanks"})
        assert answered.status_code == 302
        thanks = customer.get(self.url(survey))
        assert b"Thank you!" in thanks.content
        assert "4 — Good".encode() in thanks.content
        assert b"<textarea" not in thanks.content

        again = customer.post(self.url(survey), {"score": "1", "comment": "Changed my mind"})
        assert again.status_code == 409
        assert b"You have answered already" in again.content
        assert stored(survey) == (4, "Thanks", True)

    def test_a_refused_answer_says_why_and_keeps_what_was_typed(self, cast: Cast) -> None:
        survey = sent(cast, "tom.example")
        refused = Client().post(self.url(survey), {"score": "6", "comment": "Kept <b>text</b>"})

        assert refused.status_code == 422
        assert b"Choose a score from 1 to 5." in refused.content
        assert b">Kept &lt;b&gt;text&lt;/b&gt;</textarea>" in refused.content
        too_long = Client().post(self.url(survey), {"score": "3", "comment": "y" * 2001})
        assert too_long.status_code == 422
        assert b"2,000 characters or fewer" in too_long.content
        assert b'value="3" required checked' in too_long.content
        assert stored(survey) == (None, "", False)

    def test_an_invalid_link_is_a_calm_not_found_page(self, cast: Cast) -> None:
        page = Client().get(reverse("care:survey", args=["not-a-token"]))
        assert page.status_code == 404
        assert b"We cannot find this survey" in page.content
        assert Client().post(reverse("care:survey", args=["x:y"]), {"score": 5}).status_code == 404

    def test_the_form_carries_a_csrf_token(self, cast: Cast) -> None:
        survey = sent(cast, "tom.example")
        customer = Client(enforce_csrf_checks=True)
        assert customer.post(self.url(survey), {"score": "5"}).status_code == 403
        customer.get(self.url(survey))
        token = customer.cookies["csrftoken"].value
        answered = customer.post(self.url(survey), {"score": "5", "csrfmiddlewaretoken": token})
        assert answered.status_code == 302
        assert stored(survey) == (5, "", True)


class TestResults:
    def three_of_cara(self, cast: Cast) -> list[Survey]:
        """Three Bluesky cases of Cara's team: answered 5 and 2, one not answered."""
        surveys = [sent(cast, f"c{n}.example", agent=cast.cara) for n in range(3)]
        csat.answer_survey(token=token_of(surveys[0]), score=5, comment="Great")
        csat.answer_survey(token=token_of(surveys[1]), score=2)
        return surveys

    def test_figures_by_agent_team_and_channel(self, cast: Cast) -> None:
        self.three_of_cara(cast)
        on_mastodon = sent(cast, "dee.example", platform="mastodon", agent=cast.lee)
        csat.answer_survey(token=token_of(on_mastodon), score=4)

        results = csat.results(user=cast.lee)

        cara = next(row for row in results.by_agent if row.label == "Cara")
        assert (cara.sent, cara.answered, cara.average, cara.csat, cara.response_rate) == (
            3,
            2,
            3.5,
            50.0,
            66.7,
        )
        assert [(row.label, row.sent, row.answered) for row in results.by_agent] == [
            ("Cara", 3, 2),
            ("Lee", 1, 1),
        ]
        assert [(row.label, row.sent, row.average) for row in results.by_team] == [
            ("Care", 4, 3.67),
        ]
        assert [(row.label, row.csat) for row in results.by_channel] == [
            ("Bluesky", 50.0),
            ("Mastodon", 100.0),
        ]
        overall = results.overall
        assert (overall.sent, overall.answered, overall.response_rate, overall.csat) == (
            4,
            3,
            75.0,
            66.7,
        )
        assert [(comment.score, comment.text) for comment in results.comments] == [(5, "Great")]

    def test_nothing_answered_yet_has_no_average_and_no_rates_to_divide(self, cast: Cast) -> None:
        sent(cast, "tom.example")
        (row,) = csat.results(user=cast.lee).by_agent
        assert (row.label, row.sent, row.answered, row.average, row.csat) == (
            "No agent",
            1,
            0,
            None,
            None,
        )
        assert row.response_rate == 0.0

    def test_agents_see_their_teams_surveys_and_the_other_workspace_none(self, cast: Cast) -> None:
        self.three_of_cara(cast)
        sent(cast, "night.example", team=cast.nights, agent=cast.nico)

        assert csat.results(user=cast.cara).overall.sent == 3
        assert [row.label for row in csat.results(user=cast.nico).by_agent] == ["Nico"]
        assert csat.results(user=cast.bill).overall.sent == 0
        assert csat.results(user=cast.rita).overall.sent == 4
        elsewhere = csat.results(user=cast.otto)
        assert (elsewhere.overall.sent, elsewhere.by_agent, elsewhere.comments) == (0, (), ())

    def test_the_period_counts_surveys_sent_since(self, cast: Cast) -> None:
        old, recent = sent(cast, "old.example"), sent(cast, "new.example")
        Survey.objects.filter(pk=old.pk).update(sent_at=recent.sent_at - dt.timedelta(days=40))

        assert (
            csat.results(user=cast.lee, since=recent.sent_at - dt.timedelta(days=30)).overall.sent
            == 1
        )
        assert csat.results(user=cast.lee).overall.sent == 2

    def test_results_take_five_queries_however_many_surveys(
        self, cast: Cast, django_assert_num_queries: Any
    ) -> None:
        self.three_of_cara(cast)
        sent(cast, "night.example", team=cast.nights, agent=cast.nico)
        with django_assert_num_queries(5):
            csat.results(user=cast.cara)


class TestResultsPage:
    def test_the_page_shows_tables_and_escapes_customer_comments(self, cast: Cast) -> None:
        survey = sent(cast, "tom.example", agent=cast.cara)
        csat.answer_survey(token=token_of(survey), score=1, comment="<script>alert(1)</script>")
        client = Client()
        client.force_login(cast.lee)

        page = client.get(reverse("care:satisfaction") + "?period=7")

        assert page.status_code == 200
        html = page.content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script>alert(1)" not in html
        for heading in ("By agent", "By team", "By channel", "Latest comments"):
            assert heading in html
        assert 'href="?period=7" aria-current="page"' in html
        assert reverse("care:conversation", args=[survey.conversation_id]) in html

    def test_an_empty_state_when_nothing_was_sent_and_sign_in_is_needed(self, cast: Cast) -> None:
        sent(cast, "tom.example")
        client = Client()
        assert client.get(reverse("care:satisfaction")).status_code == 302
        client.force_login(cast.otto)
        page = client.get(reverse("care:satisfaction") + "?period=bogus")
        assert page.status_code == 200
        assert b"No surveys sent in this period" in page.content
        assert b"By agent" not in page.content
