"""`hubbub bench email`: mail in from a real Dovecot, answers out through a real SMTP server.

Three measurements, each in a scratch database (SQLite, the embedded
default; and, with --database-url, a scratch PostgreSQL database, its keys
prefixed `postgres_`), against a throwaway Dovecot started for the run and
an aiosmtpd server in this process (the same helpers the tests use):

- ingest: --mails customer mails (texts of real customer tweets from the
  shared TWCS sample) wait in the mailbox; the REAL sync (UID fetch, raw
  rows and cursor in one transaction) and filing (parse, sanitise, thread,
  triage, conversation) take them in. Figures: `ingest_messages_per_s`
  (stored and filed, end to end), `fetch_messages_per_s` (IMAP fetch and
  store only), `file_messages_per_s` (filing only).
- send: an agent answers each of those conversations by email; the REAL
  job (claim, compose, SMTP, record) sends them. `send_messages_per_s`.
- push: the mailbox is followed by the listener's loop (IDLE), and
  --pushes mails are appended one at a time; the delay from the APPEND
  returning to the mail being in its conversation: `push_p50_ms`,
  `push_p95_ms`, `push_max_ms`. The aim is under 2 s (`push_aim_ms`).

Needs Dovecot (Debian's dovecot-imapd, as scripts/install-test-deps.sh
installs it) and root, like the tests.
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from hubbub.cli.bench_scratch import over_databases

DEFAULT_MAILS = 500
DEFAULT_PUSHES = 30
PUSH_AIM_MS = 2000.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mails", type=int, default=DEFAULT_MAILS, help="mails to take in")
    parser.add_argument(
        "--pushes", type=int, default=DEFAULT_PUSHES, help="mails pushed one by one (IDLE)"
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="also measure on this scratch PostgreSQL database (dropped and re-created)",
    )
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON object of the figures"
    )
    parser.add_argument("--phase", choices=["child"], help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.phase:
        return _child(args)
    print(
        f"hubbub bench email: {args.mails:,} mails in from Dovecot and answered through SMTP; "
        f"{args.pushes} mails pushed over IDLE (aim: in the inbox under {PUSH_AIM_MS:,.0f} ms)"
    )
    figures = over_databases(
        "email",
        ["--mails", str(args.mails), "--pushes", str(args.pushes)],
        database_url=args.database_url,
        show=_print,
    )
    if figures is None:
        return 2
    figures["push_aim_ms"] = PUSH_AIM_MS
    if args.json:
        print(json.dumps(figures))
    return 0


def _print(db: str, result: dict[str, Any]) -> None:
    fetch, filing = result["fetch_messages_per_s"], result["file_messages_per_s"]
    print(
        f"  {db:<8} in   {result['ingest_messages_per_s']:>7,.0f} mails/s end to end "
        f"(fetch {fetch:,.0f}/s, file {filing:,.0f}/s)   {result['mails']:,} mails"
    )
    print(f"  {db:<8} out  {result['send_messages_per_s']:>7,.0f} mails/s through SMTP")
    print(
        f"  {db:<8} push p50 {result['push_p50_ms']:,.0f} ms   p95 {result['push_p95_ms']:,.0f} ms"
        f"   max {result['push_max_ms']:,.0f} ms   (aim < {PUSH_AIM_MS:,.0f} ms)"
    )
    print(f"  {db:<8} peak RSS {result['peak_rss_mb']:.0f} MB")


# --- the child, inside one configured database ----------------------------------------


def _child(args: argparse.Namespace) -> int:
    from hubbub.cli.main import setup_django

    setup_django()
    print(json.dumps(measure(mails=args.mails, pushes=args.pushes)))
    return 0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def _mail(text: str, number: int) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {number} <customer{number}@example.test>"
    message["To"] = "Brightwave Support <support@bench.test>"
    message["Subject"] = " ".join(text.split()[:8]) or "Help"
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content(text + "\n\nSent from my phone")
    message.add_alternative(f"<p>{text}</p><p>Sent from my phone</p>", subtype="html")
    return message.as_bytes()


def measure(*, mails: int, pushes: int) -> dict[str, Any]:
    from hubbub.accounts.models import Role, Team, User
    from hubbub.care import mail, outbound
    from hubbub.care.models import EMAIL, Conversation, Message, MessageKind
    from hubbub.connectors.email import imap, sync
    from hubbub.connectors.email.testing import SmtpSink, start_dovecot
    from hubbub.connectors.mastodon.tests.fake import customer_texts
    from hubbub.connectors.models import Mailbox
    from hubbub.core.models import Workspace

    texts = customer_texts(max(mails + pushes, 1)) or ["My order never arrived."]
    dovecot = start_dovecot()
    sink = SmtpSink()
    try:
        workspace = Workspace.objects.create(name="Bench", slug="bench")
        team = Team.objects.create(workspace=workspace, name="Care")
        agent = User.objects.create_user(
            email="dana@bench.test", password=None, workspace=workspace, role=Role.AGENT
        )
        team.members.add(agent)
        account = dovecot.add_user("support@bench.test")
        mailbox = Mailbox.objects.create(
            workspace=workspace,
            name="Support",
            address="support@bench.test",
            brand_name="Bench",
            team=team,
            imap_host="127.0.0.1",
            imap_port=dovecot.imap_port,
            imap_security="none",
            imap_username=account.username,
            imap_password=account.password,
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            smtp_security="none",
        )
        for number in range(mails):
            dovecot.append(account, _mail(texts[number % len(texts)], number))

        # In: fetch and store, then file.
        started = time.perf_counter()
        with imap.open_mailbox(sync.imap_settings(mailbox)) as box:
            while sync.sync_once(box, mailbox.pk, limit=100).more:
                pass
        fetched_at = time.perf_counter()
        while mail.file_pending(limit=200).delivered:
            pass
        filed_at = time.perf_counter()
        filed = Message.objects.filter(kind=MessageKind.CUSTOMER, platform=EMAIL).count()

        # Out: the agent answers each conversation; the job sends each answer.
        conversations = list(Conversation.objects.values_list("pk", flat=True))
        replies = [
            outbound.send_direct(
                actor=agent, conversation_id=pk, body="Thanks, we are on it.", channel=EMAIL
            ).pk
            for pk in conversations
        ]
        send_started = time.perf_counter()
        for pk in replies:
            outbound.deliver(message_id=pk)
        send_elapsed = time.perf_counter() - send_started
        sent = len(sink.messages())

        # Push: the listener's loop follows the mailbox over IDLE.
        stop = threading.Event()

        def file_stored(mailbox_id: int) -> None:
            mail.file_pending(mailbox_id=mailbox_id)

        follower = threading.Thread(
            target=sync.run, args=(mailbox.pk,), kwargs={"stop": stop, "on_stored": file_stored}
        )
        follower.start()
        time.sleep(1.0)  # connected and idling
        delays: list[float] = []
        for number in range(pushes):
            raw = _mail(texts[(mails + number) % len(texts)], 100_000 + number)
            before = Message.objects.filter(kind=MessageKind.CUSTOMER).count()
            dovecot.append(account, raw)
            appended = time.perf_counter()
            deadline = appended + 30
            while Message.objects.filter(kind=MessageKind.CUSTOMER).count() <= before:
                if time.perf_counter() > deadline:
                    break
                time.sleep(0.005)
            delays.append((time.perf_counter() - appended) * 1000)
        stop.set()
        follower.join(timeout=60)
    finally:
        sink.stop()
        dovecot.stop()
    fetch_s = max(fetched_at - started, 1e-9)
    file_s = max(filed_at - fetched_at, 1e-9)
    return {
        "mails": mails,
        "mails_filed": filed,
        "ingest_messages_per_s": round(filed / (fetch_s + file_s), 1),
        "fetch_messages_per_s": round(mails / fetch_s, 1),
        "file_messages_per_s": round(filed / file_s, 1),
        "mails_sent": sent,
        "send_messages_per_s": round(sent / max(send_elapsed, 1e-9), 1),
        "pushes": pushes,
        "push_p50_ms": round(_percentile(delays, 0.50), 1),
        "push_p95_ms": round(_percentile(delays, 0.95), 1),
        "push_max_ms": round(max(delays, default=0.0), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
