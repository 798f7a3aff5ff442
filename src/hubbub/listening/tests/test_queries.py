"""Saved queries: who may write them, how they are checked, what the preview shows."""

from __future__ import annotations

import pytest
from django.test import Client

from hubbub.accounts.tests.factories import Cast
from hubbub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hubbub.core.models import EventRecord
from hubbub.listening import selectors, services
from hubbub.listening.models import Query, QueryKind
from hubbub.listening.query import parse
from hubbub.listening.tests.factories import MentionFactory, QueryFactory


def sign_in(client: Client, user: object) -> None:
    client.force_login(user, backend="hubbub.accounts.backends.AccountBackend")  # type: ignore[arg-type]


class TestServices:
    def test_a_lead_saves_a_query_and_matchers_are_told(self, cast: Cast) -> None:
        query = services.save_query(
            actor=cast.lee,
            name="Brand",
            kind=QueryKind.BRAND,
            expression="brightwave OR @brightwave",
            owner_team_id=cast.care.pk,
        )
        assert (query.workspace, query.owner_team) == (cast.brightwave, cast.care)
        assert EventRecord.objects.filter(
            kind="queries_changed", payload={"query_id": query.pk}
        ).exists()

    def test_an_invalid_query_is_refused_with_its_position(self, cast: Cast) -> None:
        with pytest.raises(ValidationFailed) as error:
            services.save_query(
                actor=cast.lee, name="Bad", kind=QueryKind.BRAND, expression="refund OR"
            )
        assert error.value.code == "query_invalid"
        assert error.value.details == {"position": 9}
        assert not Query.objects.exists()

    def test_agents_cannot_write_queries(self, cast: Cast) -> None:
        with pytest.raises(Forbidden):
            services.save_query(actor=cast.cara, name="Mine", kind=QueryKind.BRAND, expression="x")

    def test_names_are_unique_per_workspace_and_teams_must_be_ours(self, cast: Cast) -> None:
        services.save_query(actor=cast.lee, name="Brand", kind=QueryKind.BRAND, expression="a")
        with pytest.raises(Conflict):
            services.save_query(actor=cast.lee, name="BRAND", kind=QueryKind.BRAND, expression="b")
        with pytest.raises(NotFound):
            services.save_query(
                actor=cast.lee,
                name="Other",
                kind=QueryKind.BRAND,
                expression="b",
                owner_team_id=cast.elsewhere_team.pk,
            )

    def test_agents_see_their_teams_queries_and_unowned_ones(self, cast: Cast) -> None:
        QueryFactory(workspace=cast.brightwave, name="Care's", owner_team=cast.care)
        QueryFactory(workspace=cast.brightwave, name="Nights'", owner_team=cast.nights)
        QueryFactory(workspace=cast.brightwave, name="Everyone's")
        QueryFactory(workspace=cast.elsewhere, name="Theirs")
        names = {q.name for q in selectors.visible_queries(user=cast.cara)}
        assert names == {"Care's", "Everyone's"}
        assert {q.name for q in selectors.visible_queries(user=cast.lee)} == {
            "Care's",
            "Nights'",
            "Everyone's",
        }

    def test_the_preview_matches_stored_mentions_of_the_workspace_only(self, cast: Cast) -> None:
        MentionFactory(workspace=cast.brightwave, text="My Brightwave router died")
        MentionFactory(workspace=cast.brightwave, text="Lovely weather")
        MentionFactory(workspace=cast.elsewhere, text="brightwave router at the other brand")
        preview = selectors.preview_matches(user=cast.lee, query=parse("brightwave router*"))
        assert (preview.scanned, preview.match_count) == (2, 1)
        assert preview.matched[0].text == "My Brightwave router died"


class TestPages:
    def test_the_editor_checks_as_you_type(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.lee)
        bad = client.post(
            "/listening/queries/check/",
            {"expression": "brightwave AND (outage"},
            HTTP_HX_REQUEST="true",
        ).content.decode()
        assert "never closed" in bad
        assert "brightwave AND (outage\n               ^" in bad
        good = client.post(
            "/listening/queries/check/",
            {"expression": "Brightwave  outage"},
            HTTP_HX_REQUEST="true",
        ).content.decode()
        assert "brightwave AND outage" in good
        assert "No mentions are stored yet" in good

    def test_a_lead_creates_a_query_from_the_editor(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.lee)
        response = client.post(
            "/listening/queries/new/",
            {
                "name": "Outages",
                "kind": "brand",
                "expression": "brightwave (outage OR down)",
                "owner_team": cast.care.pk,
                "enabled": "on",
            },
        )
        assert response.status_code == 302
        query = Query.objects.get(name="Outages")
        assert (query.owner_team, query.enabled) == (cast.care, True)
        assert (
            f'href="/listening/queries/{query.pk}/"'
            in client.get("/listening/queries/").content.decode()
        )

    def test_an_invalid_query_stays_in_the_form_with_its_error(
        self, client: Client, cast: Cast
    ) -> None:
        sign_in(client, cast.lee)
        response = client.post(
            "/listening/queries/new/", {"name": "x", "kind": "brand", "expression": "NOT spam"}
        )
        assert response.status_code == 200
        assert "only excludes" in response.content.decode()
        assert "NOT spam" in response.content.decode()

    def test_another_workspaces_query_is_not_found(self, client: Client, cast: Cast) -> None:
        theirs = QueryFactory(workspace=cast.elsewhere)
        sign_in(client, cast.ada)
        assert client.get(f"/listening/queries/{theirs.pk}/").status_code == 404

    def test_query_text_is_escaped(self, client: Client, cast: Cast) -> None:
        QueryFactory(
            workspace=cast.brightwave, name="<script>x</script>", expression='"<img src=x>"'
        )
        sign_in(client, cast.lee)
        page = client.get("/listening/queries/").content.decode()
        assert "<script>x" not in page
        assert "&lt;script&gt;" in page


class TestApi:
    def test_check_create_and_scope(self, client: Client, cast: Cast) -> None:
        from hubbub.accounts import services as accounts

        _, raw = accounts.create_api_token(actor=cast.lee, name="t")
        headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
        check = client.post(
            "/api/v1/listening/queries/check",
            {"expression": "(refund"},
            content_type="application/json",
            **headers,
        )
        assert check.status_code == 422
        assert check.json()["error"]["details"] == {"position": 0}
        created = client.post(
            "/api/v1/listening/queries",
            {"name": "Refunds", "expression": "refund*"},
            content_type="application/json",
            **headers,
        )
        assert created.status_code == 201
        theirs = QueryFactory(workspace=cast.elsewhere)
        assert client.get(f"/api/v1/listening/queries/{theirs.pk}", **headers).status_code == 404


class TestMentionsPage:
    def test_the_newest_mentions_of_the_workspace_with_their_queries(
        self, client: Client, cast: Cast, django_assert_max_num_queries: object
    ) -> None:
        query = QueryFactory(workspace=cast.brightwave, name="Brand")
        first = MentionFactory(workspace=cast.brightwave, text="Brightwave <b>down</b> again")
        first.queries.add(query)
        copy = MentionFactory(
            workspace=cast.brightwave, text="RT Brightwave down again", duplicate_of=first
        )
        MentionFactory(workspace=cast.elsewhere, text="the other brand's mention")
        for n in range(10):
            MentionFactory(workspace=cast.brightwave, text=f"filler {n}").queries.add(query)
        sign_in(client, cast.lee)
        with django_assert_max_num_queries(10):  # type: ignore[operator]
            page = client.get("/listening/").content.decode()
        assert "Brightwave &lt;b&gt;down&lt;/b&gt; again" in page
        assert "1 copy" in page
        assert copy.text in page
        assert "other brand" not in page

    def test_an_agent_sees_mentions_routed_to_their_teams_and_unrouted_ones(
        self, client: Client, cast: Cast
    ) -> None:
        MentionFactory(workspace=cast.brightwave, text="for care", team=cast.care)
        MentionFactory(workspace=cast.brightwave, text="for nights", team=cast.nights)
        MentionFactory(workspace=cast.brightwave, text="not routed yet")
        sign_in(client, cast.cara)
        page = client.get("/listening/").content.decode()
        assert "for care" in page
        assert "not routed yet" in page
        assert "for nights" not in page

    def test_an_empty_workspace_says_how_mentions_arrive(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.cara)
        assert "No mentions yet" in client.get("/listening/").content.decode()

    def test_filters_narrow_the_list_and_ignore_nonsense(self, client: Client, cast: Cast) -> None:
        brand = QueryFactory(workspace=cast.brightwave, name="Brand")
        angry = MentionFactory(
            workspace=cast.brightwave,
            text="angry complaint",
            platform="reddit",
            intent="complaint",
            sentiment="negative",
        )
        angry.queries.add(brand)
        MentionFactory(
            workspace=cast.brightwave,
            text="happy praise",
            platform="bluesky",
            intent="praise",
            sentiment="positive",
        )
        sign_in(client, cast.lee)
        page = client.get("/listening/", {"intent": "complaint"}).content.decode()
        assert "angry complaint" in page
        assert "happy praise" not in page
        by_query = client.get("/listening/", {"query": brand.pk}).content.decode()
        assert "angry complaint" in by_query
        assert "happy praise" not in by_query
        nothing = client.get("/listening/", {"platform": "bluesky", "sentiment": "negative"})
        assert "No mentions match these filters" in nothing.content.decode()
        nonsense = client.get("/listening/", {"query": "'; DROP TABLE", "intent": "<script>"})
        assert nonsense.status_code == 200
        assert "angry complaint" in nonsense.content.decode()
