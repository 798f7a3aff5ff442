"""An agent corrects a mention's label: stored, set, re-scored, published; or refused."""

from __future__ import annotations

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.care import services as care
from hubbub.core.errors import Forbidden, NotFound, ValidationFailed
from hubbub.core.models import EventRecord
from hubbub.intelligence.models import LabelCorrection
from hubbub.intelligence.services import correct_label
from hubbub.intelligence.tests.factories import MODEL_VERSION, reasons_of, scored_mention

pytestmark = pytest.mark.django_db


class TestCorrectLabel:
    def test_a_complaint_that_is_praise_loses_its_complaint_points_and_nothing_else(
        self, cast: Cast
    ) -> None:
        mention = scored_mention(
            workspace=cast.brightwave,
            sentiment=("negative", 0.8),
            intent=("complaint", 0.7),
            urgency_words=("outage",),
            followers=120,
            copies=7,
            earlier_contacts=2,
        )
        before, priority_before = reasons_of(mention), mention.priority
        assert before["complaint"] == (20.0, "Complaint")
        assert priority_before is not None

        correction = correct_label(
            user=cast.cara, mention_id=mention.pk, task="intent", label="praise"
        )

        assert correction is not None
        stored = LabelCorrection.objects.get()
        assert stored == correction
        assert (stored.workspace, stored.mention, stored.task) == (
            cast.brightwave,
            mention,
            "intent",
        )
        assert (stored.label_before, stored.label_after) == ("complaint", "praise")
        assert (stored.model_version, stored.corrected_by) == (MODEL_VERSION, cast.cara)
        after = reasons_of(mention)
        assert (mention.intent, mention.intent_confidence) == ("praise", 1.0)
        assert mention.priority == pytest.approx(priority_before - 20.0)
        assert "complaint" not in after
        # The spread, the repeated contact, reach, urgency and sentiment stay as scored.
        assert after == {factor: value for factor, value in before.items() if factor != "complaint"}
        assert after["spreading"] == (10.0, "Spreading (7 copies)")
        assert after["repeated contact"][1] == "Repeated contact (2 earlier posts in 48 h)"

    def test_a_label_set_by_an_agent_is_credited_in_why_is_this_high(self, cast: Cast) -> None:
        mention = scored_mention(
            workspace=cast.brightwave, sentiment=("neutral", 0.6), intent=("other", 0.4)
        )
        assert mention.priority == 20.0

        correct_label(user=cast.cara, mention_id=mention.pk, task="sentiment", label="negative")
        correct_label(user=cast.lee, mention_id=mention.pk, task="intent", label="complaint")

        reasons = reasons_of(mention)
        assert reasons["negative"] == (25.0, "Negative (corrected by Cara)")
        assert reasons["complaint"] == (20.0, "Complaint (corrected by Lee)")
        assert (mention.sentiment, mention.sentiment_confidence) == ("negative", 1.0)
        assert mention.priority == 65.0

    def test_the_latest_correction_wins_and_the_history_is_kept(self, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave, intent=("complaint", 0.7))
        correct_label(user=cast.cara, mention_id=mention.pk, task="intent", label="question")
        correct_label(user=cast.lee, mention_id=mention.pk, task="intent", label="feedback")
        rows = list(
            LabelCorrection.objects.filter(mention=mention).values_list(
                "label_before", "label_after", "corrected_by__email"
            )
        )
        assert rows == [  # newest first
            ("question", "feedback", cast.lee.email),
            ("complaint", "question", cast.cara.email),
        ]
        mention.refresh_from_db()
        assert mention.intent == "feedback"
        assert "question" not in reasons_of(mention)

    def test_the_same_label_again_changes_nothing(self, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave, sentiment=("negative", 0.8))
        before = reasons_of(mention)
        assert (
            correct_label(user=cast.cara, mention_id=mention.pk, task="sentiment", label="negative")
            is None
        )
        assert not LabelCorrection.objects.exists()
        assert not EventRecord.objects.filter(kind="label_corrected").exists()
        assert reasons_of(mention) == before
        assert mention.sentiment_confidence == 0.8

    def test_the_change_is_published_to_the_mention_s_team(self, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave, team=cast.care)
        correct_label(user=cast.cara, mention_id=mention.pk, task="sentiment", label="positive")
        event = EventRecord.objects.get(kind="label_corrected")
        mention.refresh_from_db()
        assert event.payload == {
            "mention_id": mention.pk,
            "task": "sentiment",
            "label": "positive",
            "priority": mention.priority,
        }
        assert (event.workspace_id, event.team_ids) == (cast.brightwave.pk, f",{cast.care.pk},")

    def test_the_conversation_the_mention_is_on_takes_its_new_priority(self, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave, intent=("complaint", 0.7))
        conversation = care.open_conversation(actor=cast.cara, mention_id=mention.pk).conversation
        assert conversation.priority == mention.priority
        correct_label(user=cast.cara, mention_id=mention.pk, task="intent", label="praise")
        conversation.refresh_from_db()
        mention.refresh_from_db()
        assert conversation.priority == mention.priority


class TestRefusals:
    @pytest.mark.parametrize(
        ("task", "label", "code", "message"),
        [
            ("urgency", "high", "task_invalid", "Only a mention's sentiment or intent"),
            ("sentiment", "furious", "label_invalid", "negative, neutral or positive"),
            ("intent", "Complaint", "label_invalid", "praise, feedback or other"),
            ("intent", "", "label_invalid", "Intent is one of complaint"),
        ],
    )
    def test_only_known_tasks_and_labels(
        self, cast: Cast, task: str, label: str, code: str, message: str
    ) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        with pytest.raises(ValidationFailed) as raised:
            correct_label(user=cast.cara, mention_id=mention.pk, task=task, label=label)
        assert raised.value.code == code
        assert message in raised.value.message
        assert not LabelCorrection.objects.exists()

    def test_read_only_members_may_not_correct(self, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        with pytest.raises(Forbidden):
            correct_label(user=cast.rita, mention_id=mention.pk, task="intent", label="praise")
        assert not LabelCorrection.objects.exists()

    def test_a_mention_of_another_team_or_workspace_is_not_found(self, cast: Cast) -> None:
        for_nights = scored_mention(workspace=cast.brightwave, team=cast.nights)
        with pytest.raises(NotFound):
            correct_label(user=cast.cara, mention_id=for_nights.pk, task="intent", label="praise")
        with pytest.raises(NotFound):
            correct_label(user=cast.otto, mention_id=for_nights.pk, task="intent", label="praise")
        assert not LabelCorrection.objects.exists()
        # Nico is on Nights; leads see every team.
        assert correct_label(
            user=cast.nico, mention_id=for_nights.pk, task="intent", label="praise"
        )
        assert correct_label(user=cast.lee, mention_id=for_nights.pk, task="intent", label="other")
