"""What every page view of a signed-in person needs: the guard, the user, form errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hubbub.accounts.models import User
from hubbub.core.errors import HubbubError

View = Callable[..., HttpResponse]


def member_required(view: View) -> View:
    """Signed in and belonging to a workspace."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request.user, "workspace_id", None) is None:
            return render(
                request,
                "web/error.html",
                {
                    "title": "No workspace",
                    "message": "Your account does not belong to a workspace.",
                },
                status=403,
            )
        return view(request, *args, **kwargs)

    return wrapped


def current_user(request: HttpRequest) -> User:
    """The signed-in person; only for views behind `member_required`."""
    assert isinstance(request.user, User)
    return request.user


def add_form_error(form: forms.Form, error: HubbubError) -> None:
    """Show a domain error on its field, or above the form."""
    form.add_error(error.field if error.field in form.fields else None, error.message)
