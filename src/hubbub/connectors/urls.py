from django.urls import path

from hubbub.connectors import views

app_name = "connectors"

urlpatterns = [
    path("settings/channels/", views.channel_list, name="channels"),
    path("settings/channels/new/<slug:platform>/", views.new_channel, name="new_channel"),
    path("settings/channels/check/", views.check_channel, name="check_channel"),
    path("settings/channels/<int:account_id>/", views.channel_detail, name="channel"),
    path(
        "settings/channels/<int:account_id>/<slug:action>/",
        views.channel_action,
        name="channel_action",
    ),
]
