"""`POST /hooks/<key>`: where signed deliveries of forms, review sites and custom sources land."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from hubbub.care import webhooks
from hubbub.core.errors import HubbubError


@csrf_exempt  # signed by the sender's secret, never by a browser session
@require_POST
def hook(request: HttpRequest, key: str) -> JsonResponse:
    try:
        endpoint = webhooks.endpoint_for(key)
        delivered = webhooks.receive_delivery(
            endpoint=endpoint, headers=request.headers, body=request.body
        )
    except HubbubError as error:
        body: dict[str, object] = {"error": error.message, "code": error.code}
        if error.field:
            body["field"] = error.field
        return JsonResponse(body, status=error.status)
    if delivered.message is None:
        return JsonResponse({"status": "duplicate"})
    return JsonResponse(
        {
            "status": "filed",
            "message_id": delivered.message.pk,
            "conversation_id": delivered.message.conversation_id,
        },
        status=201,
    )
