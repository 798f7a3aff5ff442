import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubbub.settings")

# Django runs sync views in a worker thread beside the event loop. With the
# default 5 ms GIL switch interval, the two threads hand the GIL back and
# forth slowly under load (a convoy): `hubbub bench web` measured about half
# the throughput at 10 clients. A shorter interval keeps hand-offs quick.
sys.setswitchinterval(float(os.environ.get("HUBBUB_GIL_SWITCH_INTERVAL", "0.0005")))

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402 - needs the app loaded above

from hubbub.core.asgi_limits import RequestSizeLimit  # noqa: E402

application = RequestSizeLimit(
    django_application,  # type: ignore[arg-type]  # Django types its handler more narrowly
    max_bytes=settings.HUBBUB_MAX_REQUEST_BYTES,
)
