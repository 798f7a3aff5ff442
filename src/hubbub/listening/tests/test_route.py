"""Route: the first rule that fits wins; then the query's owner team; then nobody."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from hubbub.accounts.tests.factories import Cast
from hubbub.listening.pipeline.route import Rule, choose_team, lang_matches, load_rules
from hubbub.listening.tests.factories import QueryFactory, RoutingRuleFactory

CARE, NIGHTS, BERLIN, COMMUNITY = 1, 2, 3, 4
BRAND, OUTAGES = 10, 11


def rule(team_id: int, *, query_id: int | None = None, **conditions: str) -> Rule:
    return Rule(
        team_id=team_id,
        query_id=query_id,
        platform=conditions.get("platform", ""),
        lang=conditions.get("lang", ""),
        intent=conditions.get("intent", ""),
    )


def choose(
    rules: Sequence[Rule],
    *,
    query_ids: Sequence[int] = (BRAND,),
    platform: str = "bluesky",
    lang: str = "en",
    intent: str = "other",
    query_teams: Mapping[int, int | None] | None = None,
) -> int | None:
    return choose_team(
        rules,
        query_ids=query_ids,
        platform=platform,
        lang=lang,
        intent=intent,
        query_teams=query_teams or {},
    )


class TestChooseTeam:
    def test_the_first_fitting_rule_wins(self) -> None:
        rules = [rule(BERLIN, lang="de"), rule(NIGHTS, intent="complaint"), rule(CARE)]
        assert choose(rules, lang="de", intent="complaint") == BERLIN
        assert choose(rules, lang="en", intent="complaint") == NIGHTS
        assert choose(rules, lang="en", intent="praise") == CARE

    def test_every_condition_of_a_rule_must_hold(self) -> None:
        strict = rule(COMMUNITY, query_id=OUTAGES, platform="reddit", lang="en", intent="question")
        fits = {
            "query_ids": (BRAND, OUTAGES),
            "platform": "reddit",
            "lang": "en",
            "intent": "question",
        }
        assert choose([strict], **fits) == COMMUNITY  # type: ignore[arg-type]
        for name, other in [
            ("query_ids", (BRAND,)),
            ("platform", "bluesky"),
            ("lang", "fr"),
            ("intent", "complaint"),
        ]:
            assert choose([strict], **{**fits, name: other}) is None, name  # type: ignore[arg-type]

    def test_a_rule_without_conditions_takes_everything(self) -> None:
        assert choose([rule(CARE)], query_ids=(), platform="", lang="", intent="") == CARE

    @pytest.mark.parametrize(
        ("wanted", "lang", "fits"),
        [
            ("en", "en", True),
            ("en", "en-GB", True),
            ("EN", "en-gb", True),
            ("en", "en_US", True),
            ("en-GB", "EN-gb", True),
            ("en-GB", "en", False),
            ("en-GB", "en-US", False),
            ("en", "eng", False),
            ("en", "", False),
        ],
    )
    def test_a_language_fits_its_regional_variants_in_any_case(
        self, wanted: str, lang: str, fits: bool
    ) -> None:
        assert lang_matches(wanted, lang) is fits
        assert (choose([rule(BERLIN, lang=wanted)], lang=lang) == BERLIN) is fits

    def test_without_a_fitting_rule_the_first_owned_query_decides(self) -> None:
        teams = {BRAND: None, OUTAGES: NIGHTS, 12: CARE}
        assert choose([], query_ids=(BRAND, OUTAGES, 12), query_teams=teams) == NIGHTS
        assert choose([], query_ids=(12, OUTAGES), query_teams=teams) == CARE
        assert choose([rule(BERLIN, lang="de")], query_ids=(OUTAGES,), query_teams=teams) == NIGHTS

    def test_nobody_when_nothing_fits_and_no_query_is_owned(self) -> None:
        assert choose([rule(BERLIN, lang="de")], query_teams={BRAND: None}) is None
        assert choose([], query_ids=()) is None

    def test_a_rule_for_one_query_ignores_mentions_of_others(self) -> None:
        rules = [rule(COMMUNITY, query_id=OUTAGES), rule(CARE, platform="reddit")]
        assert choose(rules, query_ids=(BRAND,), platform="bluesky") is None
        assert choose(rules, query_ids=(BRAND, OUTAGES)) == COMMUNITY


class TestLoadRules:
    def test_enabled_rules_of_the_workspace_in_order_in_one_query(
        self, cast: Cast, django_assert_num_queries: object
    ) -> None:
        outages = QueryFactory(workspace=cast.brightwave, name="Outages")
        second = RoutingRuleFactory(
            workspace=cast.brightwave, position=2, team=cast.nights, intent="complaint"
        )
        first = RoutingRuleFactory(
            workspace=cast.brightwave, position=1, team=cast.care, query=outages, lang="de"
        )
        RoutingRuleFactory(workspace=cast.brightwave, position=0, team=cast.care, enabled=False)
        RoutingRuleFactory(workspace=cast.elsewhere, position=0, team=cast.elsewhere_team)
        with django_assert_num_queries(1):  # type: ignore[operator]
            rules = load_rules(cast.brightwave.pk)
        assert rules == [
            Rule(team_id=cast.care.pk, query_id=outages.pk, platform="", lang="de", intent=""),
            Rule(team_id=cast.nights.pk, query_id=None, platform="", lang="", intent="complaint"),
        ]
        assert (first.position, second.position) == (1, 2)
