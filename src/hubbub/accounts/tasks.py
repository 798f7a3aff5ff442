"""Background jobs of the accounts app. Jobs take ids, never ORM objects."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django_tasks import task

from hubbub.accounts.models import Invitation
from hubbub.core import crypto


@task()
def send_invitation_email(invitation_id: int, sealed_token: str) -> None:
    invitation = (
        Invitation.objects.select_related("workspace", "invited_by__profile")
        .filter(pk=invitation_id, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if invitation is None:
        return  # withdrawn or used before the job ran: nothing to send
    context = {
        "invitation": invitation,
        "inviter": invitation.invited_by.profile.display_name if invitation.invited_by else "",
        "link": f"{settings.HUBBUB_BASE_URL}/invite/{crypto.decrypt(sealed_token)}/",
    }
    send_mail(
        subject=f"You are invited to {invitation.workspace.name} on Hubbub",
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


@task()
def send_member_joined_email(inviter_id: int, member_name: str) -> None:
    from hubbub.accounts.models import User

    inviter = User.objects.filter(pk=inviter_id, is_active=True).first()
    if inviter is None:
        return
    send_mail(
        subject=f"{member_name} joined your Hubbub workspace",
        message=f"{member_name} accepted your invitation and can now sign in.\n",
        from_email=None,
        recipient_list=[inviter.email],
    )
