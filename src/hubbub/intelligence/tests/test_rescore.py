"""Re-scoring reads back what the pipeline stored: unchanged labels give the same priority."""

from __future__ import annotations

import datetime as dt

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.intelligence.rescore import rescore
from hubbub.intelligence.tests.factories import scored_mention
from hubbub.listening import services
from hubbub.listening.models import Mention, QueryKind, Source, SourceKind
from hubbub.listening.pipeline.process import PipelineState, process_pending
from hubbub.listening.types import RawPost

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def stored_priority(mention: Mention) -> tuple[float | None, list[dict[str, object]]]:
    return mention.priority, list(mention.priority_reasons)


def rescored(mention: Mention) -> tuple[float | None, list[dict[str, object]]]:
    result = rescore(mention, corrected_by={})
    return result.score, [reason.as_json() for reason in result.reasons]


def test_a_mention_the_pipeline_scored_rescores_to_the_same_priority(cast: Cast) -> None:
    """Copies in the batch, the author's earlier posts, reach and urgency words all come back."""
    source = Source.objects.create(
        workspace=cast.brightwave, name="Bluesky", kind=SourceKind.BLUESKY
    )
    services.save_query(actor=cast.lee, name="Brand", kind=QueryKind.BRAND, expression="brightwave")
    text = "Brightwave is down again and there is smoke from the router. Cancelling."

    def post(external_id: str, minutes: int, body: str = text, **extra: object) -> RawPost:
        return RawPost(
            workspace_id=cast.brightwave.pk,
            source_id=source.pk,
            platform="bluesky",
            external_id=external_id,
            text=body,
            posted_at=NOW + dt.timedelta(minutes=minutes),
            **extra,  # type: ignore[arg-type]
        )

    earlier = [
        post(f"e{n}", n, f"brightwave still broken {n}", author_handle="tom") for n in (1, 2)
    ]
    original = post("tom-1", 10, author_handle="tom", author_followers=2500)
    copies = [post(f"rt{n}", 11 + n, f"RT @tom: {text}") for n in range(7)]
    services.accept_posts(source_id=source.pk, cursor="1", posts=[*earlier, original, *copies])
    process_pending(state=PipelineState())

    mention = Mention.objects.get(external_id="tom-1")
    factors = {reason["factor"] for reason in mention.priority_reasons}
    assert {"repeated contact", "spreading", "influential author", "safety"} <= factors
    assert rescored(mention) == stored_priority(mention)


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"sentiment": ("positive", 0.9), "intent": ("praise", 0.7)},
        {"intent": ("question", 0.65), "followers": 12, "copies": 1},
        {"urgency_words": ("legal", "cancellation"), "followers": 1_250_000, "copies": 40},
        {"earlier_contacts": 9, "urgency_words": ("safety", "legal", "outage")},
    ],
)
def test_unchanged_labels_give_the_stored_priority(cast: Cast, labels: dict[str, object]) -> None:
    mention = scored_mention(workspace=cast.brightwave, **labels)
    assert rescored(mention) == stored_priority(mention)


def test_a_mention_scored_before_reasons_were_stored_is_scored_from_its_fields(
    cast: Cast,
) -> None:
    mention = scored_mention(workspace=cast.brightwave, urgency_words=("outage",))
    for stored in ("not a list", [{"factor": "spreading"}, "junk", {"points": 3}]):
        mention.priority_reasons = stored
        # The urgency words were only in the reasons: the urgency counts, unnamed words do not.
        assert rescored(mention) == (
            60.0,
            [
                {"factor": "negative", "points": 20.0, "label": "Negative (80% sure)"},
                {"factor": "complaint", "points": 20.0, "label": "Complaint"},
            ],
        )
