"""Writes about workspaces, people, teams, invitations and API tokens.

Every function takes keyword-only arguments, owns its transaction, checks
the actor's permissions and raises `hubbub.core.errors` on failure.
"""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from collections.abc import Iterable
from functools import cache

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from hubbub.accounts import avatars, permissions, selectors
from hubbub.accounts.events import AgentStatusChanged, MemberJoined, TeamChanged
from hubbub.accounts.models import AgentProfile, ApiToken, Invitation, Role, Status, Team, User
from hubbub.core import clock, crypto
from hubbub.core.errors import Conflict, NotFound, ValidationFailed
from hubbub.core.events import publish
from hubbub.core.models import Workspace

INVITATION_LIFETIME = dt.timedelta(days=7)
API_TOKEN_PREFIX = "hbb_"  # noqa: S105 - a public prefix, not a secret
MAX_LANGUAGES = 12


def create_workspace(*, name: str, slug: str = "") -> Workspace:
    name = name.strip()
    if not name:
        raise ValidationFailed("A workspace needs a name.", field="name")
    slug = slugify(slug or name)[:60]
    if Workspace.objects.filter(slug=slug).exists():
        raise Conflict(f"A workspace called {slug!r} already exists.", code="workspace_exists")
    return Workspace.objects.create(name=name, slug=slug)


def _clean_email(email: str, *, field: str = "email") -> str:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationFailed("Enter a valid email address.", field=field) from error
    return email


@cache
def known_time_zones() -> frozenset[str]:
    # available_timezones() reads the zone database from disk on every call.
    return frozenset(zoneinfo.available_timezones())


def _check_password(password: str, user: User | None = None) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise ValidationFailed(" ".join(error.messages), field="password") from error


@transaction.atomic
def create_member(
    *,
    workspace: Workspace,
    email: str,
    password: str | None,
    display_name: str,
    role: Role = Role.AGENT,
    teams: Iterable[Team] = (),
    validate_password: bool = True,
) -> User:
    """Create a person with their agent profile. The demo and invitations use this.

    password None leaves the account without a usable password (it cannot sign
    in until one is set).
    """
    email = _check_email_free(email)
    user = User(email=email, workspace=workspace, role=role)
    if validate_password and password is not None:
        _check_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as error:  # the same address, created a moment ago elsewhere
        raise Conflict(
            "Someone with that email address already has an account.", code="email_taken"
        ) from error
    AgentProfile.objects.create(user=user, display_name=display_name.strip() or email.split("@")[0])
    user.teams.set([team for team in teams if team.workspace_id == workspace.pk])
    return user


def _teams_in_workspace(workspace_id: int, team_ids: Iterable[int]) -> list[Team]:
    wanted = set(team_ids)
    teams = list(Team.objects.filter(workspace_id=workspace_id, pk__in=wanted))
    if len(teams) != len(wanted):
        raise NotFound("One of those teams does not exist.", code="team_not_found")
    return teams


def _check_email_free(email: str) -> str:
    email = _clean_email(email)
    if User.objects.filter(email=email).exists():
        raise Conflict(
            "Someone with that email address already has an account.", code="email_taken"
        )
    return email


def _send_invitation(
    *, workspace_id: int, email: str, role: Role, teams: list[Team], invited_by: User | None
) -> tuple[Invitation, str]:
    """Store a new invitation (replacing any open one) and enqueue its email."""
    from hubbub.accounts.tasks import send_invitation_email

    Invitation.objects.filter(
        workspace_id=workspace_id, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=clock.now())
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace_id=workspace_id,
        email=email,
        role=role,
        token_hash=selectors.hash_secret(token),
        invited_by=invited_by,
        expires_at=clock.now() + INVITATION_LIFETIME,
    )
    invitation.teams.set(teams)
    # The job row would otherwise hold the token in clear text.
    send_invitation_email.enqueue(invitation.pk, crypto.encrypt(token))
    return invitation, token


@transaction.atomic
def invite_member(
    *, actor: User, email: str, role: Role, team_ids: Iterable[int] = ()
) -> tuple[Invitation, str]:
    """Invite someone by email. Returns the invitation and its one-time token.

    The email goes out from a background job enqueued in this transaction.
    """
    permissions.check_can_manage_people(actor)
    workspace_id = selectors.workspace_id_of(actor)
    return _send_invitation(
        workspace_id=workspace_id,
        email=_check_email_free(email),
        role=role,
        teams=_teams_in_workspace(workspace_id, team_ids),
        invited_by=actor,
    )


@transaction.atomic
def start_workspace(*, name: str, admin_email: str, slug: str = "") -> tuple[Workspace, str]:
    """Create a workspace and invite its first admin; returns the workspace and token.

    This is the operator's way in (`hubbub manage create_workspace`): there is
    no admin yet who could send the invitation.
    """
    email = _check_email_free(admin_email)
    workspace = create_workspace(name=name, slug=slug)
    _, token = _send_invitation(
        workspace_id=workspace.pk, email=email, role=Role.ADMIN, teams=[], invited_by=None
    )
    return workspace, token


@transaction.atomic
def accept_invitation(*, token: str, display_name: str, password: str) -> User:
    """Turn an invitation into an account. Raises Gone for used or expired links."""
    invitation = selectors.access_invitation(token=token, for_update=True)
    if not display_name.strip():
        raise ValidationFailed("Tell your customers what to call you.", field="display_name")
    user = create_member(
        workspace=invitation.workspace,
        email=invitation.email,
        password=password,
        display_name=display_name,
        role=Role(invitation.role),
        teams=invitation.teams.all(),
    )
    invitation.accepted_at = clock.now()
    invitation.save(update_fields=["accepted_at"])
    publish(
        MemberJoined(
            user_id=user.pk,
            display_name=user.profile.display_name,
            invited_by_id=invitation.invited_by_id,
        ),
        workspace_id=invitation.workspace_id,
        team_ids=selectors.own_team_ids(user),
    )
    return user


@transaction.atomic
def revoke_invitation(*, actor: User, invitation_id: int) -> None:
    permissions.check_can_manage_people(actor)
    updated = Invitation.objects.filter(
        pk=invitation_id, workspace_id=selectors.workspace_id_of(actor), accepted_at__isnull=True
    ).update(revoked_at=clock.now())
    if not updated:
        raise NotFound("No such open invitation.", code="invitation_not_found")


@transaction.atomic
def change_role(*, actor: User, member_id: int, role: Role) -> User:
    permissions.check_can_manage_people(actor)
    member = selectors.access_member(user=actor, member_id=member_id)
    member = User.objects.select_for_update().get(pk=member.pk)
    if member.role == Role.ADMIN and role != Role.ADMIN:
        _check_not_last_admin(member)
    member.role = role
    member.save(update_fields=["role"])
    return member


@transaction.atomic
def set_needs_approval(*, actor: User, member_id: int, needs_approval: bool) -> AgentProfile:
    """Hold (or stop holding) a person's public replies for a lead's approval."""
    permissions.check_can_manage_teams(actor)
    member = selectors.access_member(user=actor, member_id=member_id)
    profile = AgentProfile.objects.select_for_update().get(user=member)
    profile.needs_approval = needs_approval
    profile.save(update_fields=["needs_approval"])
    return profile


def _check_not_last_admin(member: User) -> None:
    """Call inside the transaction that demotes or deactivates `member`.

    Locks every active admin of the workspace, so two admins demoting each
    other at once cannot both pass the check.
    """
    admins = list(
        User.objects.select_for_update()
        .filter(workspace_id=selectors.workspace_id_of(member), role=Role.ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not [pk for pk in admins if pk != member.pk]:
        raise Conflict("A workspace needs at least one active admin.", code="last_admin")


@transaction.atomic
def set_member_active(*, actor: User, member_id: int, active: bool) -> User:
    """Deactivate or reactivate a person; their history stays, their sign-in stops."""
    permissions.check_can_manage_people(actor)
    member = selectors.access_member(user=actor, member_id=member_id)
    if member.pk == actor.pk and not active:
        raise Conflict("You cannot deactivate yourself.", code="self_deactivation")
    if not active and member.role == Role.ADMIN:
        _check_not_last_admin(member)
    member.is_active = active
    member.save(update_fields=["is_active"])
    if not active:
        ApiToken.objects.filter(user=member, revoked_at__isnull=True).update(revoked_at=clock.now())
    return member


@transaction.atomic
def update_profile(
    *,
    actor: User,
    display_name: str,
    signature: str,
    sender_address: str,
    time_zone: str,
    languages: list[str],
) -> AgentProfile:
    display_name = display_name.strip()
    if not display_name:
        raise ValidationFailed("A display name is required.", field="display_name")
    if len(display_name) > 80:
        raise ValidationFailed("Keep the display name to 80 characters.", field="display_name")
    if len(signature) > 500:
        raise ValidationFailed("Keep the signature to 500 characters.", field="signature")
    if time_zone not in known_time_zones():
        raise ValidationFailed(f"{time_zone!r} is not a known time zone.", field="time_zone")
    if sender_address:
        sender_address = _clean_email(sender_address, field="sender_address")
    cleaned_languages = list(
        dict.fromkeys(code.strip().lower() for code in languages if code.strip())
    )
    if len(cleaned_languages) > MAX_LANGUAGES or any(
        not code.replace("-", "").isalpha() or len(code) > 8 for code in cleaned_languages
    ):
        raise ValidationFailed(
            "Languages are short codes such as en, fr or pt-br, separated by commas.",
            field="languages",
        )
    profile = AgentProfile.objects.select_for_update().get(user=actor)
    profile.display_name = display_name
    profile.signature = signature.strip()
    profile.sender_address = sender_address
    profile.time_zone = time_zone
    profile.languages = cleaned_languages
    profile.save()
    return profile


def set_avatar(*, actor: User, data: bytes) -> AgentProfile:
    """Store a new avatar (validated and re-encoded) and drop the old one."""
    name = avatars.store_avatar(data)
    with transaction.atomic():
        profile = AgentProfile.objects.select_for_update().get(user=actor)
        old, profile.avatar = profile.avatar, name
        profile.save(update_fields=["avatar"])
    avatars.delete_avatar(old)
    return profile


@transaction.atomic
def set_status(*, actor: User, status: Status) -> AgentProfile:
    profile = AgentProfile.objects.select_for_update().get(user=actor)
    if profile.status == status:
        return profile
    profile.status = status
    profile.status_changed_at = clock.now()
    profile.save(update_fields=["status", "status_changed_at"])
    publish(
        AgentStatusChanged(user_id=actor.pk, display_name=profile.display_name, status=status),
        workspace_id=selectors.workspace_id_of(actor),
        # Only people who may see this person hear of it.
        team_ids=selectors.own_team_ids(actor),
    )
    return profile


@transaction.atomic
def save_team(
    *, actor: User, name: str, kind: str, description: str = "", team_id: int | None = None
) -> Team:
    """Create a team (team_id None) or rename and describe an existing one."""
    permissions.check_can_manage_teams(actor)
    name = name.strip()
    if not name or len(name) > 80:
        raise ValidationFailed("A team needs a name of up to 80 characters.", field="name")
    team = (
        Team(workspace_id=selectors.workspace_id_of(actor))
        if team_id is None
        else (selectors.access_team(user=actor, team_id=team_id))
    )
    team.name, team.kind, team.description = name, kind, description.strip()[:240]
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError as error:
        raise Conflict(
            f"There is already a team called {name!r}.", code="team_exists", field="name"
        ) from error
    publish(
        TeamChanged(team_id=team.pk, name=team.name),
        workspace_id=selectors.workspace_id_of(actor),
        team_ids=[team.pk],
    )
    return team


@transaction.atomic
def set_team_members(*, actor: User, team_id: int, member_ids: Iterable[int]) -> Team:
    permissions.check_can_manage_teams(actor)
    team = selectors.access_team(user=actor, team_id=team_id)
    wanted = set(member_ids)
    members = list(
        User.objects.filter(workspace_id=selectors.workspace_id_of(actor), pk__in=wanted)
    )
    if len(members) != len(wanted):
        raise NotFound("One of those people does not exist.", code="member_not_found")
    team.members.set(members)
    publish(
        TeamChanged(team_id=team.pk, name=team.name),
        workspace_id=team.workspace_id,
        team_ids=[team.pk],
    )
    return team


@transaction.atomic
def delete_team(*, actor: User, team_id: int) -> None:
    permissions.check_can_manage_teams(actor)
    team = selectors.access_team(user=actor, team_id=team_id)
    team.delete()


@transaction.atomic
def create_api_token(
    *, actor: User, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Make a personal API token. The plaintext is returned once and never stored."""
    name = name.strip()
    if not name or len(name) > 80:
        raise ValidationFailed(
            "Name the token (up to 80 characters) so you can recognise it.", field="name"
        )
    if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
        raise ValidationFailed("Expiry must be between 1 and 3650 days.", field="expires_in_days")
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=actor,
        name=name,
        prefix=raw[:12],
        token_hash=selectors.hash_secret(raw),
        expires_at=clock.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None,
    )
    return token, raw


@transaction.atomic
def revoke_api_token(*, actor: User, token_id: int) -> None:
    updated = ApiToken.objects.filter(pk=token_id, user=actor, revoked_at__isnull=True).update(
        revoked_at=clock.now()
    )
    if not updated:
        raise NotFound("No such token.", code="token_not_found")


def record_api_token_use(*, token: ApiToken) -> None:
    """Note when a token was last used, at most once a minute per token."""
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
