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
    path("settings/mailboxes/", views.mailbox_list, name="mailboxes"),
    path("settings/mailboxes/new/", views.mailbox_detail, name="new_mailbox"),
    path("settings/mailboxes/check/", views.check_mailbox, name="check_mailbox"),
    path("settings/mailboxes/<int:mailbox_id>/", views.mailbox_detail, name="mailbox"),
    path(
        "settings/mailboxes/<int:mailbox_id>/<slug:action>/",
        views.mailbox_action,
        name="mailbox_action",
    ),
    path("settings/chat/", views.widget_list, name="widgets"),
    path("settings/chat/<int:widget_id>/", views.widget_detail, name="widget"),
    path("settings/webhooks/", views.webhook_list, name="webhooks"),
    path("settings/webhooks/<int:endpoint_id>/", views.webhook_detail, name="webhook"),
]
