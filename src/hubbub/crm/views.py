"""The contacts pages: the customers worth asking to speak for the brand."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from hubbub.accounts import permissions
from hubbub.accounts.http import current_user, member_required
from hubbub.care import selectors as care_selectors
from hubbub.core.errors import HubbubError
from hubbub.crm import selectors, services
from hubbub.crm.models import Advocacy

DECIDED = {
    Advocacy.ADVOCATE: "{name} is an advocate now.",
    Advocacy.DISMISSED: "{name} is no longer suggested as an advocate.",
}


@member_required
def contacts(request: HttpRequest) -> HttpResponse:
    """Advocate candidates and advocates; a POST decides about one of them."""
    user = current_user(request)
    if request.method == "POST":
        return _decide(request)
    return render(
        request,
        "crm/contacts.html",
        {
            "area": "contacts",
            "title": "Contacts",
            "advocates": selectors.advocate_candidates(
                user=user,
                visible_cases=care_selectors.visible_conversations(user=user).values("pk"),
            ),
            "can_decide": permissions.can_decide_advocacy(user),
            "advocate": Advocacy.ADVOCATE,
            "dismissed": Advocacy.DISMISSED,
        },
    )


def _decide(request: HttpRequest) -> HttpResponse:
    contact = request.POST.get("contact", "")
    try:
        decided = services.decide_advocacy(
            actor=current_user(request),
            contact_id=int(contact) if contact.isdigit() else 0,
            advocacy=request.POST.get("advocacy", ""),
        )
    except HubbubError as error:
        if error.status == 404:
            raise  # a page of its own (web.middleware)
        messages.error(request, error.message)
    else:
        messages.success(request, DECIDED[Advocacy(decided.advocacy)].format(name=decided))
    return redirect("web:contacts")
