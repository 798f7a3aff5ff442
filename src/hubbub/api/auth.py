"""API authentication: a personal token (Bearer) or the browser session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.security.session import SessionAuth

from hubbub.accounts import selectors, services
from hubbub.accounts.models import User


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        found = selectors.user_for_api_token(raw=token)
        if found is None or found[0].workspace_id is None:
            return None
        user, api_token = found
        services.record_api_token_use(token=api_token)
        request.user = user
        return user


class WorkspaceSessionAuth(SessionAuth):
    """The browser session, with CSRF, for users who belong to a workspace.

    A request that carries an Authorization header (or no session cookie) is
    not a browser session: it gets a plain 401 rather than a CSRF complaint.
    """

    def __call__(self, request: HttpRequest) -> Any:
        if "authorization" in request.headers or self.param_name not in request.COOKIES:
            return None
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        if isinstance(user, User) and user.workspace_id is not None:
            return user
        return None


api_auth: list[HttpBearer | APIKeyCookie] = [TokenAuth(), WorkspaceSessionAuth()]


def api_user(request: HttpRequest) -> User:
    """The person an authenticated API request acts as."""
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user
