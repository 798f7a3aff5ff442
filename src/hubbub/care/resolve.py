"""Resolving a case and closing the loop: a follow-up where the problem began, and the survey.

The story of a public complaint should end in public: resolving offers a
short follow-up on the channel the customer first wrote on (a public
message under their latest post on social; an email or chat message on
those channels), carrying the satisfaction survey's link. The survey is
also on the customer's status page, so it reaches them even without a
follow-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from hubbub.accounts.models import User
from hubbub.care import audit, csat, outbound, services
from hubbub.care.models import (
    CHAT,
    EMAIL,
    ActivityKind,
    Conversation,
    ConversationStatus,
    Message,
    Survey,
)
from hubbub.core.errors import Conflict, ValidationFailed
from hubbub.crm.models import channel_name
from hubbub.listening.models import Mention

# Where the survey goes in a follow-up: the agent may move it, or leave it out.
SURVEY_PLACEHOLDER = "{survey}"


@dataclass(frozen=True, slots=True)
class FollowUpPlan:
    """What resolving offers: the follow-up's channel, how it is described, and a draft."""

    channel: str  # the platform, "email" or "chat"
    label: str  # "Follow up in public on Bluesky"
    public: bool
    draft: str


@dataclass(frozen=True, slots=True)
class Resolved:
    conversation: Conversation
    follow_up: Message | None
    survey: Survey | None


def follow_up_plan(conversation: Conversation, composer: outbound.Composer) -> FollowUpPlan | None:
    """The follow-up resolving can send, or None when the first channel cannot take one.

    Decided from what the composer already knows (no queries of its own).
    """
    channel = conversation.platform
    draft = (
        f"Hi {conversation.greeting_name}, glad we could sort this out. "
        f"Thanks for your patience! {SURVEY_PLACEHOLDER}"
    )
    if channel in (EMAIL, CHAT):
        if channel not in {route.channel for route in composer.direct}:
            return None
        label = "Follow up by email" if channel == EMAIL else "Follow up in the web chat"
        return FollowUpPlan(channel, label, public=False, draft=draft)
    if not composer.account_name or not composer.reply_targets:
        return None
    return FollowUpPlan(
        channel, f"Follow up in public on {channel_name(channel)}", public=True, draft=draft
    )


def _plan_for(actor: User, conversation: Conversation) -> FollowUpPlan | None:
    mentions = list(
        Mention.objects.filter(conversation_link__conversation=conversation).order_by("posted_at")
    )
    composer = outbound.composer_for(user=actor, conversation=conversation, mentions=mentions)
    return follow_up_plan(conversation, composer)


@transaction.atomic
def resolve_case(
    *,
    actor: User,
    conversation_id: int,
    follow_up: str = "",
    send_survey: bool = True,
    confirm_not_mine: bool = False,
) -> Resolved:
    """Resolve the case; optionally follow up where it began and send the survey, all or nothing.

    The follow-up's "{survey}" becomes the survey's link (five inline
    choices by email and chat); without it the link is added at the end.
    Refused, with nothing changed, when a department still has the problem
    or the follow-up cannot go (too long, channel closed).
    """
    conversation = services.access_for_work(actor=actor, conversation_id=conversation_id)
    if conversation.status in (ConversationStatus.RESOLVED, ConversationStatus.CLOSED):
        raise Conflict("This case is resolved already.", code="already_resolved")
    services.check_no_open_handoff(conversation)
    survey = (
        csat.start_survey(conversation, agent=conversation.assignee or actor)
        if send_survey
        else None
    )
    message = None
    text = follow_up.strip()
    if text:
        plan = _plan_for(actor, conversation)
        if plan is None:
            raise ValidationFailed(
                f"Hubbub cannot follow up on {conversation.platform}: resolve without a follow-up.",
                field="follow_up",
            )
        message = _send_follow_up(actor, conversation, plan, text, survey, confirm_not_mine)
    resolved = services.change_status(
        actor=actor, conversation_id=conversation_id, status=ConversationStatus.RESOLVED
    )
    return Resolved(resolved, message, survey)


def _send_follow_up(
    actor: User,
    conversation: Conversation,
    plan: FollowUpPlan,
    text: str,
    survey: Survey | None,
    confirm_not_mine: bool,
) -> Message:
    if survey is None:
        body = text.replace(SURVEY_PLACEHOLDER, "").strip()
    else:
        line = csat.survey_line(survey) if plan.public else csat.inline_choices_text(survey)
        body = (
            text.replace(SURVEY_PLACEHOLDER, line)
            if SURVEY_PLACEHOLDER in text
            else f"{text}\n\n{line}"
        )
        body = body.strip()
    if plan.public:
        message = outbound.send_reply(
            actor=actor,
            conversation_id=conversation.pk,
            body=body,
            follow_up=True,
            confirm_not_mine=confirm_not_mine,
        )
    else:
        message = outbound.send_direct(
            actor=actor,
            conversation_id=conversation.pk,
            body=body,
            channel=plan.channel,
            confirm_not_mine=confirm_not_mine,
        )
    audit.record(
        conversation,
        actor=actor,
        kind=ActivityKind.FOLLOWED_UP,
        summary=f"{audit.name_of(actor)} followed up "
        + (f"in public on {plan.channel}" if plan.public else f"by {plan.channel}"),
        detail={"message_id": message.pk},
    )
    return message
