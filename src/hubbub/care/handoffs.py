"""Handing a customer's problem to another department, and keeping the customer told.

The care agent who hands off stays the owner: the department (its members
in Hubbub, or one person outside it through a signed, expiring email link)
posts progress, every update reaches the owner live, and the owner decides
what the customer reads on their status page. One open handoff per
conversation and per customer, so the customer never gets two different
requests from two parts of the brand.

The team's update policy ("tell the customer something every 24 hours while
a handoff is open") is kept as `Conversation.update_due_at`: set when a
handoff opens, pushed back whenever the customer hears from us, cleared when
the handoff closes; `remind_due_updates` (in the worker) tells the owner.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse

from hubbub.accounts import permissions
from hubbub.accounts.models import Role, Team, TeamKind, User
from hubbub.accounts.selectors import workspace_id_of
from hubbub.care import audit, sla
from hubbub.care.events import HandoffChanged
from hubbub.care.models import (
    ActivityKind,
    Attachment,
    Conversation,
    ConversationStatus,
    Handoff,
    HandoffState,
    HandoffUpdate,
    Message,
    MessageKind,
    ProgressSource,
    StatusUpdate,
    TeamSettings,
)
from hubbub.care.services import access_for_work, announce_change, notify
from hubbub.connectors.email import attachments as files
from hubbub.connectors.email.mime import Limits
from hubbub.connectors.email.sniff import sniff
from hubbub.core import clock
from hubbub.core.errors import (
    Conflict,
    Gone,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from hubbub.core.events import publish
from hubbub.core.links import absolute_url

MAX_WHAT_HAPPENED = 4000
MAX_CUSTOMER_NEEDS = 2000
MAX_PROGRESS = 4000
MAX_STATUS_UPDATE = 2000
MAX_NAME = 80
MAX_FILES = 5
FILE_LIMITS = Limits()
# How long an emailed link lets someone outside Hubbub post progress.
LINK_DAYS = 14
LINK_SALT = "hubbub.care.handoff-link"
# A link can be forwarded: cap what it can write.
LINK_UPDATES_PER_HOUR = 30
LINK_AFTER_DONE = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Upload:
    """A file the agent attaches to the brief, as the form received it."""

    filename: str
    content: bytes
    declared_type: str = ""


@dataclass(frozen=True, slots=True)
class Opened:
    handoff: Handoff
    link: str  # the emailed link, when the handoff went to someone outside Hubbub


# --- Handing off -------------------------------------------------------------------------


@transaction.atomic
def hand_off(
    *,
    actor: User,
    conversation_id: int,
    department_id: int,
    what_happened: str,
    customer_needs: str,
    external_email: str = "",
    uploads: Sequence[Upload] = (),
) -> Opened:
    """Hand the conversation's problem to a department with a brief; the actor's team keeps it.

    Refused, with nothing stored, when the brief is missing or too long, a
    file is unsafe, the conversation already has an open handoff, or the same
    customer's problem is already with a department from another conversation
    (merge the two conversations instead: one owner per problem).
    """
    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    if conversation.status not in ConversationStatus.active():
        raise Conflict("Reopen the case before handing it off.", code="case_resolved")
    department = _department(actor, department_id)
    what = _required(what_happened, "what_happened", "Say what happened.", MAX_WHAT_HAPPENED)
    needs = _required(
        customer_needs, "customer_needs", "Say what the customer needs.", MAX_CUSTOMER_NEEDS
    )
    email = _optional_email(external_email)
    checked = _checked_uploads(uploads)
    _check_no_open_handoff(conversation)
    owner = conversation.assignee or actor
    brief = _brief_note(actor, department, conversation, what, needs, checked)
    nonce = secrets.token_hex(16) if email else ""
    try:
        with transaction.atomic():
            handoff = Handoff.objects.create(
                workspace_id=conversation.workspace_id,
                conversation=conversation,
                contact_id=conversation.contact_id,
                department=department,
                department_name=department.name,
                owner=owner,
                created_by=actor,
                what_happened=what,
                customer_needs=needs,
                brief=brief,
                external_email=email,
                link_nonce=nonce,
                link_expires_at=clock.now() + dt.timedelta(days=LINK_DAYS) if email else None,
            )
    except IntegrityError as error:  # a colleague handed the same customer off just now
        _check_no_open_handoff(conversation)
        raise Conflict("This problem was handed off a moment ago.", code="handoff_open") from error
    _wait_on_department(conversation, owner=owner, actor=actor)
    audit.record(
        conversation,
        actor=actor,
        kind=ActivityKind.HANDED_OFF,
        summary=f"{audit.name_of(actor)} handed the problem to {department.name}"
        + (f" ({email})" if email else ""),
        detail={"handoff_id": handoff.pk, "department_id": department.pk},
    )
    link = ""
    if email:
        link = link_for(handoff)
        _email_link(handoff, link)
    announce_change(conversation, what="handoff", actor=actor)
    _tell_department(handoff)
    return Opened(handoff, link)


def _department(actor: User, department_id: int) -> Team:
    department = Team.objects.filter(
        pk=department_id, workspace_id=workspace_id_of(actor), kind=TeamKind.DEPARTMENT
    ).first()
    if department is None:
        raise ValidationFailed("Choose one of the departments.", field="department")
    return department


def _required(text: str, field: str, missing: str, limit: int) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise ValidationFailed(missing, field=field)
    if len(cleaned) > limit:
        raise ValidationFailed(
            f"Please keep it under {limit} characters; this has {len(cleaned)}.", field=field
        )
    return cleaned


def _optional_email(address: str) -> str:
    cleaned = address.strip().lower()
    if not cleaned:
        return ""
    try:
        validate_email(cleaned)
    except ValidationError as error:  # Django's: said our way
        raise ValidationFailed("That is not an email address.", field="external_email") from error
    return cleaned


@dataclass(frozen=True, slots=True)
class _CheckedFile:
    filename: str
    content_type: str
    declared_type: str
    content: bytes


def _checked_uploads(uploads: Sequence[Upload]) -> list[_CheckedFile]:
    """The brief's files, sniffed and checked like a stranger's mail: refused whole, never kept."""
    if len(uploads) > MAX_FILES:
        raise ValidationFailed(f"Attach at most {MAX_FILES} files.", field="files")
    checked: list[_CheckedFile] = []
    accepted = 0
    for upload in uploads:
        sniffed = sniff(upload.content, filename=upload.filename)
        name = files.safe_filename(upload.filename, sniffed)
        reason = files.rejection_reason(
            upload.content,
            filename=name,
            sniffed_type=sniffed,
            accepted_bytes=accepted,
            limits=FILE_LIMITS,
        )
        if reason:
            raise ValidationFailed(f"{name} cannot be attached: {reason}.", field="files")
        accepted += len(upload.content)
        checked.append(_CheckedFile(name, sniffed, upload.declared_type[:100], upload.content))
    return checked


def _check_no_open_handoff(conversation: Conversation) -> None:
    open_here = _open_handoffs().filter(conversation=conversation).first()
    if open_here is not None:
        raise Conflict(
            f"This problem is with {open_here.department_name} already: post to that handoff, "
            "or close it before handing off again.",
            code="handoff_open",
            details={"handoff_id": open_here.pk},
        )
    if conversation.contact_id is None:
        return
    elsewhere = (
        _open_handoffs()
        .filter(contact_id=conversation.contact_id)
        .select_related("owner__profile")
        .first()
    )
    if elsewhere is not None:
        raise Conflict(
            f"This customer's problem is with {elsewhere.department_name} already, from "
            f"conversation #{elsewhere.conversation_id} (owner: {audit.name_of(elsewhere.owner)}). "
            "Merge this conversation into that one, so the customer gets one answer.",
            code="customer_has_handoff",
            details={"conversation_id": elsewhere.conversation_id, "handoff_id": elsewhere.pk},
        )


def _open_handoffs() -> QuerySet[Handoff]:
    return Handoff.objects.filter(state__in=HandoffState.active())


def _brief_note(
    actor: User,
    department: Team,
    conversation: Conversation,
    what: str,
    needs: str,
    checked: list[_CheckedFile],
) -> Message:
    """The brief on the conversation's own timeline (an internal note), with its files."""
    note = Message.objects.create(
        conversation=conversation,
        kind=MessageKind.NOTE,
        author=actor,
        body=f"Handed off to {department.name}.\n\nWhat happened: {what}\n\n"
        f"What the customer needs: {needs}",
        sender_name=audit.name_of(actor),
        details={"handoff": True},
    )
    Attachment.objects.bulk_create(
        [
            Attachment(
                message=note,
                filename=item.filename,
                content_type=item.content_type[:100],
                declared_type=item.declared_type,
                size=len(item.content),
                data=item.content,
            )
            for item in checked
        ]
    )
    return note


def _wait_on_department(conversation: Conversation, *, owner: User, actor: User) -> None:
    """The conversation waits on the department, owned (an unassigned one becomes the
    handing-off agent's: someone must own it), with the update policy's clock set."""
    before = conversation.status
    now = clock.now()
    taken = conversation.assignee_id is None
    if taken:
        conversation.assignee = owner
        conversation.assigned_at = now
    conversation.status = ConversationStatus.WAITING_DEPARTMENT
    conversation.last_activity_at = max(conversation.last_activity_at, now)
    conversation.update_due_at = _next_update_due(conversation, now)
    conversation.update_reminded_at = None
    conversation.save(
        update_fields=[
            "assignee",
            "assigned_at",
            "status",
            "last_activity_at",
            "update_due_at",
            "update_reminded_at",
            "updated_at",
        ]
    )
    if taken:
        audit.record(
            conversation,
            actor=actor,
            kind=ActivityKind.ASSIGNED,
            summary=f"{audit.name_of(actor)} took the conversation to hand it off",
            detail={"assignee_id": owner.pk},
        )
    if before != conversation.status:
        sla.status_changed(conversation, before=before)


def _tell_department(handoff: Handoff) -> None:
    """The department's queue refreshes live (its members cannot see the conversation's events)."""
    if handoff.department_id is None:
        return
    publish(
        HandoffChanged(handoff_id=handoff.pk, state=handoff.state),
        workspace_id=handoff.workspace_id,
        team_ids=[handoff.department_id],
    )


# --- The update policy -------------------------------------------------------------------


def update_every(conversation: Conversation) -> dt.timedelta | None:
    """How often the customer should hear from us while a handoff is open (the team's policy)."""
    if conversation.team_id is None:
        return None
    hours = (
        TeamSettings.objects.filter(team_id=conversation.team_id)
        .values_list("update_every_hours", flat=True)
        .first()
    )
    return dt.timedelta(hours=hours) if hours else None


def _next_update_due(conversation: Conversation, now: dt.datetime) -> dt.datetime | None:
    every = update_every(conversation)
    return now + every if every is not None else None


def customer_told(conversation: Conversation, *, at: dt.datetime) -> None:
    """The customer heard from us (a message, a status update): the next update is due later.

    Called inside the writer's transaction with the conversation locked.
    """
    if conversation.update_due_at is None:
        return
    conversation.update_due_at = _next_update_due(conversation, at)
    conversation.update_reminded_at = None
    conversation.save(update_fields=["update_due_at", "update_reminded_at"])


@transaction.atomic
def remind_due_updates(*, now: dt.datetime | None = None) -> int:
    """Tell each owner whose customer is due an update, once per due time. Returns how many.

    Reads only conversations whose update is due and not yet reminded (a
    partial index), so its cost follows the reminders, not the inbox.
    """
    now = now or clock.now()
    due = list(
        Conversation.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(update_due_at__lte=now)
        .filter(Q(update_reminded_at__isnull=True) | Q(update_reminded_at__lt=F("update_due_at")))
        .select_related("assignee")[:500]
    )
    for conversation in due:
        conversation.update_reminded_at = now
        conversation.save(update_fields=["update_reminded_at"])
        audit.record(
            conversation,
            actor=None,
            kind=ActivityKind.UPDATE_DUE,
            summary="An update to the customer is due (the team's update policy)",
        )
        if conversation.assignee is not None:
            notify(
                conversation.assignee,
                conversation,
                None,
                f"Update due: tell the customer of “{conversation.subject[:100]}” how it goes",
            )
        announce_change(conversation, what="update_due", actor=None)
    return len(due)


# --- Progress from the department --------------------------------------------------------


def access_handoff(*, user: User, handoff_id: int) -> Handoff:
    """A handoff the user works: one to a department they are in (leads and admins: any)."""
    handoff = department_handoffs(user=user).filter(pk=handoff_id).first()
    if handoff is None:
        raise NotFound("No such handoff.", code="handoff_not_found")
    return handoff


def department_handoffs(*, user: User) -> QuerySet[Handoff]:
    """The handoffs a person may read: to their own departments; leads and admins see all."""
    handoffs = Handoff.objects.filter(workspace_id=workspace_id_of(user)).select_related(
        "conversation", "owner__profile", "department"
    )
    if Role(user.role) in {Role.ADMIN, Role.LEAD}:
        return handoffs
    return handoffs.filter(
        department_id__in=user.teams.filter(kind=TeamKind.DEPARTMENT).values("pk")
    )


@transaction.atomic
def post_progress(
    *, actor: User, handoff_id: int, text: str, resolves: bool = False
) -> HandoffUpdate:
    """A department member posts progress in Hubbub; the owner hears of it at once."""
    permissions.check_can_work_conversations(actor)
    handoff = _locked(access_handoff(user=actor, handoff_id=handoff_id))
    return _progress(
        handoff,
        author=actor,
        author_name=audit.name_of(actor),
        source=ProgressSource.MEMBER,
        text=text,
        resolves=resolves,
    )


@transaction.atomic
def post_progress_by_link(
    *, token: str, name: str, text: str, resolves: bool = False
) -> HandoffUpdate:
    """Someone outside Hubbub posts progress through their emailed link.

    Raises NotFound for a forged, altered or revoked link and Gone for an
    expired one; nothing is stored then.
    """
    found = handoff_for_link(token)
    handoff = _locked(found)
    if handoff.link_nonce != found.link_nonce:  # a new link was sent a moment ago
        raise NotFound("This link is not valid.", code="link_invalid")
    recent = HandoffUpdate.objects.filter(
        handoff=handoff,
        source=ProgressSource.LINK,
        created_at__gte=clock.now() - dt.timedelta(hours=1),
    ).count()
    if recent >= LINK_UPDATES_PER_HOUR:
        raise RateLimited(
            "Many updates came through this link in the last hour; please wait a little.",
            code="too_many_updates",
        )
    who = " ".join(name.split())[:MAX_NAME] or handoff.external_email
    return _progress(
        handoff,
        author=None,
        author_name=f"{who} ({handoff.department_name})"[:120],
        source=ProgressSource.LINK,
        text=text,
        resolves=resolves,
    )


def _locked(handoff: Handoff) -> Handoff:
    """The handoff again, locked after its conversation: every writer takes the conversation's
    lock first, so two of them can never wait on each other."""
    conversation = Conversation.objects.select_for_update().get(pk=handoff.conversation_id)
    locked = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("owner__profile")
        .get(pk=handoff.pk)
    )
    locked.conversation = conversation
    return locked


def _progress(
    handoff: Handoff,
    *,
    author: User | None,
    author_name: str,
    source: ProgressSource,
    text: str,
    resolves: bool,
) -> HandoffUpdate:
    cleaned = _required(text, "text", "Write what happened first.", MAX_PROGRESS)
    if not handoff.is_open:
        raise Conflict(
            f"This handoff is closed ({handoff.get_state_display().lower()}): "
            "the care team has it back.",
            code="handoff_closed",
        )
    update = HandoffUpdate.objects.create(
        handoff=handoff,
        author=author,
        author_name=author_name,
        source=source,
        text=cleaned,
        resolves=resolves,
    )
    now = update.created_at
    handoff.state = HandoffState.DONE if resolves else HandoffState.IN_PROGRESS
    handoff.last_progress_at = now
    handoff.closed_at = now if resolves else None
    if resolves and handoff.link_expires_at is not None:
        # Done: the link shows the outcome (and the brief's files) one more day, then stops.
        handoff.link_expires_at = min(handoff.link_expires_at, now + LINK_AFTER_DONE)
    handoff.save(
        update_fields=["state", "last_progress_at", "closed_at", "link_expires_at", "updated_at"]
    )
    conversation = handoff.conversation  # locked first, by _locked
    conversation.last_activity_at = max(conversation.last_activity_at, now)
    if resolves:
        _back_to_owner(conversation)
    else:
        conversation.save(update_fields=["last_activity_at", "updated_at"])
    audit.record(
        conversation,
        actor=author,
        kind=ActivityKind.HANDOFF_PROGRESS,
        summary=f"{author_name} "
        + ("resolved it on their side" if resolves else "posted progress")
        + f" on the handoff to {handoff.department_name}",
        detail={"handoff_id": handoff.pk, "update_id": update.pk},
    )
    if handoff.owner is not None and handoff.owner.is_active:
        notify(
            handoff.owner,
            conversation,
            None,
            f"{handoff.department_name}: "
            + ("resolved on their side — " if resolves else "")
            + cleaned[:200],
        )
    announce_change(conversation, what="handoff", actor=author)
    _tell_department(handoff)
    return update


def _back_to_owner(conversation: Conversation) -> None:
    """The department is done: the conversation is the owner's to close, no update clock."""
    before = conversation.status
    conversation.update_due_at = None
    conversation.update_reminded_at = None
    if before == ConversationStatus.WAITING_DEPARTMENT:
        conversation.status = ConversationStatus.OPEN
    conversation.save(
        update_fields=[
            "status",
            "update_due_at",
            "update_reminded_at",
            "last_activity_at",
            "updated_at",
        ]
    )
    if before != conversation.status:
        sla.status_changed(conversation, before=before)


@transaction.atomic
def withdraw(*, actor: User, handoff_id: int) -> Handoff:
    """The owner takes the problem back from the department (its link stops working)."""
    handoff = _owned(actor, handoff_id)
    if not handoff.is_open:
        raise Conflict("This handoff is closed already.", code="handoff_closed")
    handoff.state = HandoffState.WITHDRAWN
    handoff.closed_at = clock.now()
    handoff.link_nonce = ""
    handoff.save(update_fields=["state", "closed_at", "link_nonce", "updated_at"])
    conversation = handoff.conversation
    _back_to_owner(conversation)
    audit.record(
        conversation,
        actor=actor,
        kind=ActivityKind.HANDOFF_CLOSED,
        summary=f"{audit.name_of(actor)} took the problem back from {handoff.department_name}",
        detail={"handoff_id": handoff.pk},
    )
    announce_change(conversation, what="handoff", actor=actor)
    _tell_department(handoff)
    return handoff


def _owned(actor: User, handoff_id: int) -> Handoff:
    """A handoff of a conversation the actor may work on, locked with its conversation."""
    handoff = (
        Handoff.objects.filter(pk=handoff_id).values_list("conversation_id", flat=True).first()
    )
    if handoff is None:
        raise NotFound("No such handoff.", code="handoff_not_found")
    conversation = access_for_work(actor=actor, conversation_id=handoff)
    locked = Handoff.objects.select_for_update().get(pk=handoff_id)
    locked.conversation = conversation
    return locked


# --- The emailed link --------------------------------------------------------------------


def token_for(handoff: Handoff) -> str:
    return signing.TimestampSigner(salt=LINK_SALT).sign_object(
        {"h": handoff.pk, "n": handoff.link_nonce}
    )


def link_for(handoff: Handoff) -> str:
    return absolute_url(reverse("care:handoff_link", args=[token_for(handoff)]))


def handoff_for_link(token: str) -> Handoff:
    """The handoff an emailed link names.

    Raises NotFound when it is forged, altered or revoked, Gone when it expired.
    """
    signer = signing.TimestampSigner(salt=LINK_SALT)
    try:
        data = signer.unsign_object(token, max_age=dt.timedelta(days=LINK_DAYS))
    except signing.SignatureExpired as error:
        raise Gone(
            "This link has expired. Ask the care team for a new one.", code="link_expired"
        ) from error
    except signing.BadSignature as error:
        raise NotFound("This link is not valid.", code="link_invalid") from error
    if not isinstance(data, dict) or not isinstance(data.get("h"), int):
        raise NotFound("This link is not valid.", code="link_invalid")
    handoff = (
        Handoff.objects.select_related("conversation__workspace", "owner__profile")
        .filter(pk=data["h"])
        .first()
    )
    nonce = data.get("n")
    if handoff is None or not handoff.link_nonce or nonce != handoff.link_nonce:
        raise NotFound("This link is not valid.", code="link_invalid")
    if handoff.link_expires_at is not None and handoff.link_expires_at <= clock.now():
        raise Gone("This link has expired. Ask the care team for a new one.", code="link_expired")
    return handoff


@transaction.atomic
def renew_link(*, actor: User, handoff_id: int) -> str:
    """A fresh link for the outside recipient (the old one stops working), emailed again."""
    handoff = _owned(actor, handoff_id)
    if not handoff.external_email:
        raise Conflict("This handoff was not sent by email.", code="no_external_recipient")
    if not handoff.is_open:
        raise Conflict("This handoff is closed already.", code="handoff_closed")
    handoff.link_nonce = secrets.token_hex(16)
    handoff.link_expires_at = clock.now() + dt.timedelta(days=LINK_DAYS)
    handoff.save(update_fields=["link_nonce", "link_expires_at", "updated_at"])
    link = link_for(handoff)
    _email_link(handoff, link)
    audit.record(
        handoff.conversation,
        actor=actor,
        kind=ActivityKind.HANDED_OFF,
        summary=f"{audit.name_of(actor)} sent {handoff.external_email} a new link",
        detail={"handoff_id": handoff.pk},
    )
    return link


def _email_link(handoff: Handoff, link: str) -> None:
    """Enqueue the email in this transaction: it goes when (and only if) the handoff commits."""
    from hubbub.care.tasks import send_handoff_email

    # The link is a credential: the job gets it sealed, as invitations do.
    from hubbub.core import crypto

    send_handoff_email.enqueue(handoff.pk, crypto.encrypt(link))


# --- What the customer sees --------------------------------------------------------------


@transaction.atomic
def publish_update(
    *, actor: User, conversation_id: int, text: str, source_update_id: int | None = None
) -> StatusUpdate:
    """Put a line on the customer's status page (optionally telling of a department's progress)."""
    conversation = access_for_work(actor=actor, conversation_id=conversation_id)
    cleaned = _required(text, "text", "Write the update first.", MAX_STATUS_UPDATE)
    source = None
    if source_update_id is not None:
        source = HandoffUpdate.objects.filter(
            pk=source_update_id, handoff__conversation=conversation
        ).first()
        if source is None:
            raise NotFound("No such progress update.", code="update_not_found")
        if StatusUpdate.objects.filter(source=source).exists():
            raise Conflict("That progress is on the status page already.", code="published")
    try:
        with transaction.atomic():
            update = StatusUpdate.objects.create(
                conversation=conversation,
                text=cleaned,
                author=actor,
                author_name=audit.name_of(actor)[:80],
                source=source,
            )
    except IntegrityError as error:  # published by a colleague a moment ago
        raise Conflict("That progress is on the status page already.", code="published") from error
    conversation.last_activity_at = max(conversation.last_activity_at, update.created_at)
    conversation.save(update_fields=["last_activity_at", "updated_at"])
    customer_told(conversation, at=update.created_at)
    audit.record(
        conversation,
        actor=actor,
        kind=ActivityKind.STATUS_UPDATE,
        summary=f"{audit.name_of(actor)} updated the customer's status page",
        detail={"status_update_id": update.pk},
    )
    announce_change(conversation, what="status_update", actor=actor)
    return update


# --- Reads -------------------------------------------------------------------------------


def handoffs_of(conversation: Conversation) -> list[Handoff]:
    """A conversation's handoffs, newest first, with their progress (two queries)."""
    return list(
        Handoff.objects.filter(conversation=conversation)
        .select_related("owner__profile", "department")
        .prefetch_related("updates__published_as")
    )


def departments(*, user: User) -> list[Team]:
    return list(
        Team.objects.filter(workspace_id=workspace_id_of(user), kind=TeamKind.DEPARTMENT).order_by(
            "name"
        )
    )


def queue(*, user: User, closed: bool = False, limit: int = 200) -> list[Handoff]:
    """A department's plain queue: open handoffs oldest first, or the closed ones newest first."""
    handoffs = department_handoffs(user=user).prefetch_related("updates")
    if closed:
        return list(
            handoffs.exclude(state__in=HandoffState.active()).order_by("-closed_at")[:limit]
        )
    return list(handoffs.filter(state__in=HandoffState.active()).order_by("created_at")[:limit])


def brief_files(handoff: Handoff) -> list[Attachment]:
    """The files attached to the brief (without their bytes)."""
    if handoff.brief_id is None:
        return []
    return list(Attachment.objects.filter(message_id=handoff.brief_id).defer("data"))


@dataclass(frozen=True, slots=True)
class CaseLoop:
    """What the conversation page shows of handoffs and the customer's status page."""

    handoffs: list[Handoff]  # newest first, with their progress
    departments: list[Team]  # where it can be handed off (when no handoff is open)
    status_updates: list[StatusUpdate]  # what the customer reads, newest first
    update_every: dt.timedelta | None
    active: bool  # the conversation is not resolved or closed

    @property
    def open_handoff(self) -> Handoff | None:
        return next((handoff for handoff in self.handoffs if handoff.is_open), None)

    @property
    def update_every_hours(self) -> int | None:
        return None if self.update_every is None else int(self.update_every.total_seconds() // 3600)

    @property
    def current_handoff(self) -> Handoff | None:
        """The open handoff, else the latest one a department resolved: its last words are
        what the owner tells the customer next."""
        latest = self.handoffs[0] if self.handoffs else None
        if self.open_handoff is not None:
            return self.open_handoff
        done = latest is not None and latest.state == HandoffState.DONE
        return latest if done and self.active else None

    @property
    def past_handoffs(self) -> list[Handoff]:
        current = self.current_handoff
        return [handoff for handoff in self.handoffs if handoff is not current]


def case_loop(*, user: User, conversation: Conversation) -> CaseLoop:
    """Handoffs, departments and status updates of a conversation (a few queries, no N+1)."""
    all_handoffs = handoffs_of(conversation)
    has_open = any(handoff.is_open for handoff in all_handoffs)
    can_hand_off = not has_open and conversation.status in ConversationStatus.active()
    return CaseLoop(
        handoffs=all_handoffs,
        departments=departments(user=user) if can_hand_off else [],
        status_updates=list(
            StatusUpdate.objects.filter(conversation=conversation).order_by("-created_at", "-id")[
                :20
            ]
        ),
        update_every=update_every(conversation) if has_open else None,
        active=conversation.status in ConversationStatus.active(),
    )
