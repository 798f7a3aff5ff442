"""The customer's satisfaction survey (no login) and the team's results."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from hubbub.accounts.http import current_user, member_required
from hubbub.care import csat
from hubbub.care.models import Survey
from hubbub.core import clock
from hubbub.core.errors import Conflict, HubbubError, NotFound

# The results page's periods: what the selector shows, and how many days back.
PERIODS = {
    "7": ("Last 7 days", 7),
    "30": ("Last 30 days", 30),
    "90": ("Last 90 days", 90),
    "all": ("All time", None),
}
DEFAULT_PERIOD = "30"


@require_http_methods(["GET", "HEAD", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    """The survey behind the link in a resolved case's follow-up: no account needed.

    A GET only shows the form (with `?score=n` chosen): mail scanners open
    links, so only the customer's POST records an answer.
    """
    try:
        found = csat.survey_for(token)
    except NotFound:
        return render(
            request,
            "care/survey.html",
            {"title": "Survey not found", "state": "missing"},
            status=404,
        )
    if request.method != "POST":
        return _survey_page(request, found, chosen=csat.score_from(request.GET.get("score")))
    post = request.POST
    try:
        csat.answer_survey(
            token=token, score=post.get("score", ""), comment=post.get("comment", "")
        )
    except Conflict as refused:
        # Shown as the first answer left it.
        return _survey_page(request, csat.survey_for(token), error=refused, status=409)
    except HubbubError as refused:
        return _survey_page(
            request,
            found,
            chosen=csat.score_from(post.get("score")),
            comment=post.get("comment", ""),
            error=refused,
            status=422,
        )
    return redirect(reverse("care:survey", args=[token]))


def _survey_page(
    request: HttpRequest,
    survey: Survey,
    *,
    chosen: int | None = None,
    comment: str = "",
    error: HubbubError | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "care/survey.html",
        {
            "title": "How did we do?",
            "state": "answered" if survey.answered_at else "form",
            "survey": survey,
            "case": survey.conversation,
            "agent_name": _first_name(survey),
            "choices": [(score, csat.SCORE_LABELS[score]) for score in csat.SCORES],
            "chosen": chosen,
            "answered_label": csat.SCORE_LABELS.get(survey.score or 0, ""),
            "error": error.message if error else "",
            "field": error.field if error else "",  # the field to mark invalid
            "comment": comment,  # what the customer typed, kept when refused
            "max_comment": csat.MAX_COMMENT,
        },
        status=status,
    )


def _first_name(survey: Survey) -> str:
    """The agent's first name as their profile shows it; never their email."""
    profile = getattr(survey.agent, "profile", None) if survey.agent else None
    name = profile.display_name.strip() if profile is not None else ""
    return name.split()[0] if name else ""


@member_required
@require_GET
def satisfaction(request: HttpRequest) -> HttpResponse:
    """CSAT by agent, team and channel over a period, and the latest comments."""
    period = request.GET.get("period", DEFAULT_PERIOD)
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    days = PERIODS[period][1]
    since = clock.now() - dt.timedelta(days=days) if days is not None else None
    return render(
        request,
        "care/satisfaction.html",
        {
            "area": "inbox",
            "title": "Satisfaction",
            "results": csat.results(user=current_user(request), since=since),
            "periods": [(key, label) for key, (label, _) in PERIODS.items()],
            "period": period,
        },
    )
