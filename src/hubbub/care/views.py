"""The inbox pages: views of the queue, one conversation, and the actions on it.

Every action is a POST that calls one service. With htmx it answers with the
conversation's refreshed body (facts and timeline, never the composer, so
nothing typed is lost); without JavaScript it redirects back to the page.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from hubbub.accounts import selectors as accounts_selectors
from hubbub.accounts.http import current_user, member_required
from hubbub.accounts.models import User
from hubbub.accounts.permissions import can_manage_teams, can_work_conversations
from hubbub.care import approvals as approval_services
from hubbub.care import (
    assignment,
    automation,
    case_links,
    configure,
    downloads,
    handoffs,
    macros,
    mail,
    merging,
    outbound,
    private,
    resolve,
    selectors,
    services,
    status_page,
)
from hubbub.care import presence as presence_services
from hubbub.care.handoff_views import HANDOFF_ACTIONS
from hubbub.care.models import (
    CASE_PAGE,
    CHAT,
    DIRECT_CHANNELS,
    ConversationStatus,
    DeliveryState,
    Message,
    MessageKind,
    TeamSettings,
)
from hubbub.connectors.email import sniff
from hubbub.connectors.registry import capabilities_of
from hubbub.core import clock
from hubbub.core.errors import HubbubError, ValidationFailed
from hubbub.core.middleware import DEFAULT_POLICY
from hubbub.datasets import SENTIMENTS
from hubbub.listening.pipeline.route import Intent

INTENTS = tuple(intent.value for intent in Intent)
SNOOZE_CHOICES = {
    "1h": ("For an hour", dt.timedelta(hours=1)),
    "4h": ("For 4 hours", dt.timedelta(hours=4)),
    "1d": ("Until tomorrow", dt.timedelta(days=1)),
    "7d": ("For a week", dt.timedelta(days=7)),
}


def _wanted(request: HttpRequest) -> selectors.InboxFilter:
    get = request.GET
    try:
        view = selectors.InboxView(get.get("view", "all"))
    except ValueError:
        view = selectors.InboxView.ALL
    return selectors.InboxFilter(
        view=view,
        channel=get.get("channel", "")[:20],
        sentiment=get.get("sentiment", "")[:10],
        intent=get.get("intent", "")[:20],
        lang=get.get("lang", "")[:16],
        tag=get.get("tag", "")[:40],
        search=get.get("q", "")[:200],
    )


@dataclass(frozen=True, slots=True)
class Done:
    """What an action says when it worked, and where to go next (without htmx)."""

    text: str
    go_to: int | None = None  # another conversation's page (after a merge)


@dataclass(frozen=True, slots=True)
class Outcome:
    done: Done | None  # None when the action was refused
    refused: str = ""  # the domain error's code


def _say(request: HttpRequest, action: Callable[[], str | Done]) -> Outcome:
    """Run one action and flash what happened; "not found" stays an error page."""
    try:
        result = action()
    except HubbubError as error:
        if error.status == 404:
            raise
        messages.error(request, error.message)
        return Outcome(None, error.code)
    done = result if isinstance(result, Done) else Done(result)
    if done.text:
        messages.success(request, done.text)
    return Outcome(done)


def _shown(count: int | None) -> str | None:
    if count is None:
        return None
    return f"{selectors.COUNT_CAP}+" if count > selectors.COUNT_CAP else str(count)


@member_required
def inbox(request: HttpRequest) -> HttpResponse:
    """A view of the queue with its counts; refreshed live as conversations arrive and move."""
    user = current_user(request)
    wanted = _wanted(request)
    counts = selectors.inbox_counts(user=user)
    context = {
        "area": "inbox",
        "title": "Inbox",
        "wanted": wanted,
        "views": [(view, _shown(counts.get(view))) for view in selectors.InboxView],
        "conversations": selectors.inbox(user=user, wanted=wanted),
        "facets": selectors.inbox_facets(user=user),
        "sentiments": SENTIMENTS,
        "intents": INTENTS,
        "query": request.GET.urlencode(),
        "approvals_waiting": approval_services.approval_queue(user=user).count()
        if can_manage_teams(user)
        else None,
        "notifications": selectors.unread_notifications(user=user, limit=5),
        "now": clock.now(),
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "care/inbox.html#inbox-body", context)
    return render(request, "care/inbox.html", context)


def _page_context(
    user: User, conversation_id: int, *, remote_for: int | None = None
) -> dict[str, Any]:
    view = selectors.conversation_view(user=user, conversation_id=conversation_id)
    for message in view.messages:
        # Sanitised at arrival; remote images only for the mail the agent chose to trust.
        message.shown_html = (  # type: ignore[attr-defined]
            mail.display_html(message, remote=message.pk == remote_for) if message.html else ""
        )
    composer = outbound.composer_for(
        user=user, conversation=view.conversation, mentions=view.mentions
    )
    conversation = view.conversation
    active = conversation.status in ConversationStatus.active()
    return {
        "loop": handoffs.case_loop(user=user, conversation=conversation),
        "case_link": case_links.link_for(conversation),
        "follow_up": resolve.follow_up_plan(conversation, composer) if active else None,
        "composer": composer,
        "direct_channels": DIRECT_CHANNELS,
        "area": "inbox",
        "title": view.conversation.subject,
        "view": view,
        "conversation": view.conversation,
        "can_work": can_work_conversations(user),
        "can_read_profile": capabilities_of(view.conversation.platform).profile,
        "conversation_statuses": ConversationStatus.choices,
        "snooze_choices": [(key, label) for key, (label, _) in SNOOZE_CHOICES.items()],
        "me": user,
        "now": clock.now(),
        "present": presence_services.present_on(conversation_id=conversation_id, besides=user),
        "invitation": private.invitation_for(
            agent=user,
            conversation=view.conversation,
            by_direct_message=composer.private_route == outbound.PrivateRoute.DIRECT,
        ),
        "macros": list(
            macros.usable_macros(user=user, conversation=view.conversation).only("pk", "name")
        ),
    }


@member_required
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    user = current_user(request)
    raw_remote = request.GET.get("remote", "")
    plain = raw_remote.isascii() and raw_remote.isdecimal() and len(raw_remote) <= 18
    remote_for = int(raw_remote) if plain else None
    context = _page_context(user, conversation_id, remote_for=remote_for)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "care/conversation.html#conversation-body", context)
    services.mark_notifications_read(actor=user, conversation_id=conversation_id)
    response = render(request, "care/conversation.html", context)
    hosts = _remote_hosts(context["view"].messages, remote_for)
    if hosts:
        # The agent chose to load this mail's images: this page may fetch them, no other.
        response.csp = DEFAULT_POLICY.replace(  # type: ignore[attr-defined]
            "img-src 'self'", "img-src 'self' " + " ".join(f"https://{h}" for h in hosts)
        )
    return response


HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}\.)+[a-z]{2,63}$")


def _remote_hosts(messages: list[Message], message_id: int | None) -> list[str]:
    for message in messages:
        if message.pk == message_id:
            hosts = message.details.get("remote_hosts", [])
            return [h for h in hosts if isinstance(h, str) and HOST.match(h.lower())][:20]
    return []


@member_required
@require_GET
def attachment(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """A customer's file: a download, except the safe image types (a mail's inline
    images), which show in place; sandboxed and never sniffed either way."""
    item = selectors.access_attachment(user=current_user(request), attachment_id=attachment_id)
    inline = item.content_type in sniff.SAFE_INLINE_TYPES and request.GET.get("download") != "1"
    return downloads.file_response(item, inline=inline, cache="private, max-age=3600")


Action = Callable[[User, int, HttpRequest], str | Done]


def _act(request: HttpRequest, conversation_id: int, action: Action) -> HttpResponse:
    """Run one action; say what happened; answer htmx with the refreshed body."""
    user = current_user(request)
    outcome = _say(request, lambda: action(user, conversation_id, request))
    if request.htmx:  # type: ignore[attr-defined]
        context = _page_context(user, conversation_id)
        # What the composer sent is answered next to the composer.
        context["composer_feedback"] = request.POST.get("from") == "composer"
        context["confirm_needed"] = outcome.refused == "assigned_to_someone_else"
        response = render(request, "care/conversation.html#conversation-body", context)
        if outcome.done is not None and outcome.done.text:
            # The form that asked may clear itself and its saved draft.
            response["HX-Trigger"] = "care-action-done"
        return response
    go_to = outcome.done.go_to if outcome.done is not None else None
    return redirect("care:conversation", conversation_id=go_to or conversation_id)


def _change_status(user: User, conversation_id: int, request: HttpRequest) -> str:
    changed = services.change_status(
        actor=user, conversation_id=conversation_id, status=request.POST.get("status", "")
    )
    return f"Status: {changed.get_status_display()}."


def _assign(user: User, conversation_id: int, request: HttpRequest) -> str:
    raw = request.POST.get("assignee", "")
    if raw and not raw.isdigit():
        raise ValidationFailed("Choose a person.", field="assignee")
    changed = assignment.assign_conversation(
        actor=user,
        conversation_id=conversation_id,
        assignee_id=int(raw) if raw else None,
        note=request.POST.get("note", ""),
    )
    if changed.assignee is None:
        return "Unassigned."
    return f"Assigned to {changed.assignee.profile.display_name}."


def _claim(user: User, conversation_id: int, request: HttpRequest) -> str:
    assignment.claim_conversation(actor=user, conversation_id=conversation_id)
    return "It is yours."


def _priority(user: User, conversation_id: int, request: HttpRequest) -> str:
    raw = request.POST.get("priority", "").strip()
    try:
        value = float(raw) if raw else None
    except ValueError as error:
        raise ValidationFailed("Priority is a number from 0 to 100.", field="priority") from error
    services.set_priority(actor=user, conversation_id=conversation_id, priority=value)
    return "Priority saved." if value is not None else "Priority follows triage again."


def _tags(user: User, conversation_id: int, request: HttpRequest) -> str:
    names = request.POST.get("tags", "").split(",")
    services.set_tags(actor=user, conversation_id=conversation_id, names=names)
    return "Tags saved."


def _snooze(user: User, conversation_id: int, request: HttpRequest) -> str:
    choice = request.POST.get("for", "")
    if choice == "wake":
        services.snooze(actor=user, conversation_id=conversation_id, until=None)
        return "Back in the queue."
    if choice not in SNOOZE_CHOICES:
        raise ValidationFailed("Choose how long to snooze.", field="for")
    label, length = SNOOZE_CHOICES[choice]
    services.snooze(actor=user, conversation_id=conversation_id, until=clock.now() + length)
    return f"Snoozed {label.lower()}; it comes back sooner if the customer posts."


def _note(user: User, conversation_id: int, request: HttpRequest) -> str:
    services.add_note(
        actor=user, conversation_id=conversation_id, body=request.POST.get("body", "")
    )
    return "Note added."


def _merge(user: User, conversation_id: int, request: HttpRequest) -> Done:
    raw = request.POST.get("into", "").strip().lstrip("#")
    if not raw.isdigit():
        raise ValidationFailed("Give the number of the conversation to merge into.", field="into")
    target = merging.merge_conversations(
        actor=user, conversation_id=conversation_id, into_id=int(raw)
    )
    return Done(f"Merged into #{target.pk}.", go_to=target.pk)


def _split(user: User, conversation_id: int, request: HttpRequest) -> str:
    ids = [int(v) for v in request.POST.getlist("mention") if v.isdigit()]
    split = merging.split_conversation(actor=user, conversation_id=conversation_id, mention_ids=ids)
    return f"Split into #{split.pk}."


def _reply(user: User, conversation_id: int, request: HttpRequest) -> str:
    raw_target = request.POST.get("in_reply_to", "")
    message = outbound.send_reply(
        actor=user,
        conversation_id=conversation_id,
        body=request.POST.get("body", ""),
        private=request.POST.get("private") == "1",
        in_reply_to_id=int(raw_target) if raw_target.isdigit() else None,
        confirm_not_mine=request.POST.get("confirm_not_mine") == "1",
        macro_id=int(raw_macro) if (raw_macro := request.POST.get("macro", "")).isdigit() else None,
    )
    if message.kind == MessageKind.PRIVATE:
        on_case_page = message.platform == CASE_PAGE
        return "Sent to the case page." if on_case_page else "Private message queued."
    if message.state == DeliveryState.HELD:
        return "Waiting for a lead's approval."
    return "Reply queued."


def _send_direct(user: User, conversation_id: int, request: HttpRequest) -> str:
    message = outbound.send_direct(
        actor=user,
        conversation_id=conversation_id,
        body=request.POST.get("body", ""),
        channel=request.POST.get("channel", ""),
        confirm_not_mine=request.POST.get("confirm_not_mine") == "1",
        macro_id=int(raw_macro) if (raw_macro := request.POST.get("macro", "")).isdigit() else None,
    )
    return "Sent in the chat." if message.platform == CHAT else "Email queued."


def _retry(user: User, conversation_id: int, request: HttpRequest) -> str:
    raw = request.POST.get("message", "")
    if not raw.isdigit():
        raise ValidationFailed("Which message?", field="message")
    outbound.retry_message(actor=user, message_id=int(raw))
    return "Sending again."


def _move_to_private(user: User, conversation_id: int, request: HttpRequest) -> str:
    sent = private.move_to_private(
        actor=user,
        conversation_id=conversation_id,
        public_text=request.POST.get("public_text", ""),
        private_text=request.POST.get("private_text", ""),
        confirm_not_mine=request.POST.get("confirm_not_mine") == "1",
    )
    return (
        "Moved to private: " + " and ".join(m.get_kind_display().lower() for m in sent) + " queued."
    )


def _profile(user: User, conversation_id: int, request: HttpRequest) -> str:
    services.refresh_customer_profile(actor=user, conversation_id=conversation_id)
    return "Profile read from the platform."


ACTIONS: dict[str, Action] = {
    **HANDOFF_ACTIONS,
    "reply": _reply,
    "send": _send_direct,
    "profile": _profile,
    "private": _move_to_private,
    "retry": _retry,
    "status": _change_status,
    "assign": _assign,
    "claim": _claim,
    "priority": _priority,
    "tags": _tags,
    "snooze": _snooze,
    "note": _note,
    "merge": _merge,
    "split": _split,
}


@member_required
@require_POST
def act(request: HttpRequest, conversation_id: int, action: str) -> HttpResponse:
    handler = ACTIONS.get(action)
    if handler is None:
        return render(
            request,
            "web/error.html",
            {"title": "Not found", "message": "No such action."},
            status=404,
        )
    return _act(request, conversation_id, handler)


@member_required
@require_POST
def open_from_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    try:
        opened = services.open_conversation(actor=current_user(request), mention_id=mention_id)
    except HubbubError as error:
        messages.error(request, error.message)
        return redirect("listening:mention", mention_id=mention_id)
    if opened.created:
        messages.success(request, "Conversation opened with the customer's recent mentions.")
    else:
        messages.info(request, "This customer already has an open conversation: it is here.")
    return redirect("care:conversation", conversation_id=opened.conversation.pk)


@member_required
def approvals(request: HttpRequest) -> HttpResponse:
    """The lead's queue of held public replies, oldest first; refreshed live."""
    context = {"area": "inbox", "title": "Approvals", **_approvals(current_user(request))}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "care/approvals.html#approval-list", context)
    return render(request, "care/approvals.html", context)


def _approvals(user: User) -> dict[str, Any]:
    return {
        "held": list(approval_services.approval_queue(user=user)[:100]),
        "can_approve": can_manage_teams(user),
    }


@member_required
@require_POST
def review(request: HttpRequest, message_id: int, decision: str) -> HttpResponse:
    """Approve (possibly edited) or send back a held reply."""
    user = current_user(request)

    def decide() -> str:
        if decision == "approve":
            body = request.POST.get("body")
            approval_services.approve_message(actor=user, message_id=message_id, body=body)
            return "Approved: it is on its way."
        if decision == "return":
            comment = request.POST.get("comment", "")
            approval_services.return_message(actor=user, message_id=message_id, comment=comment)
            return "Sent back to its author with your comment."
        raise ValidationFailed("Approve or send back.", field="decision")

    _say(request, decide)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "care/approvals.html#approval-list", _approvals(user))
    return redirect("care:approvals")


@member_required
def presence(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """GET: who else is here; POST: where I am (viewing, typing or left)."""
    user = current_user(request)
    if request.method == "POST":
        presence_services.report_presence(
            actor=user, conversation_id=conversation_id, state=request.POST.get("state", "")
        )
        return HttpResponse(status=204)
    selectors.access_conversation(user=user, conversation_id=conversation_id)
    return render(
        request,
        "care/_presence.html",
        {
            "present": presence_services.present_on(conversation_id=conversation_id, besides=user),
            "conversation_id": conversation_id,
        },
    )


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@member_required
def settings_page(request: HttpRequest) -> HttpResponse:
    """How the care teams work: assignment, calendars, SLA policies, capacity (leads edit)."""
    user = current_user(request)
    teams = []
    for team, settings in selectors.team_settings(user=user):
        hours = settings.business_hours if settings else {}
        teams.append(
            {
                "team": team,
                "settings": settings,
                "around_the_clock": not hours,
                "days": [
                    (index, name, *(hours.get(str(index)) or [["", ""]])[0])
                    for index, name in enumerate(WEEKDAYS)
                ],
                "holidays": "\n".join(settings.holidays if settings else []),
            }
        )
    return render(
        request,
        "care/settings.html",
        {
            "area": "inbox",
            "title": "Inbox settings",
            "teams": teams,
            "policies": selectors.sla_policies(user=user),
            "agents": selectors.agents_with_capacity(user=user),
            "default_acknowledgement": automation.DEFAULT_TEMPLATE,
            "default_reopen_days": TeamSettings.DEFAULT_REOPEN_DAYS,
            "can_manage": can_manage_teams(user),
        },
    )


def _number_or(number: int | None, default: int) -> int:
    return default if number is None else number


def _optional_number(request: HttpRequest, name: str, message: str) -> int | None:
    """A whole number from the form, or None when left empty."""
    raw = request.POST.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationFailed(message, field=name)
    return int(raw)


def _number(request: HttpRequest, name: str, message: str) -> int:
    number = _optional_number(request, name, message)
    if number is None:
        raise ValidationFailed(message, field=name)
    return number


@member_required
@require_POST
def save_settings(request: HttpRequest, what: str, item_id: int = 0) -> HttpResponse:
    user = current_user(request)
    post = request.POST

    def save() -> str:
        if what == "team":
            configure.save_team_settings(
                actor=user,
                team_id=item_id,
                wanted=configure.TeamCalendarInput(
                    auto_assign=post.get("auto_assign") == "1",
                    time_zone=post.get("time_zone", "UTC").strip(),
                    around_the_clock=post.get("around_the_clock") == "1",
                    hours={
                        day: (post.get(f"open_{day}", ""), post.get(f"close_{day}", ""))
                        for day in range(7)
                    },
                    holidays=post.get("holidays", "").splitlines(),
                    auto_acknowledge=post.get("auto_acknowledge") == "1",
                    acknowledge_template=post.get("acknowledge_template", ""),
                    update_every_hours=_optional_number(
                        request, "update_every_hours", "Give whole hours."
                    ),
                    reopen_within_days=_number_or(
                        _optional_number(request, "reopen_within_days", "Give whole days."),
                        TeamSettings.DEFAULT_REOPEN_DAYS,
                    ),
                ),
            )
            return "Team settings saved; open SLA clocks follow them."
        if what == "policy":
            minutes = "Give whole minutes."
            configure.save_sla_policy(
                actor=user,
                policy_id=item_id or None,
                wanted=configure.PolicyInput(
                    name=post.get("name", ""),
                    channel=post.get("channel", ""),
                    min_priority=_optional_number(
                        request, "min_priority", "Priority goes from 0 to 100."
                    )
                    or 0,
                    first_response_minutes=_number(request, "first_response_minutes", minutes),
                    next_response_minutes=_optional_number(
                        request, "next_response_minutes", minutes
                    ),
                    resolution_minutes=_optional_number(request, "resolution_minutes", minutes),
                ),
            )
            return "SLA policy saved."
        if what == "delete-policy":
            configure.delete_sla_policy(actor=user, policy_id=item_id)
            return "SLA policy deleted."
        if what == "capacity":
            capacity = _number(request, "capacity", "Capacity is a whole number.")
            configure.set_capacity(actor=user, member_id=item_id, capacity=capacity)
            return "Capacity saved."
        raise ValidationFailed("Nothing to save there.", field="what")

    _say(request, save)
    return redirect("care:settings")


@member_required
def macro_text(request: HttpRequest, conversation_id: int, macro_id: int) -> HttpResponse:
    """A macro written out for this customer and agent: what the composer inserts."""
    user = current_user(request)
    conversation = selectors.access_conversation(user=user, conversation_id=conversation_id)
    macro = macros.access_macro(user=user, macro_id=macro_id, conversation=conversation)
    text = macros.render(macro, conversation=conversation, agent=user)
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@member_required
def macros_page(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    return render(
        request,
        "care/macros.html",
        {
            "area": "inbox",
            "title": "Macros",
            "macros": list(macros.usable_macros(user=user).select_related("team")),
            "teams": list(accounts_selectors.visible_teams(user=user).filter(kind="team")),
            "variables": macros.VARIABLES,
            "can_manage": can_manage_teams(user),
        },
    )


@member_required
@require_POST
def save_macro(request: HttpRequest, macro_id: int = 0) -> HttpResponse:
    user = current_user(request)
    post = request.POST

    def save() -> str:
        if post.get("delete") == "1":
            macros.delete_macro(actor=user, macro_id=macro_id)
            return "Macro deleted."
        team = post.get("team", "")
        macros.save_macro(
            actor=user,
            macro_id=macro_id or None,
            name=post.get("name", ""),
            body=post.get("body", ""),
            team_id=int(team) if team.isdigit() else None,
            article_url=post.get("article_url", "").strip(),
        )
        return "Macro saved."

    _say(request, save)
    return redirect("care:macros")


CASE_COOKIE_DAYS = 180


def case(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's view of their case, through its secure link: no account needed.

    Anyone with the link sees its status; the private thread is for the
    browser that wrote first (its secret is in a cookie), because the link
    may have been posted in public.
    """
    conversation = case_links.conversation_for(token)
    if conversation is None:
        return render(request, "care/case_missing.html", {"title": "Case not found"}, status=404)
    cookie = f"hubbub_case_{conversation.pk}"
    secret = request.COOKIES.get(cookie, "")
    error = ""
    if request.method == "POST":
        try:
            written = private.customer_writes(
                conversation=conversation, body=request.POST.get("body", ""), secret=secret
            )
        except HubbubError as refused:
            error = refused.message
        else:
            response = redirect(reverse("care:case", args=[token]) + "#thread")
            if written.new_secret:
                response.set_cookie(
                    cookie,
                    written.new_secret,
                    max_age=CASE_COOKIE_DAYS * 24 * 3600,
                    path=reverse("care:case", args=[token]),
                    secure=request.is_secure(),
                    httponly=True,
                    samesite="Lax",
                )
            return response
    reader = private.case_reader(conversation, secret)
    holder = reader == private.CaseReader.HOLDER
    return render(
        request,
        "care/case.html",
        {
            "title": "Your case",
            "case": conversation,
            "page": status_page.status_page(conversation),
            "reader": reader.value,
            "thread": selectors.case_thread(conversation) if holder else [],
            "error": error,
            "draft": request.POST.get("body", "") if error else "",
        },
        status=422 if error else 200,
    )
