"""Settings › Channels and Mailboxes: where replies, private messages and emails go out from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from hubbub.accounts import permissions
from hubbub.accounts import selectors as accounts_selectors
from hubbub.accounts.http import current_user, member_required
from hubbub.accounts.models import User
from hubbub.connectors import mailboxes, selectors, services, site_channels
from hubbub.connectors.email.network import MailSecurity
from hubbub.connectors.models import ChannelAccount, Mailbox, Transport
from hubbub.connectors.models import MailSecurity as MailSecurityChoices
from hubbub.connectors.registry import capabilities_of
from hubbub.connectors.source_fields import CHANNEL_SCHEMAS, ChannelSchema, SourceField
from hubbub.core.errors import HubbubError, ValidationFailed


@dataclass(frozen=True, slots=True)
class CredentialView:
    spec: SourceField
    saved: bool  # stored: an empty field keeps it (never shown again)


def _platforms() -> list[tuple[str, ChannelSchema]]:
    return [(name, s) for name, s in CHANNEL_SCHEMAS.items() if capabilities_of(name).reply]


def _typed(request: HttpRequest, schema: ChannelSchema, platform: str) -> services.ChannelInput:
    return services.ChannelInput(
        platform=platform,
        name=request.POST.get("name", ""),
        handle=request.POST.get("handle", ""),
        base_url=request.POST.get("base_url", ""),
        credentials={spec.name: request.POST.get(spec.name, "") for spec in schema.credentials},
        transport=request.POST.get("transport", Transport.LIVE),
    )


def _form(
    schema: ChannelSchema,
    *,
    platform: str,
    values: services.ChannelInput | ChannelAccount | None,
    stored: ChannelAccount | None,
    error: HubbubError | None,
) -> dict[str, object]:
    """The form as the template shows it: what was typed or saved, never a credential;
    "saved" marks come from what is stored, whatever was typed."""
    saved = set(schema.credentials_of(stored.secret)) if stored is not None else set()
    return {
        "schema": schema,
        "platform": platform,
        "name": getattr(values, "name", "") or f"{schema.title} (brand)",
        "handle": getattr(values, "handle", ""),
        "base_url": getattr(values, "base_url", "") or schema.base_url.default,
        "transport": getattr(values, "transport", Transport.LIVE),
        "transports": Transport.choices,
        "credential_fields": [
            CredentialView(spec, spec.name in saved) for spec in schema.credentials
        ],
        "error": error,
    }


def _manager(request: HttpRequest) -> User:
    user = current_user(request)
    if not permissions.can_manage_sources(user):
        raise Http404("No such page.")
    return user


@member_required
@require_http_methods(["GET"])
def channel_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    return render(
        request,
        "connectors/channels.html",
        {
            "section": "channels",
            "accounts": list(selectors.channel_accounts(user=user)),
            "can_manage": permissions.can_manage_sources(user),
            "platforms": _platforms(),
        },
    )


@member_required
@require_http_methods(["GET", "POST"])
def new_channel(request: HttpRequest, platform: str) -> HttpResponse:
    user = _manager(request)
    schema = CHANNEL_SCHEMAS.get(platform)
    if schema is None or not capabilities_of(platform).reply:
        raise Http404("No such platform.")
    typed = _typed(request, schema, platform) if request.method == "POST" else None
    error: HubbubError | None = None
    if typed is not None:
        try:
            account = services.save_channel_account(actor=user, given=typed)
        except HubbubError as failure:
            error = failure
        else:
            messages.success(request, f"Replies on {schema.title} now go out from {account.name}.")
            return redirect("connectors:channel", account_id=account.pk)
    context = _form(schema, platform=platform, values=typed, stored=None, error=error)
    return render(
        request,
        "connectors/channel.html",
        {"section": "channels", **context},
        status=422 if error else 200,
    )


@member_required
@require_http_methods(["GET", "POST"])
def channel_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    user = _manager(request)
    account = selectors.access_channel_account(user=user, account_id=account_id)
    schema = CHANNEL_SCHEMAS.get(account.platform)
    if schema is None:
        raise Http404("No such platform.")
    error: HubbubError | None = None
    values: services.ChannelInput | ChannelAccount = account
    if request.method == "POST":
        typed = _typed(request, schema, account.platform)
        try:
            services.save_channel_account(actor=user, given=typed, account_id=account.pk)
        except HubbubError as failure:
            error, values = failure, typed
        else:
            messages.success(request, "Saved.")
            return redirect("connectors:channel", account_id=account.pk)
    context = _form(schema, platform=account.platform, values=values, stored=account, error=error)
    return render(
        request,
        "connectors/channel.html",
        {"section": "channels", "account": account, **context},
        status=422 if error else 200,
    )


@member_required
@require_POST
def check_channel(request: HttpRequest) -> HttpResponse:
    user = _manager(request)
    raw_id = request.POST.get("account_id", "")
    account_id = int(raw_id) if raw_id.isdigit() and len(raw_id) <= 18 else None
    platform = request.POST.get("platform", "")
    if account_id is not None:
        platform = selectors.access_channel_account(user=user, account_id=account_id).platform
    schema = CHANNEL_SCHEMAS.get(platform)
    if schema is None:
        raise Http404("No such platform.")
    return _check_result(
        request,
        lambda: services.check_channel_account(
            actor=user, given=_typed(request, schema, platform), account_id=account_id
        ),
    )


def _check_result(request: HttpRequest, check: Callable[[], str]) -> HttpResponse:
    """What "Test connection" found, or why it failed, for the form to show."""
    try:
        said = check()
    except HubbubError as failure:
        return render(
            request, "listening/_source_check.html", {"ok": False, "said": failure.message}
        )
    return render(request, "listening/_source_check.html", {"ok": True, "said": said})


@member_required
@require_POST
def channel_action(request: HttpRequest, account_id: int, action: str) -> HttpResponse:
    user = _manager(request)
    try:
        if action in ("enable", "disable"):
            services.set_channel_enabled(
                actor=user, account_id=account_id, enabled=action == "enable"
            )
        elif action == "delete":
            services.delete_channel_account(actor=user, account_id=account_id)
            messages.success(request, "Account removed.")
        else:
            raise Http404("No such action.")
    except HubbubError as error:
        messages.error(request, error.message)
    return redirect("connectors:channels")


# ---- mailboxes ----


def _mailbox_input(request: HttpRequest) -> mailboxes.MailboxInput:
    post = request.POST

    def number(name: str, default: int) -> int:
        raw = post.get(name, "").strip()
        if not raw:
            return default
        if not raw.isdigit() or len(raw) > 5:
            raise ValidationFailed("A port is a number from 1 to 65535.", field=name)
        return int(raw)

    raw_team = post.get("team", "")
    return mailboxes.MailboxInput(
        name=post.get("name", ""),
        address=post.get("address", ""),
        brand_name=post.get("brand_name", ""),
        team_id=int(raw_team) if raw_team.isdigit() and len(raw_team) <= 18 else None,
        imap_host=post.get("imap_host", ""),
        imap_port=number("imap_port", 993),
        imap_security=post.get("imap_security", MailSecurity.TLS),
        imap_username=post.get("imap_username", ""),
        imap_password=post.get("imap_password", ""),
        imap_folder=post.get("imap_folder", "INBOX"),
        smtp_host=post.get("smtp_host", ""),
        smtp_port=number("smtp_port", 587),
        smtp_security=post.get("smtp_security", MailSecurity.STARTTLS),
        smtp_username=post.get("smtp_username", ""),
        smtp_password=post.get("smtp_password", ""),
        personal_senders=post.get("personal_senders") == "1",
    )


def _mailbox_page(
    request: HttpRequest,
    user: User,
    *,
    mailbox: Mailbox | None,
    values: object,
    error: HubbubError | None,
) -> HttpResponse:
    return render(
        request,
        "connectors/mailbox.html",
        {
            "section": "mailboxes",
            "mailbox": mailbox,
            "values": values,
            "error": error,
            "securities": MailSecurityChoices.choices,
            "teams": list(accounts_selectors.visible_teams(user=user)),
            "unfiled": selectors.unfiled_mails(mailbox) if mailbox is not None else [],
        },
        status=422 if error else 200,
    )


@member_required
@require_http_methods(["GET"])
def mailbox_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    return render(
        request,
        "connectors/mailboxes.html",
        {
            "section": "mailboxes",
            "mailboxes": list(selectors.mailboxes(user=user)),
            "can_manage": permissions.can_manage_sources(user),
        },
    )


@member_required
@require_http_methods(["GET", "POST"])
def mailbox_detail(request: HttpRequest, mailbox_id: int | None = None) -> HttpResponse:
    user = _manager(request)
    mailbox = selectors.access_mailbox(user=user, mailbox_id=mailbox_id) if mailbox_id else None
    if request.method == "GET":
        return _mailbox_page(request, user, mailbox=mailbox, values=mailbox, error=None)
    try:
        given = _mailbox_input(request)
        saved = mailboxes.save_mailbox(
            actor=user, given=given, mailbox_id=mailbox.pk if mailbox else None
        )
    except HubbubError as error:
        return _mailbox_page(request, user, mailbox=mailbox, values=request.POST, error=error)
    messages.success(request, f"Saved. Hubbub reads {saved.address} and answers from it.")
    return redirect("connectors:mailbox", mailbox_id=saved.pk)


@member_required
@require_POST
def check_mailbox(request: HttpRequest) -> HttpResponse:
    user = _manager(request)
    raw_id = request.POST.get("mailbox_id", "")
    mailbox_id = int(raw_id) if raw_id.isdigit() and len(raw_id) <= 18 else None
    return _check_result(
        request,
        lambda: mailboxes.check_mailbox(
            actor=user, given=_mailbox_input(request), mailbox_id=mailbox_id
        ),
    )


@member_required
@require_POST
def mailbox_action(request: HttpRequest, mailbox_id: int, action: str) -> HttpResponse:
    user = _manager(request)
    try:
        if action in ("enable", "disable"):
            mailboxes.set_mailbox_enabled(
                actor=user, mailbox_id=mailbox_id, enabled=action == "enable"
            )
        elif action == "delete":
            mailboxes.delete_mailbox(actor=user, mailbox_id=mailbox_id)
            messages.success(request, "Mailbox removed. Its conversations stay.")
        else:
            raise Http404("No such action.")
    except HubbubError as error:
        messages.error(request, error.message)
    return redirect("connectors:mailboxes")


# ---- chat widgets and webhooks ----


def _team_id(request: HttpRequest) -> int | None:
    raw = request.POST.get("team", "")
    return int(raw) if raw.isdigit() and len(raw) <= 18 else None


def _site_channels_page(
    request: HttpRequest, template: str, section: str, **context: object
) -> HttpResponse:
    user = current_user(request)
    error = context.get("error")
    return render(
        request,
        template,
        {
            "section": section,
            "can_manage": permissions.can_manage_sources(user),
            "teams": list(accounts_selectors.visible_teams(user=user)),
            "base_url": settings.HUBBUB_BASE_URL.rstrip("/"),
            **context,
        },
        status=422 if error else 200,
    )


@member_required
@require_http_methods(["GET", "POST"])
def widget_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    error: HubbubError | None = None
    if request.method == "POST":
        user = _manager(request)
        try:
            widget = site_channels.save_widget(actor=user, given=_widget_input(request))
        except HubbubError as failure:
            error = failure
        else:
            messages.success(request, "Chat widget created: put its script tag on your site.")
            return redirect("connectors:widget", widget_id=widget.pk)
    return _site_channels_page(
        request,
        "connectors/widgets.html",
        "widgets",
        widgets=list(selectors.widgets(user=user)),
        error=error,
        values={
            name: request.POST.get(name, "")
            for name in ("name", "allowed_origins", "team", "greeting")
        }
        if error
        else None,
    )


def _widget_input(request: HttpRequest) -> site_channels.WidgetInput:
    return site_channels.WidgetInput(
        name=request.POST.get("name", ""),
        allowed_origins=request.POST.get("allowed_origins", ""),
        team_id=_team_id(request),
        greeting=request.POST.get("greeting", ""),
    )


def _run_detail_action(
    request: HttpRequest,
    *,
    rotate: Callable[[], object],
    rotated: str,
    enable: Callable[[bool], object],
    save: Callable[[], object],
) -> HubbubError | None:
    """The action a chat widget's or webhook's page posted; its refusal, or None when done."""
    action = request.POST.get("action", "save")
    try:
        if action == "rotate":
            rotate()
            messages.success(request, rotated)
        elif action in ("enable", "disable"):
            enable(action == "enable")
        else:
            save()
            messages.success(request, "Saved.")
    except HubbubError as failure:
        return failure
    return None


@member_required
@require_http_methods(["GET", "POST"])
def widget_detail(request: HttpRequest, widget_id: int) -> HttpResponse:
    user = _manager(request)
    widget = selectors.access_widget(user=user, widget_id=widget_id)
    if request.method == "POST":
        error = _run_detail_action(
            request,
            rotate=lambda: site_channels.rotate_widget_secret(actor=user, widget_id=widget.pk),
            rotated="New identity secret: update your site's server.",
            enable=lambda on: site_channels.set_widget_enabled(
                actor=user, widget_id=widget.pk, enabled=on
            ),
            save=lambda: site_channels.save_widget(
                actor=user, given=_widget_input(request), widget_id=widget.pk
            ),
        )
        if error is None:
            return redirect("connectors:widget", widget_id=widget.pk)
    else:
        error = None
    return _site_channels_page(
        request,
        "connectors/widget.html",
        "widgets",
        widget=widget,
        error=error,
        origins="\n".join(widget.allowed_origins),
    )


@member_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    error: HubbubError | None = None
    if request.method == "POST":
        user = _manager(request)
        try:
            endpoint = site_channels.save_endpoint(
                actor=user,
                given=site_channels.EndpointInput(
                    name=request.POST.get("name", ""), team_id=_team_id(request)
                ),
            )
        except HubbubError as failure:
            error = failure
        else:
            messages.success(request, "Webhook created: give its URL and secret to the sender.")
            return redirect("connectors:webhook", endpoint_id=endpoint.pk)
    return _site_channels_page(
        request,
        "connectors/webhooks.html",
        "webhooks",
        endpoints=list(selectors.endpoints(user=user)),
        error=error,
    )


@member_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    user = _manager(request)
    endpoint = selectors.access_endpoint(user=user, endpoint_id=endpoint_id)
    if request.method == "POST":
        error = _run_detail_action(
            request,
            rotate=lambda: site_channels.rotate_endpoint_secret(
                actor=user, endpoint_id=endpoint.pk
            ),
            rotated="New signing secret: update the sender.",
            enable=lambda on: site_channels.set_endpoint_enabled(
                actor=user, endpoint_id=endpoint.pk, enabled=on
            ),
            save=lambda: site_channels.save_endpoint(
                actor=user,
                given=site_channels.EndpointInput(
                    name=request.POST.get("name", ""), team_id=_team_id(request)
                ),
                endpoint_id=endpoint.pk,
            ),
        )
        if error is None:
            return redirect("connectors:webhook", endpoint_id=endpoint.pk)
    else:
        error = None
    return _site_channels_page(
        request, "connectors/webhook.html", "webhooks", endpoint=endpoint, error=error
    )
