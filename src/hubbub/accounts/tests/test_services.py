"""What the accounts services promise: invitations, roles, profiles, teams, tokens."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from PIL import Image

from hubbub.accounts import selectors, services
from hubbub.accounts.models import ApiToken, Invitation, Role, Status, User
from hubbub.accounts.tests.factories import Cast
from hubbub.core import clock
from hubbub.core.errors import Conflict, Forbidden, Gone, NotFound, ValidationFailed
from hubbub.core.models import EventRecord
from hubbub.core.tests.jobs import run_jobs


class TestInvitations:
    def test_an_admin_invites_and_the_invitee_joins_with_role_and_teams(self, cast: Cast) -> None:
        invitation, token = services.invite_member(
            actor=cast.ada,
            email="New.Person@Example.test",
            role=Role.AGENT,
            team_ids=[cast.nights.pk],
        )
        run_jobs()

        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["new.person@example.test"]
        assert f"/invite/{token}/" in mail.outbox[0].body
        assert token not in invitation.token_hash

        user = services.accept_invitation(
            token=token, display_name="Noor K.", password="a-long-secret-pw"
        )
        assert user.workspace == cast.brightwave
        assert user.role == Role.AGENT
        assert list(user.teams.all()) == [cast.nights]
        assert user.profile.display_name == "Noor K."
        assert EventRecord.objects.filter(kind="member_joined", workspace=cast.brightwave).exists()

    def test_an_invitation_works_once(self, cast: Cast) -> None:
        _, token = services.invite_member(actor=cast.ada, email="x@example.test", role=Role.AGENT)
        services.accept_invitation(token=token, display_name="X", password="a-long-secret-pw")
        with pytest.raises(Gone) as error:
            services.accept_invitation(token=token, display_name="X", password="a-long-secret-pw")
        assert error.value.code == "invitation_used"

    def test_an_expired_invitation_is_refused_and_creates_nobody(self, cast: Cast) -> None:
        invitation, token = services.invite_member(
            actor=cast.ada, email="late@example.test", role=Role.AGENT
        )
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=clock.now() - dt.timedelta(seconds=1)
        )
        with pytest.raises(Gone) as error:
            services.accept_invitation(
                token=token, display_name="Late", password="a-long-secret-pw"
            )
        assert error.value.code == "invitation_expired"
        assert not User.objects.filter(email="late@example.test").exists()

    def test_a_weak_password_is_refused_and_the_invitation_stays_usable(self, cast: Cast) -> None:
        _, token = services.invite_member(
            actor=cast.ada, email="weak@example.test", role=Role.AGENT
        )
        with pytest.raises(ValidationFailed) as error:
            services.accept_invitation(token=token, display_name="Weak", password="12345678")
        assert error.value.field == "password"
        user = services.accept_invitation(
            token=token, display_name="Weak", password="a-long-secret-pw"
        )
        assert user.email == "weak@example.test"

    def test_a_withdrawn_invitation_sends_no_email(self, cast: Cast) -> None:
        invitation, _ = services.invite_member(
            actor=cast.ada, email="gone@example.test", role=Role.AGENT
        )
        services.revoke_invitation(actor=cast.ada, invitation_id=invitation.pk)
        run_jobs()
        assert mail.outbox == []

    def test_only_admins_invite(self, cast: Cast) -> None:
        with pytest.raises(Forbidden):
            services.invite_member(actor=cast.lee, email="y@example.test", role=Role.AGENT)

    def test_teams_of_another_workspace_cannot_be_given(self, cast: Cast) -> None:
        with pytest.raises(NotFound):
            services.invite_member(
                actor=cast.ada,
                email="z@example.test",
                role=Role.AGENT,
                team_ids=[cast.elsewhere_team.pk],
            )

    def test_an_existing_account_cannot_be_invited_again(self, cast: Cast) -> None:
        with pytest.raises(Conflict):
            services.invite_member(actor=cast.ada, email=cast.cara.email.upper(), role=Role.AGENT)


class TestRolesAndDeactivation:
    def test_the_last_admin_cannot_be_demoted_or_deactivated(self, cast: Cast) -> None:
        with pytest.raises(Conflict) as error:
            services.change_role(actor=cast.ada, member_id=cast.ada.pk, role=Role.AGENT)
        assert error.value.code == "last_admin"
        services.change_role(actor=cast.ada, member_id=cast.lee.pk, role=Role.ADMIN)
        services.change_role(actor=cast.ada, member_id=cast.ada.pk, role=Role.AGENT)
        cast.ada.refresh_from_db()
        assert cast.ada.role == Role.AGENT

    def test_deactivating_someone_revokes_their_tokens(self, cast: Cast) -> None:
        services.create_api_token(actor=cast.cara, name="script")
        services.set_member_active(actor=cast.ada, member_id=cast.cara.pk, active=False)
        assert not ApiToken.objects.filter(user=cast.cara, revoked_at__isnull=True).exists()

    def test_people_of_another_workspace_are_not_found(self, cast: Cast) -> None:
        with pytest.raises(NotFound):
            services.change_role(actor=cast.ada, member_id=cast.otto.pk, role=Role.AGENT)


class TestProfile:
    def test_profile_fields_are_validated(self, cast: Cast) -> None:
        for field, kwargs in [
            ("display_name", {"display_name": "  "}),
            ("time_zone", {"time_zone": "Mars/Olympus"}),
            ("sender_address", {"sender_address": "not-an-email"}),
            ("languages", {"languages": ["en", "<script>"]}),
        ]:
            values = {
                "display_name": "Cara",
                "signature": "",
                "sender_address": "",
                "time_zone": "UTC",
                "languages": ["en"],
                **kwargs,
            }
            with pytest.raises(ValidationFailed) as error:
                services.update_profile(actor=cast.cara, **values)
            assert error.value.field == field

    def test_a_profile_is_saved_normalised(self, cast: Cast) -> None:
        profile = services.update_profile(
            actor=cast.cara,
            display_name=" Cara D. ",
            signature="Cara · Care",
            sender_address="Cara@Care.Example.test",
            time_zone="Europe/Lisbon",
            languages=["EN", "pt-br", "en"],
        )
        assert profile.display_name == "Cara D."
        assert profile.sender_address == "cara@care.example.test"
        assert profile.languages == ["en", "pt-br"]

    def test_status_changes_publish_one_event_for_those_who_may_see_the_person(
        self, cast: Cast
    ) -> None:
        services.set_status(actor=cast.cara, status=Status.ONLINE)
        services.set_status(actor=cast.cara, status=Status.ONLINE)
        events = EventRecord.objects.filter(kind="agent_status_changed")
        assert events.count() == 1
        assert (events.get().scoped, events.get().team_ids) == (True, f",{cast.care.pk},")
        assert events.get().payload == {
            "user_id": cast.cara.pk,
            "display_name": "Cara",
            "status": "online",
        }


def image_bytes(fmt: str, size: tuple[int, int] = (640, 480), exif: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 80, 40))
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        image.save(out, format=fmt, exif=data)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


class TestAvatar:
    def test_an_upload_is_re_encoded_to_a_small_square_without_metadata(self, cast: Cast) -> None:
        profile = services.set_avatar(actor=cast.cara, data=image_bytes("JPEG", exif=True))
        with default_storage.open(profile.avatar) as stored:
            image = Image.open(stored)
            image.load()
        assert image.format == "WEBP"
        assert image.size == (256, 256)
        assert not image.getexif()

    def test_a_new_avatar_replaces_the_old_file(self, cast: Cast) -> None:
        first = services.set_avatar(actor=cast.cara, data=image_bytes("PNG")).avatar
        second = services.set_avatar(actor=cast.cara, data=image_bytes("PNG")).avatar
        assert first != second
        assert not default_storage.exists(first)

    @pytest.mark.parametrize(
        ("data", "code"),
        [
            (b"%PDF-1.4 not an image", "avatar_format"),
            (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "avatar_format"),
            (image_bytes("BMP", (20, 20)), "avatar_format"),
            (b"\0" * (2 * 1024 * 1024 + 1), "avatar_too_large"),
        ],
        ids=["pdf", "truncated-png", "bmp", "oversize"],
    )
    def test_bad_uploads_are_refused_and_keep_the_old_avatar(
        self, cast: Cast, data: bytes, code: str
    ) -> None:
        before = services.set_avatar(actor=cast.cara, data=image_bytes("PNG")).avatar
        with pytest.raises(ValidationFailed) as error:
            services.set_avatar(actor=cast.cara, data=data)
        assert error.value.code == code
        cast.cara.profile.refresh_from_db()
        assert cast.cara.profile.avatar == before


class TestTeams:
    def test_leads_create_teams_and_names_are_unique_per_workspace(self, cast: Cast) -> None:
        team = services.save_team(actor=cast.lee, name="Escalations", kind="team")
        assert team.workspace == cast.brightwave
        with pytest.raises(Conflict):
            services.save_team(actor=cast.lee, name="escalations", kind="team")
        # Another workspace may use the same name.
        services.save_team(actor=cast.otto, name="Escalations", kind="team")

    def test_agents_cannot_manage_teams(self, cast: Cast) -> None:
        with pytest.raises(Forbidden):
            services.save_team(actor=cast.cara, name="Mine", kind="team")

    def test_members_must_belong_to_the_workspace(self, cast: Cast) -> None:
        with pytest.raises(NotFound):
            services.set_team_members(
                actor=cast.ada, team_id=cast.care.pk, member_ids=[cast.otto.pk]
            )
        services.set_team_members(
            actor=cast.ada, team_id=cast.care.pk, member_ids=[cast.cara.pk, cast.nico.pk]
        )
        assert set(cast.care.members.all()) == {cast.cara, cast.nico}


class TestApiTokens:
    def test_a_token_is_shown_once_and_stored_hashed(self, cast: Cast) -> None:
        token, raw = services.create_api_token(actor=cast.cara, name="crm sync")
        assert raw.startswith("hbb_")
        assert raw not in token.token_hash
        assert selectors.user_for_api_token(raw=raw) == (cast.cara, token)

    def test_revoked_and_expired_tokens_stop_working(self, cast: Cast) -> None:
        token, raw = services.create_api_token(actor=cast.cara, name="a", expires_in_days=1)
        ApiToken.objects.filter(pk=token.pk).update(
            expires_at=clock.now() - dt.timedelta(seconds=1)
        )
        assert selectors.user_for_api_token(raw=raw) is None
        token, raw = services.create_api_token(actor=cast.cara, name="b")
        services.revoke_api_token(actor=cast.cara, token_id=token.pk)
        assert selectors.user_for_api_token(raw=raw) is None

    def test_nobody_revokes_someone_elses_token(self, cast: Cast) -> None:
        token, _ = services.create_api_token(actor=cast.cara, name="mine")
        with pytest.raises(NotFound):
            services.revoke_api_token(actor=cast.ada, token_id=token.pk)


def test_a_small_file_claiming_a_huge_canvas_is_refused(cast: Cast) -> None:
    bomb = image_bytes("PNG", (5000, 5000))  # compresses to a few KB
    assert len(bomb) < 200_000
    with pytest.raises(ValidationFailed) as error:
        services.set_avatar(actor=cast.cara, data=bomb)
    assert error.value.code == "avatar_too_large"


def test_an_operator_starts_a_workspace_whose_first_admin_joins_by_invitation(db: None) -> None:
    workspace, token = services.start_workspace(name="Acme Rail", admin_email="Boss@Acme.test")
    run_jobs()
    assert mail.outbox[0].to == ["boss@acme.test"]
    admin = services.accept_invitation(
        token=token, display_name="Boss", password="a-long-secret-pw"
    )
    assert (admin.workspace, admin.role) == (workspace, Role.ADMIN)
    with pytest.raises(Conflict):
        services.start_workspace(name="Acme Rail", admin_email="other@acme.test")
