from django.urls import path

from hubbub.web import stream, views
from hubbub.web.context_processors import AREAS

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("events/stream", stream.stream, name="stream"),
    path("avatars/<str:name>", views.avatar, name="avatar"),
    *[path(f"{key}/", views.area, {"area": key}, name=key) for key, _label, _keys in AREAS],
]
