"""Customers' mentions arriving the way the pipeline files them."""

from __future__ import annotations

import datetime as dt

from hubbub.accounts.tests.factories import Cast
from hubbub.care import inbound, services
from hubbub.care.models import EMAIL, Conversation
from hubbub.listening.models import Mention, Query, QueryKind
from hubbub.listening.tests.factories import MentionFactory, QueryFactory

START = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def brand_query(cast: Cast, kind: QueryKind = QueryKind.BRAND) -> Query:
    query = Query.objects.filter(workspace=cast.brightwave, kind=kind).first()
    return query or QueryFactory(workspace=cast.brightwave, kind=kind, name=f"{kind} query")  # type: ignore[no-any-return]


def posted(cast: Cast, handle: str, minutes: float = 0, **fields: object) -> Mention:
    """A mention of the brand by `handle`, `minutes` after START, not yet threaded."""
    kind = fields.pop("query_kind", QueryKind.BRAND)
    values: dict[str, object] = {
        "workspace": cast.brightwave,
        "author_handle": handle,
        "posted_at": START + dt.timedelta(minutes=minutes),
        **fields,
    }
    mention: Mention = MentionFactory(**values)
    mention.queries.add(brand_query(cast, kind))  # type: ignore[arg-type]
    return mention


def arrives(cast: Cast, handle: str, minutes: float = 0, **fields: object) -> Conversation:
    """A mention of the brand arrives through the pipeline's thread step; its conversation."""
    mention = posted(cast, handle, minutes, **fields)
    services.thread_mentions(mention_ids=[mention.pk])
    return Conversation.objects.get(mention_links__mention=mention)


def emailed(cast: Cast, address: str, body: str, *, name: str = "") -> inbound.Received:
    """A customer's email arrives (as filing hands it to care.inbound)."""
    return inbound.receive(
        inbound.CustomerMessage(
            workspace_id=cast.brightwave.pk,
            channel=EMAIL,
            handle=address,
            name=name,
            body=body,
            received_at=START,
        )
    )
