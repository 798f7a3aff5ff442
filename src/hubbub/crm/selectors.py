"""Reading contacts: who a customer is across channels."""

from __future__ import annotations

from hubbub.crm.models import Identity


def identities_of(contact_id: int) -> list[Identity]:
    """A contact's identities, oldest first (the channel they first came through leads)."""
    return list(Identity.objects.filter(contact_id=contact_id).order_by("created_at", "id"))
