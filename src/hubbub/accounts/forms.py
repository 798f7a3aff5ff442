from __future__ import annotations

from functools import cache
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from hubbub.accounts.models import Role, Status, Team, TeamKind, User
from hubbub.accounts.services import known_time_zones


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(known_time_zones())]


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"]).strip().lower()


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        max_length=80, help_text="Customers see this name on every reply you send."
    )
    signature = forms.CharField(
        required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )
    sender_address = forms.EmailField(
        required=False,
        label="Personal sender address",
        help_text="Email replies go out from this address, not a faceless no-reply.",
    )
    time_zone = forms.ChoiceField(choices=time_zone_choices)
    languages = forms.CharField(
        required=False,
        max_length=120,
        help_text="Codes such as en, fr, pt-br, separated by commas.",
    )

    def language_list(self) -> list[str]:
        return [code for code in self.cleaned_data["languages"].split(",") if code.strip()]


class AvatarForm(forms.Form):
    avatar = forms.FileField(
        help_text="PNG, JPEG, WebP or GIF, up to 2 MB. We crop it to a square.",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}
        ),
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices)


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.AGENT)
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["teams"].queryset = Team.objects.filter(workspace_id=workspace_id)  # type: ignore[attr-defined]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TeamForm(forms.Form):
    name = forms.CharField(max_length=80)
    kind = forms.ChoiceField(choices=TeamKind.choices, initial=TeamKind.TEAM)
    description = forms.CharField(required=False, max_length=240)


class TeamMembersForm(forms.Form):
    members = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["members"]
        # Deactivated people are listed too, so saving does not silently drop them.
        field.queryset = (  # type: ignore[attr-defined]
            User.objects.filter(workspace_id=workspace_id)
            .select_related("profile")
            .order_by("-is_active", "profile__display_name")
        )
        field.label_from_instance = member_label  # type: ignore[attr-defined]


def member_label(user: User) -> str:
    suffix = "" if user.is_active else ", deactivated"
    return f"{user.profile.display_name} ({user.email}{suffix})"


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What uses this token, e.g. “CRM sync”.")
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Expires after (days)",
        help_text="Leave empty for a token that lasts until you revoke it.",
    )


class AcceptInvitationForm(forms.Form):
    display_name = forms.CharField(
        max_length=80, help_text="Your name as customers will see it, e.g. “Maya R.”."
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), min_length=10
    )
    password_again = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), label="Password, again"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data
