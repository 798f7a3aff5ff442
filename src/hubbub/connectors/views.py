"""Settings › Channels: the brand's accounts that replies and private messages go out from."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from hubbub.accounts import permissions
from hubbub.accounts.http import current_user, member_required
from hubbub.accounts.models import User
from hubbub.connectors import selectors, services
from hubbub.connectors.models import ChannelAccount, Transport
from hubbub.connectors.registry import capabilities_of
from hubbub.connectors.source_fields import CHANNEL_SCHEMAS, ChannelSchema, SourceField
from hubbub.core.errors import HubbubError


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
    try:
        said = services.check_channel_account(
            actor=user, given=_typed(request, schema, platform), account_id=account_id
        )
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
