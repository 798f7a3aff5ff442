from __future__ import annotations

from typing import Any

from django import forms

from hubbub.accounts.models import Team
from hubbub.listening.models import QueryKind
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


class MentionFilterForm(forms.Form):
    """The Listening page's filters; unknown values are ignored, never an error."""

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
