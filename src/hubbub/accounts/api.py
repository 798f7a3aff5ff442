"""REST endpoints for the signed-in person, people, teams, invitations and tokens."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from ninja import Router
from ninja.responses import Status as Reply

from hubbub.accounts import selectors, services
from hubbub.accounts.models import AgentProfile, ApiToken, Role, Status, Team, TeamKind, User
from hubbub.accounts.schemas import (
    InvitationIn,
    InvitationOut,
    MemberOut,
    MeOut,
    NewTokenOut,
    ProfileIn,
    ProfileOut,
    StatusIn,
    TeamIn,
    TeamMembersIn,
    TeamOut,
    TeamRef,
    TokenIn,
    TokenOut,
    WorkspaceOut,
)
from hubbub.api.auth import api_user

router = Router(tags=["people and teams"])


def _avatar_url(profile: AgentProfile) -> str | None:
    if not profile.avatar:
        return None
    return reverse("web:avatar", args=[profile.avatar.removeprefix("avatars/")])


def _me(user: User) -> MeOut:
    profile = user.profile
    assert user.workspace is not None
    return MeOut(
        id=user.pk,
        email=user.email,
        role=Role(user.role),
        workspace=WorkspaceOut(
            id=user.workspace.pk, name=user.workspace.name, slug=user.workspace.slug
        ),
        profile=ProfileOut(
            display_name=profile.display_name,
            avatar_url=_avatar_url(profile),
            signature=profile.signature,
            sender_address=profile.sender_address,
            time_zone=profile.time_zone,
            languages=profile.languages,
            status=Status(profile.status),
        ),
        teams=[TeamRef(id=t.pk, name=t.name, kind=TeamKind(t.kind)) for t in user.teams.all()],
    )


def _member(user: User) -> MemberOut:
    return MemberOut(
        id=user.pk,
        email=user.email,
        role=Role(user.role),
        is_active=user.is_active,
        display_name=user.profile.display_name,
        avatar_url=_avatar_url(user.profile),
        status=Status(user.profile.status),
        team_ids=[team.pk for team in user.teams.all()],
    )


def _team(team: Team) -> TeamOut:
    return TeamOut(
        id=team.pk,
        name=team.name,
        kind=TeamKind(team.kind),
        description=team.description,
        member_ids=[member.pk for member in team.members.all()],
    )


@router.get("/me", response=MeOut, summary="The signed-in person")
def get_me(request: HttpRequest) -> MeOut:
    return _me(api_user(request))


@router.patch("/me", response=MeOut, summary="Change your own profile")
def patch_me(request: HttpRequest, data: ProfileIn) -> MeOut:
    actor = api_user(request)
    current = actor.profile
    services.update_profile(
        actor=actor,
        display_name=current.display_name if data.display_name is None else data.display_name,
        signature=current.signature if data.signature is None else data.signature,
        sender_address=current.sender_address
        if data.sender_address is None
        else data.sender_address,
        time_zone=current.time_zone if data.time_zone is None else data.time_zone,
        languages=current.languages if data.languages is None else data.languages,
    )
    actor.profile.refresh_from_db()
    return _me(actor)


@router.put("/me/status", response=MeOut, summary="Set your presence")
def put_status(request: HttpRequest, data: StatusIn) -> MeOut:
    actor = api_user(request)
    services.set_status(actor=actor, status=data.status)
    actor.profile.refresh_from_db()
    return _me(actor)


@router.get("/people", response=list[MemberOut], summary="People you may see")
def list_people(request: HttpRequest) -> list[MemberOut]:
    members = selectors.visible_members(user=api_user(request))
    return [_member(member) for member in members]


@router.get("/people/{member_id}", response=MemberOut)
def get_person(request: HttpRequest, member_id: int) -> MemberOut:
    return _member(selectors.access_member(user=api_user(request), member_id=member_id))


@router.get("/teams", response=list[TeamOut], summary="Teams and departments you may see")
def list_teams(request: HttpRequest) -> list[TeamOut]:
    return [
        _team(team)
        for team in selectors.visible_teams(user=api_user(request)).prefetch_related("members")
    ]


@router.get("/teams/{team_id}", response=TeamOut)
def get_team(request: HttpRequest, team_id: int) -> TeamOut:
    return _team(selectors.access_team(user=api_user(request), team_id=team_id))


@router.post("/teams", response={201: TeamOut}, summary="Create a team (admins and leads)")
def create_team(request: HttpRequest, data: TeamIn) -> Reply[TeamOut]:
    team = services.save_team(
        actor=api_user(request), name=data.name, kind=data.kind, description=data.description
    )
    return Reply(201, _team(team))


@router.put("/teams/{team_id}/members", response=TeamOut, summary="Replace a team's members")
def put_team_members(request: HttpRequest, team_id: int, data: TeamMembersIn) -> TeamOut:
    team = services.set_team_members(
        actor=api_user(request), team_id=team_id, member_ids=data.member_ids
    )
    return _team(team)


@router.post("/invitations", response={201: InvitationOut}, summary="Invite someone (admins)")
def create_invitation(request: HttpRequest, data: InvitationIn) -> Reply[InvitationOut]:
    invitation, _token = services.invite_member(
        actor=api_user(request), email=data.email, role=data.role, team_ids=data.team_ids
    )
    return Reply(
        201,
        InvitationOut(
            id=invitation.pk,
            email=invitation.email,
            role=Role(invitation.role),
            expires_at=invitation.expires_at,
        ),
    )


def _token(token: ApiToken) -> TokenOut:
    return TokenOut(
        id=token.pk,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        expires_at=token.expires_at,
    )


@router.get("/tokens", response=list[TokenOut], summary="Your live API tokens")
def list_tokens(request: HttpRequest) -> list[TokenOut]:
    return [_token(token) for token in selectors.api_tokens_for(user=api_user(request))]


@router.post("/tokens", response={201: NewTokenOut}, summary="Make a token (shown once)")
def create_token(request: HttpRequest, data: TokenIn) -> Reply[NewTokenOut]:
    token, raw = services.create_api_token(
        actor=api_user(request), name=data.name, expires_in_days=data.expires_in_days
    )
    return Reply(201, NewTokenOut(**_token(token).model_dump(), token=raw))


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke a token")
def delete_token(request: HttpRequest, token_id: int) -> Reply[None]:
    services.revoke_api_token(actor=api_user(request), token_id=token_id)
    return Reply(204, None)
