"""Reading corrections back: the newest label per mention for training, the history for people."""

from __future__ import annotations

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.core.errors import NotFound
from hubbub.intelligence import selectors
from hubbub.intelligence.services import correct_label
from hubbub.intelligence.tests.factories import MODEL_VERSION, scored_mention

pytestmark = pytest.mark.django_db


class TestCorrectionsForTraining:
    def test_the_newest_label_of_each_corrected_mention_across_workspaces(self, cast: Cast) -> None:
        changed_twice = scored_mention(workspace=cast.brightwave, text="Router died. Again.")
        changed_once = scored_mention(workspace=cast.elsewhere, text="Their app is lovely")
        only_intent = scored_mention(workspace=cast.brightwave, text="How do I reset it?")
        scored_mention(workspace=cast.brightwave, text="never corrected")
        correct_label(
            user=cast.cara, mention_id=changed_twice.pk, task="sentiment", label="neutral"
        )
        correct_label(
            user=cast.lee, mention_id=changed_twice.pk, task="sentiment", label="negative"
        )
        # Back to the model's own label: that is what the agents say it is now.
        correct_label(
            user=cast.otto, mention_id=changed_once.pk, task="sentiment", label="positive"
        )
        correct_label(user=cast.cara, mention_id=only_intent.pk, task="intent", label="question")

        assert selectors.corrections_for_training("sentiment") == [
            ("Router died. Again.", "negative"),
            ("Their app is lovely", "positive"),
        ]
        assert selectors.corrections_for_training("intent") == [("How do I reset it?", "question")]
        assert selectors.corrections_for_training("complaint") == []


class TestCorrectionsOfMention:
    def test_newest_first_with_who_and_which_model(self, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave, intent=("complaint", 0.7))
        correct_label(user=cast.cara, mention_id=mention.pk, task="intent", label="question")
        correct_label(user=cast.lee, mention_id=mention.pk, task="sentiment", label="neutral")
        history = selectors.corrections_of_mention(user=cast.cara, mention_id=mention.pk)
        assert [(c.task, c.label_before, c.label_after, c.corrected_by) for c in history] == [
            ("sentiment", "negative", "neutral", "Lee"),
            ("intent", "complaint", "question", "Cara"),
        ]
        assert {c.model_version for c in history} == {MODEL_VERSION}

    def test_a_mention_the_reader_may_not_see_is_not_found(self, cast: Cast) -> None:
        for_nights = scored_mention(workspace=cast.brightwave, team=cast.nights)
        with pytest.raises(NotFound):
            selectors.corrections_of_mention(user=cast.cara, mention_id=for_nights.pk)
        with pytest.raises(NotFound):
            selectors.corrections_of_mention(user=cast.otto, mention_id=for_nights.pk)
        assert selectors.corrections_of_mention(user=cast.nico, mention_id=for_nights.pk) == []


class TestMentionLabels:
    def test_what_the_model_said_and_who_corrected_it(self, cast: Cast) -> None:
        mention = scored_mention(
            workspace=cast.brightwave, sentiment=("negative", 0.8), intent=("complaint", 0.7)
        )
        correct_label(user=cast.cara, mention_id=mention.pk, task="intent", label="question")
        correct_label(user=cast.lee, mention_id=mention.pk, task="intent", label="feedback")
        mention.refresh_from_db()
        sentiment, intent = selectors.mention_labels(mention=mention)
        assert (sentiment.task, sentiment.label, sentiment.confidence) == (
            "sentiment",
            "negative",
            0.8,
        )
        assert (sentiment.correction, sentiment.model_label) == (None, "")
        assert sentiment.model_version == "sentiment-linear-1"  # its part of MODEL_VERSION
        assert sentiment.choices == ("negative", "neutral", "positive")
        assert (intent.label, intent.confidence, intent.model_label) == (
            "feedback",
            1.0,
            "complaint",
        )
        assert intent.correction is not None
        assert intent.correction.corrected_by == "Lee"
        assert intent.model_version == "intent-stacked-1"

    def test_a_deleted_agent_is_a_former_member(self, cast: Cast) -> None:
        mention = scored_mention(workspace=cast.brightwave)
        correct_label(user=cast.nico, mention_id=mention.pk, task="intent", label="other")
        cast.nico.delete()
        mention.refresh_from_db()
        _, intent = selectors.mention_labels(mention=mention)
        assert intent.correction is not None
        assert intent.correction.corrected_by == "a former member"
        assert selectors.correctors_in_force(mention=mention) == {"intent": "a former member"}
