from __future__ import annotations

import datetime as dt

import factory

from hubbub.accounts.tests.factories import TeamFactory, WorkspaceFactory
from hubbub.listening.models import Mention, Query, QueryKind, RoutingRule, Source, SourceKind


class QueryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Query

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Query {n}")
    kind = QueryKind.BRAND
    expression = "brightwave"


class MentionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mention

    workspace = factory.SubFactory(WorkspaceFactory)
    platform = "bluesky"
    external_id = factory.Sequence(lambda n: f"post-{n}")
    author_handle = factory.Sequence(lambda n: f"customer{n}.example")
    text = "Brightwave broadband is down again"
    lang = "en"
    posted_at = factory.Sequence(
        lambda n: dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n)
    )


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingRule

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")
    position = factory.Sequence(lambda n: n)
    team = factory.SubFactory(TeamFactory, workspace=factory.SelfAttribute("..workspace"))


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Source {n}")
    kind = SourceKind.BLUESKY
    settings = factory.LazyFunction(lambda: {"mode": "search", "query": "brightwave"})
