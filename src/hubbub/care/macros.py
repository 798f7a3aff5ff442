"""Macros: saved replies with variables, per team, previewed in the composer before sending.

Variables are replaced by plain substitution, never by a template engine:
a macro's text (and the customer's name inside it) can hold nothing that
runs. When an agent sends a macro unedited to many customers in a day, the
team's leads are told once: the copy-and-paste feel is what customers hate.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet

from hubbub.accounts import permissions
from hubbub.accounts import selectors as accounts
from hubbub.accounts.models import Role, User
from hubbub.care import audit, case_links
from hubbub.care.models import Conversation, Macro, MacroFlag, Message
from hubbub.core import clock
from hubbub.core.errors import NotFound, ValidationFailed

VARIABLES = ("customer_name", "agent_name", "case_link", "article_link")
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# Sent unedited to this many different customers in a day: the leads hear of it.
UNEDITED_FLAG_AT = 5
MAX_BODY = 2000


def usable_macros(*, user: User, conversation: Conversation | None = None) -> QuerySet[Macro]:
    """Macros of every team, and of the conversation's (or the reader's) teams."""
    macros = Macro.objects.filter(workspace_id=accounts.workspace_id_of(user))
    if conversation is not None and conversation.team_id is not None:
        return macros.filter(Q(team__isnull=True) | Q(team_id=conversation.team_id))
    if Role(user.role).sees_every_team:
        return macros
    return macros.filter(Q(team__isnull=True) | Q(team_id__in=accounts.own_team_ids(user)))


def render(macro: Macro, *, conversation: Conversation, agent: User) -> str:
    """The macro's text for this customer, from this agent."""
    customer = conversation.greeting_name
    values = {
        "customer_name": customer,
        "agent_name": audit.name_of(agent).split()[0],
        "case_link": case_links.link_for(conversation),
        "article_link": macro.article_url or "",
    }
    return fill(macro.body, values).strip()


def fill(text: str, values: Mapping[str, str]) -> str:
    """Each {name} of `values` replaced by its value; plain substitution, nothing evaluated."""
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def check_variables(text: str, allowed: Sequence[str], *, field: str) -> None:
    """Refuse a template with a {name} it cannot fill."""
    unknown = sorted(set(PLACEHOLDER.findall(text)) - set(allowed))
    if unknown:
        raise ValidationFailed(
            f"Unknown variable {{{unknown[0]}}}: use "
            + ", ".join(f"{{{name}}}" for name in allowed)
            + ".",
            field=field,
        )


def access_macro(*, user: User, macro_id: int, conversation: Conversation | None = None) -> Macro:
    macro = usable_macros(user=user, conversation=conversation).filter(pk=macro_id).first()
    if macro is None:
        raise NotFound("No such macro.", code="macro_not_found")
    return macro


def note_use(*, macro: Macro, message: Message, conversation: Conversation, actor: User) -> None:
    """Count a use (in the sender's transaction); flag unedited mass sending to the leads."""
    Macro.objects.filter(pk=macro.pk).update(usage_count=F("usage_count") + 1)
    if not message.macro_unedited:
        return
    since = clock.now() - dt.timedelta(days=1)
    customers = (
        Message.objects.filter(
            author=actor, macro=macro, macro_unedited=True, created_at__gte=since
        )
        .values("conversation__customer_handle")
        .distinct()
        .count()
    )
    if customers < UNEDITED_FLAG_AT:
        return
    try:
        with transaction.atomic():
            MacroFlag.objects.create(
                macro=macro, agent=actor, day=clock.now().date(), customers=customers
            )
    except IntegrityError:
        return  # the leads heard about it today already
    from hubbub.care.approvals import approvers_of
    from hubbub.care.services import notify

    for lead in approvers_of(conversation):
        notify(
            lead,
            conversation,
            message,
            f"{audit.name_of(actor)} sent the macro “{macro.name}” unedited to "
            f"{customers} customers today",
        )


@transaction.atomic
def save_macro(
    *,
    actor: User,
    name: str,
    body: str,
    team_id: int | None,
    article_url: str = "",
    macro_id: int | None = None,
) -> Macro:
    """Add or change a macro (leads and admins)."""
    permissions.check_can_manage_teams(actor)
    workspace_id = accounts.workspace_id_of(actor)
    name, body = " ".join(name.split())[:80], body.strip()
    if not name:
        raise ValidationFailed("Name the macro.", field="name")
    if not body:
        raise ValidationFailed("Write the macro's text.", field="body")
    if len(body) > MAX_BODY:
        raise ValidationFailed(f"A macro is at most {MAX_BODY} characters.", field="body")
    check_variables(body, VARIABLES, field="body")
    if article_url and not article_url.startswith(("https://", "http://")):
        raise ValidationFailed("The article link starts with https://.", field="article_url")
    if team_id is not None and not accounts.visible_teams(user=actor).filter(pk=team_id).exists():
        raise ValidationFailed("Choose one of your teams.", field="team")
    macro = Macro(workspace_id=workspace_id, created_by=actor)
    if macro_id is not None:
        macro = Macro.objects.filter(pk=macro_id, workspace_id=workspace_id).first() or _missing()
    macro.name, macro.body, macro.team_id, macro.article_url = name, body, team_id, article_url
    macro.save()
    return macro


def _missing() -> Macro:
    raise NotFound("No such macro.", code="macro_not_found")


@transaction.atomic
def delete_macro(*, actor: User, macro_id: int) -> None:
    permissions.check_can_manage_teams(actor)
    deleted, _ = Macro.objects.filter(
        pk=macro_id, workspace_id=accounts.workspace_id_of(actor)
    ).delete()
    if not deleted:
        raise NotFound("No such macro.", code="macro_not_found")
