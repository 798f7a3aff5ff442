"""Factories and the named personas the tests use.

Brightwave: Ada (admin), Lee (lead), Cara (agent, Care), Nico (agent, Nights),
Bill (department member, Billing), Rita (read-only).
Elsewhere: another brand with its own admin, Otto.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import factory
from django.contrib.auth.hashers import make_password
from django.test import Client

from hubbub.accounts.models import AgentProfile, Role, Team, TeamKind, User
from hubbub.core.models import Workspace

PASSWORD = "correct-horse-battery"


@cache
def password_hash() -> str:
    return make_password(PASSWORD)


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Team {n}")
    kind = TeamKind.TEAM


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    workspace = factory.SubFactory(WorkspaceFactory)
    role = Role.AGENT
    # Hashing is deliberately slow; hash the shared test password once.
    password = factory.LazyFunction(lambda: password_hash())

    @factory.post_generation
    def profile(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            self.save()
            AgentProfile.objects.create(
                user=self,
                display_name=kwargs.get("display_name") or self.email.split("@")[0].title(),
            )

    @factory.post_generation
    def teams(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.teams.set(extracted)


@dataclass
class Cast:
    brightwave: Workspace
    care: Team
    nights: Team
    billing: Team
    ada: User
    lee: User
    cara: User
    nico: User
    bill: User
    rita: User
    elsewhere: Workspace
    elsewhere_team: Team
    otto: User


def make_cast() -> Cast:
    brightwave = WorkspaceFactory(name="Brightwave", slug="brightwave")
    care = TeamFactory(workspace=brightwave, name="Care")
    nights = TeamFactory(workspace=brightwave, name="Nights")
    billing = TeamFactory(workspace=brightwave, name="Billing", kind=TeamKind.DEPARTMENT)
    elsewhere = WorkspaceFactory(name="Elsewhere", slug="elsewhere")
    elsewhere_team = TeamFactory(workspace=elsewhere, name="Elsewhere Care")

    def person(name: str, role: Role, teams: list[Team], workspace: Workspace = brightwave) -> User:
        return UserFactory(
            email=f"{name.lower()}@{workspace.slug}.test",
            workspace=workspace,
            role=role,
            teams=teams,
            profile__display_name=name,
        )

    return Cast(
        brightwave=brightwave,
        care=care,
        nights=nights,
        billing=billing,
        ada=person("Ada", Role.ADMIN, [care]),
        lee=person("Lee", Role.LEAD, [care, nights]),
        cara=person("Cara", Role.AGENT, [care]),
        nico=person("Nico", Role.AGENT, [nights]),
        bill=person("Bill", Role.DEPARTMENT, [billing]),
        rita=person("Rita", Role.READONLY, []),
        elsewhere=elsewhere,
        elsewhere_team=elsewhere_team,
        otto=person("Otto", Role.ADMIN, [elsewhere_team], elsewhere),
    )


def token(user: User) -> dict[str, str]:
    """The headers of an API request made with a new personal token of `user`."""
    from hubbub.accounts import services

    _, raw = services.create_api_token(actor=user, name="api test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def post(client: Client, url: str, body: dict[str, object], auth: dict[str, str]) -> Any:
    """A JSON POST to the API."""
    return client.post(url, data=json.dumps(body), content_type="application/json", **auth)
