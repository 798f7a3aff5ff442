"""The REST API: authentication, errors as JSON with stable codes, and scoping."""

from __future__ import annotations

import pytest
from django.test import Client

from hubbub.accounts import services
from hubbub.accounts.models import Role, User
from hubbub.accounts.tests.factories import Cast


def bearer(user: User) -> dict[str, str]:
    _, raw = services.create_api_token(actor=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


class TestAuthentication:
    def test_me_with_a_token(self, client: Client, cast: Cast) -> None:
        response = client.get("/api/v1/me", **bearer(cast.cara))
        assert response.status_code == 200
        body = response.json()
        assert body["email"] == cast.cara.email
        assert body["role"] == "agent"
        assert body["workspace"] == {
            "id": cast.brightwave.pk,
            "name": "Brightwave",
            "slug": "brightwave",
        }
        assert body["teams"] == [{"id": cast.care.pk, "name": "Care", "kind": "team"}]

    def test_me_with_the_browser_session(self, client: Client, cast: Cast) -> None:
        client.force_login(cast.cara, backend="hubbub.accounts.backends.AccountBackend")
        assert client.get("/api/v1/me").json()["id"] == cast.cara.pk

    def test_no_credentials_is_a_json_401(self, client: Client, cast: Cast) -> None:
        response = client.get("/api/v1/me")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"

    @pytest.mark.parametrize(
        "header", ["Bearer hbb_made_up", "Bearer ", "Basic abc", "Bearer " + "x" * 5000]
    )
    def test_bad_tokens_are_401(self, client: Client, cast: Cast, header: str) -> None:
        response = client.get("/api/v1/me", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"

    @pytest.mark.parametrize("header", ["Bearer hbb_made_up", "Token abc"])
    def test_writes_with_a_bad_token_are_401_not_a_csrf_complaint(
        self, cast: Cast, header: str
    ) -> None:
        client = Client(enforce_csrf_checks=True)
        response = client.put(
            "/api/v1/me/status",
            {"status": "away"},
            content_type="application/json",
            HTTP_AUTHORIZATION=header,
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"

    def test_a_revoked_token_stops_at_once(self, client: Client, cast: Cast) -> None:
        token, raw = services.create_api_token(actor=cast.cara, name="t")
        services.revoke_api_token(actor=cast.cara, token_id=token.pk)
        assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401

    def test_a_deactivated_persons_token_stops(self, client: Client, cast: Cast) -> None:
        headers = bearer(cast.cara)
        services.set_member_active(actor=cast.ada, member_id=cast.cara.pk, active=False)
        assert client.get("/api/v1/me", **headers).status_code == 401

    def test_session_writes_need_csrf_tokens_do_not(self, cast: Cast) -> None:
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(cast.cara, backend="hubbub.accounts.backends.AccountBackend")
        refused = browser.put(
            "/api/v1/me/status", {"status": "away"}, content_type="application/json"
        )
        assert refused.status_code in {401, 403}
        script = Client(enforce_csrf_checks=True)
        accepted = script.put(
            "/api/v1/me/status",
            {"status": "away"},
            content_type="application/json",
            **bearer(cast.cara),
        )
        assert accepted.status_code == 200
        assert accepted.json()["profile"]["status"] == "away"


class TestErrors:
    def test_validation_errors_have_a_code_and_details(self, client: Client, cast: Cast) -> None:
        response = client.put(
            "/api/v1/me/status",
            {"status": "asleep"},
            content_type="application/json",
            **bearer(cast.cara),
        )
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "validation_failed"
        assert error["details"]

    def test_malformed_json_is_a_422_not_a_500(self, client: Client, cast: Cast) -> None:
        response = client.patch(
            "/api/v1/me", "{not json", content_type="application/json", **bearer(cast.cara)
        )
        assert response.status_code in {400, 422}
        assert "error" in response.json()

    def test_domain_errors_carry_their_code_and_field(self, client: Client, cast: Cast) -> None:
        response = client.patch(
            "/api/v1/me",
            {"time_zone": "Mars/Olympus"},
            content_type="application/json",
            **bearer(cast.cara),
        )
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "time_zone"

    def test_permission_errors_are_403_with_a_code(self, client: Client, cast: Cast) -> None:
        response = client.post(
            "/api/v1/teams", {"name": "Mine"}, content_type="application/json", **bearer(cast.cara)
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "lead_only"

    def test_unknown_routes_are_json_404(self, client: Client, cast: Cast) -> None:
        response = client.get("/api/v1/nothing-here", **bearer(cast.cara))
        assert response.status_code == 404


class TestScoping:
    def test_another_workspaces_team_does_not_exist(self, client: Client, cast: Cast) -> None:
        response = client.get(f"/api/v1/teams/{cast.elsewhere_team.pk}", **bearer(cast.ada))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "team_not_found"

    def test_another_workspaces_person_does_not_exist(self, client: Client, cast: Cast) -> None:
        assert client.get(f"/api/v1/people/{cast.otto.pk}", **bearer(cast.ada)).status_code == 404

    def test_an_agent_lists_only_their_teams_and_people(self, client: Client, cast: Cast) -> None:
        headers = bearer(cast.cara)
        teams = {team["name"] for team in client.get("/api/v1/teams", **headers).json()}
        assert teams == {"Care"}
        people = {p["display_name"] for p in client.get("/api/v1/people", **headers).json()}
        assert people == {"Ada", "Lee", "Cara"}
        assert client.get(f"/api/v1/teams/{cast.nights.pk}", **headers).status_code == 404

    def test_a_lead_sees_every_team_of_the_workspace_and_no_other(
        self, client: Client, cast: Cast
    ) -> None:
        teams = {team["name"] for team in client.get("/api/v1/teams", **bearer(cast.lee)).json()}
        assert teams == {"Care", "Nights", "Billing"}

    def test_read_only_people_cannot_invite(self, client: Client, cast: Cast) -> None:
        response = client.post(
            "/api/v1/invitations",
            {"email": "x@example.test"},
            content_type="application/json",
            **bearer(cast.rita),
        )
        assert response.status_code == 403

    def test_an_admin_cannot_put_another_workspaces_people_in_a_team(
        self, client: Client, cast: Cast
    ) -> None:
        response = client.put(
            f"/api/v1/teams/{cast.care.pk}/members",
            {"member_ids": [cast.otto.pk]},
            content_type="application/json",
            **bearer(cast.ada),
        )
        assert response.status_code == 404
        assert cast.otto not in cast.care.members.all()


class TestTokensAndInvitations:
    def test_tokens_are_created_listed_and_revoked(self, client: Client, cast: Cast) -> None:
        headers = bearer(cast.cara)
        created = client.post(
            "/api/v1/tokens",
            {"name": "etl", "expires_in_days": 30},
            content_type="application/json",
            **headers,
        )
        assert created.status_code == 201
        new = created.json()
        assert new["token"].startswith(new["prefix"])
        listed = client.get("/api/v1/tokens", **headers).json()
        assert {t["name"] for t in listed} == {"test", "etl"}
        assert all("token" not in t for t in listed)
        assert client.delete(f"/api/v1/tokens/{new['id']}", **headers).status_code == 204
        assert (
            client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {new['token']}").status_code == 401
        )

    def test_an_admin_invites_through_the_api(self, client: Client, cast: Cast) -> None:
        response = client.post(
            "/api/v1/invitations",
            {"email": "api@example.test", "role": "lead", "team_ids": [cast.care.pk]},
            content_type="application/json",
            **bearer(cast.ada),
        )
        assert response.status_code == 201
        assert response.json()["role"] == Role.LEAD


class TestDocs:
    def test_the_openapi_schema_is_published(self, client: Client) -> None:
        schema = client.get("/api/v1/openapi.json").json()
        assert schema["info"]["title"] == "Hubbub API"
        assert "/api/v1/me" in schema["paths"]

    def test_the_docs_page_loads_its_assets_from_hubbub(self, client: Client) -> None:
        response = client.get("/api/v1/docs")
        assert response.status_code == 200
        html = response.content.decode()
        assert "/static/ninja/swagger-ui-bundle.js" in html
        assert "cdn." not in html
