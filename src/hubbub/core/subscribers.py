"""Every subscriber to every event, in one place.

A subscriber is a function taking `hubbub.core.events.Published`; it runs
after the publishing transaction commits, in the publishing process. It
must be quick and must not do network I/O: enqueue a task for that.
Live streams (SSE) see every event without being listed here.
"""

from __future__ import annotations

SUBSCRIBERS: dict[str, tuple[str, ...]] = {
    "member_joined": ("hubbub.accounts.subscribers.tell_inviter_member_joined",),
}
