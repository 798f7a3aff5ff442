"""The data of `hubbub bench inbox`: a large brand's workspace, bulk-loaded into PostgreSQL.

A workspace of agents in a few teams, two leads, tags and sandbox channel
accounts, then conversations with their mentions, written with COPY in one
transaction. It bypasses the services on purpose: a million mentions through
the pipeline would take hours, and the bench measures reading and working
the inbox, not filling it (`hubbub bench pipeline` measures that).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.models import Model

SEED = 20261124
AGENT_EMAIL = "agent1@bench-inbox.example"
LEAD_EMAIL = "lead1@bench-inbox.example"
TEAM_NAMES = ("Care", "Nights", "Billing care", "Mobile", "Business")
TAG_NAMES = ("refund", "outage", "billing", "delivery", "vip", "bug", "escalated", "press")
# (value, weight): the mix of a broadband brand's social inbox.
PLATFORMS = (("bluesky", 35), ("mastodon", 25), ("x", 25), ("reddit", 15))
LANGS = (("en", 70), ("de", 10), ("fr", 8), ("es", 7), ("nl", 5))
SENTIMENTS = (("negative", 45), ("neutral", 35), ("positive", 20))
INTENTS = (("complaint", 35), ("question", 35), ("praise", 10), ("feedback", 10), ("other", 10))
ACTIVE_STATUSES = (("new", 40), ("open", 35), ("waiting_customer", 15), ("waiting_department", 10))
FIRST_NAMES = ("Alex", "Sam", "Maria", "Jonas", "Aisha", "Chen", "Lena", "Omar", "Priya", "Tom")
LAST_NAMES = ("Meyer", "Okafor", "Rossi", "Nguyen", "Silva", "Novak", "Berg", "Khan", "Dubois")
# Made-up posts draw on these words when ../shared/data is missing.
FALLBACK_VOCABULARY = (
    "my order refund internet outage router bill charged twice delivery parcel late app "
    "crash login password account support help thanks great slow wifi phone signal cancel "
    "price fee waiting hours days still nobody answers broken missing wrong tracking fix"
)


@dataclass(slots=True)
class _People:
    workspace_id: int
    team_ids: list[int]
    agents_by_team: dict[int, list[int]]
    agent_ids: list[int]


def load(*, mentions: int, conversations: int, agents: int) -> dict[str, Any]:
    """Load the workspace; the seconds it took, in all and per step.

    Everything happens in one transaction: a failed load leaves the database
    empty, never half full, so a database holding the volume is a whole one.
    """
    from django.db import connection, transaction

    rng = random.Random(SEED)
    steps: dict[str, float] = {}
    started = time.perf_counter()
    with transaction.atomic():
        people = _create_people(agents)
        tag_ids = _create_tags_and_channels(people.workspace_id)
        steps["people_s"] = time.perf_counter() - started
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor  # psycopg's own, for COPY
            cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
            # The people's foreign keys are checked now: a table with pending
            # checks cannot be altered, and dropping a key alters both ends.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            tables = [model._meta.db_table for model in _loaded_models()]
            restore = _set_aside_indexes(cursor, tables)
            mark = time.perf_counter()
            _copy_rows(cursor, rng, people, tag_ids, mentions, conversations)
            steps["copy_s"] = time.perf_counter() - mark
            mark = time.perf_counter()
            for statement in restore:
                cursor.execute(statement)
            steps["indexes_s"] = time.perf_counter() - mark
            _reset_sequences(cursor)
    mark = time.perf_counter()
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")
        cursor.execute("ANALYZE")
    steps["analyze_s"] = time.perf_counter() - mark
    return {
        "load_s": round(time.perf_counter() - started, 1),
        "steps": {k: round(v, 1) for k, v in steps.items()},
    }


def _create_people(agents: int) -> _People:
    from hubbub.accounts import services
    from hubbub.accounts.models import Role, Team, TeamKind

    workspace = services.create_workspace(name="Bench inbox", slug="bench-inbox")
    teams = [
        Team.objects.create(workspace=workspace, name=name, kind=TeamKind.TEAM)
        for name in TEAM_NAMES[: min(len(TEAM_NAMES), max(1, agents // 10))]
    ]
    by_team: dict[int, list[int]] = {team.pk: [] for team in teams}
    agent_ids = []
    for n in range(agents):
        home = teams[n % len(teams)]
        # Every fifth agent also helps a second team.
        extra = [teams[(n + 1) % len(teams)]] if n % 5 == 0 and len(teams) > 1 else []
        person = services.create_member(
            workspace=workspace,
            email=f"agent{n + 1}@bench-inbox.example",
            password=None,
            display_name=f"{FIRST_NAMES[n % 10]} {LAST_NAMES[n % 9]} {n + 1}",
            role=Role.AGENT,
            teams=[home, *extra],
        )
        agent_ids.append(person.pk)
        for team in [home, *extra]:
            by_team[team.pk].append(person.pk)
    for n in (1, 2):
        services.create_member(
            workspace=workspace,
            email=f"lead{n}@bench-inbox.example",
            password=None,
            display_name=f"Lead {n}",
            role=Role.LEAD,
            teams=teams,
        )
    return _People(workspace.pk, [t.pk for t in teams], by_team, agent_ids)


def _create_tags_and_channels(workspace_id: int) -> list[int]:
    from hubbub.care.models import Tag
    from hubbub.connectors.models import ChannelAccount, Transport

    for platform, _ in PLATFORMS:
        ChannelAccount.objects.create(
            workspace_id=workspace_id,
            platform=platform,
            transport=Transport.SANDBOX,
            name=f"Bench on {platform}",
        )
    return [Tag.objects.create(workspace_id=workspace_id, name=name).pk for name in TAG_NAMES]


def _loaded_models() -> list[type[Model]]:
    """The tables written with COPY."""
    from hubbub.care.models import Conversation, ConversationMention
    from hubbub.listening.models import Mention

    return [Mention, Conversation, ConversationMention, Conversation.tags.through]


def _set_aside_indexes(cursor: Any, tables: list[str]) -> list[str]:
    """Drop the tables' secondary indexes and foreign keys; return the statements that restore them.

    Building an index once over a million rows (the mention search's GIN index
    above all) is several times faster than keeping it up to date row by row,
    and a foreign key added afterwards is checked in one join instead of a
    deferred trigger per row. It all happens inside the load's transaction.
    """
    from psycopg import sql

    indexes, foreign_keys = [], []
    for table in tables:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS ("
            "  SELECT 1 FROM pg_constraint c"
            "  WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            indexes.append(definition)
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
            )
            foreign_keys.append(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}")
                .format(sql.Identifier(table), sql.Identifier(name), sql.SQL(definition))
                .as_string(cursor.connection)
            )
    return indexes + foreign_keys


def _reset_sequences(cursor: Any) -> None:
    from django.core.management.color import no_style
    from django.db import connection

    # The ids were written explicitly: the next insert must not collide with them.
    for statement in connection.ops.sequence_reset_sql(no_style(), _loaded_models()):
        cursor.execute(statement)


def _texts(rng: random.Random) -> list[str]:
    """Real posts from ../shared/data when there, else made-up ones from a small vocabulary."""
    from hubbub.datasets import DataMissing, post_texts

    try:
        texts = [text.replace("\x00", " ") for text in post_texts() if text.strip()]
    except DataMissing:
        words = FALLBACK_VOCABULARY.split()
        texts = [" ".join(rng.choices(words, k=rng.randint(5, 30))) for _ in range(20_000)]
    rng.shuffle(texts)
    return texts


def _pick(rng: random.Random, choices: tuple[tuple[str, int], ...], k: int) -> list[str]:
    return rng.choices([value for value, _ in choices], [w for _, w in choices], k=k)


def _copy_rows(
    cursor: Any,
    rng: random.Random,
    people: _People,
    tag_ids: list[int],
    mentions: int,
    conversations: int,
) -> None:
    from psycopg import sql

    from hubbub.care.models import Conversation, ConversationMention
    from hubbub.listening.models import Mention

    def copy(model: Any, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(model._meta.db_table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        count = 0
        started = time.perf_counter()
        with cursor.copy(statement) as stream:
            for row in rows:
                stream.write_row(row)
                count += 1
        took = time.perf_counter() - started
        print(f"    {model._meta.db_table}: {count:,} rows in {took:.1f} s", file=sys.stderr)
        return count

    plan = _ConversationPlan(rng, people, _texts(rng), mentions, conversations)
    copy(Conversation, CONVERSATION_COLUMNS, plan.conversation_rows())
    copy(Mention, MENTION_COLUMNS, plan.mention_rows())
    copy(ConversationMention, LINK_COLUMNS, plan.link_rows())
    copy(Conversation.tags.through, ["conversation_id", "tag_id"], plan.tag_rows(tag_ids))


CONVERSATION_COLUMNS = [
    "id",
    "workspace_id",
    "team_id",
    "status",
    "priority",
    "platform",
    "customer_handle",
    "customer_name",
    "subject",
    "takes_new_mentions",
    "sentiment",
    "intent",
    "lang",
    "customer_followers",
    "assignee_id",
    "assigned_at",
    "snoozed_until",
    "created_at",
    "updated_at",
    "last_activity_at",
    "last_inbound_at",
    "first_response_at",
    "last_response_at",
    "resolved_at",
    "first_response_due_at",
    "next_response_due_at",
    "sla_due_at",
    "sla_state",
    "sla_watch_at",
]
MENTION_COLUMNS = [
    "id",
    "workspace_id",
    "platform",
    "external_id",
    "url",
    "author_handle",
    "author_name",
    "author_external_id",
    "author_followers",
    "text",
    "html",
    "lang",
    "posted_at",
    "fetched_at",
    "reply_to_external_id",
    "thread_root_external_id",
    "raw",
    "normalized_text",
    "content_hash",
    "sentiment",
    "sentiment_confidence",
    "intent",
    "intent_confidence",
    "urgency",
    "priority",
    "priority_reasons",
    "model_version",
    "team_id",
]
LINK_COLUMNS = ["id", "conversation_id", "mention_id", "added_at"]


class _ConversationPlan:
    """The generated workspace: conversations first, their mentions interleaved in time.

    About a quarter of the conversations are resolved or closed, half of
    those by a customer who has an open one now; 30 % are assigned; one in
    ten belongs to no team; one in a hundred is a long thread. A mention's id
    follows its posting time across conversations, as the pipeline stores
    them, so one conversation's mentions are spread over the table.
    """

    def __init__(
        self,
        rng: random.Random,
        people: _People,
        texts: list[str],
        mentions: int,
        conversations: int,
    ) -> None:
        self.rng, self.people, self.texts = rng, people, texts
        self.now = time.time()
        n = conversations
        self.platform = _pick(rng, PLATFORMS, n)
        self.lang = _pick(rng, LANGS, n)
        self.sentiment = _pick(rng, SENTIMENTS, n)
        self.intent = _pick(rng, INTENTS, n)
        self.status = [
            ("resolved" if rng.random() < 0.8 else "closed") if rng.random() < 0.25 else s
            for s in _pick(rng, ACTIVE_STATUSES, n)
        ]
        self.handle = [f"customer{c}" for c in range(n)]
        self.name = [f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" for _ in range(n)]
        active = [c for c in range(n) if self.status[c] not in ("resolved", "closed")]
        for c in range(n):
            if active and self.status[c] in ("resolved", "closed") and rng.random() < 0.5:
                other = rng.choice(active)  # a returning customer: past conversations
                self.platform[c], self.handle[c] = self.platform[other], self.handle[other]
                self.name[c] = self.name[other]
        self.team = [None if rng.random() < 0.1 else rng.choice(people.team_ids) for _ in range(n)]
        self.priority = [
            None if rng.random() < 0.05 else round(rng.betavariate(2, 3) * 100, 1) for _ in range(n)
        ]
        self.text_base = [rng.randrange(len(texts)) for _ in range(n)]
        self.hashes: dict[int, str] = {}
        # One mention each, the rest spread by weight: a long thread weighs twenty.
        weights = [20 if rng.random() < 0.01 else 1 for _ in range(n)]
        extra = Counter(rng.choices(range(n), weights, k=mentions - n))
        self.first_at, self.last_at = [0.0] * n, [0.0] * n
        timeline: list[tuple[float, int, int, bool]] = []
        for c in range(n):
            age = rng.uniform(0, 90 if self.status[c] in ("resolved", "closed") else 7) * 86400
            start = self.now - age - 600
            span = min(age, rng.expovariate(1 / 43200))
            times = sorted([start] + [start + rng.random() * span for _ in range(extra[c])])
            self.first_at[c], self.last_at[c] = times[0], times[-1]
            timeline += [(t, c, k, k == len(times) - 1) for k, t in enumerate(times)]
        timeline.sort()
        self.timeline = timeline

    def _at(self, seconds: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)

    def conversation_rows(self) -> Iterator[tuple[Any, ...]]:
        rng, now = self.rng, self.now
        for c in range(len(self.status)):
            status, team = self.status[c], self.team[c]
            done = status in ("resolved", "closed")
            first, last = self.first_at[c], self.last_at[c]
            assignee, assigned_at = None, None
            if rng.random() < 0.3:
                assignee = rng.choice(
                    self.people.agents_by_team.get(team or 0) or self.people.agent_ids
                )
                assigned_at = self._at(min(now, first + rng.uniform(60, 3600)))
            answered = done or status != "new"
            first_response = min(now, last + rng.uniform(300, 6 * 3600)) if answered else None
            resolved = (
                min(now, (first_response or last) + rng.uniform(600, 86400)) if done else None
            )
            snoozed = not done and rng.random() < 0.03
            due = (
                None if done or snoozed or rng.random() < 0.4 else now + rng.uniform(-4, 24) * 3600
            )
            state = (
                ""
                if due is None
                else "breached"
                if due < now
                else "at_risk"
                if due < now + 3600
                else "ok"
            )
            activity = max(last, first_response or 0, resolved or 0)
            yield (
                c + 1,
                self.people.workspace_id,
                team,
                status,
                self.priority[c],
                self.platform[c],
                self.handle[c],
                self.name[c],
                _subject(self.texts[self.text_base[c]]),
                True,
                self.sentiment[c],
                self.intent[c],
                self.lang[c],
                int(rng.paretovariate(1.2) * 40),
                assignee,
                assigned_at,
                self._at(now + rng.uniform(3600, 3 * 86400)) if snoozed else None,
                self._at(first),
                self._at(activity),
                self._at(activity),
                self._at(last),
                None if first_response is None else self._at(first_response),
                None if first_response is None else self._at(resolved or first_response),
                None if resolved is None else self._at(resolved),
                None if due is None or status != "new" else self._at(due),
                None if due is None or status == "new" else self._at(due),
                None if due is None else self._at(due),
                state,
                None if due is None else self._at(due - 900),
            )

    def mention_rows(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        sentiments, intents = [v for v, _ in SENTIMENTS], [v for v, _ in INTENTS]
        reasons = {
            s: json.dumps([{"factor": s, "points": 18.0, "label": f"{s.capitalize()} sentiment"}])
            for s in sentiments
        }
        for n, (posted, c, k, latest) in enumerate(self.timeline, start=1):
            index = (self.text_base[c] + k * 7919) % len(self.texts)
            text = self.texts[index]
            if index not in self.hashes:
                self.hashes[index] = hashlib.sha256(text.encode()).hexdigest()
            sentiment = self.sentiment[c] if latest else rng.choice(sentiments)
            top = self.priority[c]
            priority = top if latest or top is None else round(top * rng.random(), 1)
            platform, handle = self.platform[c], self.handle[c]
            yield (
                n,
                self.people.workspace_id,
                platform,
                str(n),
                f"https://{platform}.example/@{handle}/{n}",
                handle,
                self.name[c],
                "",
                None,
                text,
                "",
                self.lang[c],
                self._at(posted),
                self._at(posted + 30),
                "",
                "",
                "{}",
                text.lower(),
                self.hashes[index],
                sentiment,
                round(0.5 + rng.random() / 2, 3),
                self.intent[c] if latest else rng.choice(intents),
                round(0.5 + rng.random() / 2, 3),
                None if priority is None else round(priority / 100, 3),
                priority,
                reasons[sentiment],
                "bench",
                self.team[c],
            )

    def link_rows(self) -> Iterator[tuple[Any, ...]]:
        for n, (posted, c, _, _) in enumerate(self.timeline, start=1):
            yield (n, c + 1, n, self._at(posted + 31))

    def tag_rows(self, tag_ids: list[int]) -> Iterator[tuple[Any, ...]]:
        for c in range(len(self.status)):
            if self.rng.random() < 0.15:
                for tag in self.rng.sample(tag_ids, self.rng.choice((1, 1, 2))):
                    yield (c + 1, tag)


def _subject(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 120 else line[:119].rstrip() + "…"
