"""Generate the demo workspace through the same services a real team uses.

Brightwave is a fictional broadband and mobile brand. Everything here is
generated (names from syllables, a seeded random generator), so the demo
is the same on every machine and copies no one's text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction

from hubbub.accounts import services as accounts
from hubbub.accounts.models import AgentProfile, Role, Status, Team, TeamKind, User
from hubbub.care.models import Macro, SlaPolicy, TeamSettings
from hubbub.connectors.models import ChannelAccount, Transport
from hubbub.core.models import Workspace
from hubbub.datasets import DataMissing, shared_data_dir
from hubbub.listening import services as listening
from hubbub.listening.models import QueryKind, SourceKind

DEMO_SLUG = "brightwave"
DEMO_PASSWORD = "brightwave-demo-2026"  # noqa: S105 - printed for the demo on purpose
DOMAIN = "brightwave.example"

FIRST = [
    "Maya",
    "Jonas",
    "Priya",
    "Tomás",
    "Aiko",
    "Leon",
    "Nadia",
    "Owen",
    "Sofia",
    "Kwame",
    "Elif",
    "Ravi",
    "Ines",
    "Mateo",
    "Hana",
    "Lars",
    "Zara",
    "Amir",
]
LAST_START = ["Ber", "Cal", "Dor", "Fen", "Hal", "Kes", "Lin", "Mor", "Nor", "Sal", "Tor", "Vel"]
LAST_END = ["ding", "ström", "ani", "ova", "ley", "ez", "sen", "aki", "mond", "ari", "well"]

TEAMS = [
    ("Social Care", TeamKind.TEAM, "Answers every public mention, seven days a week."),
    ("Social Care – Nights", TeamKind.TEAM, "Covers 22:00–07:00 and the weekend peaks."),
    ("Billing", TeamKind.DEPARTMENT, "Refunds, credits, payment plans and disputed charges."),
    ("Field Engineering", TeamKind.DEPARTMENT, "Home visits, line faults and installations."),
    ("Network Operations", TeamKind.DEPARTMENT, "Outages, maintenance windows and status updates."),
]


@dataclass(frozen=True, slots=True)
class DemoLogin:
    email: str
    role: str
    name: str


def _name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST_START)}{rng.choice(LAST_END)}"
        if name not in used:
            used.add(name)
            return name


def _email(name: str) -> str:
    first, last = name.lower().split(" ", 1)
    ascii_last = last.translate(str.maketrans("öáéíóú", "oaeiou"))
    ascii_first = first.translate(str.maketrans("öáéíóú", "oaeiou"))
    return f"{ascii_first}.{ascii_last}@{DOMAIN}"


@transaction.atomic
def seed_demo(*, seed: int = 7) -> list[DemoLogin]:
    """Create the Brightwave workspace (once) and return the demo logins."""
    rng = random.Random(seed)
    workspace = Workspace.objects.filter(slug=DEMO_SLUG).first()
    if workspace is None:
        workspace = accounts.create_workspace(name="Brightwave", slug=DEMO_SLUG)
        _create_people(workspace, rng)
        # One (deliberately slow) password hash for every demo account.
        User.objects.filter(workspace=workspace).update(password=make_password(DEMO_PASSWORD))
        _create_queries(workspace)
        _set_up_inbox(workspace)
        _create_replay_source(workspace)
        # The demo answers through the sandbox: replies show as sent, post nothing.
        ChannelAccount.objects.create(
            workspace=workspace,
            platform="twitter",
            transport=Transport.SANDBOX,
            name="@brightwave (demo sandbox)",
            handle="brightwave",
        )
        _create_direct_channels(workspace)
        _create_handoff_story(workspace)
        _create_closed_loop_story(workspace)
    return demo_logins(workspace)


def _set_up_inbox(workspace: Workspace) -> None:
    """Round-robin in Social Care, two SLA policies and a few macros, as a lead would."""
    care = Team.objects.get(workspace=workspace, name="Social Care")
    # Tell a customer something at least once a day while another department has their problem.
    TeamSettings.objects.create(team=care, auto_assign=True, update_every_hours=24)
    SlaPolicy.objects.create(
        workspace=workspace,
        name="Standard",
        first_response_minutes=60,
        next_response_minutes=120,
        resolution_minutes=24 * 60,
    )
    SlaPolicy.objects.create(
        workspace=workspace,
        name="Urgent",
        min_priority=70,
        first_response_minutes=15,
        next_response_minutes=30,
        resolution_minutes=8 * 60,
    )
    for name, body in DEMO_MACROS:
        Macro.objects.create(workspace=workspace, team=care, name=name, body=body)


DEMO_MACROS = [
    (
        "Outage: we know",
        "Hi {customer_name}, sorry, we know about the outage in your area and engineers are "
        "on it. You can follow your case here: {case_link}",
    ),
    (
        "Ask to continue privately",
        "Hi {customer_name}, I'm sorry about this. So I can look at your account, please "
        "continue with me privately here: {case_link}",
    ),
    ("Thanks for the kind words", "Thank you {customer_name}, that made our day! – {agent_name}"),
]


def _create_replay_source(workspace: Workspace) -> None:
    """Replay real customer-support posts, two a second, so the demo listens live."""
    try:
        path = shared_data_dir() / "twcs" / "twcs-sample.csv"
    except DataMissing:
        return  # no shared data on this machine: the demo runs without a live source
    if path.is_file():
        listening.ensure_source(
            workspace_id=workspace.pk,
            name="Support conversations (replay)",
            kind=SourceKind.REPLAY,
            settings={
                "path": str(path),
                "preset": "twcs",
                "platform": "twitter",
                "rate": 2,
                "batch_size": 4,
            },
        )


QUERIES = [
    (
        "Brightwave brand",
        QueryKind.BRAND,
        'brightwave OR @brightwave OR #brightwave OR "bright wave broadband"',
        "Social Care",
    ),
    (
        "Outages and speed",
        QueryKind.PRODUCT,
        '(brightwave OR @brightwave) AND (outage OR down OR slow* OR "no signal" OR disconnect*)',
        "Social Care",
    ),
    (
        "Billing trouble",
        QueryKind.PRODUCT,
        "(brightwave OR @brightwave) AND (bill* OR refund* OR charge* OR overcharg*) NOT job*",
        "Social Care",
    ),
    ("Competitors", QueryKind.COMPETITOR, '(fibrelink OR skynest OR "orbit mobile") lang:en', None),
    # Matches the real customer-support posts the demo replays (../shared/data/twcs):
    # in the demo they stand in for Brightwave's own customers, so they make
    # conversations in the Social Care inbox.
    (
        "Customers asking for help",
        QueryKind.BRAND,
        "@sprintcare OR @tmobilehelp OR @verizonsupport OR @comcastcares OR @ask_spectrum OR "
        '"no signal" OR outage* OR (internet NEAR/3 (down OR slow))',
        "Social Care",
    ),
]


def _create_queries(workspace: Workspace) -> None:
    lead = User.objects.get(email=f"lead@{DOMAIN}")
    teams = {team.name: team.pk for team in Team.objects.filter(workspace=workspace)}
    for name, kind, expression, team in QUERIES:
        listening.save_query(
            actor=lead,
            name=name,
            kind=kind,
            expression=expression,
            owner_team_id=teams[team] if team else None,
        )


def _create_people(workspace: Workspace, rng: random.Random) -> None:
    teams = {
        name: Team.objects.create(workspace=workspace, name=name, kind=kind, description=text)
        for name, kind, text in TEAMS
    }
    care, nights = teams["Social Care"], teams["Social Care – Nights"]
    used: set[str] = set()
    plan: list[tuple[str, Role, list[Team], str]] = [
        ("admin@" + DOMAIN, Role.ADMIN, [care], "Alex Mercer"),
        ("lead@" + DOMAIN, Role.LEAD, [care, nights], "Rosa Lindqvist"),
        ("agent@" + DOMAIN, Role.AGENT, [care], "Sam Okafor"),
        ("billing@" + DOMAIN, Role.DEPARTMENT, [teams["Billing"]], "Dana Whitfield"),
        ("viewer@" + DOMAIN, Role.READONLY, [], "Chris Analyst"),
    ]
    used.update(name for *_rest, name in plan)
    for _ in range(7):
        name = _name(rng, used)
        plan.append((_email(name), Role.AGENT, [rng.choice([care, care, nights])], name))
    for department in ("Billing", "Field Engineering", "Network Operations"):
        for _ in range(2):
            name = _name(rng, used)
            plan.append((_email(name), Role.DEPARTMENT, [teams[department]], name))
    statuses = [Status.ONLINE, Status.ONLINE, Status.AWAY, Status.OFFLINE]
    for email, role, member_of, name in plan:
        user = accounts.create_member(
            workspace=workspace,
            email=email,
            password=None,  # set for everyone at once below
            display_name=name,
            role=role,
            teams=member_of,
        )
        first = name.split()[0]
        AgentProfile.objects.filter(user=user).update(
            signature=f"{first} · Brightwave Care" if role in {Role.AGENT, Role.LEAD} else "",
            sender_address=f"{first.lower()}@care.{DOMAIN}" if role != Role.READONLY else "",
            time_zone=rng.choice(
                ["Europe/London", "Europe/Berlin", "Europe/Lisbon", "America/Toronto"]
            ),
            languages=rng.choice([["en"], ["en", "fr"], ["en", "de"], ["en", "es"], ["en", "pt"]]),
            status=rng.choice(statuses),
        )


def demo_logins(workspace: Workspace) -> list[DemoLogin]:
    wanted = ["admin", "lead", "agent", "billing", "viewer"]
    users = User.objects.filter(workspace=workspace, email__in=[f"{w}@{DOMAIN}" for w in wanted])
    by_email = {user.email: user for user in users.select_related("profile")}
    return [
        DemoLogin(
            email=email,
            role=by_email[email].get_role_display(),
            name=by_email[email].profile.display_name,
        )
        for email in (f"{w}@{DOMAIN}" for w in wanted)
        if email in by_email
    ]


def _create_direct_channels(workspace: Workspace) -> None:
    """A sandbox mailbox, the site's chat and a review webhook, and customers who used them.

    The conversations go through care.inbound like real ones; one customer
    emailed, then chatted signed in on the site with the same address: one
    conversation holds both.
    """
    from hubbub.care import chat, inbound
    from hubbub.care.models import EMAIL
    from hubbub.connectors import webhooks
    from hubbub.connectors.models import ChatWidget, Mailbox, WebhookEndpoint
    from hubbub.core import clock

    care = Team.objects.get(workspace=workspace, name="Social Care")
    mailbox = Mailbox.objects.create(
        workspace=workspace,
        name="Support",
        address=f"support@care.{DOMAIN}",
        brand_name="Brightwave",
        team=care,
        imap_host=f"imap.{DOMAIN}",
        imap_username="support",
        smtp_host=f"smtp.{DOMAIN}",
        sandbox=True,
    )
    widget = ChatWidget.objects.create(
        workspace=workspace,
        name=f"www.{DOMAIN}",
        key="brightwave-demo",
        allowed_origins=[f"https://www.{DOMAIN}", "http://localhost:8000", "http://127.0.0.1:8000"],
        team=care,
        greeting="Hi! Ask us anything about your broadband or mobile plan.",
        identity_secret="brightwave-demo-identity-secret",  # noqa: S106 - a demo's, shown in Settings
    )
    WebhookEndpoint.objects.create(
        workspace=workspace,
        name="Reviews (Trustpilot)",
        key="brightwave-reviews",
        secret=webhooks.new_secret(),
        team=care,
    )
    now = clock.now()
    for channel, handle, name, subject, body in DIRECT_MESSAGES:
        inbound.receive(
            inbound.CustomerMessage(
                workspace_id=workspace.pk,
                channel=channel,
                handle=handle,
                name=name,
                subject=subject,
                body=body,
                received_at=now,
                team_id=care.pk,
                details={"mailbox_id": mailbox.pk, "from": handle}
                if channel == EMAIL
                else {"source": "Trustpilot"},
            )
        )
    anonymous = chat.start_session(widget=widget, name="Owen", page_url=f"https://www.{DOMAIN}/5g")
    chat.visitor_writes(
        visitor=anonymous.visitor,
        body="Hi, is 5G available in Leith yet? The map says 'coming soon' since June.",
    )
    # Priya emailed first; now she chats, signed in on the site with the same address.
    signed_in = chat.start_session(
        widget=widget,
        user_id="cust-20417",
        user_hash_given=chat.user_hash(widget, "cust-20417"),
        name="Priya Norsen",
        email="priya.norsen@example.net",
        email_hash_given=chat.user_hash(widget, "priya.norsen@example.net"),
        page_url=f"https://www.{DOMAIN}/account/bills",
    )
    chat.visitor_writes(
        visitor=signed_in.visitor,
        body="I emailed about the roaming charge yesterday. Any news? I'm on the bills page now.",
    )


DIRECT_MESSAGES = [
    (
        "email",
        "ines.calley@example.net",
        "Ines Calley",
        "Charged twice for November",
        "Hello,\n\nMy bank statement shows two payments of £34.00 to Brightwave on 3 November. "
        "My account number is BW-118204. Could you refund the second one?\n\nThanks,\nInes",
    ),
    (
        "email",
        "priya.norsen@example.net",
        "Priya Norsen",
        "Roaming charge in Portugal",
        "Hi,\n\nI was charged £18 for roaming in Lisbon although my plan includes EU roaming. "
        "Please remove it.\n\nPriya",
    ),
    (
        "webhook",
        "trustpilot:rv-55190",
        "Lars Tordding",
        "★★☆☆☆ Engineer never came",
        "Booked an installation for Saturday, waited all day, nobody came and nobody called. "
        "Second time this month.",
    ),
]


def _create_handoff_story(workspace: Workspace) -> None:
    """Ines's double charge went to Billing: Dana found it, Sam told Ines on her status page."""
    from hubbub.care import handoffs
    from hubbub.care.models import Conversation

    sam = User.objects.get(email=f"agent@{DOMAIN}")
    dana = User.objects.get(email=f"billing@{DOMAIN}")
    billing = Team.objects.get(workspace=workspace, name="Billing")
    conversation = Conversation.objects.get(
        workspace=workspace, customer_handle="ines.calley@example.net"
    )
    handoff = handoffs.hand_off(
        actor=sam,
        conversation_id=conversation.pk,
        department_id=billing.pk,
        what_happened="Ines (account BW-118204) paid £34.00 twice on 3 November.",
        customer_needs="A refund of the second payment, and to know when it lands.",
    ).handoff
    progress = handoffs.post_progress(
        actor=dana,
        handoff_id=handoff.pk,
        text="Confirmed: the card was charged twice by the retry job. Refund of £34.00 "
        "queued for tonight's payment run (ref RF-20931).",
    )
    handoffs.publish_update(
        actor=sam,
        conversation_id=conversation.pk,
        text="Our billing team found the second payment of £34.00. The refund goes out "
        "tonight and usually shows on your statement within 3 working days.",
        source_update_id=progress.pk,
    )


def _create_closed_loop_story(workspace: Workspace) -> None:
    """Priya's roaming charge was removed: she rated it, and thanked the team by email after."""
    from hubbub.care import csat, inbound, resolve
    from hubbub.care.models import EMAIL, Conversation
    from hubbub.connectors.models import Mailbox
    from hubbub.core import clock

    sam = User.objects.get(email=f"agent@{DOMAIN}")
    conversation = Conversation.objects.get(
        workspace=workspace, customer_handle="priya.norsen@example.net"
    )
    done = resolve.resolve_case(actor=sam, conversation_id=conversation.pk)
    assert done.survey is not None
    csat.answer_survey(
        token=csat.token_for(done.survey),
        score=5,
        comment="Sorted in one chat, and Sam told me exactly when the credit would show.",
    )
    mailbox = Mailbox.objects.get(workspace=workspace)
    inbound.receive(
        inbound.CustomerMessage(
            workspace_id=workspace.pk,
            channel=EMAIL,
            handle="priya.norsen@example.net",
            name="Priya Norsen",
            subject="Thank you!",
            body="The credit is on my bill. Thank you so much, great service!",
            received_at=clock.now(),
            details={"mailbox_id": mailbox.pk, "from": "priya.norsen@example.net"},
        )
    )
