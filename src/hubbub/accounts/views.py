"""Pages for signing in, invitations, and the settings area (profile, people, teams, tokens).

Views parse, call one service or selector, and render. Domain errors become
form errors or messages; nothing here writes to the database directly.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from hubbub.accounts import permissions, selectors, services
from hubbub.accounts.forms import (
    AcceptInvitationForm,
    ApiTokenForm,
    AvatarForm,
    InviteForm,
    ProfileForm,
    RoleForm,
    StatusForm,
    TeamForm,
    TeamMembersForm,
)
from hubbub.accounts.http import add_form_error, current_user, member_required
from hubbub.accounts.models import Role, Status, User
from hubbub.core.errors import HubbubError

# --- invitations -------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = selectors.access_invitation(token=token)
    except HubbubError as error:
        return render(
            request,
            "accounts/invitation_invalid.html",
            {"message": error.message},
            status=error.status,
        )
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.accept_invitation(
                token=token,
                display_name=form.cleaned_data["display_name"],
                password=form.cleaned_data["password"],
            )
        except HubbubError as error:
            add_form_error(form, error)
        else:
            login(request, user, backend="hubbub.accounts.backends.AccountBackend")
            messages.success(request, f"Welcome to {user.workspace}.")
            return redirect("web:inbox")
    return render(
        request, "accounts/accept_invitation.html", {"form": form, "invitation": invitation}
    )


# --- profile and status -------------------------------------------------------


@member_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    current = user.profile
    initial = {
        "display_name": current.display_name,
        "signature": current.signature,
        "sender_address": current.sender_address,
        "time_zone": current.time_zone,
        "languages": ", ".join(current.languages),
    }
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_profile(
                actor=user,
                display_name=form.cleaned_data["display_name"],
                signature=form.cleaned_data["signature"],
                sender_address=form.cleaned_data["sender_address"],
                time_zone=form.cleaned_data["time_zone"],
                languages=form.language_list(),
            )
        except HubbubError as error:
            add_form_error(form, error)
        else:
            messages.success(request, "Profile saved.")
            return redirect("accounts:profile")
    return render(
        request,
        "accounts/profile.html",
        {"form": form, "avatar_form": AvatarForm(), "section": "profile"},
    )


@member_required
@require_POST
def upload_avatar(request: HttpRequest) -> HttpResponse:
    limit = settings.HUBBUB_AVATAR_MAX_BYTES
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 64 * 1024:
        # Refuse before Django spools a huge body to disk.
        messages.error(request, f"That file is too large; the limit is {limit // 1024 // 1024} MB.")
        return redirect("accounts:profile")
    form = AvatarForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose an image file to upload.")
        return redirect("accounts:profile")
    # Read one byte past the limit: enough to know it is too large.
    data = form.cleaned_data["avatar"].read(limit + 1)
    _run(
        request,
        lambda: services.set_avatar(actor=current_user(request), data=data),
        "Photo updated.",
    )
    return redirect("accounts:profile")


@member_required
@require_POST
def change_status(request: HttpRequest) -> HttpResponse:
    form = StatusForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Unknown status.", status=400)
    user = current_user(request)
    services.set_status(actor=user, status=Status(form.cleaned_data["status"]))
    user.profile.refresh_from_db()
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "web/base.html#status-menu", {})
    back = request.headers.get("Referer", "")
    if url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("web:inbox")


# --- people -------------------------------------------------------------------


@member_required
def people(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    context = {
        "section": "people",
        "members": selectors.visible_members(user=user),
        "invitations": selectors.open_invitations(user=user)
        if permissions.can_manage_people(user)
        else [],
        "can_manage": permissions.can_manage_people(user),
        "can_manage_approvals": permissions.can_manage_teams(user),
        "sees_everyone": Role(user.role).sees_every_team,
        "roles": Role.choices,
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "accounts/people.html#people-list", context)
    return render(request, "accounts/people.html", context)


@member_required
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    if not permissions.can_manage_people(user):
        return render(
            request,
            "web/error.html",
            {"title": "Admins only", "message": "Only admins can invite people."},
            status=403,
        )
    assert user.workspace_id is not None
    form = InviteForm(request.POST or None, workspace_id=user.workspace_id)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, _token = services.invite_member(
                actor=user,
                email=form.cleaned_data["email"],
                role=Role(form.cleaned_data["role"]),
                team_ids=[team.pk for team in form.cleaned_data["teams"]],
            )
        except HubbubError as error:
            add_form_error(form, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("accounts:people")
    return render(request, "accounts/invite.html", {"form": form, "section": "people"})


@member_required
@require_POST
def revoke_invitation(request: HttpRequest, invitation_id: int) -> HttpResponse:
    _run(
        request,
        lambda: services.revoke_invitation(
            actor=current_user(request), invitation_id=invitation_id
        ),
        "Invitation withdrawn.",
    )
    return redirect("accounts:people")


@member_required
@require_POST
def change_role(request: HttpRequest, member_id: int) -> HttpResponse:
    form = RoleForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.change_role(
                actor=current_user(request),
                member_id=member_id,
                role=Role(form.cleaned_data["role"]),
            ),
            "Role changed.",
        )
    return redirect("accounts:people")


@member_required
@require_POST
def set_needs_approval(request: HttpRequest, member_id: int) -> HttpResponse:
    if request.POST.get("needs_approval") not in {"0", "1"}:
        return HttpResponse("Say needs_approval=1 or needs_approval=0.", status=400)
    needs = request.POST["needs_approval"] == "1"
    _run(
        request,
        lambda: services.set_needs_approval(
            actor=current_user(request), member_id=member_id, needs_approval=needs
        ),
        "Their public replies now wait for a lead's approval."
        if needs
        else "Their public replies go out directly.",
    )
    return redirect("accounts:people")


@member_required
@require_POST
def set_active(request: HttpRequest, member_id: int) -> HttpResponse:
    if request.POST.get("active") not in {"0", "1"}:
        return HttpResponse("Say active=1 or active=0.", status=400)
    active = request.POST["active"] == "1"
    _run(
        request,
        lambda: services.set_member_active(
            actor=current_user(request), member_id=member_id, active=active
        ),
        "Reactivated." if active else "Deactivated: they can no longer sign in.",
    )
    return redirect("accounts:people")


def _run(request: HttpRequest, action: Callable[[], object], success: str) -> bool:
    try:
        action()
    except HubbubError as error:
        messages.error(request, error.message)
        return False
    messages.success(request, success)
    return True


# --- teams --------------------------------------------------------------------


@member_required
@require_http_methods(["GET", "POST"])
def teams(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.save_team(actor=user, **form.cleaned_data)
        except HubbubError as error:
            add_form_error(form, error)
        else:
            messages.success(request, f"{team.name} created.")
            return redirect("accounts:team", team_id=team.pk)
    return render(
        request,
        "accounts/teams.html",
        {
            "section": "teams",
            "form": form,
            "teams": selectors.teams_with_members(user=user),
            "can_manage": permissions.can_manage_teams(user),
        },
    )


@member_required
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest, team_id: int) -> HttpResponse:
    user = current_user(request)
    team = selectors.access_team(user=user, team_id=team_id)
    assert user.workspace_id is not None
    details = TeamForm(
        request.POST if "save_details" in request.POST else None,
        initial={"name": team.name, "kind": team.kind, "description": team.description},
    )
    members = TeamMembersForm(
        request.POST if "save_members" in request.POST else None,
        workspace_id=user.workspace_id,
        initial={"members": list(team.members.all())},
    )
    if request.method == "POST":
        saved = _save_team(request, user, team.pk, details, members)
        if saved:
            return redirect("accounts:team", team_id=team.pk)
    return render(
        request,
        "accounts/team.html",
        {
            "section": "teams",
            "team": team,
            "details": details,
            "members_form": members,
            "members": team.members.select_related("profile").order_by("profile__display_name"),
            "can_manage": permissions.can_manage_teams(user),
        },
    )


def _save_team(
    request: HttpRequest, user: User, team_id: int, details: TeamForm, members: TeamMembersForm
) -> bool:
    form: forms.Form = details if details.is_bound else members
    if not form.is_valid():
        return False
    try:
        if form is details:
            services.save_team(actor=user, team_id=team_id, **details.cleaned_data)
        else:
            services.set_team_members(
                actor=user,
                team_id=team_id,
                member_ids=[m.pk for m in members.cleaned_data["members"]],
            )
    except HubbubError as error:
        add_form_error(form, error)
        return False
    messages.success(request, "Team saved.")
    return True


@member_required
@require_POST
def delete_team(request: HttpRequest, team_id: int) -> HttpResponse:
    if _run(
        request,
        lambda: services.delete_team(actor=current_user(request), team_id=team_id),
        "Team deleted.",
    ):
        return redirect("accounts:teams")
    return redirect("accounts:team", team_id=team_id)


# --- API tokens ---------------------------------------------------------------


@member_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    form = ApiTokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_token = services.create_api_token(actor=user, **form.cleaned_data)
        except HubbubError as error:
            add_form_error(form, error)
        else:
            form = ApiTokenForm()
    return render(
        request,
        "accounts/tokens.html",
        {
            "section": "tokens",
            "form": form,
            "new_token": new_token,
            "tokens": selectors.api_tokens_for(user=user),
        },
    )


@member_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    _run(
        request,
        lambda: services.revoke_api_token(actor=current_user(request), token_id=token_id),
        "Token revoked: it stops working at once.",
    )
    return redirect("accounts:tokens")
