"""Accepting a batch stores it with its cursor; processing turns matches into mentions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from hubbub.accounts.tests.factories import Cast
from hubbub.core.errors import ValidationFailed
from hubbub.core.models import EventRecord
from hubbub.listening import services
from hubbub.listening.models import (
    InboundPost,
    Mention,
    QueryKind,
    RoutingRule,
    Source,
    SourceKind,
)
from hubbub.listening.pipeline.process import PipelineState, process_pending
from hubbub.listening.types import RawPost, raw_post_from_json

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def raw(source: Source, external_id: str, text: str, minutes: int = 0, **extra: object) -> RawPost:
    return RawPost(
        workspace_id=source.workspace_id,
        source_id=source.pk,
        platform="bluesky",
        external_id=external_id,
        text=text,
        posted_at=NOW + dt.timedelta(minutes=minutes),
        **extra,
    )  # type: ignore[arg-type]


@pytest.fixture
def source(cast: Cast) -> Source:
    return Source.objects.create(workspace=cast.brightwave, name="Bluesky", kind=SourceKind.BLUESKY)


class TestAccept:
    def test_a_batch_and_its_cursor_are_stored_together(self, source: Source) -> None:
        result = services.accept_posts(
            source_id=source.pk,
            cursor="cursor-2",
            posts=[
                raw(source, "a", "first"),
                raw(source, "b", "second"),
                raw(source, "a", "first again"),
            ],
        )
        assert (result.new, result.repeated) == (2, 1)
        source.refresh_from_db()
        assert (source.cursor, source.accepted_count) == ("cursor-2", 2)
        again = services.accept_posts(
            source_id=source.pk, cursor="cursor-3", posts=[raw(source, "b", "second")]
        )
        assert (again.new, again.repeated) == (0, 1)
        assert InboundPost.objects.count() == 2

    def test_a_post_from_the_future_is_kept_with_its_arrival_time_and_counted(
        self, source: Source
    ) -> None:
        ahead = timezone.now() + dt.timedelta(days=1)
        services.accept_posts(
            source_id=source.pk,
            cursor="2",
            posts=[raw(source, "earlier", "brightwave"), raw(source, "ok", "fine")],
        )
        services.accept_posts(
            source_id=source.pk,
            cursor="3",
            posts=[
                RawPost(
                    workspace_id=source.workspace_id,
                    source_id=source.pk,
                    platform="bluesky",
                    external_id="tomorrow",
                    text="posted tomorrow",
                    posted_at=ahead,
                )
            ],
        )
        stored = raw_post_from_json(InboundPost.objects.get(external_id="tomorrow").post)
        assert stored.posted_at < ahead - dt.timedelta(hours=23)
        source.refresh_from_db()
        assert source.error_count == 1
        assert "future" in source.last_error
        assert InboundPost.objects.count() == 3

    def test_a_bad_batch_stores_neither_posts_nor_cursor(self, cast: Cast, source: Source) -> None:
        foreign = RawPost(
            workspace_id=cast.elsewhere.pk,
            source_id=source.pk,
            platform="bluesky",
            external_id="x",
            text="x",
            posted_at=NOW,
        )
        with pytest.raises(ValidationFailed):
            services.accept_posts(
                source_id=source.pk, cursor="moved", posts=[raw(source, "ok", "fine"), foreign]
            )
        source.refresh_from_db()
        assert source.cursor == ""
        assert not InboundPost.objects.exists()


class TestProcess:
    def test_matched_posts_become_mentions_with_their_queries(
        self, cast: Cast, source: Source
    ) -> None:
        brand = services.save_query(
            actor=cast.lee,
            name="Brand",
            kind=QueryKind.BRAND,
            expression="brightwave OR @brightwave",
        )
        outage = services.save_query(
            actor=cast.lee,
            name="Outage",
            kind=QueryKind.PRODUCT,
            expression="brightwave (down OR outage)",
        )
        news = "Brightwave is down in Leeds again, no updates at all from anyone"
        services.accept_posts(
            source_id=source.pk,
            cursor="1",
            posts=[
                raw(source, "1", news, author_handle="maya.example", lang="en"),
                raw(source, "2", "Nice weather today"),
                raw(source, "3", f"RT @maya: {news}", minutes=1),
                raw(source, "4", "@Brightwave thanks for the quick fix!", minutes=2),
            ],
        )
        result = process_pending(state=PipelineState())
        assert (result.inbound, result.mentions) == (4, 3)
        mentions = {m.external_id: m for m in Mention.objects.prefetch_related("queries")}
        assert set(mentions) == {"1", "3", "4"}
        assert {q.pk for q in mentions["1"].queries.all()} == {brand.pk, outage.pk}
        assert {q.pk for q in mentions["4"].queries.all()} == {brand.pk}
        assert mentions["3"].duplicate_of == mentions["1"]
        assert mentions["1"].author_handle == "maya.example"
        assert not InboundPost.objects.filter(processed_at__isnull=True).exists()
        arrived = EventRecord.objects.get(kind="mentions_arrived")
        assert arrived.payload["count"] == 3

    def test_processing_again_changes_nothing(self, cast: Cast, source: Source) -> None:
        services.save_query(
            actor=cast.lee, name="Brand", kind=QueryKind.BRAND, expression="brightwave"
        )
        services.accept_posts(
            source_id=source.pk, cursor="1", posts=[raw(source, "1", "brightwave!")]
        )
        state = PipelineState()
        process_pending(state=state)
        InboundPost.objects.update(processed_at=None)  # as if the commit was lost after storing
        process_pending(state=state)
        process_pending(state=PipelineState())
        assert Mention.objects.count() == 1

    def test_a_changed_query_is_used_for_the_next_batch(self, cast: Cast, source: Source) -> None:
        query = services.save_query(
            actor=cast.lee, name="Q", kind=QueryKind.BRAND, expression="router"
        )
        state = PipelineState()
        services.accept_posts(
            source_id=source.pk, cursor="1", posts=[raw(source, "1", "modem died")]
        )
        process_pending(state=state)
        services.save_query(
            actor=cast.lee, name="Q", kind=QueryKind.BRAND, expression="modem", query_id=query.pk
        )
        services.accept_posts(
            source_id=source.pk, cursor="2", posts=[raw(source, "2", "modem died again")]
        )
        process_pending(state=state)
        assert list(Mention.objects.values_list("external_id", flat=True)) == ["2"]

    def test_hostile_posts_are_stored_safely(self, cast: Cast, source: Source) -> None:
        services.save_query(actor=cast.lee, name="Q", kind=QueryKind.BRAND, expression="brightwave")
        services.accept_posts(
            source_id=source.pk,
            cursor="1",
            posts=[
                raw(
                    source,
                    "1",
                    "brightwave <script>alert(1)</script>",
                    html='<p>brightwave <img src=x onerror="alert(1)"></p>',
                ),
                raw(source, "2", "brightwave " + "😀" * 60_000),
            ],
        )
        process_pending(state=PipelineState())
        first = Mention.objects.get(external_id="1")
        assert "onerror" not in first.html
        assert len(Mention.objects.get(external_id="2").text) <= 40_000


class TestTriageRoutingAndThreads:
    def test_mentions_are_labelled_scored_routed_and_threaded(
        self, cast: Cast, source: Source
    ) -> None:
        services.save_query(
            actor=cast.lee,
            name="Care's",
            kind=QueryKind.BRAND,
            expression="brightwave",
            owner_team_id=cast.care.pk,
        )
        services.accept_posts(
            source_id=source.pk,
            cursor="1",
            posts=[
                raw(
                    source,
                    "1",
                    "Brightwave outage again, worst service, I am cancelling",
                    author_followers=20_000,
                ),
            ],
        )
        process_pending(state=PipelineState())
        services.accept_posts(
            source_id=source.pk,
            cursor="2",
            posts=[
                raw(
                    source,
                    "2",
                    "@fan same here, brightwave is useless",
                    reply_to_external_id="1",
                    minutes=3,
                ),
                raw(
                    source, "3", "brightwave fixed it, thanks", reply_to_external_id="2", minutes=5
                ),
            ],
        )
        process_pending(state=PipelineState())
        first, reply, second_reply = (Mention.objects.get(external_id=i) for i in "123")
        assert (first.sentiment, first.intent, first.team) == ("negative", "complaint", cast.care)
        assert first.priority is not None
        assert first.priority > 70
        # Every model that labelled it is named, in order: sentiment (the linear model, and
        # the encoder for the posts it is unsure of), intent, language, lexicon.
        assert first.model_version == (
            "sentiment-linear-1<0.6>sentiment-minilm-1+intent-stacked-1"
            "+fasttext-lid176-ftz+clean-1+lexicon-baseline-1"
        )
        assert (reply.thread_root_external_id, second_reply.thread_root_external_id) == ("1", "1")
        assert second_reply.priority is not None
        assert second_reply.priority < first.priority

    def test_an_author_who_keeps_posting_rises_with_each_post_in_48_hours(
        self, cast: Cast, source: Source
    ) -> None:
        services.save_query(actor=cast.lee, name="Q", kind=QueryKind.BRAND, expression="brightwave")
        chaser = {"author_handle": "sam"}
        services.accept_posts(
            source_id=source.pk,
            cursor="1",
            posts=[
                raw(source, "old", "brightwave router again", minutes=-3 * 24 * 60, **chaser),
                raw(source, "1", "brightwave router is down", **chaser),
            ],
        )
        process_pending(state=PipelineState())
        services.accept_posts(
            source_id=source.pk,
            cursor="2",
            posts=[
                raw(source, "2", "brightwave router still down", minutes=60, **chaser),
                raw(source, "3", "brightwave router still down!!", minutes=90, **chaser),
                raw(source, "other", "brightwave router still down", minutes=90),
            ],
        )
        process_pending(state=PipelineState())
        process_pending(state=PipelineState())  # nothing left: counts stay as they were

        def contact(external_id: str) -> list[object]:
            mention = Mention.objects.get(external_id=external_id)
            return [
                (r["points"], r["label"])
                for r in mention.priority_reasons
                if r["factor"] == "repeated contact"
            ]

        assert contact("old") == contact("1") == []  # three days apart: not repeated
        assert contact("2") == [(5.0, "Repeated contact (1 earlier post in 48 h)")]
        assert contact("3") == [(10.0, "Repeated contact (2 earlier posts in 48 h)")]
        assert contact("other") == []  # another author, same words

    def test_routing_rules_come_before_query_ownership(self, cast: Cast, source: Source) -> None:
        services.save_query(
            actor=cast.lee,
            name="Care's",
            kind=QueryKind.BRAND,
            expression="brightwave",
            owner_team_id=cast.care.pk,
        )
        RoutingRule.objects.create(
            workspace=cast.brightwave, name="French to nights", lang="fr", team=cast.nights
        )
        services.accept_posts(
            source_id=source.pk,
            cursor="2",
            posts=[
                raw(source, "fr", "brightwave ne marche plus", lang="fr-FR"),
                raw(source, "en", "brightwave stopped working", lang="en"),
            ],
        )
        state = PipelineState()
        process_pending(state=state)
        assert Mention.objects.get(external_id="fr").team == cast.nights
        assert Mention.objects.get(external_id="en").team == cast.care  # no rule: the owner
        # A new rule is seen by the next batch of the same runner.
        RoutingRule.objects.create(
            workspace=cast.brightwave, name="Complaints", intent="complaint", team=cast.billing
        )
        services.accept_posts(
            source_id=source.pk,
            cursor="3",
            posts=[raw(source, "late", "brightwave outage, worst service, refund me", lang="en")],
        )
        process_pending(state=state)
        late = Mention.objects.get(external_id="late")
        assert late.team == cast.billing
        assert {"negative", "complaint"} <= {r["factor"] for r in late.priority_reasons}


class TestSourceLeases:
    def test_one_listener_at_a_time_follows_a_source(self, source: Source) -> None:
        assert services.take_source_lease(source_id=source.pk, holder="a")
        assert services.take_source_lease(source_id=source.pk, holder="a")  # renewal
        assert not services.take_source_lease(source_id=source.pk, holder="b")
        services.release_source_lease(source_id=source.pk, holder="b")  # not b's to release
        assert not services.take_source_lease(source_id=source.pk, holder="b")
        services.release_source_lease(source_id=source.pk, holder="a")
        assert services.take_source_lease(source_id=source.pk, holder="b")

    def test_an_expired_lease_can_be_taken_over(self, source: Source) -> None:
        services.take_source_lease(
            source_id=source.pk, holder="a", duration=dt.timedelta(seconds=-1)
        )
        assert services.take_source_lease(source_id=source.pk, holder="b")
        source.refresh_from_db()
        assert source.leased_by == "b"


def test_a_batch_costs_the_same_queries_however_many_posts_it_holds(
    cast: Cast, source: Source, django_assert_max_num_queries: object
) -> None:
    services.save_query(actor=cast.lee, name="Q", kind=QueryKind.BRAND, expression="brightwave")
    state = PipelineState()
    services.accept_posts(
        source_id=source.pk, cursor="1", posts=[raw(source, "warm", "brightwave warm-up")]
    )
    process_pending(state=state)
    services.accept_posts(
        source_id=source.pk,
        cursor="2",
        posts=[raw(source, str(n), f"brightwave post number {n}", minutes=n) for n in range(60)],
    )
    with django_assert_max_num_queries(15):  # type: ignore[operator]
        process_pending(state=state)
    assert Mention.objects.count() == 61


class TestWordFrequencies:
    def test_queries_are_indexed_under_the_words_rarest_in_recent_posts(
        self, cast: Cast, source: Source
    ) -> None:
        services.save_query(
            actor=cast.lee, name="Both", kind=QueryKind.BRAND, expression="wifi AND brightwave"
        )
        state = PipelineState()
        (before,) = state.matcher_for(cast.brightwave.pk).queries
        # No posts yet: the longer word is taken for the rarer one.
        assert before.required.terms == {"brightwave"}

        posts = [raw(source, f"w{n}", f"the brightwave hub number {n}") for n in range(150)]
        posts.append(raw(source, "rare", "wifi is fine"))
        services.accept_posts(source_id=source.pk, posts=posts, cursor="151")
        (after,) = PipelineState().matcher_for(cast.brightwave.pk).queries
        # Recent posts say "brightwave" is everywhere and "wifi" is rare.
        assert after.required.terms == {"wifi"}


def test_processed_inbound_posts_are_pruned_after_a_week_and_their_mentions_stay(
    cast: Cast, source: Source
) -> None:
    services.save_query(actor=cast.lee, name="Brand", kind=QueryKind.BRAND, expression="brightwave")
    services.accept_posts(
        source_id=source.pk,
        cursor="3",
        posts=[raw(source, "old", "brightwave old"), raw(source, "new", "brightwave new")],
    )
    process_pending(state=PipelineState())
    services.accept_posts(source_id=source.pk, cursor="4", posts=[raw(source, "waiting", "x")])
    InboundPost.objects.filter(external_id="old").update(
        processed_at=timezone.now() - dt.timedelta(days=8)
    )
    assert services.prune_inbound() == 1
    assert set(InboundPost.objects.values_list("external_id", flat=True)) == {"new", "waiting"}
    assert Mention.objects.filter(external_id="old").exists()
    # Delivered again later, it is accepted and processed without a second mention.
    services.accept_posts(
        source_id=source.pk, cursor="5", posts=[raw(source, "old", "brightwave old")]
    )
    process_pending(state=PipelineState())
    assert Mention.objects.filter(external_id="old").count() == 1


def test_a_team_deleted_while_the_runner_holds_its_queries_does_not_lose_the_batch(
    cast: Cast, source: Source
) -> None:
    services.save_query(
        actor=cast.lee,
        name="Nights'",
        kind=QueryKind.BRAND,
        expression="brightwave",
        owner_team_id=cast.nights.pk,
    )
    state = PipelineState()
    services.accept_posts(source_id=source.pk, cursor="1", posts=[raw(source, "a", "brightwave")])
    process_pending(state=state)  # the runner now knows the query belongs to Nights
    cast.nights.delete()
    services.accept_posts(source_id=source.pk, cursor="2", posts=[raw(source, "b", "brightwave")])
    assert process_pending(state=state).mentions == 1
    assert Mention.objects.get(external_id="b").team is None
    assert not InboundPost.objects.filter(processed_at__isnull=True).exists()
