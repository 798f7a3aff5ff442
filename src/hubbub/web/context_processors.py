from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from hubbub.accounts import permissions
from hubbub.accounts.models import Status, User

# The areas of the product, in the order of the navigation.
AREAS = [
    ("inbox", "Inbox", "g i"),
    ("handoffs", "Handoffs", "g h"),
    ("listening", "Listening", "g l"),
    ("knowledge", "Knowledge", "g k"),
    ("community", "Community", "g m"),
    ("contacts", "Contacts", "g c"),
    ("insights", "Insights", "g n"),
]


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or user.workspace_id is None:
        return {"areas": AREAS}
    return {
        "areas": AREAS,
        "statuses": Status.choices,
        "can_manage_people": permissions.can_manage_people(user),
        "can_manage_teams": permissions.can_manage_teams(user),
    }
