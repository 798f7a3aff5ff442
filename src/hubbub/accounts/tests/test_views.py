"""The pages: signing in, lockout, password reset, invitations and settings."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from PIL import Image

from hubbub.accounts import services
from hubbub.accounts.models import Invitation, Role, Team, User
from hubbub.accounts.tests.factories import PASSWORD, Cast, UserFactory


def sign_in(client: Client, user: User) -> None:
    client.force_login(user, backend="hubbub.accounts.backends.AccountBackend")


class TestSignIn:
    def test_a_person_signs_in_with_email_and_password(self, client: Client, cast: Cast) -> None:
        response = client.post(
            "/login/", {"username": "CARA@brightwave.test", "password": PASSWORD}
        )
        assert response.status_code == 302
        assert response["Location"] == "/"
        assert client.get("/")["Location"] == "/inbox/"

    def test_a_department_member_starts_at_their_handoffs(self, client: Client, cast: Cast) -> None:
        client.post("/login/", {"username": "bill@brightwave.test", "password": PASSWORD})

        assert client.get("/")["Location"] == "/handoffs/"

    def test_a_wrong_password_says_so_without_saying_which_part(
        self, client: Client, cast: Cast
    ) -> None:
        response = client.post("/login/", {"username": cast.cara.email, "password": "wrong"})
        assert response.status_code == 200
        assert b"do not match an account" in response.content

    def test_five_failures_lock_the_account_out_even_with_the_right_password(
        self, client: Client, cast: Cast
    ) -> None:
        for _ in range(5):
            client.post("/login/", {"username": cast.cara.email, "password": "wrong"})
        response = client.post("/login/", {"username": cast.cara.email, "password": PASSWORD})
        assert response.status_code == 429
        assert b"Too many attempts" in response.content

    def test_pages_need_a_signed_in_person(self, client: Client, cast: Cast) -> None:
        response = client.get("/settings/people/")
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")

    def test_sign_out_needs_a_post(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.cara)
        assert client.get("/logout/").status_code == 405
        assert client.post("/logout/").status_code == 302
        assert client.get("/inbox/").status_code == 302


def test_password_reset_by_email_end_to_end(client: Client, cast: Cast) -> None:
    response = client.post("/password-reset/", {"email": cast.nico.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/password-reset/\S+/)", mail.outbox[0].body)
    assert link is not None
    form = client.get(link.group(1), follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "brand-new-secret-9", "new_password2": "brand-new-secret-9"},
    )
    assert done.status_code == 302
    signed_in = client.post(
        "/login/", {"username": cast.nico.email, "password": "brand-new-secret-9"}
    )
    assert signed_in.status_code == 302


def test_an_unknown_address_gets_the_same_answer_and_no_email(client: Client, cast: Cast) -> None:
    response = client.post("/password-reset/", {"email": "nobody@nowhere.test"})
    assert response.status_code == 302
    assert mail.outbox == []


class TestInvitationPage:
    def test_the_invitee_chooses_name_and_password_and_lands_in_the_inbox(
        self, client: Client, cast: Cast
    ) -> None:
        _, token = services.invite_member(
            actor=cast.ada, email="new@example.test", role=Role.AGENT, team_ids=[cast.care.pk]
        )
        page = client.get(f"/invite/{token}/")
        assert b"Join Brightwave" in page.content
        response = client.post(
            f"/invite/{token}/",
            {
                "display_name": "Noor",
                "password": "long-enough-pw-1",
                "password_again": "long-enough-pw-1",
            },
        )
        assert response.status_code == 302
        assert client.get("/inbox/").status_code == 200

    def test_mismatched_passwords_are_pointed_out(self, client: Client, cast: Cast) -> None:
        _, token = services.invite_member(actor=cast.ada, email="new@example.test", role=Role.AGENT)
        response = client.post(
            f"/invite/{token}/",
            {
                "display_name": "Noor",
                "password": "long-enough-pw-1",
                "password_again": "long-enough-pw-2",
            },
        )
        assert response.status_code == 200
        assert b"The two passwords differ." in response.content

    def test_a_used_or_made_up_link_explains_itself(self, client: Client, cast: Cast) -> None:
        _, token = services.invite_member(actor=cast.ada, email="new@example.test", role=Role.AGENT)
        services.accept_invitation(token=token, display_name="N", password="long-enough-pw-1")
        used = client.get(f"/invite/{token}/")
        assert used.status_code == 410
        assert b"already been used" in used.content
        assert client.get("/invite/made-up/").status_code == 404


class TestSettingsPages:
    @pytest.mark.parametrize(
        "path",
        [
            "/inbox/",
            "/listening/",
            "/knowledge/",
            "/community/",
            "/contacts/",
            "/insights/",
            "/settings/profile/",
            "/settings/people/",
            "/settings/teams/",
            "/settings/tokens/",
        ],
    )
    @pytest.mark.parametrize("who", ["ada", "lee", "cara", "bill", "rita"])
    def test_every_role_can_open_every_shell_page(
        self, client: Client, cast: Cast, path: str, who: str
    ) -> None:
        sign_in(client, getattr(cast, who))
        response = client.get(path)
        assert response.status_code == 200
        assert b"Brightwave" in response.content

    def test_an_agent_sees_only_the_people_of_their_teams(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.cara)
        page = client.get("/settings/people/").content.decode()
        assert "Ada" in page
        assert "Lee" in page
        assert "Nico" not in page
        assert "Bill" not in page
        assert "Otto" not in page

    def test_nobody_sees_another_workspace(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.ada)
        page = client.get("/settings/people/").content.decode()
        assert "Otto" not in page
        assert client.get(f"/settings/teams/{cast.elsewhere_team.pk}/").status_code == 404
        assert (
            client.post(f"/settings/people/{cast.otto.pk}/role/", {"role": "agent"}).status_code
            == 302
        )
        cast.otto.refresh_from_db()
        assert cast.otto.role == Role.ADMIN

    def test_an_agent_cannot_open_another_teams_page(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.cara)
        assert client.get(f"/settings/teams/{cast.care.pk}/").status_code == 200
        response = client.get(f"/settings/teams/{cast.nights.pk}/")
        assert response.status_code == 404
        assert b"No such team" in response.content

    def test_a_lead_creates_a_team_and_a_duplicate_name_is_a_form_error(
        self, client: Client, cast: Cast
    ) -> None:
        sign_in(client, cast.lee)
        created = client.post("/settings/teams/", {"name": "Escalations", "kind": "team"})
        assert created.status_code == 302
        again = client.post("/settings/teams/", {"name": "ESCALATIONS", "kind": "team"})
        assert again.status_code == 200
        assert b"already a team called" in again.content
        assert (
            Team.objects.filter(workspace=cast.brightwave, name__iexact="escalations").count() == 1
        )

    def test_a_malformed_form_is_answered_with_its_errors(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.cara)
        response = client.post(
            "/settings/profile/", {"display_name": "", "time_zone": "Nowhere/Land"}
        )
        assert response.status_code == 200
        assert b"This field is required." in response.content
        cast.cara.profile.refresh_from_db()
        assert cast.cara.profile.display_name == "Cara"

    def test_an_agent_cannot_invite(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.cara)
        assert client.get("/settings/people/invite/").status_code == 403
        client.post("/settings/people/invite/", {"email": "x@example.test", "role": "admin"})
        assert not Invitation.objects.exists()
        assert mail.outbox == []

    def test_deactivation_must_be_asked_for_explicitly(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.ada)
        assert client.post(f"/settings/people/{cast.cara.pk}/active/", {}).status_code == 400
        cast.cara.refresh_from_db()
        assert cast.cara.is_active

    def test_saving_a_team_keeps_its_deactivated_members(self, client: Client, cast: Cast) -> None:
        services.set_member_active(actor=cast.ada, member_id=cast.cara.pk, active=False)
        sign_in(client, cast.lee)
        page = client.get(f"/settings/teams/{cast.care.pk}/").content.decode()
        assert "cara@brightwave.test, deactivated" in page
        checked = [cast.ada.pk, cast.lee.pk, cast.cara.pk]
        client.post(f"/settings/teams/{cast.care.pk}/", {"save_members": "1", "members": checked})
        assert set(cast.care.members.values_list("pk", flat=True)) == set(checked)

    def test_an_agent_sees_only_the_team_names_of_their_own_teams(
        self, client: Client, cast: Cast
    ) -> None:
        sign_in(client, cast.cara)
        page = client.get("/settings/people/").content.decode()
        assert "Care" in page
        assert "Nights" not in page  # Lee is in Nights too, but Cara may not see that team

    def test_a_photo_upload_and_a_bad_one(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.cara)
        buffer = io.BytesIO()
        Image.new("RGB", (300, 200), "teal").save(buffer, format="PNG")
        buffer.name = "me.png"
        buffer.seek(0)
        ok = client.post("/settings/profile/avatar/", {"avatar": buffer}, follow=True)
        assert b"Photo updated." in ok.content
        cast.cara.profile.refresh_from_db()
        avatar_url = "/avatars/" + cast.cara.profile.avatar.removeprefix("avatars/")
        served = client.get(avatar_url)
        assert served.status_code == 200
        assert served["Content-Type"] == "image/webp"

        fake = io.BytesIO(b"<svg onload=alert(1)>")
        fake.name = "evil.png"
        bad = client.post("/settings/profile/avatar/", {"avatar": fake}, follow=True)
        assert b"not an image we can read" in bad.content
        cast.cara.profile.refresh_from_db()
        assert client.get(avatar_url).status_code == 200

    def test_a_new_api_token_is_shown_once(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.cara)
        created = client.post("/settings/tokens/", {"name": "CRM sync"}).content.decode()
        token = re.search(r'value="(hbb_[^"]+)"', created)
        assert token is not None
        assert token.group(1) not in client.get("/settings/tokens/").content.decode()

    def test_a_status_change_without_javascript_goes_back_but_never_off_site(
        self, client: Client, cast: Cast
    ) -> None:
        sign_in(client, cast.cara)
        back = client.post(
            "/settings/status/",
            {"status": "away"},
            HTTP_REFERER="http://testserver/settings/teams/",
        )
        assert back["Location"] == "http://testserver/settings/teams/"
        elsewhere = client.post(
            "/settings/status/", {"status": "online"}, HTTP_REFERER="https://evil.example/phish"
        )
        assert elsewhere["Location"] == "/inbox/"

    def test_an_oversize_photo_is_refused_before_it_is_read(
        self, client: Client, cast: Cast
    ) -> None:
        sign_in(client, cast.cara)
        huge = io.BytesIO(b"\0" * (3 * 1024 * 1024))
        huge.name = "huge.png"
        response = client.post("/settings/profile/avatar/", {"avatar": huge}, follow=True)
        assert b"too large" in response.content
        cast.cara.profile.refresh_from_db()
        assert cast.cara.profile.avatar == ""

    def test_status_changes_from_the_menu(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.cara)
        response = client.post("/settings/status/", {"status": "away"}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert b'value="away" selected' in response.content
        assert client.post("/settings/status/", {"status": "asleep"}).status_code == 400


class TestSecurityHeaders:
    def test_pages_carry_a_strict_content_security_policy(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.cara)
        response = client.get("/inbox/")
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"

    def test_posts_without_a_csrf_token_are_refused(self, cast: Cast) -> None:
        client = Client(enforce_csrf_checks=True)
        sign_in(client, cast.cara)
        response = client.post("/settings/status/", {"status": "away"})
        assert response.status_code == 403
        assert b"Form expired" in response.content

    def test_no_page_has_inline_script(self, client: Client, cast: Cast) -> None:
        sign_in(client, cast.ada)
        for path in ["/inbox/", "/settings/people/", "/login/"]:
            html = client.get(path).content.decode()
            assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, path
            assert " style=" not in html


class TestQueryCounts:
    """Pages and API cost a fixed number of queries, however many people there are."""

    def add_people(self, cast: Cast, count: int) -> None:
        for n in range(count):
            UserFactory(
                email=f"extra{n}@brightwave.test",
                workspace=cast.brightwave,
                teams=[cast.care, cast.nights],
            )

    @pytest.mark.parametrize(
        ("path", "queries"),
        [
            # session, user, seven view counts (each stopped at 999), conversations,
            # tags (channels and languages are cached), approvals waiting, notifications
            ("/inbox/", 13),
            ("/settings/people/", 5),
            ("/settings/teams/", 4),
        ],
    )
    def test_shell_pages(
        self, client: Client, cast: Cast, django_assert_num_queries: Any, path: str, queries: int
    ) -> None:
        sign_in(client, cast.ada)
        client.get(path)
        with django_assert_num_queries(queries):
            client.get(path)
        self.add_people(cast, 15)
        with django_assert_num_queries(queries):
            client.get(path)

    def test_the_api(self, client: Client, cast: Cast, django_assert_num_queries: Any) -> None:
        _, raw = services.create_api_token(actor=cast.ada, name="count")
        headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
        client.get("/api/v1/me", **headers)
        with django_assert_num_queries(2):
            client.get("/api/v1/me", **headers)
        self.add_people(cast, 15)
        with django_assert_num_queries(3):
            client.get("/api/v1/people", **headers)
