from django.urls import include, path

from hubbub.accounts.urls import auth_urlpatterns
from hubbub.api.api import api

urlpatterns = [
    path("", include(auth_urlpatterns)),
    path("", include("hubbub.accounts.urls")),
    path("", include("hubbub.listening.urls")),
    path("", include("hubbub.care.urls")),
    path("", include("hubbub.connectors.urls")),
    path("", include("hubbub.intelligence.urls")),
    path("", include("hubbub.web.urls")),
    path("api/v1/", api.urls),
]

handler400 = "hubbub.web.views.bad_request"
handler403 = "hubbub.web.views.permission_denied"
handler404 = "hubbub.web.views.page_not_found"
handler500 = "hubbub.web.views.server_error"
