"""Reads about people and teams, always scoped to what the reader may see.

`access_*` functions fetch one thing with the permission check and raise
NotFound for anything outside the reader's scope, so that other
workspaces' ids are indistinguishable from ids that do not exist.
"""

from __future__ import annotations

import hashlib

from django.db.models import Prefetch, Q, QuerySet

from hubbub.accounts.models import ApiToken, Invitation, Role, Team, User
from hubbub.core import clock
from hubbub.core.errors import Forbidden, Gone, NotFound
from hubbub.core.types import Audience


def hash_secret(raw: str) -> str:
    # Tokens are 256 random bits, so a fast hash is safe here (no dictionary to attack).
    return hashlib.sha256(raw.encode()).hexdigest()


def workspace_id_of(user: User) -> int:
    """The reader's workspace; accounts without one (platform operators) see nothing."""
    if user.workspace_id is None:
        raise Forbidden("This account does not belong to a workspace.", code="no_workspace")
    return user.workspace_id


def own_team_ids(user: User) -> frozenset[int]:
    return frozenset(user.teams.values_list("id", flat=True))


def visible_teams(*, user: User) -> QuerySet[Team]:
    teams = Team.objects.filter(workspace_id=workspace_id_of(user))
    if not Role(user.role).sees_every_team:
        teams = teams.filter(members=user)
    return teams


def teams_with_members(*, user: User) -> QuerySet[Team]:
    members = User.objects.filter(is_active=True).select_related("profile")
    return visible_teams(user=user).prefetch_related(Prefetch("members", queryset=members))


def access_team(*, user: User, team_id: int) -> Team:
    try:
        return visible_teams(user=user).get(pk=team_id)
    except Team.DoesNotExist as error:
        raise NotFound("No such team.", code="team_not_found") from error


def visible_members(*, user: User) -> QuerySet[User]:
    """People the reader may see: the whole workspace, or their own teams' members.

    Each person's `teams` are prefetched, limited to the teams the reader may see.
    """
    people = (
        User.objects.filter(workspace_id=workspace_id_of(user))
        .select_related("profile")
        .prefetch_related(Prefetch("teams", queryset=visible_teams(user=user)))
    )
    if not Role(user.role).sees_every_team:
        people = people.filter(Q(teams__in=own_team_ids(user)) | Q(pk=user.pk)).distinct()
    return people.order_by("profile__display_name", "email")


def access_member(*, user: User, member_id: int) -> User:
    try:
        return visible_members(user=user).get(pk=member_id)
    except User.DoesNotExist as error:
        raise NotFound("No such person.", code="member_not_found") from error


def audience_for(*, user: User) -> Audience:
    team_ids = None if Role(user.role).sees_every_team else own_team_ids(user)
    return Audience(workspace_id=workspace_id_of(user), user_id=user.pk, team_ids=team_ids)


def open_invitations(*, user: User) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        workspace_id=workspace_id_of(user),
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=clock.now(),
    )


def access_invitation(*, token: str, for_update: bool = False) -> Invitation:
    """The usable invitation a link's token belongs to.

    Raises NotFound for a made-up token and Gone, with the reason, for one
    that was used, withdrawn or has expired.
    """
    invitations = Invitation.objects.select_related("workspace")
    if for_update:
        invitations = invitations.select_for_update(of=("self",))
    invitation = invitations.filter(token_hash=hash_secret(token)).first()
    if invitation is None:
        raise NotFound(
            "This invitation link is not valid. Check that you copied all of it.",
            code="invitation_invalid",
        )
    if invitation.accepted_at is not None:
        raise Gone(
            "This invitation has already been used. Sign in instead.", code="invitation_used"
        )
    if invitation.revoked_at is not None:
        raise Gone(
            "This invitation was withdrawn. Ask your admin for a new one.",
            code="invitation_revoked",
        )
    if invitation.expires_at <= clock.now():
        raise Gone(
            "This invitation has expired. Ask your admin for a new one.", code="invitation_expired"
        )
    return invitation


def api_tokens_for(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True)


def user_for_api_token(*, raw: str) -> tuple[User, ApiToken] | None:
    """The active user a live token belongs to; None for unknown, revoked or expired tokens."""
    token = (
        ApiToken.objects.select_related("user", "user__profile", "user__workspace")
        .filter(token_hash=hash_secret(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None or (token.expires_at is not None and token.expires_at <= clock.now()):
        return None
    return token.user, token
