"""The sandbox: takes every message and posts nothing, for demos and training.

Messages sent through it show as "sandbox" on the timeline, so nobody
mistakes them for posts a customer saw.
"""

from __future__ import annotations

import hashlib

from hubbub.connectors.outbound import Account, Delivered, Outgoing, SendError

# A message with this text fails as if the platform were down: lets a demo
# (and the browser tests) show a failure and its retry button.
FAIL_MARKER = "[sandbox:fail]"


def send(account: Account, outgoing: Outgoing) -> Delivered:
    if FAIL_MARKER in outgoing.text:
        raise SendError("The sandbox was told to fail this message.", transient=False)
    digest = hashlib.sha256((outgoing.idempotency_key or outgoing.text).encode()).hexdigest()[:16]
    return Delivered(external_id=f"sandbox-{digest}")
