"""Routing rules: who may write them, what they may point at, their order, page and API."""

from __future__ import annotations

import pytest
from django.test import Client

from hubbub.accounts.tests.factories import Cast
from hubbub.core.errors import Forbidden, NotFound, ValidationFailed
from hubbub.listening import selectors, services
from hubbub.listening.models import RoutingRule
from hubbub.listening.tests.factories import QueryFactory, RoutingRuleFactory


def sign_in(client: Client, user: object) -> None:
    client.force_login(user, backend="hubbub.accounts.backends.AccountBackend")  # type: ignore[arg-type]


def names(cast: Cast) -> list[str]:
    return [rule.name for rule in selectors.routing_rules(user=cast.lee)]


class TestServices:
    def test_a_lead_adds_rules_and_each_is_tried_after_the_others(self, cast: Cast) -> None:
        outages = QueryFactory(workspace=cast.brightwave, name="Outages")
        first = services.save_routing_rule(
            actor=cast.lee,
            name=" German complaints ",
            team_id=cast.nights.pk,
            lang="de",
            intent="complaint",
        )
        second = services.save_routing_rule(
            actor=cast.ada, name="Outages", team_id=cast.care.pk, query_id=outages.pk
        )
        assert (first.name, first.workspace, first.team) == (
            "German complaints",
            cast.brightwave,
            cast.nights,
        )
        assert (second.query, second.position) == (outages, first.position + 1)
        assert names(cast) == ["German complaints", "Outages"]

    def test_changing_a_rule_keeps_its_place(self, cast: Cast) -> None:
        rule = RoutingRuleFactory(workspace=cast.brightwave, team=cast.care, position=3)
        changed = services.save_routing_rule(
            actor=cast.lee,
            name="Reddit",
            team_id=cast.nights.pk,
            platform="reddit",
            enabled=False,
            rule_id=rule.pk,
        )
        assert (changed.pk, changed.position, changed.team, changed.enabled) == (
            rule.pk,
            3,
            cast.nights,
            False,
        )

    @pytest.mark.parametrize("actor", ["cara", "bill", "rita"])
    def test_only_admins_and_leads_write_rules(self, cast: Cast, actor: str) -> None:
        rule = RoutingRuleFactory(workspace=cast.brightwave, team=cast.care)
        person = getattr(cast, actor)
        with pytest.raises(Forbidden):
            services.save_routing_rule(actor=person, name="Mine", team_id=cast.care.pk)
        with pytest.raises(Forbidden):
            services.move_routing_rule(actor=person, rule_id=rule.pk, direction="up")
        with pytest.raises(Forbidden):
            services.delete_routing_rule(actor=person, rule_id=rule.pk)
        assert RoutingRule.objects.count() == 1

    def test_teams_queries_and_rules_of_another_workspace_are_not_found(self, cast: Cast) -> None:
        theirs = QueryFactory(workspace=cast.elsewhere)
        their_rule = RoutingRuleFactory(workspace=cast.elsewhere, team=cast.elsewhere_team)
        with pytest.raises(NotFound) as error:
            services.save_routing_rule(actor=cast.lee, name="x", team_id=cast.elsewhere_team.pk)
        assert (error.value.code, error.value.field) == ("team_not_found", "team")
        with pytest.raises(NotFound):
            services.save_routing_rule(
                actor=cast.lee, name="x", team_id=cast.care.pk, query_id=theirs.pk
            )
        with pytest.raises(NotFound):
            services.save_routing_rule(
                actor=cast.lee, name="x", team_id=cast.care.pk, rule_id=their_rule.pk
            )
        with pytest.raises(NotFound):
            services.move_routing_rule(actor=cast.lee, rule_id=their_rule.pk, direction="down")
        with pytest.raises(NotFound):
            services.delete_routing_rule(actor=cast.lee, rule_id=their_rule.pk)
        assert not RoutingRule.objects.filter(workspace=cast.brightwave).exists()

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("name", "  "),
            ("name", "x" * 121),
            ("platform", "myspace"),
            ("lang", "english please"),
            ("lang", "en-" + "x" * 14),
            ("intent", "rant"),
        ],
    )
    def test_conditions_are_checked(self, cast: Cast, field: str, value: str) -> None:
        values = {"name": "Rule", "platform": "", "lang": "", "intent": ""} | {field: value}
        with pytest.raises(ValidationFailed) as error:
            services.save_routing_rule(actor=cast.lee, team_id=cast.care.pk, **values)
        assert error.value.field == field

    def test_every_source_kind_and_intent_is_a_condition(self, cast: Cast) -> None:
        for platform in ["replay", "bluesky", "mastodon", "reddit", "hackernews", "rss"]:
            services.save_routing_rule(
                actor=cast.lee, name=platform, team_id=cast.care.pk, platform=platform
            )
        for intent in ["complaint", "question", "praise", "feedback", "other"]:
            services.save_routing_rule(
                actor=cast.lee, name=intent, team_id=cast.care.pk, intent=intent, lang="pt-BR"
            )
        assert RoutingRule.objects.count() == 11

    def test_moves_swap_neighbours_renumber_and_stop_at_the_ends(self, cast: Cast) -> None:
        for name, position in [("a", 0), ("b", 5), ("c", 5), ("d", 9)]:
            RoutingRuleFactory(
                workspace=cast.brightwave, team=cast.care, name=name, position=position
            )
        by_name = {rule.name: rule.pk for rule in RoutingRule.objects.all()}
        services.move_routing_rule(actor=cast.lee, rule_id=by_name["c"], direction="up")
        assert names(cast) == ["a", "c", "b", "d"]
        assert list(
            RoutingRule.objects.order_by("position").values_list("position", flat=True)
        ) == [0, 1, 2, 3]
        services.move_routing_rule(actor=cast.lee, rule_id=by_name["a"], direction="down")
        assert names(cast) == ["c", "a", "b", "d"]
        services.move_routing_rule(actor=cast.lee, rule_id=by_name["c"], direction="up")
        services.move_routing_rule(actor=cast.lee, rule_id=by_name["d"], direction="down")
        assert names(cast) == ["c", "a", "b", "d"]

    def test_a_move_has_a_direction(self, cast: Cast) -> None:
        rule = RoutingRuleFactory(workspace=cast.brightwave, team=cast.care)
        with pytest.raises(ValidationFailed):
            services.move_routing_rule(actor=cast.lee, rule_id=rule.pk, direction="left")  # type: ignore[arg-type]

    def test_a_new_rule_after_a_move_still_goes_last(self, cast: Cast) -> None:
        a = services.save_routing_rule(actor=cast.lee, name="a", team_id=cast.care.pk)
        services.save_routing_rule(actor=cast.lee, name="b", team_id=cast.care.pk)
        services.move_routing_rule(actor=cast.lee, rule_id=a.pk, direction="down")
        services.delete_routing_rule(actor=cast.lee, rule_id=a.pk)
        services.save_routing_rule(actor=cast.lee, name="c", team_id=cast.care.pk)
        assert names(cast) == ["b", "c"]

    def test_everyone_in_the_workspace_reads_the_rules(self, cast: Cast) -> None:
        RoutingRuleFactory(workspace=cast.brightwave, team=cast.nights, name="Nights")
        RoutingRuleFactory(workspace=cast.elsewhere, team=cast.elsewhere_team, name="Theirs")
        assert [r.name for r in selectors.routing_rules(user=cast.cara)] == ["Nights"]
        assert [r.name for r in selectors.routing_rules(user=cast.otto)] == ["Theirs"]


class TestPages:
    def test_an_admin_adds_a_rule_from_the_page(self, client: Client, cast: Cast) -> None:
        outages = QueryFactory(workspace=cast.brightwave, name="Outages")
        sign_in(client, cast.ada)
        page = client.get("/listening/routing/").content.decode()
        assert "No routing rules yet" in page
        assert 'name="csrfmiddlewaretoken"' in page
        response = client.post(
            "/listening/routing/",
            {
                "name": "Outage complaints",
                "team": cast.nights.pk,
                "query": outages.pk,
                "platform": "reddit",
                "lang": "en",
                "intent": "complaint",
                "enabled": "on",
            },
        )
        assert response.status_code == 302
        rule = RoutingRule.objects.get()
        assert (rule.team, rule.query, rule.platform, rule.lang, rule.intent) == (
            cast.nights,
            outages,
            "reddit",
            "en",
            "complaint",
        )
        listing = client.get("/listening/routing/").content.decode()
        assert "Outage complaints" in listing
        assert f'action="/listening/routing/{rule.pk}/move/"' in listing
        assert f'href="/listening/routing/{rule.pk}/delete/"' in listing

    def test_a_bad_language_stays_in_the_form_with_its_error(
        self, client: Client, cast: Cast
    ) -> None:
        sign_in(client, cast.lee)
        response = client.post(
            "/listening/routing/", {"name": "German", "team": cast.care.pk, "lang": "German!"}
        )
        assert response.status_code == 200
        assert "Give a language code such as en or en-GB." in response.content.decode()
        assert not RoutingRule.objects.exists()

    def test_an_agent_sees_the_rules_but_no_controls(self, client: Client, cast: Cast) -> None:
        rule = RoutingRuleFactory(
            workspace=cast.brightwave, team=cast.nights, name="Night owls", intent="question"
        )
        sign_in(client, cast.cara)
        page = client.get("/listening/routing/").content.decode()
        assert "Night owls" in page
        assert "Question" in page
        assert "<form" not in page.split('id="main"')[1]
        assert f"/listening/routing/{rule.pk}/" not in page
        assert "Add a rule" not in page
        assert client.get(f"/listening/routing/{rule.pk}/").status_code == 403
        assert client.post("/listening/routing/", {"name": "x"}).status_code == 403
        move = client.post(f"/listening/routing/{rule.pk}/move/", {"direction": "up"})
        assert move.status_code == 403
        assert client.post(f"/listening/routing/{rule.pk}/delete/").status_code == 403
        assert RoutingRule.objects.filter(pk=rule.pk).exists()

    def test_another_workspaces_rules_are_not_found(self, client: Client, cast: Cast) -> None:
        theirs = RoutingRuleFactory(workspace=cast.elsewhere, team=cast.elsewhere_team)
        sign_in(client, cast.ada)
        assert client.get(f"/listening/routing/{theirs.pk}/").status_code == 404
        assert client.get(f"/listening/routing/{theirs.pk}/delete/").status_code == 404
        assert client.post(f"/listening/routing/{theirs.pk}/delete/").status_code == 404
        move = client.post(f"/listening/routing/{theirs.pk}/move/", {"direction": "up"})
        assert move.status_code == 404
        assert "Elsewhere" not in client.get("/listening/routing/").content.decode()
        assert RoutingRule.objects.filter(pk=theirs.pk).exists()

    def test_a_lead_edits_moves_and_deletes_after_confirming(
        self, client: Client, cast: Cast
    ) -> None:
        first = RoutingRuleFactory(workspace=cast.brightwave, team=cast.care, name="First")
        second = RoutingRuleFactory(workspace=cast.brightwave, team=cast.care, name="Second")
        sign_in(client, cast.lee)
        form = client.get(f"/listening/routing/{second.pk}/").content.decode()
        assert 'value="Second"' in form
        edited = client.post(
            f"/listening/routing/{second.pk}/",
            {"name": "Second, renamed", "team": cast.nights.pk, "intent": "praise"},
        )
        assert edited.status_code == 302
        second.refresh_from_db()
        assert (second.name, second.team, second.intent, second.enabled) == (
            "Second, renamed",
            cast.nights,
            "praise",
            False,  # an unticked box
        )
        moved = client.post(f"/listening/routing/{second.pk}/move/", {"direction": "up"})
        assert moved["Location"] == f"/listening/routing/#rule-{second.pk}"
        assert names(cast) == ["Second, renamed", "First"]
        assert client.post(f"/listening/routing/{first.pk}/move/").status_code == 400
        confirm = client.get(f"/listening/routing/{first.pk}/delete/").content.decode()
        assert "Delete “First”?" in confirm
        assert RoutingRule.objects.filter(pk=first.pk).exists()
        assert client.post(f"/listening/routing/{first.pk}/delete/").status_code == 302
        assert names(cast) == ["Second, renamed"]

    def test_the_queries_page_links_to_routing(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.cara)
        assert 'href="/listening/routing/"' in client.get("/listening/queries/").content.decode()

    def test_rule_names_are_escaped(self, client: Client, cast: Cast) -> None:
        RoutingRuleFactory(workspace=cast.brightwave, team=cast.care, name="<b>bold</b>")
        sign_in(client, cast.lee)
        page = client.get("/listening/routing/").content.decode()
        assert "<b>bold" not in page
        assert "&lt;b&gt;bold&lt;/b&gt;" in page


class TestApi:
    @pytest.fixture
    def lead_headers(self, cast: Cast) -> dict[str, str]:
        from hubbub.accounts import services as accounts

        _, raw = accounts.create_api_token(actor=cast.lee, name="t")
        return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    def test_create_list_patch_move_and_delete(
        self, client: Client, cast: Cast, lead_headers: dict[str, str]
    ) -> None:
        outages = QueryFactory(workspace=cast.brightwave, name="Outages")
        url = "/api/v1/listening/routing-rules"
        created = client.post(
            url,
            {"name": "Outages", "team_id": cast.care.pk, "query_id": outages.pk, "lang": "en"},
            content_type="application/json",
            **lead_headers,
        )
        assert created.status_code == 201, created.content
        body = created.json()
        assert (body["query_id"], body["lang"], body["platform"], body["enabled"]) == (
            outages.pk,
            "en",
            "",
            True,
        )
        other = client.post(
            url,
            {"name": "Reddit", "team_id": cast.nights.pk, "platform": "reddit"},
            content_type="application/json",
            **lead_headers,
        ).json()
        patched = client.patch(
            f"{url}/{body['id']}",
            {"intent": "complaint", "query_id": None},
            content_type="application/json",
            **lead_headers,
        )
        assert patched.status_code == 200, patched.content
        assert (patched.json()["intent"], patched.json()["query_id"]) == ("complaint", None)
        assert patched.json()["lang"] == "en"
        moved = client.post(
            f"{url}/{other['id']}/move",
            {"direction": "up"},
            content_type="application/json",
            **lead_headers,
        )
        assert [r["name"] for r in moved.json()] == ["Reddit", "Outages"]
        assert [r["name"] for r in client.get(url, **lead_headers).json()] == [
            "Reddit",
            "Outages",
        ]
        assert client.delete(f"{url}/{body['id']}", **lead_headers).status_code == 204
        assert [r["name"] for r in client.get(url, **lead_headers).json()] == ["Reddit"]

    def test_bad_values_are_refused_with_a_code(
        self, client: Client, cast: Cast, lead_headers: dict[str, str]
    ) -> None:
        url = "/api/v1/listening/routing-rules"
        unknown = client.post(
            url,
            {"name": "x", "team_id": cast.care.pk, "platform": "myspace"},
            content_type="application/json",
            **lead_headers,
        )
        assert unknown.status_code == 422
        foreign = client.post(
            url,
            {"name": "x", "team_id": cast.elsewhere_team.pk},
            content_type="application/json",
            **lead_headers,
        )
        assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "team_not_found")

    def test_agents_read_and_other_workspaces_are_not_found(
        self, client: Client, cast: Cast, lead_headers: dict[str, str]
    ) -> None:
        from hubbub.accounts import services as accounts

        ours = RoutingRuleFactory(workspace=cast.brightwave, team=cast.care, name="Ours")
        theirs = RoutingRuleFactory(workspace=cast.elsewhere, team=cast.elsewhere_team)
        url = "/api/v1/listening/routing-rules"
        _, raw = accounts.create_api_token(actor=cast.cara, name="t")
        agent = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
        assert [r["name"] for r in client.get(url, **agent).json()] == ["Ours"]
        refused = client.patch(
            f"{url}/{ours.pk}", {"name": "Mine"}, content_type="application/json", **agent
        )
        assert refused.status_code == 403
        assert client.delete(f"{url}/{ours.pk}", **agent).status_code == 403
        for response in [
            client.patch(
                f"{url}/{theirs.pk}", {"name": "x"}, content_type="application/json", **lead_headers
            ),
            client.delete(f"{url}/{theirs.pk}", **lead_headers),
            client.post(
                f"{url}/{theirs.pk}/move",
                {"direction": "down"},
                content_type="application/json",
                **lead_headers,
            ),
        ]:
            assert response.status_code == 404
        assert RoutingRule.objects.filter(pk=theirs.pk).exists()
