"""Pages of the listening app: queries, mentions, routing, the pipeline and the sources."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from hubbub.accounts import permissions
from hubbub.accounts.http import add_form_error, current_user, member_required
from hubbub.accounts.selectors import workspace_id_of
from hubbub.care import selectors as care
from hubbub.connectors import polling
from hubbub.connectors.registry import CONNECTORS
from hubbub.connectors.source_fields import SCHEMAS, SourceField, SourceSchema, schema_for
from hubbub.core import clock
from hubbub.core.errors import HubbubError
from hubbub.intelligence import selectors as intelligence
from hubbub.listening import selectors, services, sources
from hubbub.listening.forms import (
    ExpressionForm,
    MentionFilterForm,
    QueryForm,
    RoutingRuleForm,
    period_start,
)
from hubbub.listening.models import QueryKind, RoutingRule
from hubbub.listening.query import render as render_query


@member_required
def queries(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    return render(
        request,
        "listening/queries.html",
        {
            "area": "listening",
            "title": "Listening",
            "queries": selectors.visible_queries(user=user),
            "can_manage": permissions.can_manage_teams(user),
        },
    )


@member_required
@require_http_methods(["GET", "POST"])
def query_editor(request: HttpRequest, query_id: int | None = None) -> HttpResponse:
    user = current_user(request)
    query = selectors.access_query(user=user, query_id=query_id) if query_id else None
    initial = (
        {}
        if query is None
        else {
            "name": query.name,
            "kind": query.kind,
            "expression": query.expression,
            "owner_team": query.owner_team_id,
            "enabled": query.enabled,
        }
    )
    form = QueryForm(request.POST or None, initial=initial, workspace_id=workspace_id_of(user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.save_query(
                actor=user,
                name=data["name"],
                kind=QueryKind(data["kind"]),
                expression=data["expression"],
                enabled=data["enabled"],
                owner_team_id=data["owner_team"].pk if data["owner_team"] else None,
                query_id=query_id,
            )
        except HubbubError as error:
            add_form_error(form, error)
        else:
            messages.success(request, f"Query “{saved.name}” saved.")
            return redirect("listening:queries")
    return render(
        request,
        "listening/query_form.html",
        {
            "area": "listening",
            "title": "Listening",
            "form": form,
            "query": query,
            "can_manage": permissions.can_manage_teams(user),
            "check": _check(request, form["expression"].value() or ""),
        },
    )


@member_required
@require_POST
def check_query(request: HttpRequest) -> HttpResponse:
    """The live check under the editor: valid or where it is wrong, and a preview."""
    form = ExpressionForm(request.POST)
    expression = (
        form.cleaned_data["expression"] if form.is_valid() else request.POST.get("expression", "")
    )
    return render(
        request, "listening/query_form.html#query-check", {"check": _check(request, expression)}
    )


def _check(request: HttpRequest, expression: str) -> dict[str, object]:
    if not expression.strip():
        return {"empty": True}
    try:
        node = services.check_expression(expression)
    except HubbubError as error:
        position = int(str(error.details.get("position", 0)))
        line_start = expression.rfind("\n", 0, position) + 1
        line_end = expression.find("\n", position)
        line = expression[line_start : line_end if line_end != -1 else len(expression)]
        return {
            "error": error.message,
            "line": line[:200],
            "caret": " " * min(position - line_start, 200) + "^",
            "position": position + 1,
        }
    preview = selectors.preview_matches(user=current_user(request), query=node)
    return {"ok": True, "canonical": render_query(node), "preview": preview}


@member_required
@require_POST
def delete_query(request: HttpRequest, query_id: int) -> HttpResponse:
    try:
        services.delete_query(actor=current_user(request), query_id=query_id)
    except HubbubError as error:
        messages.error(request, error.message)
        return redirect("listening:query", query_id=query_id)
    messages.success(request, "Query deleted.")
    return redirect("listening:queries")


@member_required
def mentions(request: HttpRequest) -> HttpResponse:
    """The Listening page: the newest matched mentions, refreshed live as more arrive."""
    user = current_user(request)
    queries = list(selectors.visible_queries(user=user).values_list("id", "name"))
    form = MentionFilterForm(
        request.GET, queries=queries, facets=selectors.mention_facets(user=user)
    )
    data = form.cleaned_data if form.is_valid() else {}
    filters = selectors.MentionFilters(
        query_id=data.get("query"),
        platform=data.get("platform", ""),
        lang=data.get("lang", ""),
        sentiment=data.get("sentiment", ""),
        intent=data.get("intent", ""),
        q=data.get("q", ""),
        since=period_start(data.get("since", ""), now=clock.now()),
    )
    context = {
        "area": "listening",
        "title": "Listening",
        "filter_form": form,
        "filtered": any(request.GET.get(name) for name in form.fields),
        "filter_count": sum(1 for name in form.fields if request.GET.get(name)),
        "search": filters.q.strip(),
        "mentions": selectors.recent_mentions(user=user, filters=filters),
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "listening/mentions.html#mention-list", context)
    return render(request, "listening/mentions.html", context)


@member_required
def mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    """One mention: its text, triage, why it ranks where it does, its copies and thread."""
    user = current_user(request)
    detail = selectors.mention_detail(user=user, mention_id=mention_id)
    return render(
        request,
        "listening/mention.html",
        {
            "area": "listening",
            "title": "Mention",
            "detail": detail,
            "mention": detail.mention,
            # The care inbox's side of a mention: its conversation, or the way to open one.
            "conversation_id": care.conversation_of_mention(user=user, mention_id=mention_id),
            "can_open_conversation": permissions.can_work_conversations(user),
            # The Triage panel (intelligence/_triage.html): labels agents may correct.
            "reasons": detail.reasons,
            "labels": intelligence.mention_labels(mention=detail.mention),
            "can_correct": permissions.can_work_conversations(user),
        },
    )


# --- routing rules -------------------------------------------------------------


@member_required
@require_http_methods(["GET", "POST"])
def routing(request: HttpRequest) -> HttpResponse:
    """The routing rules in the order they are tried; admins and leads add one below."""
    user = current_user(request)
    form = RoutingRuleForm(request.POST or None, workspace_id=workspace_id_of(user))
    if request.method == "POST":
        permissions.check_can_manage_teams(user)
        if form.is_valid() and (rule := _save_routing_rule(request, form)):
            messages.success(request, f"Rule “{rule.name}” added; it is tried last.")
            return redirect("listening:routing")
    return render(
        request,
        "listening/routing.html",
        {
            "area": "listening",
            "title": "Listening",
            "rules": selectors.routing_rules(user=user),
            "form": form,
            "can_manage": permissions.can_manage_teams(user),
        },
    )


@member_required
@require_http_methods(["GET", "POST"])
def routing_rule(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Change one rule (admins and leads)."""
    user = current_user(request)
    rule = selectors.access_routing_rule(user=user, rule_id=rule_id)
    permissions.check_can_manage_teams(user)
    initial = {
        "name": rule.name,
        "team": rule.team_id,
        "query": rule.query_id,
        "platform": rule.platform,
        "lang": rule.lang,
        "intent": rule.intent,
        "tag": rule.tag,
        "enabled": rule.enabled,
    }
    form = RoutingRuleForm(request.POST or None, initial=initial, workspace_id=rule.workspace_id)
    if (
        request.method == "POST"
        and form.is_valid()
        and (saved := _save_routing_rule(request, form, rule_id=rule.pk))
    ):
        messages.success(request, f"Rule “{saved.name}” saved.")
        return redirect("listening:routing")
    return render(
        request,
        "listening/routing_form.html",
        {"area": "listening", "title": "Listening", "form": form, "rule": rule},
    )


@member_required
@require_POST
def move_routing_rule(request: HttpRequest, rule_id: int) -> HttpResponse:
    direction = request.POST.get("direction")
    if direction not in {"up", "down"}:
        return HttpResponse("Say direction=up or direction=down.", status=400)
    services.move_routing_rule(
        actor=current_user(request),
        rule_id=rule_id,
        direction="up" if direction == "up" else "down",
    )
    return redirect(reverse("listening:routing") + f"#rule-{rule_id}")


@member_required
@require_http_methods(["GET", "POST"])
def delete_routing_rule(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Ask first (GET), then delete (POST)."""
    user = current_user(request)
    rule = selectors.access_routing_rule(user=user, rule_id=rule_id)
    permissions.check_can_manage_teams(user)
    if request.method == "POST":
        services.delete_routing_rule(actor=user, rule_id=rule.pk)
        messages.success(request, f"Rule “{rule.name}” deleted.")
        return redirect("listening:routing")
    return render(
        request,
        "listening/routing_delete.html",
        {"area": "listening", "title": "Listening", "rule": rule},
    )


def _save_routing_rule(
    request: HttpRequest, form: RoutingRuleForm, *, rule_id: int | None = None
) -> RoutingRule | None:
    """Save the form's rule, or put the domain error on the form and return None."""
    data = form.cleaned_data
    try:
        return services.save_routing_rule(
            actor=current_user(request),
            name=data["name"],
            team_id=data["team"].pk,
            query_id=data["query"].pk if data["query"] else None,
            platform=data["platform"],
            lang=data["lang"],
            intent=data["intent"],
            tag=data["tag"],
            enabled=data["enabled"],
            rule_id=rule_id,
        )
    except HubbubError as error:
        add_form_error(form, error)
        return None


# --- the pipeline's settings page ---------------------------------------------


@member_required
@require_http_methods(["GET"])
def pipeline(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    return render(
        request,
        "listening/pipeline.html",
        {
            "section": "pipeline",
            "overview": selectors.pipeline_overview(user=user),
            "can_replay": permissions.can_manage_teams(user),
            "max_attempts": services.MAX_ATTEMPTS,
        },
    )


@member_required
@require_POST
def replay_dead_posts(request: HttpRequest) -> HttpResponse:
    """Send one dead post (`id`) or all of the workspace's back to the pipeline."""
    raw_id = request.POST.get("id")
    if raw_id is not None and not (raw_id.isdigit() and len(raw_id) <= 18):
        messages.error(request, "That is not a post id.")
        return redirect("listening:pipeline")
    ids = None if raw_id is None else [int(raw_id)]
    try:
        count = services.replay_dead_posts(actor=current_user(request), inbound_ids=ids)
    except HubbubError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"{count} post{'s' if count != 1 else ''} sent back to the pipeline."
        )
    return redirect("listening:pipeline")


# --- sources -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldView:
    """One field of a source's form as the template shows it: never a stored credential."""

    spec: SourceField
    value: str
    error: str = ""
    saved: bool = False  # a credential is stored: an empty field keeps it

    @property
    def choices(self) -> tuple[tuple[str, str], ...]:
        return self.spec.choices

    @property
    def modes(self) -> str:
        return " ".join(self.spec.modes)


def _typed(request: HttpRequest, schema: SourceSchema) -> sources.SourceInput:
    names = [spec.name for spec in (*schema.settings, *schema.credentials)]
    values = {name: request.POST.get(name, "") for name in names}
    return sources.SourceInput(
        name=request.POST.get("name", ""),
        kind=request.POST.get("kind", ""),
        settings={spec.name: values[spec.name] for spec in schema.settings},
        credentials={spec.name: values[spec.name] for spec in schema.credentials},
    )


def _setting_text(value: object) -> str:
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return "" if value is None else str(value)


def _form_context(
    schema: SourceSchema,
    *,
    kind: str,
    name: str,
    settings: dict[str, object],
    saved_credentials: set[str],
    error: HubbubError | None = None,
) -> dict[str, object]:
    def view(spec: SourceField, value: str, *, saved: bool = False) -> FieldView:
        problem = error.message if error is not None and error.field == spec.name else ""
        return FieldView(spec, value, problem, saved)

    return {
        "schema": schema,
        "kind": kind,
        "name": name,
        "name_error": error.message if error is not None and error.field == "name" else "",
        "form_error": error.message if error is not None and not error.field else "",
        "setting_fields": [
            view(spec, _setting_text(settings.get(spec.name, spec.default)))
            for spec in schema.settings
        ],
        # Credentials are never put back into the page, not even after an error.
        "credential_fields": [
            view(spec, "", saved=spec.name in saved_credentials) for spec in schema.credentials
        ],
        "mode": _setting_text(settings.get("mode", "")),
    }


@member_required
@require_http_methods(["GET"])
def source_list(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    return render(
        request,
        "listening/sources.html",
        {
            "section": "sources",
            "rows": selectors.workspace_sources(user=user),
            "now": clock.now(),
            "can_manage": permissions.can_manage_sources(user),
            "kinds": [(kind, schema) for kind, schema in SCHEMAS.items() if kind in CONNECTORS],
        },
    )


@member_required
@require_http_methods(["GET", "POST"])
def new_source(request: HttpRequest, kind: str) -> HttpResponse:
    user = current_user(request)
    schema = schema_for(kind)
    if schema is None or kind not in CONNECTORS or not permissions.can_manage_sources(user):
        raise Http404("No such kind of source.")
    error: HubbubError | None = None
    typed = _typed(request, schema) if request.method == "POST" else None
    if typed is not None:
        try:
            source = sources.save_source(actor=user, given=dataclasses.replace(typed, kind=kind))
        except HubbubError as failure:
            error = failure
        else:
            messages.success(request, f"“{source.name}” is listening.")
            return redirect("listening:source", source_id=source.pk)
    context = _form_context(
        schema,
        kind=kind,
        name=typed.name if typed else schema.title,
        settings=dict(typed.settings) if typed else {},
        saved_credentials=set(),
        error=error,
    )
    status = 422 if error is not None else 200
    return render(
        request, "listening/source_new.html", {"section": "sources", **context}, status=status
    )


@member_required
@require_http_methods(["GET", "POST"])
def source_detail(request: HttpRequest, source_id: int) -> HttpResponse:
    user = current_user(request)
    source = selectors.access_source(user=user, source_id=source_id)
    schema = schema_for(source.kind)
    can_manage = permissions.can_manage_sources(user) and schema is not None
    error: HubbubError | None = None
    typed = None
    if request.method == "POST":
        if not can_manage or schema is None:
            raise Http404("No such source.")
        typed = _typed(request, schema)
        try:
            source = sources.save_source(actor=user, given=typed, source_id=source.pk)
        except HubbubError as failure:
            error = failure
        else:
            messages.success(request, "Saved.")
            return redirect("listening:source", source_id=source.pk)
    context: dict[str, object] = {
        "section": "sources",
        "source": source,
        "can_manage": can_manage,
        "items_today": selectors.source_items_today(source),
        "now": clock.now(),
        "rejected": selectors.latest_rejected(source),
    }
    if schema is not None:
        context |= _form_context(
            schema,
            kind=source.kind,
            name=typed.name if typed else source.name,
            settings=dict(typed.settings) if typed else dict(source.settings or {}),
            saved_credentials=set(polling.credentials_of(source.credentials)),
            error=error,
        )
    status = 422 if error is not None else 200
    return render(request, "listening/source.html", context, status=status)


@member_required
@require_POST
def check_source(request: HttpRequest) -> HttpResponse:
    """Try what the form holds now, saved or not; answers the form's result box."""
    user = current_user(request)
    raw_id = request.POST.get("source_id", "")
    source_id = int(raw_id) if raw_id.isdigit() and len(raw_id) <= 18 else None
    kind = request.POST.get("kind", "")
    if source_id is not None:
        kind = selectors.access_source(user=user, source_id=source_id).kind
    schema = schema_for(kind)
    if schema is None:
        raise Http404("No such kind of source.")
    typed = dataclasses.replace(_typed(request, schema), kind=kind)
    try:
        said = sources.check_source(actor=user, given=typed, source_id=source_id)
    except HubbubError as failure:
        return render(
            request, "listening/_source_check.html", {"ok": False, "said": failure.message}
        )
    return render(request, "listening/_source_check.html", {"ok": True, "said": said})


@member_required
@require_POST
def source_status(request: HttpRequest, source_id: int, action: str) -> HttpResponse:
    user = current_user(request)
    try:
        if action == "pause":
            sources.pause_source(actor=user, source_id=source_id)
            messages.success(request, "Paused: nothing is read until you resume it.")
        elif action == "resume":
            sources.resume_source(actor=user, source_id=source_id)
            messages.success(request, "Listening again, from where it stopped.")
        elif action == "delete":
            sources.delete_source(actor=user, source_id=source_id)
            messages.success(request, "Source deleted. Its mentions stay.")
            return redirect("listening:sources")
        else:
            raise Http404("No such action.")
    except HubbubError as error:
        messages.error(request, error.message)
    if request.POST.get("next") == "list":
        return redirect("listening:sources")
    return redirect("listening:source", source_id=source_id)
