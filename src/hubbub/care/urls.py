from django.urls import path

from hubbub.care import chat_views, csat_views, handoff_views, views, webhook_views

app_name = "care"

urlpatterns = [
    path("case/<str:token>/", views.case, name="case"),
    path("survey/<str:token>/", csat_views.survey, name="survey"),
    path("inbox/satisfaction/", csat_views.satisfaction, name="satisfaction"),
    path("handoffs/", handoff_views.queue, name="handoffs"),
    path("handoffs/<int:handoff_id>/", handoff_views.detail, name="handoff"),
    path(
        "handoffs/<int:handoff_id>/files/<int:attachment_id>",
        handoff_views.handoff_file,
        name="handoff_file",
    ),
    path("handoff/<str:token>/", handoff_views.by_link, name="handoff_link"),
    path(
        "handoff/<str:token>/files/<int:attachment_id>",
        handoff_views.link_file,
        name="handoff_link_file",
    ),
    path("inbox/attachments/<int:attachment_id>", views.attachment, name="attachment"),
    path("hooks/<str:key>", webhook_views.hook, name="hook"),
    path("chat/<str:key>/session", chat_views.session, name="chat_session"),
    path("chat/<str:key>/messages", chat_views.messages, name="chat_messages"),
    path("chat/<str:key>/contact", chat_views.contact, name="chat_contact"),
    path("chat/<str:key>/stream", chat_views.stream, name="chat_stream"),
    path("inbox/macros/", views.macros_page, name="macros"),
    path("inbox/macros/new/", views.save_macro, name="new_macro"),
    path("inbox/macros/<int:macro_id>/", views.save_macro, name="save_macro"),
    path(
        "inbox/conversations/<int:conversation_id>/macro/<int:macro_id>/",
        views.macro_text,
        name="macro_text",
    ),
    path("inbox/settings/", views.settings_page, name="settings"),
    path("inbox/settings/<slug:what>/", views.save_settings, name="save_settings"),
    path("inbox/settings/<slug:what>/<int:item_id>/", views.save_settings, name="save_item"),
    path("inbox/approvals/", views.approvals, name="approvals"),
    path(
        "inbox/approvals/<int:message_id>/<slug:decision>/",
        views.review,
        name="review",
    ),
    path("inbox/conversations/<int:conversation_id>/", views.conversation, name="conversation"),
    path(
        "inbox/conversations/<int:conversation_id>/presence/",
        views.presence,
        name="presence",
    ),
    path(
        "inbox/conversations/<int:conversation_id>/<slug:action>/",
        views.act,
        name="act",
    ),
    path(
        "listening/mentions/<int:mention_id>/conversation/",
        views.open_from_mention,
        name="open_from_mention",
    ),
]
