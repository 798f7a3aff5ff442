from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from hubbub.accounts.models import Team
from hubbub.listening.models import Query, QueryKind, SourceKind
from hubbub.listening.pipeline.route import Intent
from hubbub.listening.query import MAX_QUERY_LENGTH


class QueryForm(forms.Form):
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(choices=QueryKind.choices, initial=QueryKind.BRAND)
    expression = forms.CharField(
        label="Query",
        max_length=MAX_QUERY_LENGTH,
        widget=forms.Textarea(
            attrs={"rows": 5, "spellcheck": "false", "class": "code-input", "autocomplete": "off"}
        ),
        help_text='Words, "phrases", AND / OR / NOT, ( ), refund*, NEAR/3, #tags, @mentions, '
        "lang:en, platform:bluesky, author:, site:, is:reply, has:link.",
    )
    owner_team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        required=False,
        empty_label="Everyone in the workspace",
        label="Owned by",
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Listening")

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner_team"].queryset = Team.objects.filter(workspace_id=workspace_id)  # type: ignore[attr-defined]


class ExpressionForm(forms.Form):
    expression = forms.CharField(max_length=MAX_QUERY_LENGTH + 1, required=False, strip=False)


# The time filter's choices: how far back, as the URL spells it.
SINCE_CHOICES = {
    "1h": ("Last hour", dt.timedelta(hours=1)),
    "24h": ("Last 24 hours", dt.timedelta(hours=24)),
    "7d": ("Last 7 days", dt.timedelta(days=7)),
    "30d": ("Last 30 days", dt.timedelta(days=30)),
}
MAX_SEARCH_LENGTH = 200


class MentionFilterForm(forms.Form):
    """The Listening page's filters; unknown values are ignored, never an error."""

    q = forms.CharField(
        required=False,
        label="Search mentions",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Search mentions",
                "autocomplete": "off",
                "spellcheck": "false",
                "maxlength": MAX_SEARCH_LENGTH,
                "aria-keyshortcuts": "/",
            }
        ),
    )
    since = forms.ChoiceField(
        required=False,
        label="Time",
        choices=[("", "Any time"), *[(key, label) for key, (label, _) in SINCE_CHOICES.items()]],
    )
    query = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    platform = forms.ChoiceField(required=False)
    lang = forms.ChoiceField(required=False, label="Language")
    sentiment = forms.ChoiceField(required=False)
    intent = forms.ChoiceField(required=False)

    def __init__(
        self, data: Any, *, queries: list[tuple[int, str]], facets: dict[str, list[str]]
    ) -> None:
        super().__init__(data)
        self.fields["query"].choices = [("", "All queries"), *queries]  # type: ignore[attr-defined]
        for name, values in facets.items():
            label = self.fields[name].label or name.title()
            self.fields[name].choices = [("", f"Any {label.lower()}"), *[(v, v) for v in values]]  # type: ignore[attr-defined]

    def clean_q(self) -> str:
        # Longer input is cut rather than refused, so the other filters still apply.
        return str(self.cleaned_data["q"])[:MAX_SEARCH_LENGTH]


def period_start(since: str, *, now: dt.datetime) -> dt.datetime | None:
    """When the time filter's period starts, or None for any time."""
    choice = SINCE_CHOICES.get(since)
    return None if choice is None else now - choice[1]


class RoutingRuleForm(forms.Form):
    """A routing rule: its name, where it sends mentions, and the conditions that must hold."""

    name = forms.CharField(max_length=120)
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), label="Send to", empty_label="Choose a team"
    )
    query = forms.ModelChoiceField(
        queryset=Query.objects.none(), required=False, empty_label="Any query", label="Query"
    )
    platform = forms.ChoiceField(
        required=False,
        # "Replay (CSV or JSON Lines)" → "Replay": the form names platforms, not formats.
        choices=[("", "Any platform"), *((k.value, k.label.split(" (")[0]) for k in SourceKind)],
    )
    lang = forms.CharField(
        max_length=16,
        required=False,
        label="Language",
        help_text="A code: en also fits en-GB and en-US.",
        widget=forms.TextInput(attrs={"placeholder": "Any language", "autocomplete": "off"}),
    )
    intent = forms.ChoiceField(
        required=False,
        choices=[("", "Any intent"), *((i.value, i.value.capitalize()) for i in Intent)],
    )
    tag = forms.CharField(
        max_length=40,
        required=False,
        label="Tagged",
        help_text="Applies when an agent tags a conversation so.",
        widget=forms.TextInput(attrs={"placeholder": "Any tag", "autocomplete": "off"}),
    )
    enabled = forms.BooleanField(required=False, initial=True, label="On")

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(workspace_id=workspace_id)  # type: ignore[attr-defined]
        self.fields["query"].queryset = Query.objects.filter(workspace_id=workspace_id)  # type: ignore[attr-defined]
