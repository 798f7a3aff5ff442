from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from hubbub.accounts.models import User


class AccountBackend(ModelBackend):
    """ModelBackend that loads the profile and workspace with the user.

    Every page shows both, so one query instead of three per request.
    """

    def get_user(self, user_id: Any) -> User | None:
        user = User.objects.select_related("profile", "workspace").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The name django-axes counts failures under: case and spaces do not make a new one."""
    raw = (credentials or {}).get("username") or request.POST.get("username", "")
    return str(raw).strip().lower()
