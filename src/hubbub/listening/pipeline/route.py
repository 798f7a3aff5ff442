"""Route: which team a mention goes to.

The workspace's enabled routing rules are tried in order; the first whose
conditions all hold wins (a condition left empty holds for anything).
Without one, the mention goes to the owner team of the first matching query
that has an owner; without that, to no team (everyone sees it).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from hubbub.listening.models import RoutingRule


class Intent(StrEnum):
    """What triage says a post wants (hubbub.intelligence's vocabulary)."""

    COMPLAINT = "complaint"
    QUESTION = "question"
    PRAISE = "praise"
    FEEDBACK = "feedback"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Rule:
    """One enabled routing rule, as the pipeline holds it; "" and None mean "any"."""

    team_id: int
    query_id: int | None
    platform: str
    lang: str
    intent: str


def choose_team(
    rules: Sequence[Rule],
    *,
    query_ids: Sequence[int],
    platform: str,
    lang: str,
    intent: str,
    query_teams: Mapping[int, int | None],
) -> int | None:
    """The team for a mention that matched `query_ids` (in match order), or None.

    `query_teams` maps a query id to its owner team id (None when it has none).
    """
    for rule in rules:
        if fits(rule, query_ids=query_ids, platform=platform, lang=lang, intent=intent):
            return rule.team_id
    return next(
        (team for query_id in query_ids if (team := query_teams.get(query_id)) is not None),
        None,
    )


def fits(rule: Rule, *, query_ids: Collection[int], platform: str, lang: str, intent: str) -> bool:
    """Whether every condition of the rule holds (an empty one holds for anything)."""
    return (
        (rule.query_id is None or rule.query_id in query_ids)
        and (not rule.platform or rule.platform == platform)
        and (not rule.lang or lang_matches(rule.lang, lang))
        and (not rule.intent or rule.intent == intent)
    )


def lang_matches(wanted: str, lang: str) -> bool:
    """By prefix, ignoring case: "en" holds for "en", "EN-gb" and "en_US"; "en-GB" not for "en"."""
    wanted, lang = wanted.lower().replace("_", "-"), lang.lower().replace("_", "-")
    return lang == wanted or lang.startswith(wanted + "-")


def load_rules(workspace_id: int) -> list[Rule]:
    """The workspace's enabled rules, in the order they are tried (one query)."""
    rows = (
        # Rules with a tag condition apply to tagged conversations, never to mentions.
        RoutingRule.objects.filter(workspace_id=workspace_id, enabled=True, tag="")
        .order_by("position", "id")
        .values_list("team_id", "query_id", "platform", "lang", "intent")
    )
    return [
        Rule(team_id=team_id, query_id=query_id, platform=platform, lang=lang, intent=intent)
        for team_id, query_id, platform, lang, intent in rows
    ]
