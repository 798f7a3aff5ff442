"""What each role may do. Pages, API and services all ask here."""

from __future__ import annotations

from hubbub.accounts.models import Role, User
from hubbub.core.errors import Forbidden


def can_manage_people(user: User) -> bool:
    return user.role == Role.ADMIN


def can_manage_teams(user: User) -> bool:
    return user.role in {Role.ADMIN, Role.LEAD}


def check_can_manage_people(user: User) -> None:
    if not can_manage_people(user):
        raise Forbidden("Only admins can manage people.", code="admin_only")


def check_can_manage_teams(user: User) -> None:
    if not can_manage_teams(user):
        raise Forbidden("Only admins and team leads can manage teams.", code="lead_only")


def can_work_conversations(user: User) -> bool:
    """Everyone but read-only members opens, answers and moves conversations."""
    return user.role != Role.READONLY


def check_can_work_conversations(user: User) -> None:
    if not can_work_conversations(user):
        raise Forbidden("Read-only members cannot work on conversations.", code="read_only")


def can_manage_sources(user: User) -> bool:
    """Sources hold the brand's platform credentials: admins only."""
    return user.role == Role.ADMIN


def check_can_manage_sources(user: User) -> None:
    if not can_manage_sources(user):
        raise Forbidden("Only admins can add and change sources.", code="admin_only")


def can_decide_advocacy(user: User) -> bool:
    """Who talks to customers decides who speaks for the brand: agents, leads and admins."""
    return user.role in {Role.ADMIN, Role.LEAD, Role.AGENT}


def check_can_decide_advocacy(user: User) -> None:
    if not can_decide_advocacy(user):
        raise Forbidden(
            "Only agents, leads and admins decide who is an advocate.", code="read_only"
        )
