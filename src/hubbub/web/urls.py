from django.urls import path

from hubbub.care import views as care_views
from hubbub.crm import views as crm_views
from hubbub.listening import views as listening_views
from hubbub.web import stream, views
from hubbub.web.context_processors import AREAS

# Areas that have their own page; the rest show their empty state.
AREA_PAGES = {
    "inbox": care_views.inbox,
    "listening": listening_views.mentions,
    "contacts": crm_views.contacts,
}

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("events/stream", stream.stream, name="stream"),
    path("avatars/<str:name>", views.avatar, name="avatar"),
    *[
        path(f"{key}/", AREA_PAGES[key], name=key)
        if key in AREA_PAGES
        else path(f"{key}/", views.area, {"area": key}, name=key)
        for key, _label, _keys in AREAS
    ],
]
